locals {
  # What both functions are told: the key layout and the averages' windows (so
  # that each reads them from here, not from a default of its own), and how
  # Powertools reports.
  function_environment = {
    TICKS_TABLE                  = aws_dynamodb_table.ticks.name
    RAW_PREFIX                   = local.raw_prefix
    REJECTED_PREFIX              = local.rejected_prefix
    SHORT_WINDOW                 = tostring(var.sma_short_window)
    LONG_WINDOW                  = tostring(var.sma_long_window)
    POWERTOOLS_METRICS_NAMESPACE = local.metrics_ns
    POWERTOOLS_LOG_LEVEL         = local.log_level
    # The Powertools Tracer sends its segments to the X-Ray daemon that Lambda
    # runs beside an actively traced function on AWS; emulators run none.
    POWERTOOLS_TRACE_DISABLED = local.on_aws ? "false" : "true"
  }

  # Faults injected on purpose (lambda/stock_pipeline/faults.py): set on the
  # emulators only, never on AWS, whatever the variable says.
  fault_environment = local.emulated ? { FAULT_INJECTION = var.fault_injection } : {}

  # The package carries botocore's endpoints.json cut down to the services the
  # functions call (tickstack/deploy/package.py's BOTOCORE_DATA_PATH, tied to
  # this by tests/unit/test_botocore_data.py). On the emulators botocore reads it
  # first, from AWS_DATA_PATH, instead of its own 1.25 MB file: about 7 MiB less
  # in each function worker. The path is relative to the working directory, which
  # is the code's root on both emulators: MiniStack starts each worker in the
  # directory it unpacked the zip to, and LocalStack runs the function in the
  # Lambda image, in /var/task as on AWS. Were it not found, botocore would fall
  # back to its own file. AWS keeps the runtime's botocore data as it is.
  botocore_data_path   = "stock_pipeline/_botocore_data"
  botocore_environment = local.emulated ? { AWS_DATA_PATH = local.botocore_data_path } : {}

  # Powertools names each function's metrics with a `service` dimension: these.
  service_names = {
    process = "process-stock-data"
    trend   = "stock-trend-analysis"
  }

  functions = {
    process = {
      name    = local.names.process_function
      handler = "stock_pipeline.process_stock_data.lambda_handler"
      role    = aws_iam_role.process.arn
      environment = merge(local.function_environment, local.fault_environment, local.botocore_environment, {
        ARCHIVE_BUCKET           = aws_s3_bucket.archive.bucket
        FUTURE_TOLERANCE_SECONDS = tostring(var.future_tolerance_seconds)
        POWERTOOLS_SERVICE_NAME  = local.service_names.process
      })
    }
    trend = {
      name    = local.names.trend_function
      handler = "stock_pipeline.stock_trend_analysis.lambda_handler"
      role    = aws_iam_role.trend.arn
      environment = merge(local.function_environment, local.fault_environment, local.botocore_environment, {
        TREND_STATE_TABLE       = aws_dynamodb_table.trend_state.name
        ALERTS_TABLE            = aws_dynamodb_table.alerts.name
        ALERT_TOPIC_ARN         = aws_sns_topic.alerts.arn
        STALLED_AFTER_SECONDS   = tostring(var.stalled_after_seconds)
        POWERTOOLS_SERVICE_NAME = local.service_names.trend
      })
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
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts every log group at rest by default; a customer-managed key costs a monthly fee and a key policy for the logs service, and these logs hold tick values and resource names, no secrets.
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days (14 days by default), a cost choice for operational logs; raise it where an audit trail must be kept for a year.
  for_each = local.functions

  name              = "/aws/lambda/${each.value.name}"
  retention_in_days = var.log_retention_days
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_115:Stream mappings bound concurrency already (one invocation per shard at a time), and reserved concurrency is refused outright on accounts whose quota is the new-account 10.
  #checkov:skip=CKV_AWS_116:A dead-letter queue serves asynchronous invocations only; both functions are invoked synchronously by stream mappings, whose failed batches go to the failed-batches queue (destination_config below).
  #checkov:skip=CKV_AWS_117:The functions call only public AWS APIs over TLS; in a VPC they would need a NAT gateway or an SNS interface endpoint (both billed hourly) plus S3 and DynamoDB gateway endpoints, for no isolation gain.
  #checkov:skip=CKV_AWS_173:The environment holds resource names and tuning values only, no secrets; Lambda encrypts it at rest with an AWS-managed key.
  #checkov:skip=CKV_AWS_272:The package is built reproducibly from this repository and pinned by source_code_hash; code signing needs an AWS Signer profile and a signing step outside Terraform.
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

  # Lambda records a trace segment per invocation (duration, cold starts, the
  # calls it makes); the role's TraceInvocations statement allows the upload.
  tracing_config {
    mode = "Active"
  }

  # LocalStack answers DeleteFunction on a function whose runtime never started
  # (state Failed) with a 500, and the provider retries for its default 10
  # minutes; on an emulator, give up after 2. AWS keeps the provider's default.
  timeouts {
    delete = local.emulated ? "2m" : null
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
  # Scale-out on AWS (see the variables); MiniStack stores both and ignores them.
  parallelization_factor             = var.kinesis_parallelization_factor
  maximum_batching_window_in_seconds = var.kinesis_batching_window_seconds

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
