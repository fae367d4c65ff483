"""Infrastructure: docker compose, Terraform, and the provisioning of S3 buckets."""
