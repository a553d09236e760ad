# Every table is encrypted at rest with the AWS-owned key, which DynamoDB
# always applies and which needs no grant for the functions.
resource "aws_dynamodb_table" "ticks" {
  #checkov:skip=CKV2_AWS_16:Scaled on AWS by aws_appautoscaling_target.table_capacity below, whose for_each over the tables checkov does not follow.
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS-owned key; a customer-managed key adds a monthly fee and a grant for every reader, for market data that is public.
  name           = local.names.ticks_table
  billing_mode   = var.table_capacity.mode
  read_capacity  = local.provisioned_tables ? var.table_capacity.min_units : null
  write_capacity = local.provisioned_tables ? var.table_capacity.min_units : null
  hash_key       = "symbol"
  range_key      = "timestamp"

  stream_enabled   = true
  stream_view_type = "NEW_IMAGE"

  point_in_time_recovery {
    enabled = var.point_in_time_recovery
  }

  # Once the table exists its capacity is Application Auto Scaling's (table_capacity below).
  lifecycle {
    ignore_changes = [read_capacity, write_capacity]
  }

  attribute {
    name = "symbol"
    type = "S"
  }

  attribute {
    name = "timestamp"
    type = "S"
  }
}

resource "aws_dynamodb_table" "trend_state" {
  #checkov:skip=CKV2_AWS_16:Scaled on AWS by aws_appautoscaling_target.table_capacity below, whose for_each over the tables checkov does not follow.
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS-owned key; a customer-managed key adds a monthly fee and a grant for every reader, for market data that is public.
  name           = local.names.trend_state_table
  billing_mode   = var.table_capacity.mode
  read_capacity  = local.provisioned_tables ? var.table_capacity.min_units : null
  write_capacity = local.provisioned_tables ? var.table_capacity.min_units : null
  hash_key       = "symbol"

  point_in_time_recovery {
    enabled = var.point_in_time_recovery
  }

  # Once the table exists its capacity is Application Auto Scaling's (table_capacity below).
  lifecycle {
    ignore_changes = [read_capacity, write_capacity]
  }

  attribute {
    name = "symbol"
    type = "S"
  }
}

# Every alert the trend function published, one item per alert_id
# (stock_pipeline.contract.AlertItem): `tickstack alerts` scans it on every target.
resource "aws_dynamodb_table" "alerts" {
  #checkov:skip=CKV2_AWS_16:Scaled on AWS by aws_appautoscaling_target.table_capacity below, whose for_each over the tables checkov does not follow.
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS-owned key; a customer-managed key adds a monthly fee and a grant for every reader, for alerts computed from public market data.
  name           = local.names.alerts_table
  billing_mode   = var.table_capacity.mode
  read_capacity  = local.provisioned_tables ? var.table_capacity.min_units : null
  write_capacity = local.provisioned_tables ? var.table_capacity.min_units : null
  hash_key       = "alert_id"

  point_in_time_recovery {
    enabled = var.point_in_time_recovery
  }

  # Once the table exists its capacity is Application Auto Scaling's (table_capacity below).
  lifecycle {
    ignore_changes = [read_capacity, write_capacity]
  }

  attribute {
    name = "alert_id"
    type = "S"
  }
}

# Provisioned capacity follows consumption: each table's reads and writes are held near
# table_capacity.target_utilization percent of what they consume. Only on AWS: emulators neither
# meter nor throttle, and MiniStack has no Application Auto Scaling API.
locals {
  provisioned_tables = var.table_capacity.mode == "PROVISIONED"
  tables = {
    ticks       = aws_dynamodb_table.ticks.name
    trend_state = aws_dynamodb_table.trend_state.name
    alerts      = aws_dynamodb_table.alerts.name
  }
  capacity_dimensions = {
    read  = { dimension = "ReadCapacityUnits", metric = "DynamoDBReadCapacityUtilization" }
    write = { dimension = "WriteCapacityUnits", metric = "DynamoDBWriteCapacityUtilization" }
  }
  scaled_capacity = local.provisioned_tables && local.on_aws ? {
    for pair in setproduct(keys(local.tables), keys(local.capacity_dimensions)) :
    "${pair[0]}-${pair[1]}" => { table = local.tables[pair[0]], direction = pair[1], kind = local.capacity_dimensions[pair[1]] }
  } : {}
}

resource "aws_appautoscaling_target" "table_capacity" {
  for_each = local.scaled_capacity

  service_namespace  = "dynamodb"
  resource_id        = "table/${each.value.table}"
  scalable_dimension = "dynamodb:table:${each.value.kind.dimension}"
  min_capacity       = var.table_capacity.min_units
  max_capacity       = var.table_capacity.max_units
}

resource "aws_appautoscaling_policy" "table_capacity" {
  for_each = local.scaled_capacity

  name               = "${each.value.table}-${each.value.direction}"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.table_capacity[each.key].service_namespace
  resource_id        = aws_appautoscaling_target.table_capacity[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.table_capacity[each.key].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value = var.table_capacity.target_utilization

    predefined_metric_specification {
      predefined_metric_type = each.value.kind.metric
    }
  }
}

resource "aws_s3_bucket" "archive" {
  #checkov:skip=CKV_AWS_18:Server access logs would need a second bucket and duplicate what CloudTrail data events record; enable those account-wide where object-level auditing is required.
  #checkov:skip=CKV_AWS_144:The archive is a derived copy of ticks that stream through DynamoDB; replicating it to a second region doubles storage cost for data that can be replayed.
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES256) encrypts every object at rest with no key to manage; a customer-managed KMS key costs a monthly fee and a grant for every reader (the functions, Athena users).
  #checkov:skip=CKV2_AWS_62:Nothing consumes object-created events: the archive is read by Athena through the Glue table, not by event-driven consumers.
  bucket = local.names.bucket

  # On an emulator the archive is disposable and the functions write into it, so
  # destroy must empty it. On AWS the archive is kept unless emptied on purpose:
  # `tickstack destroy` (make destroy-aws) sets archive_force_destroy only after
  # its confirmation, so a plain `terraform destroy` stops at a non-empty bucket.
  force_destroy = local.emulated || var.archive_force_destroy

  lifecycle {
    precondition {
      condition     = length(local.names.bucket) <= 63
      error_message = "The archive bucket name ${local.names.bucket} is longer than S3's 63 characters: shorten name_prefix."
    }
  }
}

resource "aws_s3_bucket_public_access_block" "archive" {
  bucket = aws_s3_bucket.archive.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "archive" {
  bucket = aws_s3_bucket.archive.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "archive" {
  bucket = aws_s3_bucket.archive.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_policy" "archive" {
  bucket = aws_s3_bucket.archive.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.archive.arn, "${aws_s3_bucket.archive.arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })

  # S3 refuses a policy while the public access block is still being applied.
  depends_on = [aws_s3_bucket_public_access_block.archive]
}

# Versioning keeps every overwritten archive object (a redelivered tick is written
# again); old versions and Athena's result files would otherwise grow for ever.
# AWS only: an emulator's archive lives as long as the emulator, and the provider
# waits about 55 s for a lifecycle configuration to read back steadily, which
# would be the longest step of every emulator deploy.
resource "aws_s3_bucket_lifecycle_configuration" "archive" {
  count = local.on_aws ? 1 : 0

  bucket = aws_s3_bucket.archive.id

  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  rule {
    id     = "expire-athena-results"
    status = "Enabled"

    filter {
      prefix = "athena-results/"
    }

    expiration {
      days = 30
    }
  }

  depends_on = [aws_s3_bucket_versioning.archive]
}
