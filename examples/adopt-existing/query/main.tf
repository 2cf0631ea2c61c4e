# Adopting legacy-app's live environment, whose services were added in the Divio Control Panel,
# with `terraform query` (Terraform 1.14 or newer; older versions ignore adopt.tfquery.hcl):
# see ../README.md.

terraform {
  required_providers {
    divio = {
      source = "divio/divio"
    }
  }
}

# Token from DIVIO_API_TOKEN, API URL from DIVIO_API_URL (https://api.divio.com when unset).
provider "divio" {}

data "divio_application" "legacy" {
  slug = "legacy-app"
}

data "divio_environment" "live" {
  application_id = data.divio_application.legacy.id
  slug           = "live"
}
