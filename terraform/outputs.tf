output "target" {
  description = "Where this state's stack runs: ministack, localstack or aws."
  value       = var.target
}

output "environment" {
  description = "Environment (and Terraform workspace) of this state on AWS; null on emulators."
  value       = var.environment
}

output "region" {
  description = "AWS region of every resource."
  value       = var.region
}

output "stream_name" {
  description = "Kinesis stream the producer puts ticks on (partition key = symbol)."
  value       = aws_kinesis_stream.this.name
}

output "stream_arn" {
  description = "ARN of the Kinesis tick stream."
  value       = aws_kinesis_stream.this.arn
}

output "table_name" {
  description = "DynamoDB table of enriched ticks (symbol, timestamp)."
  value       = aws_dynamodb_table.ticks.name
}

output "trend_state_table_name" {
  description = "DynamoDB table of per-symbol trend state (symbol)."
  value       = aws_dynamodb_table.trend_state.name
}

output "alerts_table_name" {
  description = "DynamoDB table of every alert the trend function published (alert_id), with its publish count."
  value       = aws_dynamodb_table.alerts.name
}

output "table_capacity" {
  description = "How the tables pay for requests (mode) and, when provisioned, the capacity bounds and target utilization scaling keeps to on AWS."
  value       = var.table_capacity
}

output "bucket_name" {
  description = "S3 bucket archiving enriched ticks under raw_prefix and rejected records under rejected_prefix."
  value       = aws_s3_bucket.archive.bucket
}

output "topic_arn" {
  description = "SNS topic the trend function publishes golden and death crosses to."
  value       = aws_sns_topic.alerts.arn
}

output "alert_audit_queue_url" {
  description = "SQS queue holding the SNS envelope of every alert sent, for peeking."
  value       = aws_sqs_queue.alert_audit.id
}

output "function_names" {
  description = "Lambda function names: process (Kinesis consumer) and trend (DynamoDB stream consumer)."
  value = {
    process = aws_lambda_function.this["process"].function_name
    trend   = aws_lambda_function.this["trend"].function_name
  }
}

output "glue_database" {
  description = "Glue catalog database over the archive; null when enable_glue is false."
  value       = one(aws_glue_catalog_database.this[*].name)
}

output "glue_table" {
  description = "Glue table of archived ticks; null when enable_glue is false."
  value       = one(aws_glue_catalog_table.raw_ticks[*].name)
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the pipeline."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "ops_topic_arn" {
  description = "SNS topic the CloudWatch alarms (function errors, iterator ages, failed batches) notify."
  value       = aws_sns_topic.ops.arn
}

output "failed_batches_queue_url" {
  description = "SQS queue where the stream mappings describe the batches they gave up on."
  value       = aws_sqs_queue.failed_batches.id
}

output "raw_prefix" {
  description = "Key prefix of the archived enriched ticks in bucket_name (the Glue table's location)."
  value       = local.raw_prefix
}

output "rejected_prefix" {
  description = "Key prefix of the quarantined records in bucket_name."
  value       = local.rejected_prefix
}

output "sma_windows" {
  description = "Ticks in the short and long moving averages the trend function compares."
  value = {
    short = var.sma_short_window
    long  = var.sma_long_window
  }
}

output "future_tolerance_seconds" {
  description = "How far ahead of ProcessStockData's clock a tick may be stamped before it is quarantined."
  value       = var.future_tolerance_seconds
}

output "stalled_after_seconds" {
  description = "How long a symbol's analysis may stand still while late ticks of it arrive before it counts as stalled (`tickstack status` reads it)."
  value       = var.stalled_after_seconds
}
