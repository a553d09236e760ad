resource "aws_sns_topic" "alerts" {
  name = local.names.alerts_topic
  # Encrypted at rest on AWS with the AWS-managed key, whose key policy already
  # lets the account's publishers use it through SNS. An emulator encrypts
  # nothing (MiniStack stores the setting and ignores it), so there it is left out.
  kms_master_key_id = local.on_aws ? "alias/aws/sns" : null
}

resource "aws_sns_topic_subscription" "alert_email" {
  # Only whether an address is set decides the count; the address stays secret.
  count = nonsensitive(var.alert_email != null) ? 1 : 0

  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = var.alert_email
}

resource "aws_sns_topic_subscription" "alert_sms" {
  count = nonsensitive(var.alert_sms != null) ? 1 : 0

  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "sms"
  endpoint  = var.alert_sms
}

# Every alert, as the SNS envelope (Subject, MessageAttributes, Timestamp), kept
# for fourteen days: `tickstack alerts` lists them by peeking at this queue.
resource "aws_sqs_queue" "alert_audit" {
  name                      = local.names.alert_audit_queue
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true

  # Inline rather than an aws_sqs_queue_policy: the provider waits about 25 s for
  # each queue change to settle, and a separate policy resource waits a second time.
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AllowTrendAlertsTopic"
      Effect    = "Allow"
      Principal = { Service = "sns.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = local.queue_arn.alert_audit_queue
      Condition = { ArnEquals = { "aws:SourceArn" = aws_sns_topic.alerts.arn } }
    }]
  })
}

resource "aws_sns_topic_subscription" "alert_audit" {
  topic_arn            = aws_sns_topic.alerts.arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.alert_audit.arn
  raw_message_delivery = false
}

# Operational alarms go to a topic of their own: CloudWatch alarms cannot publish
# to a topic encrypted with the AWS-managed key alias/aws/sns (its key policy
# cannot grant cloudwatch.amazonaws.com), and the audit queue stays a record of
# trading alerts only. Alarm payloads hold no data worth a customer-managed key.
resource "aws_sns_topic" "ops" {
  #checkov:skip=CKV_AWS_26:CloudWatch alarms cannot publish to a topic under the AWS-managed key alias/aws/sns; alarm payloads carry only alarm names, metric names and thresholds, not worth a customer-managed key's monthly fee.
  name = local.names.ops_topic
}

resource "aws_sns_topic_subscription" "ops_email" {
  count = nonsensitive(var.alert_email != null) ? 1 : 0

  topic_arn = aws_sns_topic.ops.arn
  protocol  = "email"
  endpoint  = var.alert_email
}
