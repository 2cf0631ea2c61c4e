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

# Restores the same backup into another instance instead: here the test environment's database,
# to try the migration again on live's data. The target is of the backup's engine, in the same or
# a newer version, in any environment of the organisation's applications; its data is
# overwritten, and it keeps its status.
# terraform apply -invoke=action.divio_restore_backup.into_test
variable "test_database_id" {
  description = "The id of the test environment's database, e.g. divio_service.test_database.id."
  type        = string
}

action "divio_restore_backup" "into_test" {
  config {
    service_instance_backup_id = var.database_backup_id
    service_id                 = var.test_database_id
  }
}
