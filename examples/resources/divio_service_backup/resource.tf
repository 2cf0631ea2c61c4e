data "divio_application" "app" {
  slug = "demo-app"
}

data "divio_environment" "live" {
  application_id = data.divio_application.app.id
  slug           = "live"
}

variable "release" {
  description = "The release being deployed; a new one takes a new backup."
  type        = string
  default     = "2026.11.1"
}

resource "divio_service" "database" {
  environment_id = data.divio_environment.live.id
  service        = "postgres-15"
}

# A backup of the database before each release, kept for 14 days after it is taken (or until
# this resource is destroyed). A new release deletes it and takes a new one.
resource "divio_service_backup" "before_release" {
  service_id = divio_service.database.id
  notes      = "Before release ${var.release}"
  retention  = "14d"
  triggers = {
    release = var.release
  }

  timeouts = {
    create = "2h" # a large database takes a while to back up
  }
}

# What a restore names: this instance's part of the backup.
output "database_backup_id" {
  value = divio_service_backup.before_release.service_instance_backup_id
}
