locals {
  # Every service this root manages or reads. On an emulator each one is sent to
  # endpoint_url; on AWS the map is empty, so the provider uses AWS's own
  # endpoints. terraform/tests asserts both.
  emulated_services = [
    "athena", "cloudwatch", "dynamodb", "glue", "iam", "kinesis",
    "lambda", "logs", "s3", "sns", "sqs", "sts",
  ]
  endpoint_overrides = local.emulated ? { for service in local.emulated_services : service => var.endpoint_url } : {}

  # Emulators accept any key; on AWS these stay null and the standard credential
  # chain (environment, profile, SSO, instance role) applies.
  static_credentials = local.emulated ? { access_key = "test", secret_key = "test" } : null
}

# One provider for every target.
provider "aws" {
  region = var.region

  access_key                  = try(local.static_credentials.access_key, null)
  secret_key                  = try(local.static_credentials.secret_key, null)
  skip_credentials_validation = local.emulated
  skip_metadata_api_check     = local.emulated
  s3_use_path_style           = local.emulated

  # Must stay false even on emulators: without the account id the provider
  # builds Glue ARNs with an empty account, which MiniStack rejects.
  skip_requesting_account_id = false

  dynamic "endpoints" {
    for_each = length(local.endpoint_overrides) > 0 ? [local.endpoint_overrides] : []

    content {
      athena     = endpoints.value.athena
      cloudwatch = endpoints.value.cloudwatch
      dynamodb   = endpoints.value.dynamodb
      glue       = endpoints.value.glue
      iam        = endpoints.value.iam
      kinesis    = endpoints.value.kinesis
      lambda     = endpoints.value.lambda
      logs       = endpoints.value.logs
      s3         = endpoints.value.s3
      sns        = endpoints.value.sns
      sqs        = endpoints.value.sqs
      sts        = endpoints.value.sts
    }
  }

  default_tags {
    tags = merge(var.tags, local.project_tags)
  }
}
