# MiniStack drops the tags given at creation, so the first plan after a fresh
# emulator deploy shows this stream's tags being added; one apply settles it.
resource "aws_kinesis_stream" "this" {
  #checkov:skip=CKV_AWS_43:Encrypted with KMS on AWS (encryption_type below); only emulators, which encrypt nothing, leave it out, and terraform/tests asserts the AWS setting.
  name             = local.names.stream
  retention_period = 24

  # One provisioned shard by default: it takes 1,000 ticks a second, and costs a
  # third of an on-demand stream's floor. null asks for ON_DEMAND capacity.
  shard_count = var.kinesis_shard_count

  stream_mode_details {
    stream_mode = var.kinesis_shard_count == null ? "ON_DEMAND" : "PROVISIONED"
  }

  # On AWS, encrypted with the AWS-managed key, which needs no IAM grant for
  # producers or consumers. An emulator encrypts nothing, so there it is left out.
  encryption_type = local.on_aws ? "KMS" : "NONE"
  kms_key_id      = local.on_aws ? "alias/aws/kinesis" : null
}
