# Quickstart: add a Postgres database and S3 storage to an application's environment, provision
# them, attach them (one deployment), and show the environment variables they publish.
#
# `make demo` runs it against the local simulator. Against the real Divio API, set
# DIVIO_API_TOKEN and the variables below to your own application.

terraform {
  required_version = ">= 1.5"
  required_providers {
    divio = {
      source = "divio/divio"
    }
  }
}

# Token from DIVIO_API_TOKEN, API URL from DIVIO_API_URL (https://api.divio.com when unset).
provider "divio" {}

variable "application" {
  description = "Slug of the application to add the services to."
  type        = string
  default     = "demo-app"
}

variable "environment" {
  description = "Slug of the application's environment."
  type        = string
  default     = "live"
}

variable "region" {
  description = "Name of the region the application runs in."
  type        = string
  default     = "aws-eu-central-1"
}

data "divio_region" "this" {
  name = var.region
}

data "divio_application" "this" {
  slug = var.application

  lifecycle {
    postcondition {
      condition     = self.region_id == data.divio_region.this.id
      error_message = "Application ${var.application} does not run in region ${var.region}; set var.region to its region."
    }
  }
}

data "divio_environment" "this" {
  application_id = data.divio_application.this.id
  slug           = var.environment
}

resource "divio_service" "database" {
  environment_id = data.divio_environment.this.id
  service        = "postgres-15"
  prefix         = "DEFAULT"
}

resource "divio_service" "storage" {
  environment_id = data.divio_environment.this.id
  service        = "s3"
  prefix         = "DEFAULT"
}

# The attachments say that the application uses both services, and deploy the environment so that
# they are attached now. Applied together, they share one deployment, which attaches both (a
# deployment attaches every instance of the environment that awaits attachment).
resource "divio_service_attachment" "database" {
  service_id = divio_service.database.id
}

resource "divio_service_attachment" "storage" {
  service_id = divio_service.storage.id
}

output "environment_variables" {
  description = "Names of the environment variables the attached services publish to the application."
  value = {
    database = divio_service.database.env_var_names
    storage  = divio_service.storage.env_var_names
  }
}

output "attachments" {
  description = "Status of each attachment and the deployment that attached it."
  value = {
    for name, a in {
      database = divio_service_attachment.database
      storage  = divio_service_attachment.storage
    } : name => { status = a.status, deployment_id = a.deployment_id }
  }
}
