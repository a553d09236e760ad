# MiniStack drops the tags given at creation, so the first plan after a fresh
# emulator deploy shows this stream's tags being added; one apply settles it.
resource "aws_kinesis_stream" "this" {
  name             = local.names.stream
  retention_period = 24

  # ON_DEMAND on every target: MiniStack opens one shard for it and its mapping
  # delivers, so the emulator needs no provisioned special case.
  stream_mode_details {
    stream_mode = "ON_DEMAND"
  }

  # On AWS, encrypted with the AWS-managed key, which needs no IAM grant for
  # producers or consumers. An emulator encrypts nothing, so there it is left out.
  encryption_type = local.on_aws ? "KMS" : "NONE"
  kms_key_id      = local.on_aws ? "alias/aws/kinesis" : null
}
