# Billing alarms: CloudWatch's EstimatedCharges metric exists in us-east-1 only, and only once
# "Receive CloudWatch billing alerts" is switched on in the account's billing preferences
# (README.md: bootstrap). The alarms and their topic use the us-east-1 provider.

resource "aws_sns_topic" "billing_alerts" {
  provider = aws.billing

  name = "${var.bucket_prefix}-billing-alerts"
}

resource "aws_sns_topic_subscription" "billing_email" {
  provider = aws.billing
  count    = var.billing_alert_email == "" ? 0 : 1

  topic_arn = aws_sns_topic.billing_alerts.arn
  protocol  = "email"
  endpoint  = var.billing_alert_email
}

resource "aws_cloudwatch_metric_alarm" "estimated_charges" {
  provider = aws.billing
  for_each = { for threshold in var.billing_alarm_thresholds_usd : format("%g", threshold) => threshold }

  alarm_name          = "${var.bucket_prefix}-estimated-charges-over-${each.key}-usd"
  alarm_description   = "The account's estimated charges this month passed ${each.key} USD."
  namespace           = "AWS/Billing"
  metric_name         = "EstimatedCharges"
  dimensions          = { Currency = "USD" }
  statistic           = "Maximum"
  period              = 21600 # the metric is published about every 6 hours
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.billing_alerts.arn]
  ok_actions          = [aws_sns_topic.billing_alerts.arn]
}
