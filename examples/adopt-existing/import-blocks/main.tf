# Adopting legacy-app's live environment, whose DEFAULT database and storage were added in the
# Divio Control Panel, with import blocks: Terraform 1.6 or newer, and OpenTofu. The ids come from
# the API at plan time, so nothing needs to be copied by hand. See ../README.md.

terraform {
  required_version = ">= 1.6"
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

data "divio_service_instances" "live" {
  environment_id = data.divio_environment.live.id
}

locals {
  # The id of the environment's DEFAULT instance of each type: one at most per type and prefix.
  default_instance = {
    for i in data.divio_service_instances.live.instances : i.type => i.id if i.prefix == "DEFAULT"
  }
}

import {
  to = divio_service.database
  id = local.default_instance["DATABASE"]
}

resource "divio_service" "database" {
  environment_id = data.divio_environment.live.id
  service        = "postgres-15"
}

# The attachment is imported by the id of the attached instance.
import {
  to = divio_service_attachment.database
  id = local.default_instance["DATABASE"]
}

resource "divio_service_attachment" "database" {
  service_id = divio_service.database.id
}

import {
  to = divio_service.storage
  id = local.default_instance["STORAGE"]
}

resource "divio_service" "storage" {
  environment_id = data.divio_environment.live.id
  service        = "s3"
}

import {
  to = divio_service_attachment.storage
  id = local.default_instance["STORAGE"]
}

resource "divio_service_attachment" "storage" {
  service_id = divio_service.storage.id
}
