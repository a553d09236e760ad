# Policies as data: each statement is written once, and the provider renders the
# JSON. terraform/tests/aws.tftest.hcl asserts on these documents' statements.

# Only Lambda, on behalf of this account, may assume the function roles.
data "aws_iam_policy_document" "lambda_assume_role" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# What every function's role needs whatever the function does, each scoped to
# that function: one document per function, merged into its role's policy below.
data "aws_iam_policy_document" "function_common" {
  for_each = aws_cloudwatch_log_group.function

  statement {
    sid       = "WriteOwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${each.value.arn}:*"]
  }

  # Both stream mappings describe the batches they give up on in this queue.
  statement {
    sid       = "ReportFailedBatches"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [local.queue_arn.failed_batches]
  }

  # Active tracing (tracing_config in compute.tf) uploads segments with the
  # function's role. X-Ray defines no resource types for these two actions, so
  # AWS accepts only "*": the only wildcard resource here.
  statement {
    sid       = "TraceInvocations"
    effect    = "Allow"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role" "process" {
  name               = local.names.process_role
  description        = "Execution role of ${local.names.process_function}"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume_role.json
}

data "aws_iam_policy_document" "process" {
  source_policy_documents = [data.aws_iam_policy_document.function_common["process"].json]

  # What the Kinesis event source mapping reads with the function's role.
  statement {
    sid    = "ReadTickStream"
    effect = "Allow"
    actions = [
      "kinesis:DescribeStream",
      "kinesis:DescribeStreamSummary",
      "kinesis:GetRecords",
      "kinesis:GetShardIterator",
      "kinesis:ListShards",
    ]
    resources = [aws_kinesis_stream.this.arn]
  }

  # A batch's items go in BatchWriteItem requests of 25 (put requests only).
  statement {
    sid       = "StoreTicks"
    effect    = "Allow"
    actions   = ["dynamodb:BatchWriteItem"]
    resources = [aws_dynamodb_table.ticks.arn]
  }

  statement {
    sid     = "ArchiveTicks"
    effect  = "Allow"
    actions = ["s3:PutObject"]
    resources = [
      "${aws_s3_bucket.archive.arn}/${local.raw_prefix}*",
      "${aws_s3_bucket.archive.arn}/${local.rejected_prefix}*",
    ]
  }
}

resource "aws_iam_role_policy" "process" {
  name   = "least-privilege"
  role   = aws_iam_role.process.id
  policy = data.aws_iam_policy_document.process.json
}

resource "aws_iam_role" "trend" {
  name               = local.names.trend_role
  description        = "Execution role of ${local.names.trend_function}"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume_role.json
}

data "aws_iam_policy_document" "trend" {
  source_policy_documents = [data.aws_iam_policy_document.function_common["trend"].json]

  # What the DynamoDB stream mapping reads with the function's role. The
  # wildcard is the stream label, which changes if the stream is re-enabled.
  statement {
    sid    = "ReadTickTableStream"
    effect = "Allow"
    actions = [
      "dynamodb:DescribeStream",
      "dynamodb:GetRecords",
      "dynamodb:GetShardIterator",
      "dynamodb:ListStreams",
    ]
    resources = ["${aws_dynamodb_table.ticks.arn}/stream/*"]
  }

  statement {
    sid       = "ReadTickHistory"
    effect    = "Allow"
    actions   = ["dynamodb:Query"]
    resources = [aws_dynamodb_table.ticks.arn]
  }

  statement {
    sid       = "KeepTrendState"
    effect    = "Allow"
    actions   = ["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem"]
    resources = [aws_dynamodb_table.trend_state.arn]
  }

  statement {
    sid       = "PublishAlerts"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
  }

  # One UpdateItem per published alert: its fields, and its publish count moved
  # on with ADD. Nothing reads the table from the function.
  statement {
    sid       = "RecordAlerts"
    effect    = "Allow"
    actions   = ["dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.alerts.arn]
  }
}

resource "aws_iam_role_policy" "trend" {
  name   = "least-privilege"
  role   = aws_iam_role.trend.id
  policy = data.aws_iam_policy_document.trend.json
}
