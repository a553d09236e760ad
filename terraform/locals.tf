data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  emulated = var.target != "aws"
  on_aws   = var.target == "aws"

  project_tags = {
    Project   = "tickstack"
    Target    = var.target
    ManagedBy = "terraform"
  }

  account_id = data.aws_caller_identity.current.account_id

  # Every resource name is made here from name_prefix, and nowhere else.
  names = {
    stream            = "${var.name_prefix}-ticks"
    ticks_table       = "${var.name_prefix}-ticks"
    trend_state_table = "${var.name_prefix}-trend-state"
    # Bucket names are global on AWS: the account and region make this one unique.
    bucket            = "${var.name_prefix}-archive-${local.account_id}-${var.region}"
    alerts_topic      = "${var.name_prefix}-trend-alerts"
    ops_topic         = "${var.name_prefix}-ops-alarms"
    alert_audit_queue = "${var.name_prefix}-alert-audit"
    failed_batches    = "${var.name_prefix}-failed-batches"
    process_function  = "${var.name_prefix}-ProcessStockData"
    trend_function    = "${var.name_prefix}-StockTrendAnalysis"
    process_role      = "${var.name_prefix}-process-stock-data"
    trend_role        = "${var.name_prefix}-stock-trend-analysis"
    # Glue and Athena take no hyphens in database names.
    glue_database    = "${replace(var.name_prefix, "-", "_")}_archive"
    glue_table       = "raw_ticks"
    athena_workgroup = "${var.name_prefix}-analytics"
    dashboard        = "${var.name_prefix}-pipeline"
  }

  # Queue ARNs spelled out so that the roles, and so the functions, need not wait
  # the ~25 s the provider spends confirming each new queue.
  queue_arn = {
    for key in ["alert_audit_queue", "failed_batches"] :
    key => "arn:${data.aws_partition.current.partition}:sqs:${var.region}:${local.account_id}:${local.names[key]}"
  }

  raw_prefix      = "raw-data/"
  rejected_prefix = "rejected/"
  metrics_ns      = "Tickstack"
  log_level       = "INFO"
}
