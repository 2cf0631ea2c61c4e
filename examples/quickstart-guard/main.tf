# A plan that a plan-time guard refuses: Azure Blob Storage (ms-blob) is offered only in Azure
# regions, and demo-app runs on AWS. `terraform plan` fails before anything is created, with a
# message that lists what the region offers instead.

terraform {
  required_version = ">= 1.5"
  required_providers {
    divio = {
      source = "divio/divio"
    }
  }
}

provider "divio" {}

data "divio_application" "aws" {
  slug = "demo-app"
}

data "divio_environment" "live" {
  application_id = data.divio_application.aws.id
  slug           = "live"
}

resource "divio_service" "blob" {
  environment_id = data.divio_environment.live.id
  service        = "ms-blob"
}
