terraform {
  # 1.10+: the S3 backend's native lock file (backend.tf.example); CI runs 1.11.4.
  required_version = ">= 1.11.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "= 5.100.0"
    }
  }
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = local.tags
  }
}

# CloudWatch publishes the EstimatedCharges billing metric in us-east-1 only: the billing alarms
# and their SNS topic live there, whatever the buckets' region.
provider "aws" {
  alias  = "billing"
  region = "us-east-1"

  default_tags {
    tags = local.tags
  }
}
