# A small module of the kind teams write on top of this provider: the databases and the media
# storage an application's environment needs, attached with exactly one deployment. The storage
# service follows the cloud vendor of the application's region (S3 on AWS, Azure Blob Storage on
# Azure, SOS on Exoscale), which the tests in tests/ check against the simulator.

terraform {
  # terraform test and its .tftest.hcl files need Terraform 1.6 or newer.
  required_version = ">= 1.6"
  required_providers {
    divio = {
      source = "divio/divio"
    }
  }
}

variable "application" {
  description = "Slug of the application."
  type        = string
}

variable "environment" {
  description = "Slug of the application's environment."
  type        = string
  default     = "test"
}

variable "databases" {
  description = "Prefixes of the PostgreSQL databases to add, one instance each."
  type        = set(string)
  default     = ["DEFAULT"]

  validation {
    condition     = alltrue([for p in var.databases : can(regex("^[A-Z][A-Z0-9_]{0,29}$", p))])
    error_message = "Each database prefix must be an upper-case letter followed by up to 29 upper-case letters, digits or underscores."
  }
}

variable "media_storage" {
  description = "Whether to add media storage (prefix MEDIA) from the region's vendor."
  type        = bool
  default     = true
}

locals {
  storage_service_by_vendor = {
    aws      = "s3"
    azure    = "ms-blob"
    exoscale = "sos"
  }
  region_vendor   = one([for r in data.divio_regions.all.regions : r.vendor if r.id == data.divio_application.this.region_id])
  storage_service = local.storage_service_by_vendor[local.region_vendor]
}

data "divio_regions" "all" {}

data "divio_application" "this" {
  slug = var.application
}

data "divio_environment" "this" {
  application_id = data.divio_application.this.id
  slug           = var.environment
}

resource "divio_service" "database" {
  for_each       = var.databases
  environment_id = data.divio_environment.this.id
  service        = "postgres-15"
  prefix         = each.key
}

resource "divio_service" "media" {
  count          = var.media_storage ? 1 : 0
  environment_id = data.divio_environment.this.id
  service        = local.storage_service
  prefix         = "MEDIA"
}

# The attachments say that the application uses every instance, and deploy nothing (deploy =
# false): the instances await attachment...
resource "divio_service_attachment" "this" {
  for_each   = merge(divio_service.database, { for s in divio_service.media : "MEDIA" => s })
  service_id = each.value.id
  deploy     = false
}

# ...and one deployment attaches them all, as a deployment attaches every instance of the
# environment that awaits attachment.
resource "divio_deployment" "this" {
  environment_id = data.divio_environment.this.id
  triggers = {
    attachments = join(",", sort([for a in divio_service_attachment.this : a.id]))
  }
  depends_on = [divio_service_attachment.this]
}

output "storage_service" {
  description = "The media storage service chosen for the application's region."
  value       = var.media_storage ? local.storage_service : null
}

output "env_var_names" {
  description = "Names of the environment variables the services publish to the application, sorted."
  value       = sort(flatten([for s in concat(values(divio_service.database), divio_service.media) : s.env_var_names]))
}

output "deployment_id" {
  description = "The deployment that attached the services."
  value       = divio_deployment.this.id
}
