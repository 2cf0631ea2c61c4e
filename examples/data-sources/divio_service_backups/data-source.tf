data "divio_application" "app" {
  slug = "demo-app"
}

data "divio_environment" "live" {
  application_id = data.divio_application.app.id
  slug           = "live"
}

# The backups of the environment's DEFAULT database, newest first: also those of a database
# that Terraform removed, whose final backup outlives it.
data "divio_service_backups" "database" {
  environment_id = data.divio_environment.live.id
  type           = "DATABASE"
  prefix         = "DEFAULT"
}

locals {
  final_backups = [for b in data.divio_service_backups.database.backups : b if b.final && b.success == "SUCCESS"]
}

output "latest_final_backup" {
  description = "The newest final backup of a removed DEFAULT database: its id, its part's id, and when Divio deletes it."
  value = length(local.final_backups) == 0 ? null : {
    backup_id                  = local.final_backups[0].id
    service_instance_backup_id = local.final_backups[0].service_instance_backup_id
    removed_instance           = local.final_backups[0].service_id
    delete_at                  = local.final_backups[0].delete_at
  }
}
