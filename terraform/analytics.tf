locals {
  # The enriched item as the process function archives it under raw_prefix, one
  # JSON object per line: the keys of stock_pipeline.ticks.enrich(), which
  # tests/unit/test_glue_columns.py holds this list to.
  archive_columns = [
    { name = "symbol", type = "string" },
    { name = "timestamp", type = "string" },
    { name = "open", type = "double" },
    { name = "high", type = "double" },
    { name = "low", type = "double" },
    { name = "price", type = "double" },
    { name = "previous_close", type = "double" },
    { name = "change", type = "double" },
    { name = "change_percent", type = "double" },
    { name = "volume", type = "bigint" },
    { name = "moving_average", type = "double" },
    { name = "anomaly", type = "string" },
  ]

  # The one partition key, contract.ARCHIVE_PARTITION_KEY: the arrival day in
  # each object's key, <raw_prefix>dt=YYYY-MM-DD/<shard>-<sequence>.jsonl (one
  # object per batch and arrival day, holding every symbol's ticks).
  # Athena projects its values instead of looking partitions up in Glue, so none
  # is ever registered; symbol stays a column, so a query need not name one.
  archive_partition_projection = {
    "projection.enabled"          = "true"
    "projection.dt.type"          = "date"
    "projection.dt.format"        = "yyyy-MM-dd"
    "projection.dt.range"         = "${var.archive_first_day},NOW"
    "projection.dt.interval"      = "1"
    "projection.dt.interval.unit" = "DAYS"
    "storage.location.template"   = "s3://${aws_s3_bucket.archive.bucket}/${local.raw_prefix}dt=$${dt}/"
  }
}

resource "aws_glue_catalog_database" "this" {
  count = var.enable_glue ? 1 : 0

  name        = local.names.glue_database
  description = "Archive of enriched ticks in s3://${aws_s3_bucket.archive.bucket}/${local.raw_prefix}"
}

resource "aws_glue_catalog_table" "raw_ticks" {
  count = var.enable_glue ? 1 : 0

  name          = local.names.glue_table
  database_name = aws_glue_catalog_database.this[0].name
  description   = "Enriched ticks as JSON Lines, one object per batch and arrival day holding all its symbols, keyed ${local.raw_prefix}dt=<arrival day>/<shard>-<first sequence>.jsonl"
  table_type    = "EXTERNAL_TABLE"

  # MiniStack's Athena ignores the projection and reads the dt= folders as Hive
  # partitions, which comes to the same rows.
  parameters = merge(local.archive_partition_projection, {
    classification = "json"
    EXTERNAL       = "TRUE"
  })

  partition_keys {
    name = "dt"
    type = "string"
  }

  storage_descriptor {
    location      = "s3://${aws_s3_bucket.archive.bucket}/${local.raw_prefix}"
    input_format  = "org.apache.hadoop.mapred.TextInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"

    ser_de_info {
      serialization_library = "org.openx.data.jsonserde.JsonSerDe"
      parameters = {
        # A malformed object reads as nulls instead of failing the whole query.
        "ignore.malformed.json" = "true"
      }
    }

    dynamic "columns" {
      for_each = local.archive_columns

      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }
}

# Athena comes and goes with the catalog: it has nothing to query without it.
resource "aws_athena_workgroup" "this" {
  count = var.enable_glue ? 1 : 0

  name = local.names.athena_workgroup
  # A workgroup that has run queries keeps their history; destroy must not stop on it.
  force_destroy = true

  configuration {
    enforce_workgroup_configuration = true

    result_configuration {
      output_location = "s3://${aws_s3_bucket.archive.bucket}/athena-results/"

      encryption_configuration {
        encryption_option = "SSE_S3"
      }
    }
  }
}
