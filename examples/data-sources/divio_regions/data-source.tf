# Every region.
data "divio_regions" "all" {}

# Only the regions on Azure.
data "divio_regions" "azure" {
  vendor = "azure"
}

output "azure_region_names" {
  value = data.divio_regions.azure.regions[*].name
}
