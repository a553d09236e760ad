# The emulator targets, planned against a mocked provider: every service goes to
# the emulator with dummy keys, and nothing is named after an environment.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  target          = "ministack"
  endpoint_url    = "http://127.0.0.1:4599"
  lambda_zip_path = "tests/fixtures/package.zip"
}

run "ministack_sends_every_service_to_the_emulator" {
  command = apply

  assert {
    condition     = length(local.endpoint_overrides) == length(local.emulated_services) && alltrue([for url in values(local.endpoint_overrides) : url == "http://127.0.0.1:4599"])
    error_message = "On an emulator every service must go to endpoint_url."
  }

  assert {
    condition     = local.static_credentials != null
    error_message = "An emulator must get dummy credentials, never the caller's real ones."
  }

  assert {
    condition     = aws_kinesis_stream.this.name == "tickstack-ticks" && output.environment == null
    error_message = "Emulator names carry no environment."
  }

  assert {
    condition     = aws_s3_bucket.archive.force_destroy && length(aws_s3_bucket_lifecycle_configuration.archive) == 0
    error_message = "An emulator's archive is disposable and has no lifecycle rules."
  }

  assert {
    condition     = aws_sns_topic.alerts.kms_master_key_id == null && aws_kinesis_stream.this.encryption_type == "NONE"
    error_message = "Emulators encrypt nothing, so no key is configured there."
  }

  assert {
    condition     = aws_kinesis_stream.this.stream_mode_details[0].stream_mode == "PROVISIONED" && aws_kinesis_stream.this.shard_count == 1
    error_message = "By default the stream is one provisioned shard."
  }

  assert {
    condition     = alltrue([for fn in aws_lambda_function.this : fn.environment[0].variables.POWERTOOLS_TRACE_DISABLED == "true"])
    error_message = "An emulator runs no X-Ray daemon: the Powertools Tracer must be off."
  }

  assert {
    condition     = alltrue([for fn in aws_lambda_function.this : fn.timeouts.delete == "2m"])
    error_message = "On an emulator a function's delete must give up after 2 minutes, not the provider's 10."
  }

  assert {
    condition     = alltrue([for fn in aws_lambda_function.this : fn.environment[0].variables.FAULT_INJECTION == ""])
    error_message = "By default no fault is injected."
  }

  assert {
    condition     = alltrue([for fn in aws_lambda_function.this : fn.environment[0].variables.AWS_DATA_PATH == "stock_pipeline/_botocore_data"])
    error_message = "On an emulator botocore must read the package's trimmed endpoint data first (AWS_DATA_PATH)."
  }

  assert {
    condition = (
      output.alerts_table_name == "tickstack-alerts" &&
      aws_dynamodb_table.alerts.hash_key == "alert_id" &&
      aws_dynamodb_table.alerts.billing_mode == "PROVISIONED" &&
      aws_lambda_function.this["trend"].environment[0].variables.ALERTS_TABLE == "tickstack-alerts"
    )
    error_message = "An emulator gets the alerts table too, keyed by alert_id and named to the trend function."
  }
}

run "faults_are_injected_on_an_emulator_when_asked" {
  command = apply

  variables {
    fault_injection = "process=0.2,trend=0.2,trend_crash_after_publish=0.3"
  }

  assert {
    condition = alltrue([
      for fn in aws_lambda_function.this :
      fn.environment[0].variables.FAULT_INJECTION == "process=0.2,trend=0.2,trend_crash_after_publish=0.3"
    ])
    error_message = "Both functions must get the fault-injection switch on an emulator."
  }
}

run "a_share_above_one_is_refused" {
  command = plan

  variables {
    fault_injection = "process=1.5"
  }

  expect_failures = [var.fault_injection]
}

run "an_unknown_fault_is_refused" {
  command = plan

  variables {
    fault_injection = "process=0.2,network=0.1"
  }

  expect_failures = [var.fault_injection]
}

run "a_fault_given_twice_is_refused" {
  command = plan

  variables {
    fault_injection = "trend=0.1, trend=0.2"
  }

  expect_failures = [var.fault_injection]
}

run "localstack_is_emulated_too" {
  command = plan

  variables {
    target = "localstack"
  }

  assert {
    condition     = local.emulated && length(local.endpoint_overrides) == length(local.emulated_services)
    error_message = "localstack must be treated as an emulator."
  }

  assert {
    condition     = aws_dynamodb_table.alerts.name == "tickstack-alerts" && aws_dynamodb_table.alerts.hash_key == "alert_id"
    error_message = "LocalStack gets the alerts table too."
  }

  assert {
    condition     = alltrue([for fn in aws_lambda_function.this : fn.environment[0].variables.AWS_DATA_PATH == "stock_pipeline/_botocore_data"])
    error_message = "LocalStack's functions must read the package's trimmed endpoint data first too (AWS_DATA_PATH)."
  }
}

run "emulated_tables_are_provisioned_without_scaling" {
  command = apply
  # A state of its own: in the shared one the tables exist already, and their capacity is left alone.
  state_key = "table_capacity"

  variables {
    table_capacity = { min_units = 5 }
  }

  assert {
    condition     = aws_dynamodb_table.ticks.billing_mode == "PROVISIONED" && aws_dynamodb_table.ticks.write_capacity == 5
    error_message = "An emulator deploys the tables as AWS would, at min_units."
  }

  assert {
    condition     = length(aws_appautoscaling_target.table_capacity) == 0 && length(aws_appautoscaling_policy.table_capacity) == 0
    error_message = "No Application Auto Scaling on an emulator: MiniStack has no such API."
  }
}
