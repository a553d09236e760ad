locals {
  functions = {
    process = {
      name    = local.names.process_function
      handler = "stock_pipeline.process_stock_data.lambda_handler"
      role    = aws_iam_role.process.arn
      environment = {
        TICKS_TABLE                  = aws_dynamodb_table.ticks.name
        ARCHIVE_BUCKET               = aws_s3_bucket.archive.bucket
        RAW_PREFIX                   = local.raw_prefix
        REJECTED_PREFIX              = local.rejected_prefix
        POWERTOOLS_SERVICE_NAME      = "process-stock-data"
        POWERTOOLS_METRICS_NAMESPACE = local.metrics_ns
        POWERTOOLS_LOG_LEVEL         = local.log_level
      }
    }
    trend = {
      name    = local.names.trend_function
      handler = "stock_pipeline.stock_trend_analysis.lambda_handler"
      role    = aws_iam_role.trend.arn
      environment = {
        TICKS_TABLE                  = aws_dynamodb_table.ticks.name
        TREND_STATE_TABLE            = aws_dynamodb_table.trend_state.name
        ALERT_TOPIC_ARN              = aws_sns_topic.alerts.arn
        SHORT_WINDOW                 = "5"
        LONG_WINDOW                  = "20"
        POWERTOOLS_SERVICE_NAME      = "stock-trend-analysis"
        POWERTOOLS_METRICS_NAMESPACE = local.metrics_ns
        POWERTOOLS_LOG_LEVEL         = local.log_level
      }
    }
  }

  # Shared by both stream mappings. A batch that keeps failing is split in two
  # until the bad record is isolated, retried a bounded number of times, and then
  # described in the failed-batches queue, so one bad tick cannot hold its shard
  # for the stream's whole retention. A tick an hour old is stale for alerting.
  # MiniStack accepts these and ignores them: there a failing batch is retried
  # for ever and blocks its shard, so partial failures are tested at unit level.
  stream_failure_handling = {
    maximum_retry_attempts        = 5
    maximum_record_age_in_seconds = 3600
  }
}

# Created before the functions so that Lambda never creates them itself, without
# retention and outside Terraform's state.
resource "aws_cloudwatch_log_group" "function" {
  for_each = local.functions

  name              = "/aws/lambda/${each.value.name}"
  retention_in_days = var.log_retention_days
}

resource "aws_lambda_function" "this" {
  for_each = local.functions

  function_name    = each.value.name
  role             = each.value.role
  handler          = each.value.handler
  runtime          = var.lambda_runtime
  filename         = var.lambda_zip_path
  source_code_hash = filebase64sha256(var.lambda_zip_path)
  memory_size      = 256
  timeout          = 60

  environment {
    variables = each.value.environment
  }

  depends_on = [
    aws_cloudwatch_log_group.function,
    aws_iam_role_policy.process,
    aws_iam_role_policy.trend,
  ]
}

resource "aws_lambda_event_source_mapping" "ticks_stream" {
  event_source_arn  = aws_kinesis_stream.this.arn
  function_name     = aws_lambda_function.this["process"].arn
  starting_position = "TRIM_HORIZON"
  # Always explicit: MiniStack defaults it to 10, Terraform then plans it back to
  # null, and the mapping stops delivering.
  batch_size = var.kinesis_batch_size

  function_response_types        = ["ReportBatchItemFailures"]
  bisect_batch_on_function_error = true
  maximum_retry_attempts         = local.stream_failure_handling.maximum_retry_attempts
  maximum_record_age_in_seconds  = local.stream_failure_handling.maximum_record_age_in_seconds

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.failed_batches.arn
    }
  }
}

resource "aws_lambda_event_source_mapping" "ticks_table_stream" {
  event_source_arn  = aws_dynamodb_table.ticks.stream_arn
  function_name     = aws_lambda_function.this["trend"].arn
  starting_position = "TRIM_HORIZON"
  batch_size        = var.stream_batch_size

  function_response_types        = ["ReportBatchItemFailures"]
  bisect_batch_on_function_error = true
  maximum_retry_attempts         = local.stream_failure_handling.maximum_retry_attempts
  maximum_record_age_in_seconds  = local.stream_failure_handling.maximum_record_age_in_seconds

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.failed_batches.arn
    }
  }
}

# Where the stream mappings describe the batches they gave up on.
resource "aws_sqs_queue" "failed_batches" {
  name                      = local.names.failed_batches
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}
