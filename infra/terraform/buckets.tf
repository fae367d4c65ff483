resource "aws_s3_bucket" "this" {
  for_each = local.buckets

  bucket        = each.value
  force_destroy = var.force_destroy

  tags = {
    zone = each.key
  }
}

# No ACLs anywhere: the bucket owner owns every object. Server access logging writes to the
# logs bucket through its bucket policy (the logging service principal), not through ACLs.
resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = aws_s3_bucket.this

  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id

  versioning_configuration {
    status = "Enabled"
  }
}

# SSE-S3 (AES256) by default, SSE-KMS with S3 Bucket Keys when kms_key_arn is set. The logs
# bucket stays on SSE-S3: server access log delivery cannot write with SSE-KMS.
resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = local.use_kms && contains(local.data_buckets, each.key) ? "aws:kms" : "AES256"
      kms_master_key_id = local.use_kms && contains(local.data_buckets, each.key) ? var.kms_key_arn : null
    }
    bucket_key_enabled = local.use_kms && contains(local.data_buckets, each.key)
  }
}

resource "aws_s3_bucket_logging" "data" {
  for_each = local.data_buckets

  bucket        = aws_s3_bucket.this[each.key].id
  target_bucket = aws_s3_bucket.this["logs"].id
  target_prefix = "s3-access/${each.key}/"

  target_object_key_format {
    partitioned_prefix {
      partition_date_source = "EventTime"
    }
  }

  # the logs bucket's policy must let the logging service write before logging is switched on
  depends_on = [aws_s3_bucket_policy.this]
}

# ---- lifecycle ------------------------------------------------------------------------------

# The raw bucket's lake zones get their own rules; both data buckets shed old versions, delete
# markers and incomplete uploads.
resource "aws_s3_bucket_lifecycle_configuration" "data" {
  for_each = local.data_buckets

  bucket = aws_s3_bucket.this[each.key].id

  dynamic "rule" {
    for_each = each.key == "raw" ? [1] : []

    content {
      id     = "raw-zone-tiering"
      status = "Enabled"

      filter {
        prefix = "${var.lake_prefix}/raw/"
      }

      transition {
        days          = var.raw_infrequent_access_days
        storage_class = "STANDARD_IA"
      }

      transition {
        days          = var.raw_archive_days
        storage_class = var.raw_archive_storage_class
      }
    }
  }

  # Only when asked: the lake's manifests record quarantine partitions, and verify counts a
  # vanished one as lost (docs/decisions/014).
  dynamic "rule" {
    for_each = each.key == "raw" && var.quarantine_expiration_days > 0 ? [var.quarantine_expiration_days] : []

    content {
      id     = "quarantine-expiry"
      status = "Enabled"

      filter {
        prefix = "${var.lake_prefix}/quarantine/"
      }

      expiration {
        days = rule.value
      }
    }
  }

  rule {
    id     = "noncurrent-versions-and-multipart"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_days
    }

    expiration {
      expired_object_delete_marker = true
    }
  }

  # lifecycle rules act on versions: versioning first
  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.this["logs"].id

  rule {
    id     = "access-log-retention"
    status = "Enabled"

    filter {}

    expiration {
      days = var.access_log_expiration_days
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

# ---- bucket policies: TLS only everywhere; the logging service may write the access logs -----

data "aws_iam_policy_document" "bucket" {
  for_each = aws_s3_bucket.this

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      each.value.arn,
      "${each.value.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  dynamic "statement" {
    for_each = each.key == "logs" ? [1] : []

    content {
      sid       = "S3ServerAccessLogsPolicy"
      effect    = "Allow"
      actions   = ["s3:PutObject"]
      resources = ["${each.value.arn}/s3-access/*"]

      principals {
        type        = "Service"
        identifiers = ["logging.s3.amazonaws.com"]
      }

      condition {
        test     = "ArnLike"
        variable = "aws:SourceArn"
        values   = [for zone in local.data_buckets : aws_s3_bucket.this[zone].arn]
      }

      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [data.aws_caller_identity.current.account_id]
      }
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  policy = data.aws_iam_policy_document.bucket[each.key].json

  # a bucket policy is refused while Block Public Access is being set up
  depends_on = [aws_s3_bucket_public_access_block.this]
}
