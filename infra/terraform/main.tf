# The lakehouse's AWS footprint: three buckets, the pipeline's and the dashboard's roles, and
# billing alarms. README.md beside this file: bootstrap, apply, and what goes where.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  tags = merge(var.tags, {
    project    = "lakehouse"
    managed-by = "terraform"
  })

  # raw: the lake (raw/, quarantine/, _state/, _manifests/ ... under lake_prefix) and the
  # landing zone; curated: the published warehouse; logs: S3 server access logs of both.
  buckets = {
    raw     = "${var.bucket_prefix}-raw"
    curated = "${var.bucket_prefix}-curated"
    logs    = "${var.bucket_prefix}-logs"
  }

  # the buckets whose objects may use the customer-managed KMS key (never the logs bucket)
  data_buckets = toset(["raw", "curated"])
  use_kms      = var.kms_key_arn != ""

  account_root = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"
}
