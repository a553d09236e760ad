variable "target" {
  description = "Where the stack is deployed: \"ministack\" or \"localstack\" (emulators on endpoint_url) or \"aws\"."
  type        = string

  validation {
    condition     = contains(["ministack", "localstack", "aws"], var.target)
    error_message = "target must be one of \"ministack\", \"localstack\" or \"aws\"."
  }
}

variable "endpoint_url" {
  description = "Base URL of the emulator every AWS service is sent to. Ignored when target is \"aws\"."
  type        = string
  default     = "http://127.0.0.1:4566"

  validation {
    condition     = can(regex("^https?://[^/\\s]+/?$", var.endpoint_url))
    error_message = "endpoint_url must be a scheme and host, e.g. \"http://127.0.0.1:4566\"."
  }
}

variable "region" {
  description = "AWS region of every resource."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must look like \"us-east-1\"."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name. Lower case because it also names the S3 bucket and the Glue database."
  type        = string
  default     = "tickstack"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-20 characters of lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "lambda_zip_path" {
  description = "Path of the built deployment package (both functions share it, with different handlers)."
  type        = string

  validation {
    condition     = endswith(var.lambda_zip_path, ".zip") && fileexists(var.lambda_zip_path)
    error_message = "lambda_zip_path must name an existing .zip file; build it first."
  }
}

variable "lambda_runtime" {
  description = "Lambda runtime of both functions."
  type        = string
  default     = "python3.13"

  validation {
    condition     = contains(["python3.11", "python3.12", "python3.13"], var.lambda_runtime)
    error_message = "lambda_runtime must be python3.11, python3.12 or python3.13, the versions the handlers are written for."
  }
}

variable "alert_email" {
  description = "E-mail address subscribed to trend alerts and operational alarms; null for none."
  type        = string
  default     = null
  nullable    = true
  sensitive   = true

  validation {
    condition     = var.alert_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alert_email))
    error_message = "alert_email must be an e-mail address or null."
  }
}

variable "alert_sms" {
  description = "Phone number in E.164 form (e.g. \"+15555550100\") subscribed to trend alerts by SMS; null for none."
  type        = string
  default     = null
  nullable    = true
  sensitive   = true

  validation {
    condition     = var.alert_sms == null || can(regex("^\\+[1-9][0-9]{6,14}$", var.alert_sms))
    error_message = "alert_sms must be a phone number in E.164 form (\"+\" then 7-15 digits) or null."
  }
}

variable "enable_glue" {
  description = "Create the Glue catalog and the Athena workgroup over the S3 archive (not offered by every emulator)."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Retention of the functions' CloudWatch log groups, in days."
  type        = number
  default     = 14

  validation {
    condition = contains(
      [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653],
      var.log_retention_days
    )
    error_message = "log_retention_days must be a value CloudWatch Logs accepts, e.g. 1, 3, 7, 14, 30, 90, 365."
  }
}

variable "kinesis_batch_size" {
  description = "Largest batch of Kinesis records handed to ProcessStockData in one invocation."
  type        = number
  default     = 100

  validation {
    condition     = var.kinesis_batch_size >= 1 && var.kinesis_batch_size <= 10000 && floor(var.kinesis_batch_size) == var.kinesis_batch_size
    error_message = "kinesis_batch_size must be a whole number from 1 to 10000."
  }
}

variable "stream_batch_size" {
  description = "Largest batch of DynamoDB stream records (new ticks) handed to StockTrendAnalysis in one invocation. It takes the new ticks from the records' images and reads and writes each symbol's state once per batch, so a larger batch saves requests when a batch holds several ticks of a symbol, and lengthens an invocation by one state read and write per further symbol."
  type        = number
  default     = 100

  validation {
    condition     = var.stream_batch_size >= 1 && var.stream_batch_size <= 10000 && floor(var.stream_batch_size) == var.stream_batch_size
    error_message = "stream_batch_size must be a whole number from 1 to 10000."
  }
}

variable "kinesis_parallelization_factor" {
  description = "Batches of one Kinesis shard that ProcessStockData may process at the same time (1-10). Records of one partition key, so of one symbol, stay in order whatever the value: raise it when the stream's IteratorAgeMilliseconds grows while its shards still take the writes."
  type        = number
  default     = 1

  validation {
    condition     = var.kinesis_parallelization_factor >= 1 && var.kinesis_parallelization_factor <= 10 && floor(var.kinesis_parallelization_factor) == var.kinesis_parallelization_factor
    error_message = "kinesis_parallelization_factor must be a whole number from 1 to 10."
  }
}

variable "kinesis_batching_window_seconds" {
  description = "Seconds the Kinesis mapping may gather records before invoking ProcessStockData, unless kinesis_batch_size fills first (0-300). Fuller batches mean fewer invocations and, as a batch is archived as one object, fewer S3 PUTs per tick; the cost is up to that much delay before a tick is stored and analysed."
  type        = number
  default     = 5

  validation {
    condition     = var.kinesis_batching_window_seconds >= 0 && var.kinesis_batching_window_seconds <= 300 && floor(var.kinesis_batching_window_seconds) == var.kinesis_batching_window_seconds
    error_message = "kinesis_batching_window_seconds must be a whole number of seconds from 0 to 300."
  }
}

variable "archive_first_day" {
  description = "First arrival day (YYYY-MM-DD, UTC) of the archive's partitions that Athena reads: its partition projection covers this day to today. Ticks archived earlier stay in S3 but out of every query; a later day scans fewer empty prefixes."
  type        = string
  default     = "2026-01-01"

  validation {
    condition     = can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", var.archive_first_day)) && can(formatdate("YYYY", "${var.archive_first_day}T00:00:00Z"))
    error_message = "archive_first_day must be a date written YYYY-MM-DD, e.g. \"2026-01-01\"."
  }
}

variable "tags" {
  description = "Tags added to every resource, besides the project's own."
  type        = map(string)
  default     = {}
}

variable "environment" {
  description = "Environment this state deploys: \"dev\", \"staging\" or \"prod\", one Terraform workspace each, named in every resource so that several live in one account. Required on AWS; null on emulators."
  type        = string
  default     = null
  nullable    = true

  validation {
    condition     = var.environment == null || contains(["dev", "staging", "prod"], coalesce(var.environment, "dev"))
    error_message = "environment must be \"dev\", \"staging\" or \"prod\" (or null on an emulator)."
  }
}

variable "archive_force_destroy" {
  description = "Let destroy delete the archive bucket with every object version in it. Always true on emulators; on AWS only `tickstack destroy` sets it, after confirmation."
  type        = bool
  default     = false
}

variable "point_in_time_recovery" {
  description = "Continuous backups of every DynamoDB table (35 days of point-in-time restore, billed per GB stored)."
  type        = bool
  default     = true
}

variable "table_capacity" {
  description = <<-EOT
    How the DynamoDB tables pay for requests. PROVISIONED (the default) suits the steady poll this
    pipeline exists for: each table's read and write capacity starts at min_units and, on AWS,
    Application Auto Scaling keeps it near target_utilization percent of what the table consumes,
    never above max_units. At 500 symbols every 30 s that costs about 40% of on-demand requests
    (`make bench` prints both bills). Capacity scales up within minutes, not seconds: a replay or
    backfill into AWS faster than the capacity throttles, and the functions retry until it has
    scaled. Choose PAY_PER_REQUEST for spiky loads, or raise min_units for the duration.
    Emulators neither meter nor scale capacity: they deploy the tables at min_units, without
    scaling policies.
  EOT
  type = object({
    mode               = optional(string, "PROVISIONED")
    min_units          = optional(number, 1)
    max_units          = optional(number, 1000)
    target_utilization = optional(number, 70)
  })
  default  = {}
  nullable = false

  validation {
    condition     = contains(["PROVISIONED", "PAY_PER_REQUEST"], var.table_capacity.mode)
    error_message = "table_capacity.mode must be PROVISIONED or PAY_PER_REQUEST."
  }

  validation {
    condition = (
      floor(var.table_capacity.min_units) == var.table_capacity.min_units &&
      floor(var.table_capacity.max_units) == var.table_capacity.max_units &&
      var.table_capacity.min_units >= 1 && var.table_capacity.min_units <= var.table_capacity.max_units &&
      var.table_capacity.max_units <= 40000
    )
    error_message = "table_capacity.min_units and max_units must be whole numbers with 1 <= min_units <= max_units <= 40,000 (DynamoDB's per-table limit)."
  }

  validation {
    condition     = var.table_capacity.target_utilization >= 20 && var.table_capacity.target_utilization <= 90
    error_message = "table_capacity.target_utilization must be between 20 and 90 percent (Application Auto Scaling's range for DynamoDB)."
  }
}

variable "kinesis_shard_count" {
  description = "Shards of a provisioned tick stream; null for on-demand capacity. One shard takes 1,000 records (1 MB) a second, so 30,000 symbols polled every 30 s, at about a third of an on-demand stream's hourly charge; add shards (or go on demand) beyond that, and raise kinesis_parallelization_factor first when the function, not the shard, falls behind."
  type        = number
  default     = 1
  nullable    = true

  validation {
    condition     = var.kinesis_shard_count == null || try(var.kinesis_shard_count >= 1 && floor(var.kinesis_shard_count) == var.kinesis_shard_count, false)
    error_message = "kinesis_shard_count must be a whole number of at least 1, or null for on-demand."
  }
}

variable "sma_short_window" {
  description = "Ticks in the short simple moving average of the trend function; a cross of the short above or below the long one is a trend alert."
  type        = number
  default     = 5

  validation {
    condition     = var.sma_short_window >= 1 && floor(var.sma_short_window) == var.sma_short_window
    error_message = "sma_short_window must be a whole number of at least 1."
  }

  # Cross-variable validation (Terraform 1.9+): with short >= long the two
  # averages could never cross the way an alert means.
  validation {
    condition     = var.sma_short_window < var.sma_long_window
    error_message = "sma_short_window (${var.sma_short_window}) must be below sma_long_window (${var.sma_long_window})."
  }
}

variable "sma_long_window" {
  description = "Ticks in the long simple moving average of the trend function; must be above sma_short_window."
  type        = number
  default     = 20

  validation {
    condition     = var.sma_long_window >= 2 && floor(var.sma_long_window) == var.sma_long_window
    error_message = "sma_long_window must be a whole number of at least 2."
  }
}

variable "raw_prefix" {
  description = "S3 key prefix, in the archive bucket, of the enriched ticks (the Glue table's location); ends with \"/\"."
  type        = string
  default     = "raw-data/"

  validation {
    condition     = can(regex("^[^/\\s][^\\s]*/$", var.raw_prefix))
    error_message = "raw_prefix must be a non-empty key prefix without spaces that ends with \"/\" and does not start with one, e.g. \"raw-data/\"."
  }
}

variable "rejected_prefix" {
  description = "S3 key prefix, in the archive bucket, of the records that could never become a tick; ends with \"/\"."
  type        = string
  default     = "rejected/"

  validation {
    condition     = can(regex("^[^/\\s][^\\s]*/$", var.rejected_prefix))
    error_message = "rejected_prefix must be a non-empty key prefix without spaces that ends with \"/\" and does not start with one, e.g. \"rejected/\"."
  }

  # One prefix inside the other would put rejected records in the Glue table's
  # location (or archived ticks among the rejected ones).
  validation {
    condition     = !startswith(var.rejected_prefix, var.raw_prefix) && !startswith(var.raw_prefix, var.rejected_prefix)
    error_message = "rejected_prefix and raw_prefix must not contain one another: Athena reads everything under raw_prefix."
  }
}

variable "future_tolerance_seconds" {
  description = "ProcessStockData quarantines a tick stamped more than this many seconds ahead of its own clock: one such tick would hold its symbol's analysis back until real time caught up with it. Ticks of the past always pass."
  type        = number
  default     = 300

  validation {
    condition     = var.future_tolerance_seconds >= 0 && var.future_tolerance_seconds <= 86400 && floor(var.future_tolerance_seconds) == var.future_tolerance_seconds
    error_message = "future_tolerance_seconds must be a whole number of seconds from 0 to 86400 (a day)."
  }
}

variable "stalled_after_seconds" {
  description = "A symbol whose trend analysis has not advanced for this many seconds while late ticks of it keep arriving is stalled: the trend function counts it in StalledSymbols, whose alarm notifies the ops topic, and `tickstack status` lists it."
  type        = number
  default     = 900

  validation {
    condition     = var.stalled_after_seconds >= 60 && var.stalled_after_seconds <= 86400 && floor(var.stalled_after_seconds) == var.stalled_after_seconds
    error_message = "stalled_after_seconds must be a whole number of seconds from 60 to 86400."
  }

  # A tick within the future tolerance holds its symbol's analysis for up to that long:
  # a threshold below it would call every such tick a stall.
  validation {
    condition     = var.stalled_after_seconds > var.future_tolerance_seconds
    error_message = "stalled_after_seconds (${var.stalled_after_seconds}) must exceed future_tolerance_seconds (${var.future_tolerance_seconds})."
  }
}

variable "fault_injection" {
  description = "Emulators only: the share of invocations that fail on purpose, per kind, e.g. \"process=0.2,trend=0.2,trend_crash_after_publish=0.3\" (see lambda/stock_pipeline/faults.py); \"\" for none. Refused on aws."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition = alltrue([
      for part in compact(split(",", var.fault_injection)) :
      can(regex("^(process|trend|trend_crash_after_publish)=(0(\\.[0-9]+)?|1(\\.0+)?|\\.[0-9]+)$", trimspace(part)))
      ]) && length(compact(split(",", var.fault_injection))) == length(distinct([
        for part in compact(split(",", var.fault_injection)) : split("=", trimspace(part))[0]
    ]))
    error_message = "fault_injection must be \"\" or comma-separated kind=share pairs, each kind once and one of process, trend, trend_crash_after_publish, each share from 0 to 1, e.g. \"process=0.2,trend_crash_after_publish=0.3\"."
  }

  validation {
    condition     = var.fault_injection == "" || var.target != "aws"
    error_message = "fault_injection is for the emulators only: it must be \"\" on aws."
  }
}
