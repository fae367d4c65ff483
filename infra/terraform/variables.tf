variable "bucket_prefix" {
  description = "Prefix of every bucket name: <prefix>-raw, <prefix>-curated, <prefix>-logs. Bucket names are global: include your organisation or account (e.g. acme-lakehouse-prod)."
  type        = string

  validation {
    # lowercase letters, digits and hyphens, 3-50 characters, no leading or trailing hyphen,
    # so that "<prefix>-curated" is a valid bucket name of at most 63 characters
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$", var.bucket_prefix)) && !strcontains(var.bucket_prefix, "--")
    error_message = "bucket_prefix must be 3-50 lowercase letters, digits or single hyphens, starting and ending with a letter or digit."
  }
}

variable "aws_region" {
  description = "Region of the buckets and IAM-facing resources (the billing alarms are always in us-east-1)."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must be an AWS region name such as eu-west-1 or us-east-1."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the raw and curated buckets (SSE-KMS with S3 Bucket Keys). Empty: SSE-S3 (AES256). The logs bucket always uses SSE-S3, the only encryption S3 server access logging can write to."
  type        = string
  default     = ""

  validation {
    condition     = var.kms_key_arn == "" || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be empty (SSE-S3) or a KMS key ARN: arn:aws:kms:<region>:<account>:key/<key-id>."
  }
}

variable "lake_prefix" {
  description = "Key prefix of the lake in the raw bucket: LAKEHOUSE_LAKE_ROOT=s3://<prefix>-raw/<lake_prefix>."
  type        = string
  default     = "lake"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_-]*$", var.lake_prefix))
    error_message = "lake_prefix must be one path segment of lowercase letters, digits, '-' or '_' (no slashes)."
  }
}

variable "landing_prefix" {
  description = "Key prefix of the clickstream landing zone in the raw bucket: LAKEHOUSE_LANDING_ROOT=s3://<prefix>-raw/<landing_prefix>."
  type        = string
  default     = "landing"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_-]*$", var.landing_prefix))
    error_message = "landing_prefix must be one path segment of lowercase letters, digits, '-' or '_' (no slashes)."
  }
}

variable "warehouse_prefix" {
  description = "Key prefix of the published warehouse in the curated bucket (what the dashboard reads)."
  type        = string
  default     = "warehouse"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_-]*$", var.warehouse_prefix))
    error_message = "warehouse_prefix must be one path segment of lowercase letters, digits, '-' or '_' (no slashes)."
  }
}

variable "raw_infrequent_access_days" {
  description = "Days after which the lake's raw zone moves to STANDARD_IA (S3 requires at least 30)."
  type        = number
  default     = 30

  validation {
    condition     = var.raw_infrequent_access_days >= 30 && floor(var.raw_infrequent_access_days) == var.raw_infrequent_access_days
    error_message = "raw_infrequent_access_days must be a whole number >= 30 (S3's minimum for STANDARD_IA)."
  }
}

variable "raw_archive_days" {
  description = "Days after which the lake's raw zone moves to the archive storage class; must be at least 30 days after raw_infrequent_access_days."
  type        = number
  default     = 180

  validation {
    condition     = var.raw_archive_days > 0 && floor(var.raw_archive_days) == var.raw_archive_days && var.raw_archive_days >= var.raw_infrequent_access_days + 30
    error_message = "raw_archive_days must be a whole number > 0 and at least 30 days after raw_infrequent_access_days (S3 keeps STANDARD_IA objects 30 days at least)."
  }
}

variable "raw_archive_storage_class" {
  description = "Archive class of the raw zone. GLACIER_IR (Glacier Instant Retrieval) stays readable: full refreshes, `lakehouse verify` and repairs read every raw partition. GLACIER or DEEP_ARCHIVE are cheaper but need a restore before any of those can run (docs/decisions/015)."
  type        = string
  default     = "GLACIER_IR"

  validation {
    condition     = contains(["GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"], var.raw_archive_storage_class)
    error_message = "raw_archive_storage_class must be GLACIER_IR, GLACIER or DEEP_ARCHIVE."
  }
}

variable "quarantine_expiration_days" {
  description = "Days after which quarantined records (<lake_prefix>/quarantine/) expire; 0 keeps them (lakehouse verify counts a vanished quarantine partition as lost)."
  type        = number
  default     = 0

  validation {
    condition     = var.quarantine_expiration_days >= 0 && floor(var.quarantine_expiration_days) == var.quarantine_expiration_days
    error_message = "quarantine_expiration_days must be a whole number >= 0 (0: kept)."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which a replaced or deleted object's old version expires (every bucket)."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days > 0 && floor(var.noncurrent_version_expiration_days) == var.noncurrent_version_expiration_days
    error_message = "noncurrent_version_expiration_days must be a whole number > 0."
  }
}

variable "abort_incomplete_multipart_days" {
  description = "Days after which incomplete multipart uploads are aborted (every bucket)."
  type        = number
  default     = 7

  validation {
    condition     = var.abort_incomplete_multipart_days > 0 && floor(var.abort_incomplete_multipart_days) == var.abort_incomplete_multipart_days
    error_message = "abort_incomplete_multipart_days must be a whole number > 0."
  }
}

variable "access_log_expiration_days" {
  description = "Days the S3 server access logs are kept in the logs bucket."
  type        = number
  default     = 365

  validation {
    condition     = var.access_log_expiration_days > 0 && floor(var.access_log_expiration_days) == var.access_log_expiration_days
    error_message = "access_log_expiration_days must be a whole number > 0."
  }
}

variable "pipeline_trusted_principal_arns" {
  description = "IAM principals (role or user ARNs) allowed to assume the pipeline role. Empty: this account's root, i.e. any principal of the account whose own IAM policy allows sts:AssumeRole on it."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.pipeline_trusted_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(root|role/.+|user/.+)$", arn))])
    error_message = "pipeline_trusted_principal_arns must hold IAM ARNs: arn:aws:iam::<account>:root, :role/<name> or :user/<name>."
  }
}

variable "dashboard_trusted_principal_arns" {
  description = "IAM principals (role or user ARNs) allowed to assume the read-only dashboard role. Empty: this account's root."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.dashboard_trusted_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(root|role/.+|user/.+)$", arn))])
    error_message = "dashboard_trusted_principal_arns must hold IAM ARNs: arn:aws:iam::<account>:root, :role/<name> or :user/<name>."
  }
}

variable "billing_alarm_thresholds_usd" {
  description = "Estimated monthly charges (USD) at which a billing alarm fires, one alarm per threshold."
  type        = list(number)
  default     = [10, 50]

  validation {
    condition     = length(var.billing_alarm_thresholds_usd) > 0 && alltrue([for threshold in var.billing_alarm_thresholds_usd : threshold > 0])
    error_message = "billing_alarm_thresholds_usd must hold at least one threshold, each > 0."
  }
}

variable "billing_alert_email" {
  description = "Email address subscribed to the billing alarms' SNS topic (AWS sends a confirmation mail first). Empty: no subscription."
  type        = string
  default     = ""

  validation {
    condition     = var.billing_alert_email == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.billing_alert_email))
    error_message = "billing_alert_email must be empty or an email address."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete buckets that still hold objects. Keep false outside throwaway environments."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource (beside project = lakehouse and managed-by = terraform)."
  type        = map(string)
  default     = {}
}
