locals {
  lambda_assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
}

resource "aws_iam_role" "process" {
  name               = local.names.process_role
  description        = "Execution role of ${local.names.process_function}"
  assume_role_policy = local.lambda_assume_role_policy
}

resource "aws_iam_role_policy" "process" {
  name = "least-privilege"
  role = aws_iam_role.process.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # What the Kinesis event source mapping reads with the function's role.
        Sid    = "ReadTickStream"
        Effect = "Allow"
        Action = [
          "kinesis:DescribeStream",
          "kinesis:DescribeStreamSummary",
          "kinesis:GetRecords",
          "kinesis:GetShardIterator",
          "kinesis:ListShards",
        ]
        Resource = aws_kinesis_stream.this.arn
      },
      {
        Sid      = "StoreTicks"
        Effect   = "Allow"
        Action   = "dynamodb:PutItem"
        Resource = aws_dynamodb_table.ticks.arn
      },
      {
        Sid    = "ArchiveTicks"
        Effect = "Allow"
        Action = "s3:PutObject"
        Resource = [
          "${aws_s3_bucket.archive.arn}/${local.raw_prefix}*",
          "${aws_s3_bucket.archive.arn}/${local.rejected_prefix}*",
        ]
      },
      {
        Sid      = "ReportFailedBatches"
        Effect   = "Allow"
        Action   = "sqs:SendMessage"
        Resource = local.queue_arn.failed_batches
      },
      {
        Sid      = "WriteOwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${aws_cloudwatch_log_group.function["process"].arn}:*"
      },
      {
        # Active tracing (tracing_config in compute.tf) uploads segments with the
        # function's role. X-Ray defines no resource types for these two
        # actions, so AWS accepts only "*": the only wildcard resource here.
        Sid      = "TraceInvocations"
        Effect   = "Allow"
        Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
        Resource = "*"
      },
    ]
  })
}

resource "aws_iam_role" "trend" {
  name               = local.names.trend_role
  description        = "Execution role of ${local.names.trend_function}"
  assume_role_policy = local.lambda_assume_role_policy
}

resource "aws_iam_role_policy" "trend" {
  name = "least-privilege"
  role = aws_iam_role.trend.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # What the DynamoDB stream mapping reads with the function's role. The
        # wildcard is the stream label, which changes if the stream is re-enabled.
        Sid    = "ReadTickTableStream"
        Effect = "Allow"
        Action = [
          "dynamodb:DescribeStream",
          "dynamodb:GetRecords",
          "dynamodb:GetShardIterator",
          "dynamodb:ListStreams",
        ]
        Resource = "${aws_dynamodb_table.ticks.arn}/stream/*"
      },
      {
        Sid      = "ReadTickHistory"
        Effect   = "Allow"
        Action   = "dynamodb:Query"
        Resource = aws_dynamodb_table.ticks.arn
      },
      {
        Sid      = "KeepTrendState"
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem", "dynamodb:PutItem"]
        Resource = aws_dynamodb_table.trend_state.arn
      },
      {
        Sid      = "PublishAlerts"
        Effect   = "Allow"
        Action   = "sns:Publish"
        Resource = aws_sns_topic.alerts.arn
      },
      {
        Sid      = "ReportFailedBatches"
        Effect   = "Allow"
        Action   = "sqs:SendMessage"
        Resource = local.queue_arn.failed_batches
      },
      {
        Sid      = "WriteOwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${aws_cloudwatch_log_group.function["trend"].arn}:*"
      },
      {
        # Active tracing (tracing_config in compute.tf) uploads segments with the
        # function's role. X-Ray defines no resource types for these two
        # actions, so AWS accepts only "*": the only wildcard resource here.
        Sid      = "TraceInvocations"
        Effect   = "Allow"
        Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
        Resource = "*"
      },
    ]
  })
}
