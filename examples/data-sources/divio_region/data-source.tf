data "divio_region" "frankfurt" {
  name = "aws-eu-central-1"
}

output "frankfurt_region_id" {
  value = data.divio_region.frankfurt.id
}
