# One provider for every target. On an emulator it gets dummy credentials and
# every service used here is pointed at endpoint_url; on AWS none of that is set
# and the usual credential chain applies.
provider "aws" {
  region = var.region

  access_key                  = local.emulated ? "test" : null
  secret_key                  = local.emulated ? "test" : null
  skip_credentials_validation = local.emulated
  skip_metadata_api_check     = local.emulated
  s3_use_path_style           = local.emulated

  # Must stay false even on emulators: without the account id the provider
  # builds Glue ARNs with an empty account, which MiniStack rejects.
  skip_requesting_account_id = false

  dynamic "endpoints" {
    for_each = local.emulated ? [var.endpoint_url] : []

    content {
      athena     = endpoints.value
      cloudwatch = endpoints.value
      dynamodb   = endpoints.value
      glue       = endpoints.value
      iam        = endpoints.value
      kinesis    = endpoints.value
      lambda     = endpoints.value
      logs       = endpoints.value
      s3         = endpoints.value
      sns        = endpoints.value
      sqs        = endpoints.value
      sts        = endpoints.value
    }
  }

  default_tags {
    tags = merge(var.tags, local.project_tags)
  }
}
