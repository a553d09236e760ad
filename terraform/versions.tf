terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # The caller chooses the state file per target with -backend-config=path=...,
  # so emulator state never mixes with the state of a real account.
  backend "local" {}
}
