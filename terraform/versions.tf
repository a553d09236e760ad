terraform {
  # 1.9: variable validations that refer to other variables (sma windows).
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # No backend block here. tickstack runs this root from a working directory of
  # its own per target (<TICKSTACK_HOME>/<target>/root: links to these files
  # plus a generated backend.tf), so each target gets the backend it needs:
  # local state per emulator, and local or S3 state for AWS. Emulator state and
  # cloud state never share a file, a directory or a backend.
}
