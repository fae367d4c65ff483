output "bucket_names" {
  description = "The buckets by zone: raw, curated, logs."
  value       = { for zone, bucket in aws_s3_bucket.this : zone => bucket.id }
}

output "bucket_arns" {
  description = "The buckets' ARNs by zone."
  value       = { for zone, bucket in aws_s3_bucket.this : zone => bucket.arn }
}

output "lakehouse_lake_root" {
  description = "LAKEHOUSE_LAKE_ROOT for the pipeline."
  value       = "s3://${aws_s3_bucket.this["raw"].id}/${var.lake_prefix}"
}

output "lakehouse_landing_root" {
  description = "LAKEHOUSE_LANDING_ROOT for the pipeline."
  value       = "s3://${aws_s3_bucket.this["raw"].id}/${var.landing_prefix}"
}

output "warehouse_uri" {
  description = "Where the published warehouse goes in the curated bucket (the dashboard reads it)."
  value       = "s3://${aws_s3_bucket.this["curated"].id}/${var.warehouse_prefix}"
}

output "pipeline_role_arn" {
  description = "The role the pipeline (Prefect worker) assumes."
  value       = aws_iam_role.this["pipeline"].arn
}

output "pipeline_policy_arn" {
  description = "The pipeline's least-privilege policy."
  value       = aws_iam_policy.this["pipeline"].arn
}

output "dashboard_role_arn" {
  description = "The read-only role the dashboards assume."
  value       = aws_iam_role.this["dashboard"].arn
}

output "dashboard_policy_arn" {
  description = "The dashboards' read-only policy."
  value       = aws_iam_policy.this["dashboard"].arn
}

output "billing_alerts_topic_arn" {
  description = "The SNS topic (us-east-1) the billing alarms notify."
  value       = aws_sns_topic.billing_alerts.arn
}

output "billing_alarm_names" {
  description = "One billing alarm per threshold."
  value       = [for alarm in aws_cloudwatch_metric_alarm.estimated_charges : alarm.alarm_name]
}
