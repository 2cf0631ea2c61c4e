# Restores the database of the live environment from a backup taken before a migration, on
# demand: terraform apply -invoke=action.divio_restore_backup.database
variable "database_backup_id" {
  description = "The id of the database's part of the backup (a service instance backup)."
  type        = string
}

action "divio_restore_backup" "database" {
  config {
    service_instance_backup_id = var.database_backup_id
    notes                      = "Undo the failed migration"

    timeouts = {
      invoke = "2h"
    }
  }
}
