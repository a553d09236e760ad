locals {
  function_names = { for key, fn in aws_lambda_function.this : key => fn.function_name }

  lambda_metric = {
    for metric in ["Invocations", "Errors", "Duration"] : metric => [
      for key in ["process", "trend"] :
      ["AWS/Lambda", metric, "FunctionName", local.function_names[key]]
    ]
  }

  dashboard_widgets = [
    {
      title   = "Lambda invocations"
      stat    = "Sum"
      metrics = local.lambda_metric["Invocations"]
    },
    {
      title   = "Lambda errors"
      stat    = "Sum"
      metrics = local.lambda_metric["Errors"]
    },
    {
      title   = "Lambda duration (ms)"
      stat    = "Average"
      metrics = local.lambda_metric["Duration"]
    },
    {
      title = "Kinesis incoming records"
      stat  = "Sum"
      metrics = [
        ["AWS/Kinesis", "IncomingRecords", "StreamName", aws_kinesis_stream.this.name],
      ]
    },
    {
      title = "Kinesis iterator age (ms)"
      stat  = "Maximum"
      metrics = [
        ["AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "StreamName", aws_kinesis_stream.this.name],
      ]
    },
    {
      # The counters `tickstack dashboard` shows on an emulator, from the same metric names.
      title = "Ticks stored, alerts published"
      stat  = "Sum"
      metrics = [
        [local.metrics_ns, "TicksProcessed", "service", local.service_names.process],
        [local.metrics_ns, "CrossesDetected", "service", local.service_names.trend],
        [local.metrics_ns, "AlertsPublished", "service", local.service_names.trend],
      ]
    },
    {
      # The functions' own metrics (Powertools, one `service` dimension each).
      title = "Rejected and late ticks, stalled symbols"
      stat  = "Sum"
      metrics = [
        [local.metrics_ns, "RejectedTicks", "service", local.service_names.process],
        [local.metrics_ns, "LateTicks", "service", local.service_names.trend],
        [local.metrics_ns, "StalledSymbols", "service", local.service_names.trend],
      ]
    },
    {
      title = "DynamoDB successful request latency (ms)"
      stat  = "Average"
      # The requests each tick costs: ProcessStockData's batch writes of ticks, and the trend
      # function's read of a batch's states and its conditional write of each.
      metrics = [
        for table_and_operation in [
          [aws_dynamodb_table.ticks.name, "BatchWriteItem"],
          [aws_dynamodb_table.trend_state.name, "BatchGetItem"],
          [aws_dynamodb_table.trend_state.name, "PutItem"],
        ] :
        ["AWS/DynamoDB", "SuccessfulRequestLatency", "TableName", table_and_operation[0], "Operation", table_and_operation[1]]
      ]
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = local.names.dashboard

  dashboard_body = jsonencode({
    widgets = [
      for index, widget in local.dashboard_widgets : {
        type   = "metric"
        x      = (index % 2) * 12
        y      = floor(index / 2) * 6
        width  = 12
        height = 6
        properties = {
          title   = widget.title
          region  = var.region
          view    = "timeSeries"
          stacked = false
          period  = 60
          stat    = widget.stat
          metrics = widget.metrics
        }
      }
    ]
  })
}

# MiniStack reads alarms back without their actions, dimensions and period, so
# every plan there shows the alarms changing; on AWS they read back whole.
resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each = local.function_names

  alarm_name          = "${each.value}-errors"
  alarm_description   = "${each.value} raised an error: a batch is being retried and its shard is held back."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.ops.arn]
}

resource "aws_cloudwatch_metric_alarm" "stream_iterator_age" {
  alarm_name          = "${aws_kinesis_stream.this.name}-iterator-age"
  alarm_description   = "Ticks wait more than five minutes on ${aws_kinesis_stream.this.name}: ProcessStockData is falling behind or stuck."
  namespace           = "AWS/Kinesis"
  metric_name         = "GetRecords.IteratorAgeMilliseconds"
  dimensions          = { StreamName = aws_kinesis_stream.this.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = 300000
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.ops.arn]
}

# The DynamoDB stream has no iterator-age metric of its own: Lambda reports how
# old the last record of each batch was for the function reading it.
resource "aws_cloudwatch_metric_alarm" "table_stream_iterator_age" {
  alarm_name          = "${local.function_names["trend"]}-iterator-age"
  alarm_description   = "Table stream records wait more than five minutes for ${local.function_names["trend"]}: alerts are late or stuck."
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = local.function_names["trend"] }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = 300000
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.ops.arn]
}

# A message here is a batch a mapping gave up on after its retries: ticks that
# were never stored, or alerts never analysed. Someone has to look at it.
resource "aws_cloudwatch_metric_alarm" "failed_batches" {
  alarm_name          = "${aws_sqs_queue.failed_batches.name}-not-empty"
  alarm_description   = "A stream mapping sent a failed batch to ${aws_sqs_queue.failed_batches.name}: its records were skipped."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.failed_batches.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.ops.arn]
}

# The trend function counts a symbol in StalledSymbols when its analysis has not
# advanced for var.stalled_after_seconds while late ticks of it keep arriving
# (lambda/stock_pipeline/lateness.py): its alerts have stopped though its ticks
# have not. Without late ticks no datapoint is sent, which is not breaching.
resource "aws_cloudwatch_metric_alarm" "stalled_symbols" {
  alarm_name          = "${local.function_names["trend"]}-stalled-symbols"
  alarm_description   = "A symbol's trend analysis has not advanced for ${var.stalled_after_seconds} s while its ticks keep arriving late: no alert can come for it. `tickstack status` lists the stalled symbols."
  namespace           = local.metrics_ns
  metric_name         = "StalledSymbols"
  dimensions          = { service = local.service_names.trend }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.ops.arn]
}

# Requests DynamoDB refused for want of capacity, every minute for five: the
# capacity is not catching up (or has reached table_capacity.max_units). The
# functions retry, so ticks wait rather than get lost; the iterator ages follow.
resource "aws_cloudwatch_metric_alarm" "table_throttles" {
  for_each = local.tables

  alarm_name          = "${each.value}-throttled"
  alarm_description   = "DynamoDB throttled requests to ${each.value} every minute for five: raise table_capacity (min_units or max_units), or switch it to PAY_PER_REQUEST."
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 5
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.ops.arn]

  metric_query {
    id          = "throttled"
    expression  = "FILL(reads, 0) + FILL(writes, 0)"
    label       = "Throttled requests"
    return_data = true
  }

  metric_query {
    id = "reads"
    metric {
      namespace   = "AWS/DynamoDB"
      metric_name = "ReadThrottleEvents"
      dimensions  = { TableName = each.value }
      period      = 60
      stat        = "Sum"
    }
  }

  metric_query {
    id = "writes"
    metric {
      namespace   = "AWS/DynamoDB"
      metric_name = "WriteThrottleEvents"
      dimensions  = { TableName = each.value }
      period      = 60
      stat        = "Sum"
    }
  }
}
