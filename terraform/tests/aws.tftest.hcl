# The aws target, applied against a mocked provider: nothing leaves this machine.
# Asserts what the security defaults promise, on the values AWS would receive.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  target      = "aws"
  environment = "dev"
  region      = "eu-west-1"
  # Given on purpose: the aws target must ignore it.
  endpoint_url    = "http://127.0.0.1:4566"
  lambda_zip_path = "tests/fixtures/package.zip"
}

run "aws_talks_to_aws_only" {
  command = plan

  assert {
    condition     = length(local.endpoint_overrides) == 0
    error_message = "The aws target must not override any service endpoint."
  }

  assert {
    condition     = local.static_credentials == null
    error_message = "The aws target must take credentials from the standard chain, not from static keys."
  }

  assert {
    condition     = !local.emulated && local.on_aws
    error_message = "target = \"aws\" must not count as emulated."
  }
}

run "aws_dev" {
  command = apply

  # Every resource name carries the environment.
  assert {
    condition = alltrue([
      for name in values(local.names) : startswith(name, "tickstack-dev-") || startswith(name, "tickstack_dev_") || name == "raw_ticks"
    ])
    error_message = "Every resource name must start with tickstack-dev-."
  }

  assert {
    condition     = aws_s3_bucket.archive.bucket == "tickstack-dev-archive-123456789012-eu-west-1"
    error_message = "The bucket name must carry environment, account and region: ${aws_s3_bucket.archive.bucket}."
  }

  assert {
    condition     = local.project_tags.Environment == "dev"
    error_message = "Every resource must be tagged with its environment."
  }

  # One role per function, each with exactly the statements it needs.
  assert {
    condition     = aws_lambda_function.this["process"].role == aws_iam_role.process.arn && aws_lambda_function.this["trend"].role == aws_iam_role.trend.arn
    error_message = "Each function must run with a role of its own."
  }

  # The policies are data (aws_iam_policy_document), whose rendered JSON the
  # mocked provider cannot compute: so the statements are asserted as written,
  # and each role's policy is asserted to be exactly its document, which merges
  # the common document made for that same function.
  assert {
    condition = (
      aws_iam_role_policy.process.policy == data.aws_iam_policy_document.process.json &&
      aws_iam_role_policy.trend.policy == data.aws_iam_policy_document.trend.json &&
      data.aws_iam_policy_document.process.source_policy_documents == tolist([data.aws_iam_policy_document.function_common["process"].json]) &&
      data.aws_iam_policy_document.trend.source_policy_documents == tolist([data.aws_iam_policy_document.function_common["trend"].json]) &&
      data.aws_iam_policy_document.function_common["process"].json != data.aws_iam_policy_document.function_common["trend"].json
    )
    error_message = "Each role's policy must be its own document, merged with the common statements made for that function."
  }

  assert {
    condition = alltrue([
      for doc in [data.aws_iam_policy_document.process, data.aws_iam_policy_document.trend] :
      doc.override_policy_documents == null && doc.source_json == null && doc.override_json == null
    ])
    error_message = "Nothing but the common document may be merged into a role's policy."
  }

  assert {
    condition = jsonencode({
      for s in concat(data.aws_iam_policy_document.function_common["process"].statement, data.aws_iam_policy_document.process.statement) :
      s.sid => { effect = s.effect, actions = sort(s.actions), resources = sort(s.resources) }
      }) == jsonencode({
      ReadTickStream = {
        effect    = "Allow"
        actions   = sort(["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"])
        resources = ["arn:aws:kinesis:eu-west-1:123456789012:stream/ticks"]
      }
      StoreTicks = {
        effect    = "Allow"
        actions   = ["dynamodb:BatchWriteItem"]
        resources = ["arn:aws:dynamodb:eu-west-1:123456789012:table/ticks"]
      }
      ArchiveTicks = {
        effect    = "Allow"
        actions   = ["s3:PutObject"]
        resources = sort(["arn:aws:s3:::archive/raw-data/*", "arn:aws:s3:::archive/rejected/*"])
      }
      ReportFailedBatches = {
        effect    = "Allow"
        actions   = ["sqs:SendMessage"]
        resources = ["arn:aws:sqs:eu-west-1:123456789012:tickstack-dev-failed-batches"]
      }
      WriteOwnLogs = {
        effect    = "Allow"
        actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        resources = ["arn:aws:logs:eu-west-1:123456789012:log-group:process:*"]
      }
      TraceInvocations = {
        effect    = "Allow"
        actions   = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
        resources = ["*"]
      }
    })
    error_message = "The process role's statements changed: ${jsonencode(concat(data.aws_iam_policy_document.function_common["process"].statement, data.aws_iam_policy_document.process.statement))}"
  }

  assert {
    condition = jsonencode({
      for s in concat(data.aws_iam_policy_document.function_common["trend"].statement, data.aws_iam_policy_document.trend.statement) :
      s.sid => { effect = s.effect, actions = sort(s.actions), resources = sort(s.resources) }
      }) == jsonencode({
      ReadTickTableStream = {
        effect    = "Allow"
        actions   = sort(["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"])
        resources = ["arn:aws:dynamodb:eu-west-1:123456789012:table/ticks/stream/*"]
      }
      ReadTickHistory = {
        effect    = "Allow"
        actions   = ["dynamodb:Query"]
        resources = ["arn:aws:dynamodb:eu-west-1:123456789012:table/ticks"]
      }
      KeepTrendState = {
        effect    = "Allow"
        actions   = ["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem"]
        resources = ["arn:aws:dynamodb:eu-west-1:123456789012:table/trend-state"]
      }
      PublishAlerts = {
        effect    = "Allow"
        actions   = ["sns:Publish"]
        resources = ["arn:aws:sns:eu-west-1:123456789012:trend-alerts"]
      }
      RecordAlerts = {
        effect    = "Allow"
        actions   = ["dynamodb:UpdateItem"]
        resources = ["arn:aws:dynamodb:eu-west-1:123456789012:table/alerts"]
      }
      ReportFailedBatches = {
        effect    = "Allow"
        actions   = ["sqs:SendMessage"]
        resources = ["arn:aws:sqs:eu-west-1:123456789012:tickstack-dev-failed-batches"]
      }
      WriteOwnLogs = {
        effect    = "Allow"
        actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        resources = ["arn:aws:logs:eu-west-1:123456789012:log-group:trend:*"]
      }
      TraceInvocations = {
        effect    = "Allow"
        actions   = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
        resources = ["*"]
      }
    })
    error_message = "The trend role's statements changed: ${jsonencode(concat(data.aws_iam_policy_document.function_common["trend"].statement, data.aws_iam_policy_document.trend.statement))}"
  }

  # Every statement grants named actions on named resources: no NotAction,
  # NotResource, principal or condition that would widen or blur it.
  assert {
    condition = alltrue(flatten([
      for doc in [data.aws_iam_policy_document.function_common["process"], data.aws_iam_policy_document.process, data.aws_iam_policy_document.function_common["trend"], data.aws_iam_policy_document.trend] : [
        for s in doc.statement :
        length(coalesce(s.not_actions, [])) == 0 && length(coalesce(s.not_resources, [])) == 0 &&
        length(coalesce(s.principals, [])) == 0 && length(coalesce(s.not_principals, [])) == 0 && length(coalesce(s.condition, [])) == 0
      ]
    ]))
    error_message = "Role statements must name their actions and resources, with no Not*, principals or conditions."
  }

  # No wildcard action anywhere; a wildcard resource only in the statement that
  # AWS allows no other way (X-Ray).
  assert {
    condition = alltrue(flatten([
      for doc in [data.aws_iam_policy_document.function_common["process"], data.aws_iam_policy_document.process, data.aws_iam_policy_document.function_common["trend"], data.aws_iam_policy_document.trend] : [
        for s in doc.statement : [for action in s.actions : !strcontains(action, "*")]
      ]
    ]))
    error_message = "No IAM action may contain a wildcard."
  }

  assert {
    condition = jsonencode(flatten([
      for doc in [data.aws_iam_policy_document.function_common["process"], data.aws_iam_policy_document.process, data.aws_iam_policy_document.function_common["trend"], data.aws_iam_policy_document.trend] : [
        for s in doc.statement : s.sid if contains(s.resources, "*")
      ]
    ])) == jsonencode(["TraceInvocations", "TraceInvocations"])
    error_message = "Only the X-Ray statements may use Resource \"*\"."
  }

  assert {
    condition = alltrue([
      for role in [aws_iam_role.process, aws_iam_role.trend] :
      role.assume_role_policy == data.aws_iam_policy_document.lambda_assume_role.json
    ])
    error_message = "Both function roles must take their trust policy from the lambda_assume_role document."
  }

  assert {
    condition = jsonencode([
      for s in data.aws_iam_policy_document.lambda_assume_role.statement : {
        effect     = s.effect
        actions    = sort(s.actions)
        principals = [for p in s.principals : { type = p.type, identifiers = sort(p.identifiers) }]
        conditions = [for c in s.condition : { test = c.test, variable = c.variable, values = c.values }]
        not        = [s.not_actions, s.not_resources, s.not_principals]
      }
      ]) == jsonencode([{
        effect     = "Allow"
        actions    = ["sts:AssumeRole"]
        principals = [{ type = "Service", identifiers = ["lambda.amazonaws.com"] }]
        conditions = [{ test = "StringEquals", variable = "aws:SourceAccount", values = ["123456789012"] }]
        not        = [null, null, []]
    }])
    error_message = "Only Lambda, on behalf of this account, may assume the function roles: ${jsonencode(data.aws_iam_policy_document.lambda_assume_role.statement)}"
  }

  # The archive bucket: private, encrypted, TLS only, versioned, kept on destroy.
  assert {
    condition = (
      aws_s3_bucket_public_access_block.archive.block_public_acls &&
      aws_s3_bucket_public_access_block.archive.block_public_policy &&
      aws_s3_bucket_public_access_block.archive.ignore_public_acls &&
      aws_s3_bucket_public_access_block.archive.restrict_public_buckets
    )
    error_message = "The archive bucket must block every kind of public access."
  }

  assert {
    condition = jsonencode([
      for rule in aws_s3_bucket_server_side_encryption_configuration.archive.rule :
      rule.apply_server_side_encryption_by_default[0].sse_algorithm
    ]) == jsonencode(["AES256"])
    error_message = "The archive bucket must encrypt every object by default."
  }

  assert {
    condition     = aws_s3_bucket_versioning.archive.versioning_configuration[0].status == "Enabled"
    error_message = "Versioning must be on for the archive bucket."
  }

  assert {
    condition = jsonencode(jsondecode(aws_s3_bucket_policy.archive.policy).Statement) == jsonencode([{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = ["arn:aws:s3:::archive", "arn:aws:s3:::archive/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }])
    error_message = "The bucket policy must deny every request made without TLS, and allow nothing."
  }

  assert {
    condition     = aws_s3_bucket.archive.force_destroy == false
    error_message = "On AWS the archive must survive a plain destroy unless archive_force_destroy is set."
  }

  assert {
    condition     = length(aws_s3_bucket_lifecycle_configuration.archive) == 1
    error_message = "On AWS old object versions and Athena results must expire."
  }

  # Encryption at rest of the topic, the stream and the queues.
  assert {
    condition     = aws_sns_topic.alerts.kms_master_key_id == "alias/aws/sns"
    error_message = "The alerts topic must be encrypted on AWS."
  }

  assert {
    condition     = aws_kinesis_stream.this.encryption_type == "KMS" && aws_kinesis_stream.this.kms_key_id == "alias/aws/kinesis"
    error_message = "The tick stream must be encrypted on AWS."
  }

  assert {
    condition     = aws_sqs_queue.failed_batches.sqs_managed_sse_enabled && aws_sqs_queue.alert_audit.sqs_managed_sse_enabled
    error_message = "Both queues must be encrypted at rest."
  }

  assert {
    condition     = aws_dynamodb_table.ticks.point_in_time_recovery[0].enabled && aws_dynamodb_table.trend_state.point_in_time_recovery[0].enabled
    error_message = "Both tables must keep point-in-time backups by default."
  }

  # The alerts table: billed like the others, keyed by alert_id, backed up like the others,
  # named after the environment, given to the trend function and to the CLI.
  assert {
    condition = (
      aws_dynamodb_table.alerts.name == "tickstack-dev-alerts" &&
      aws_dynamodb_table.alerts.billing_mode == aws_dynamodb_table.ticks.billing_mode &&
      aws_dynamodb_table.alerts.hash_key == "alert_id" &&
      aws_dynamodb_table.alerts.range_key == null &&
      aws_dynamodb_table.alerts.point_in_time_recovery[0].enabled &&
      aws_lambda_function.this["trend"].environment[0].variables.ALERTS_TABLE == aws_dynamodb_table.alerts.name &&
      !contains(keys(aws_lambda_function.this["process"].environment[0].variables), "ALERTS_TABLE") &&
      output.alerts_table_name == aws_dynamodb_table.alerts.name
    )
    error_message = "The alerts table must be billed like the others, keyed by alert_id, backed up, and named to the trend function and in the outputs."
  }

  assert {
    condition     = alltrue([for fn in aws_lambda_function.this : fn.tracing_config[0].mode == "Active"])
    error_message = "Both functions must be traced."
  }

  # Both functions read the key layout and the windows from Terraform, and on
  # AWS the Powertools Tracer reaches the X-Ray daemon that active tracing runs.
  assert {
    condition = alltrue([
      for fn in aws_lambda_function.this :
      fn.environment[0].variables.SHORT_WINDOW == "5" && fn.environment[0].variables.LONG_WINDOW == "20" &&
      fn.environment[0].variables.RAW_PREFIX == "raw-data/" && fn.environment[0].variables.REJECTED_PREFIX == "rejected/" &&
      fn.environment[0].variables.POWERTOOLS_TRACE_DISABLED == "false"
    ])
    error_message = "Both functions must get the default windows and prefixes, with the Powertools Tracer on."
  }

  # Time sanity and stall detection get their defaults; no fault can be injected on AWS.
  assert {
    condition = (
      aws_lambda_function.this["process"].environment[0].variables.FUTURE_TOLERANCE_SECONDS == "300" &&
      aws_lambda_function.this["trend"].environment[0].variables.STALLED_AFTER_SECONDS == "900"
    )
    error_message = "The process function must get the default future tolerance and the trend function the default stall threshold."
  }

  assert {
    condition     = alltrue([for fn in aws_lambda_function.this : !contains(keys(fn.environment[0].variables), "FAULT_INJECTION")])
    error_message = "No function on AWS may carry the fault-injection switch."
  }

  assert {
    condition     = alltrue([for fn in aws_lambda_function.this : !contains(keys(fn.environment[0].variables), "AWS_DATA_PATH")])
    error_message = "On AWS the runtime's botocore keeps its own data: no function may carry AWS_DATA_PATH."
  }

  assert {
    condition     = alltrue([for fn in aws_lambda_function.this : try(fn.timeouts.delete, null) == null])
    error_message = "On AWS a function's delete keeps the provider's default timeout."
  }

  # No subscriber unless a sensitive variable names one.
  assert {
    condition     = length(aws_sns_topic_subscription.alert_email) == 0 && length(aws_sns_topic_subscription.alert_sms) == 0 && length(aws_sns_topic_subscription.ops_email) == 0
    error_message = "Without alert_email or alert_sms nobody may be subscribed."
  }

  # Failed batches go to the on-failure queue, after bounded retries.
  assert {
    condition = alltrue([
      for mapping in [aws_lambda_event_source_mapping.ticks_stream, aws_lambda_event_source_mapping.ticks_table_stream] :
      mapping.destination_config[0].on_failure[0].destination_arn == aws_sqs_queue.failed_batches.arn &&
      mapping.bisect_batch_on_function_error &&
      mapping.maximum_retry_attempts == 5 &&
      mapping.maximum_record_age_in_seconds == 3600 &&
      contains(mapping.function_response_types, "ReportBatchItemFailures")
    ])
    error_message = "Both mappings must report partial failures, retry a bounded number of times and send failed batches to the failed-batches queue."
  }

  assert {
    condition = (
      aws_lambda_event_source_mapping.ticks_stream.event_source_arn == aws_kinesis_stream.this.arn &&
      aws_lambda_event_source_mapping.ticks_stream.function_name == aws_lambda_function.this["process"].arn &&
      aws_lambda_event_source_mapping.ticks_table_stream.event_source_arn == aws_dynamodb_table.ticks.stream_arn &&
      aws_lambda_event_source_mapping.ticks_table_stream.function_name == aws_lambda_function.this["trend"].arn
    )
    error_message = "The Kinesis stream must feed the process function and the table stream the trend function."
  }

  # Alarms: errors of each function, both iterator ages, failed batches; all
  # notify the ops topic.
  assert {
    condition = jsonencode(sort([for alarm in aws_cloudwatch_metric_alarm.function_errors : alarm.dimensions.FunctionName])) == jsonencode(sort([
      "tickstack-dev-ProcessStockData", "tickstack-dev-StockTrendAnalysis",
    ]))
    error_message = "Each function must have an errors alarm."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.stream_iterator_age.metric_name == "GetRecords.IteratorAgeMilliseconds" &&
      aws_cloudwatch_metric_alarm.stream_iterator_age.dimensions.StreamName == "tickstack-dev-ticks" &&
      aws_cloudwatch_metric_alarm.table_stream_iterator_age.metric_name == "IteratorAge" &&
      aws_cloudwatch_metric_alarm.table_stream_iterator_age.dimensions.FunctionName == "tickstack-dev-StockTrendAnalysis" &&
      aws_cloudwatch_metric_alarm.failed_batches.dimensions.QueueName == "tickstack-dev-failed-batches"
    )
    error_message = "The iterator-age and failed-batches alarms must watch this environment's stream, function and queue."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.stalled_symbols.namespace == "Tickstack" &&
      aws_cloudwatch_metric_alarm.stalled_symbols.metric_name == "StalledSymbols" &&
      aws_cloudwatch_metric_alarm.stalled_symbols.dimensions == tomap({ service = "stock-trend-analysis" }) &&
      aws_cloudwatch_metric_alarm.stalled_symbols.dimensions.service == aws_lambda_function.this["trend"].environment[0].variables.POWERTOOLS_SERVICE_NAME &&
      aws_cloudwatch_metric_alarm.stalled_symbols.comparison_operator == "GreaterThanThreshold" &&
      aws_cloudwatch_metric_alarm.stalled_symbols.threshold == 0 &&
      aws_cloudwatch_metric_alarm.stalled_symbols.treat_missing_data == "notBreaching"
    )
    error_message = "The stalled-symbols alarm must fire on any StalledSymbols datapoint the trend function sends, under its Powertools service name."
  }

  assert {
    condition = alltrue([
      for alarm in concat(values(aws_cloudwatch_metric_alarm.function_errors), [
        aws_cloudwatch_metric_alarm.stream_iterator_age,
        aws_cloudwatch_metric_alarm.table_stream_iterator_age,
        aws_cloudwatch_metric_alarm.failed_batches,
        aws_cloudwatch_metric_alarm.stalled_symbols,
      ], values(aws_cloudwatch_metric_alarm.table_throttles)) : alarm.alarm_actions == toset(["arn:aws:sns:eu-west-1:123456789012:ops-alarms"])
    ])
    error_message = "Every alarm must notify the ops topic."
  }

  # Each table alarms on its own read and write throttles, summed, every minute for five.
  assert {
    condition = jsonencode(sort(keys(aws_cloudwatch_metric_alarm.table_throttles))) == jsonencode(["alerts", "ticks", "trend_state"]) && alltrue([
      for key, alarm in aws_cloudwatch_metric_alarm.table_throttles :
      alarm.evaluation_periods == 5 && alarm.threshold == 0 && alarm.treat_missing_data == "notBreaching" &&
      jsonencode(sort([for q in alarm.metric_query : q.metric[0].metric_name if length(q.metric) > 0])) == jsonencode(["ReadThrottleEvents", "WriteThrottleEvents"]) &&
      alltrue([for q in alarm.metric_query : q.metric[0].dimensions.TableName == trimsuffix(alarm.alarm_name, "-throttled") if length(q.metric) > 0]) &&
      startswith(alarm.alarm_name, "tickstack-dev-")
    ])
    error_message = "Each table must alarm on its own read and write throttle events, summed, for five minutes."
  }

  assert {
    condition     = output.environment == "dev" && output.stream_name == "tickstack-dev-ticks"
    error_message = "The outputs must name the dev environment's resources."
  }
}

run "subscribers_come_from_sensitive_variables" {
  command = apply

  variables {
    alert_email = "ops@example.com"
    alert_sms   = "+15555550100"
  }

  assert {
    condition     = length(aws_sns_topic_subscription.alert_email) == 1 && length(aws_sns_topic_subscription.alert_sms) == 1 && length(aws_sns_topic_subscription.ops_email) == 1
    error_message = "alert_email and alert_sms must subscribe to the topics."
  }

  assert {
    condition     = aws_sns_topic_subscription.alert_email[0].protocol == "email" && aws_sns_topic_subscription.alert_sms[0].protocol == "sms"
    error_message = "The subscriptions must use the email and sms protocols."
  }
}

run "a_second_environment_lives_beside_the_first" {
  command = apply

  variables {
    environment = "staging"
  }

  assert {
    condition     = output.stream_name == "tickstack-staging-ticks" && output.stream_name != run.aws_dev.stream_name
    error_message = "staging must name its resources apart from dev."
  }

  assert {
    condition     = output.bucket_name != run.aws_dev.bucket_name && output.function_names.process != run.aws_dev.function_names.process
    error_message = "staging must not share a bucket or a function with dev."
  }
}

run "windows_and_prefixes_come_from_variables" {
  command = apply

  variables {
    sma_short_window = 12
    sma_long_window  = 26
    raw_prefix       = "ticks/enriched/"
    rejected_prefix  = "ticks-rejected/"
  }

  assert {
    condition = alltrue([
      for fn in aws_lambda_function.this :
      fn.environment[0].variables.SHORT_WINDOW == "12" && fn.environment[0].variables.LONG_WINDOW == "26" &&
      fn.environment[0].variables.RAW_PREFIX == "ticks/enriched/" && fn.environment[0].variables.REJECTED_PREFIX == "ticks-rejected/"
    ])
    error_message = "Both functions must get the windows and prefixes the variables give."
  }

  assert {
    condition = jsonencode([
      for s in data.aws_iam_policy_document.process.statement : sort(s.resources) if s.sid == "ArchiveTicks"
    ]) == jsonencode([["arn:aws:s3:::archive/ticks-rejected/*", "arn:aws:s3:::archive/ticks/enriched/*"]])
    error_message = "The process role may write under the two configured prefixes only."
  }

  assert {
    condition     = aws_glue_catalog_table.raw_ticks[0].storage_descriptor[0].location == "s3://${aws_s3_bucket.archive.bucket}/ticks/enriched/"
    error_message = "The Glue table must read the archive under raw_prefix."
  }

  assert {
    condition     = output.raw_prefix == "ticks/enriched/" && output.rejected_prefix == "ticks-rejected/" && output.sma_windows.short == 12 && output.sma_windows.long == 26
    error_message = "The outputs must tell the CLI where the archive and the quarantine are, and the windows in use."
  }
}

run "short_window_must_be_below_long_window" {
  command = plan

  variables {
    sma_short_window = 20
    sma_long_window  = 20
  }

  expect_failures = [var.sma_short_window]
}

run "windows_are_whole_numbers" {
  command = plan

  variables {
    sma_long_window = 30.5
  }

  expect_failures = [var.sma_long_window]
}

run "prefix_with_a_leading_slash_is_refused" {
  command = plan

  variables {
    raw_prefix = "/raw-data/"
  }

  expect_failures = [var.raw_prefix]
}

run "prefix_without_a_trailing_slash_is_refused" {
  command = plan

  variables {
    rejected_prefix = "rejected"
  }

  expect_failures = [var.rejected_prefix]
}

run "rejected_records_stay_out_of_the_glue_location" {
  command = plan

  variables {
    rejected_prefix = "raw-data/rejected/"
  }

  expect_failures = [var.rejected_prefix]
}

run "destroy_may_empty_the_archive_when_asked" {
  command = plan

  variables {
    archive_force_destroy = true
  }

  assert {
    condition     = aws_s3_bucket.archive.force_destroy
    error_message = "archive_force_destroy must let destroy delete a non-empty archive."
  }
}

run "an_on_demand_stream_on_request" {
  command = plan

  variables {
    kinesis_shard_count = null
  }

  assert {
    condition     = aws_kinesis_stream.this.stream_mode_details[0].stream_mode == "ON_DEMAND" && aws_kinesis_stream.this.shard_count == null
    error_message = "kinesis_shard_count = null must give an on-demand stream."
  }
}

run "tables_are_provisioned_and_scale_with_consumption" {
  command = apply

  assert {
    condition = alltrue([
      for table in [aws_dynamodb_table.ticks, aws_dynamodb_table.trend_state, aws_dynamodb_table.alerts] :
      table.billing_mode == "PROVISIONED" && table.read_capacity == 1 && table.write_capacity == 1
    ])
    error_message = "By default every table must be provisioned, starting at min_units."
  }

  # Reads and writes of each of the three tables, each tracking 70% utilization between 1 and 1,000 units.
  assert {
    condition = length(aws_appautoscaling_policy.table_capacity) == 6 && alltrue([
      for key, scaled in aws_appautoscaling_target.table_capacity :
      scaled.min_capacity == 1 && scaled.max_capacity == 1000 && scaled.service_namespace == "dynamodb"
    ])
    error_message = "Each table's read and write capacity must be scaled, between min_units and max_units."
  }

  assert {
    condition = (
      aws_appautoscaling_target.table_capacity["trend_state-write"].resource_id == "table/tickstack-dev-trend-state" &&
      aws_appautoscaling_target.table_capacity["trend_state-write"].scalable_dimension == "dynamodb:table:WriteCapacityUnits" &&
      aws_appautoscaling_policy.table_capacity["ticks-read"].target_tracking_scaling_policy_configuration[0].target_value == 70 &&
      aws_appautoscaling_policy.table_capacity["ticks-read"].target_tracking_scaling_policy_configuration[0].predefined_metric_specification[0].predefined_metric_type == "DynamoDBReadCapacityUtilization"
    )
    error_message = "Each scaling policy must track its own table's utilization of its own dimension."
  }
}

run "tables_on_demand_on_request" {
  command = plan

  variables {
    table_capacity = { mode = "PAY_PER_REQUEST" }
  }

  assert {
    condition = alltrue([
      for table in [aws_dynamodb_table.ticks, aws_dynamodb_table.trend_state, aws_dynamodb_table.alerts] :
      table.billing_mode == "PAY_PER_REQUEST"
    ]) && length(aws_appautoscaling_target.table_capacity) == 0
    error_message = "table_capacity.mode = PAY_PER_REQUEST must give on-demand tables and no scaling."
  }
}

run "table_capacity_bounds_are_checked" {
  command = plan

  variables {
    table_capacity = { min_units = 50, max_units = 10 }
  }

  expect_failures = [var.table_capacity]
}

run "table_capacity_mode_is_checked" {
  command = plan

  variables {
    table_capacity = { mode = "ON_DEMAND" }
  }

  expect_failures = [var.table_capacity]
}

run "aws_needs_an_environment" {
  command = plan

  variables {
    environment = null
  }

  expect_failures = [data.aws_caller_identity.current]
}

run "unknown_environment_is_refused" {
  command = plan

  variables {
    environment = "qa"
  }

  expect_failures = [var.environment]
}

run "bucket_name_longer_than_s3_allows_is_refused" {
  command = plan

  variables {
    name_prefix = "abcdefghijklmnopqrst"
    environment = "staging"
    region      = "ap-southeast-2"
  }

  expect_failures = [aws_s3_bucket.archive]
}

run "tolerances_come_from_variables" {
  command = apply

  variables {
    future_tolerance_seconds = 60
    stalled_after_seconds    = 600
  }

  assert {
    condition = (
      aws_lambda_function.this["process"].environment[0].variables.FUTURE_TOLERANCE_SECONDS == "60" &&
      aws_lambda_function.this["trend"].environment[0].variables.STALLED_AFTER_SECONDS == "600"
    )
    error_message = "The functions must get the tolerance and the threshold the variables give."
  }

  assert {
    condition     = output.future_tolerance_seconds == 60 && output.stalled_after_seconds == 600
    error_message = "The outputs must tell `tickstack status` the threshold in use."
  }
}

run "stall_threshold_must_exceed_the_future_tolerance" {
  command = plan

  variables {
    future_tolerance_seconds = 900
    stalled_after_seconds    = 900
  }

  expect_failures = [var.stalled_after_seconds]
}

run "future_tolerance_is_whole_seconds" {
  command = plan

  variables {
    future_tolerance_seconds = 1.5
  }

  expect_failures = [var.future_tolerance_seconds]
}

run "fault_injection_is_refused_on_aws" {
  command = plan

  variables {
    fault_injection = "process=0.2"
  }

  expect_failures = [var.fault_injection]
}

# The archive: JSON Lines under <raw_prefix>dt=<arrival day>/, read by Athena
# through partition projection, so no partition is ever registered and no query
# has to name a symbol or a day.
run "archive_partitions_are_projected_by_arrival_day" {
  command = apply

  assert {
    condition = (
      length(aws_glue_catalog_table.raw_ticks[0].partition_keys) == 1 &&
      aws_glue_catalog_table.raw_ticks[0].partition_keys[0].name == "dt" &&
      aws_glue_catalog_table.raw_ticks[0].partition_keys[0].type == "string" &&
      !contains([for c in aws_glue_catalog_table.raw_ticks[0].storage_descriptor[0].columns : c.name], "dt") &&
      contains([for c in aws_glue_catalog_table.raw_ticks[0].storage_descriptor[0].columns : c.name], "symbol")
    )
    error_message = "The Glue table must be partitioned by dt alone, symbol staying a column."
  }

  assert {
    condition = (
      aws_glue_catalog_table.raw_ticks[0].parameters["projection.enabled"] == "true" &&
      aws_glue_catalog_table.raw_ticks[0].parameters["projection.dt.type"] == "date" &&
      aws_glue_catalog_table.raw_ticks[0].parameters["projection.dt.format"] == "yyyy-MM-dd" &&
      aws_glue_catalog_table.raw_ticks[0].parameters["projection.dt.range"] == "2026-01-01,NOW" &&
      aws_glue_catalog_table.raw_ticks[0].parameters["projection.dt.interval"] == "1" &&
      aws_glue_catalog_table.raw_ticks[0].parameters["projection.dt.interval.unit"] == "DAYS" &&
      aws_glue_catalog_table.raw_ticks[0].parameters["storage.location.template"] == "s3://tickstack-dev-archive-123456789012-eu-west-1/raw-data/dt=$${dt}/" &&
      aws_glue_catalog_table.raw_ticks[0].parameters.classification == "json" &&
      !contains(keys(aws_glue_catalog_table.raw_ticks[0].parameters), "projection.symbol.type")
    )
    error_message = "Athena must project dt as a date from archive_first_day to now under raw_prefix, and no symbol: ${jsonencode(aws_glue_catalog_table.raw_ticks[0].parameters)}"
  }

  # The scale-out defaults: one batch per shard at a time, gathered for up to 5 s.
  assert {
    condition = (
      aws_lambda_event_source_mapping.ticks_stream.parallelization_factor == 1 &&
      aws_lambda_event_source_mapping.ticks_stream.maximum_batching_window_in_seconds == 5 &&
      aws_lambda_event_source_mapping.ticks_stream.batch_size == 100 &&
      aws_lambda_event_source_mapping.ticks_table_stream.batch_size == 100
    )
    error_message = "The mappings' scale-out defaults changed."
  }
}

run "scale_out_comes_from_variables" {
  command = apply

  variables {
    kinesis_parallelization_factor  = 4
    kinesis_batching_window_seconds = 30
    kinesis_batch_size              = 1000
    stream_batch_size               = 500
    archive_first_day               = "2026-11-01"
    raw_prefix                      = "ticks/enriched/"
  }

  assert {
    condition = (
      aws_lambda_event_source_mapping.ticks_stream.parallelization_factor == 4 &&
      aws_lambda_event_source_mapping.ticks_stream.maximum_batching_window_in_seconds == 30 &&
      aws_lambda_event_source_mapping.ticks_stream.batch_size == 1000 &&
      aws_lambda_event_source_mapping.ticks_table_stream.batch_size == 500
    )
    error_message = "The Kinesis mapping must take its parallelization, window and batch size, the trend mapping its batch size, from the variables."
  }

  assert {
    condition = (
      aws_glue_catalog_table.raw_ticks[0].parameters["projection.dt.range"] == "2026-11-01,NOW" &&
      aws_glue_catalog_table.raw_ticks[0].parameters["storage.location.template"] == "s3://tickstack-dev-archive-123456789012-eu-west-1/ticks/enriched/dt=$${dt}/"
    )
    error_message = "The projection must start on archive_first_day and follow raw_prefix."
  }
}

run "parallelization_factor_beyond_ten_is_refused" {
  command = plan

  variables {
    kinesis_parallelization_factor = 11
  }

  expect_failures = [var.kinesis_parallelization_factor]
}

run "batching_window_beyond_five_minutes_is_refused" {
  command = plan

  variables {
    kinesis_batching_window_seconds = 301
  }

  expect_failures = [var.kinesis_batching_window_seconds]
}

run "archive_first_day_must_be_a_date" {
  command = plan

  variables {
    archive_first_day = "2026-13-01"
  }

  expect_failures = [var.archive_first_day]
}
