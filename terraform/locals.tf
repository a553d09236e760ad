data "aws_caller_identity" "current" {
  lifecycle {
    # Checked before anything is read or changed in the account.
    precondition {
      condition     = !local.on_aws || var.environment != null
      error_message = "On AWS, environment must be set (dev, staging or prod): it names every resource."
    }
    # Names carry the environment, so a workspace deploying another environment's
    # names would fight that workspace over the same resources. The default
    # workspace is left free for `terraform test`, which cannot select one.
    precondition {
      condition     = terraform.workspace == "default" || terraform.workspace == coalesce(var.environment, terraform.workspace)
      error_message = "The selected Terraform workspace must be named after the environment (workspace ${terraform.workspace}, environment ${coalesce(var.environment, "null")})."
    }
  }
}

data "aws_partition" "current" {}

locals {
  emulated = var.target != "aws"
  on_aws   = var.target == "aws"

  project_tags = merge(
    {
      Project   = "tickstack"
      Target    = var.target
      ManagedBy = "terraform"
    },
    var.environment == null ? {} : { Environment = var.environment },
  )

  # name_prefix, then the environment when there is one: tickstack-dev-ticks and
  # tickstack-prod-ticks live side by side in one account.
  stack_name = var.environment == null ? var.name_prefix : "${var.name_prefix}-${var.environment}"

  account_id = data.aws_caller_identity.current.account_id

  # Every resource name is made here from stack_name, and nowhere else.
  names = {
    stream            = "${local.stack_name}-ticks"
    ticks_table       = "${local.stack_name}-ticks"
    trend_state_table = "${local.stack_name}-trend-state"
    alerts_table      = "${local.stack_name}-alerts"
    # Bucket names are global on AWS: the account and region make this one unique.
    bucket            = "${local.stack_name}-archive-${local.account_id}-${var.region}"
    alerts_topic      = "${local.stack_name}-trend-alerts"
    ops_topic         = "${local.stack_name}-ops-alarms"
    alert_audit_queue = "${local.stack_name}-alert-audit"
    failed_batches    = "${local.stack_name}-failed-batches"
    process_function  = "${local.stack_name}-ProcessStockData"
    trend_function    = "${local.stack_name}-StockTrendAnalysis"
    process_role      = "${local.stack_name}-process-stock-data"
    trend_role        = "${local.stack_name}-stock-trend-analysis"
    # Glue and Athena take no hyphens in database names.
    glue_database    = "${replace(local.stack_name, "-", "_")}_archive"
    glue_table       = "raw_ticks"
    athena_workgroup = "${local.stack_name}-analytics"
    dashboard        = "${local.stack_name}-pipeline"
  }

  # Queue ARNs spelled out so that the roles, and so the functions, need not wait
  # the ~25 s the provider spends confirming each new queue.
  queue_arn = {
    for key in ["alert_audit_queue", "failed_batches"] :
    key => "arn:${data.aws_partition.current.partition}:sqs:${var.region}:${local.account_id}:${local.names[key]}"
  }

  # One place for each: the functions' environment, the role's S3 statement and
  # the Glue table's location all read these.
  raw_prefix      = var.raw_prefix
  rejected_prefix = var.rejected_prefix
  metrics_ns      = "Tickstack"
  log_level       = "INFO"
}
