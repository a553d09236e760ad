# What the mocked aws provider returns for values only AWS knows. Each resource
# gets an ARN of its own, so assertions can tell which resource a policy,
# mapping or alarm points at.

mock_data "aws_caller_identity" {
  defaults = { account_id = "123456789012" }
}

mock_data "aws_partition" {
  defaults = { partition = "aws" }
}

mock_resource "aws_kinesis_stream" {
  defaults = { arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/mock" }
}

mock_resource "aws_dynamodb_table" {
  defaults = {
    arn        = "arn:aws:dynamodb:eu-west-1:123456789012:table/mock"
    stream_arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/mock/stream/2026-01-01T00:00:00.000"
  }
}

mock_resource "aws_sns_topic" {
  defaults = { arn = "arn:aws:sns:eu-west-1:123456789012:mock" }
}

mock_resource "aws_sqs_queue" {
  defaults = { arn = "arn:aws:sqs:eu-west-1:123456789012:mock" }
}

mock_resource "aws_iam_role" {
  defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
}

mock_resource "aws_lambda_function" {
  defaults = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:mock" }
}

mock_resource "aws_cloudwatch_log_group" {
  defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:mock" }
}

mock_resource "aws_s3_bucket" {
  defaults = { arn = "arn:aws:s3:::mock" }
}

override_resource {
  target = aws_kinesis_stream.this
  values = { arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/ticks" }
}

override_resource {
  target = aws_dynamodb_table.ticks
  values = {
    arn        = "arn:aws:dynamodb:eu-west-1:123456789012:table/ticks"
    stream_arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/ticks/stream/2026-01-01T00:00:00.000"
  }
}

override_resource {
  target = aws_dynamodb_table.trend_state
  values = { arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/trend-state" }
}

override_resource {
  target = aws_dynamodb_table.alerts
  values = { arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/alerts" }
}

override_resource {
  target = aws_sns_topic.alerts
  values = { arn = "arn:aws:sns:eu-west-1:123456789012:trend-alerts" }
}

override_resource {
  target = aws_sns_topic.ops
  values = { arn = "arn:aws:sns:eu-west-1:123456789012:ops-alarms" }
}

override_resource {
  target = aws_sqs_queue.alert_audit
  values = { arn = "arn:aws:sqs:eu-west-1:123456789012:alert-audit" }
}

override_resource {
  target = aws_sqs_queue.failed_batches
  values = { arn = "arn:aws:sqs:eu-west-1:123456789012:failed-batches" }
}

override_resource {
  target = aws_iam_role.process
  values = { arn = "arn:aws:iam::123456789012:role/process" }
}

override_resource {
  target = aws_iam_role.trend
  values = { arn = "arn:aws:iam::123456789012:role/trend" }
}

override_resource {
  target = aws_lambda_function.this["process"]
  values = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:process" }
}

override_resource {
  target = aws_lambda_function.this["trend"]
  values = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:trend" }
}

override_resource {
  target = aws_cloudwatch_log_group.function["process"]
  values = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:process" }
}

override_resource {
  target = aws_cloudwatch_log_group.function["trend"]
  values = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:trend" }
}

override_resource {
  target = aws_s3_bucket.archive
  values = { arn = "arn:aws:s3:::archive" }
}

# The policy documents' JSON is rendered by the real provider only. Each gets a
# distinct stand-in, so assertions can tell which document a role or a merge
# uses; the statements themselves are asserted on the documents' inputs.
mock_data "aws_iam_policy_document" {
  defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}

override_data {
  target = data.aws_iam_policy_document.lambda_assume_role
  values = { json = "{\"Id\":\"lambda_assume_role\"}" }
}

override_data {
  target = data.aws_iam_policy_document.function_common["process"]
  values = { json = "{\"Id\":\"function_common.process\"}" }
}

override_data {
  target = data.aws_iam_policy_document.function_common["trend"]
  values = { json = "{\"Id\":\"function_common.trend\"}" }
}

override_data {
  target = data.aws_iam_policy_document.process
  values = { json = "{\"Id\":\"process\"}" }
}

override_data {
  target = data.aws_iam_policy_document.trend
  values = { json = "{\"Id\":\"trend\"}" }
}
