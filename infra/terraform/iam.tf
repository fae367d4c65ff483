# Least privilege: the pipeline reads and writes its own prefixes of the raw and curated buckets;
# the dashboard reads the published warehouse in the curated bucket and nothing else.

locals {
  raw_arn     = aws_s3_bucket.this["raw"].arn
  curated_arn = aws_s3_bucket.this["curated"].arn

  # the prefixes the pipeline owns: the lake, the landing zone, the published warehouse
  pipeline_prefixes = {
    raw     = [var.lake_prefix, var.landing_prefix]
    curated = [var.warehouse_prefix]
  }

  # each role: who may assume it, and its one policy
  roles = {
    pipeline = {
      name               = "${var.bucket_prefix}-pipeline"
      description        = "Assumed by the lakehouse pipeline (the Prefect worker)."
      policy_name        = "${var.bucket_prefix}-pipeline"
      policy_description = "Lakehouse pipeline: read and write the lake, the landing zone and the published warehouse, nothing else."
      policy             = data.aws_iam_policy_document.pipeline.json
      principals         = length(var.pipeline_trusted_principal_arns) > 0 ? var.pipeline_trusted_principal_arns : [local.account_root]
    }
    dashboard = {
      name               = "${var.bucket_prefix}-dashboard"
      description        = "Assumed by the lakehouse dashboards: read-only on the published warehouse."
      policy_name        = "${var.bucket_prefix}-dashboard-read"
      policy_description = "Lakehouse dashboard: read the published warehouse in the curated bucket, nothing else."
      policy             = data.aws_iam_policy_document.dashboard.json
      principals         = length(var.dashboard_trusted_principal_arns) > 0 ? var.dashboard_trusted_principal_arns : [local.account_root]
    }
  }
}

# ---- pipeline -------------------------------------------------------------------------------

data "aws_iam_policy_document" "pipeline" {
  # listing, only under its own prefixes
  dynamic "statement" {
    for_each = local.pipeline_prefixes

    content {
      sid       = "List${title(statement.key)}Prefixes"
      effect    = "Allow"
      actions   = ["s3:ListBucket"]
      resources = [aws_s3_bucket.this[statement.key].arn]

      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values = flatten([
          for prefix in statement.value : [prefix, "${prefix}/", "${prefix}/*"]
        ])
      }
    }
  }

  # the lake's writer lock and every partition, manifest and state file; killed runs' leftovers
  # (incomplete multipart uploads) are listed and aborted by the next run
  statement {
    sid    = "BucketLocationAndUploads"
    effect = "Allow"
    actions = [
      "s3:GetBucketLocation",
      "s3:ListBucketMultipartUploads",
    ]
    resources = [local.raw_arn, local.curated_arn]
  }

  statement {
    sid    = "ReadWriteOwnObjects"
    effect = "Allow"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = flatten([
      for zone, prefixes in local.pipeline_prefixes : [
        for prefix in prefixes : "${aws_s3_bucket.this[zone].arn}/${prefix}/*"
      ]
    ])
  }

  dynamic "statement" {
    for_each = local.use_kms ? [1] : []

    content {
      sid       = "UseTheDataKey"
      effect    = "Allow"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [var.kms_key_arn]
    }
  }
}

# ---- dashboard (read-only, curated only) ------------------------------------------------------

data "aws_iam_policy_document" "dashboard" {
  statement {
    sid       = "ListWarehouse"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [local.curated_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [var.warehouse_prefix, "${var.warehouse_prefix}/", "${var.warehouse_prefix}/*"]
    }
  }

  statement {
    sid       = "ReadWarehouse"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${local.curated_arn}/${var.warehouse_prefix}/*"]
  }

  dynamic "statement" {
    for_each = local.use_kms ? [1] : []

    content {
      sid       = "DecryptWithTheDataKey"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [var.kms_key_arn]
    }
  }
}

# ---- the roles ------------------------------------------------------------------------------

resource "aws_iam_policy" "this" {
  for_each = local.roles

  name        = each.value.policy_name
  description = each.value.policy_description
  policy      = each.value.policy
}

data "aws_iam_policy_document" "trust" {
  for_each = local.roles

  statement {
    sid     = "AssumeByTrustedPrincipals"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = each.value.principals
    }
  }
}

resource "aws_iam_role" "this" {
  for_each = local.roles

  name                 = each.value.name
  description          = each.value.description
  assume_role_policy   = data.aws_iam_policy_document.trust[each.key].json
  max_session_duration = 3600
}

resource "aws_iam_role_policy_attachment" "this" {
  for_each = local.roles

  role       = aws_iam_role.this[each.key].name
  policy_arn = aws_iam_policy.this[each.key].arn
}
