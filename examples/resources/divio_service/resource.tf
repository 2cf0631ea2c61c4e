data "divio_application" "app" {
  slug = "demo-app"
}

data "divio_environment" "live" {
  application_id = data.divio_application.app.id
  slug           = "live"
}

data "divio_environment" "test" {
  application_id = data.divio_application.app.id
  slug           = "test"
}

# The application's database: provisioned right away, protected from removal. Once it may be
# removed, its removal backs it up first (final_backup) and keeps that backup for 90 days.
#
# Changing service to "postgres-16" upgrades it in place, keeping its data: the apply adds the new
# version, copies the data into it, swaps the two with one deployment and removes the old instance
# after its final backup (the guide "Upgrading a database"). Changing prefix renames it in place.
# Another engine (mysql-8) would replace it, which deletion_protection refuses.
resource "divio_service" "database" {
  environment_id         = data.divio_environment.live.id
  service                = "postgres-15"
  deletion_protection    = true
  final_backup_retention = "90d"

  timeouts = {
    create = "30m"
    update = "2h" # bounds an upgrade: provisioning, the copy, the deployment, the final backup
    delete = "2h" # bounds the final backup's wait too
  }
}

# The test environment's database starts as a copy of live's, taken when it is added: a fresh
# backup of live's restored into it before anything attaches it. It can run a newer version than
# its source, so it also tries live's data on postgres-16 before live is upgraded. The copy is made
# once: later changes of copy_data_from (a new id after live's upgrade) change nothing; the
# divio_copy_data action refreshes it on demand.
resource "divio_service" "test_database" {
  environment_id = data.divio_environment.test.id
  service        = "postgres-16"

  copy_data_from = {
    service_id = divio_service.database.id
  }
}

# Media storage, publishing MEDIA_STORAGE_DSN; provisioned by the deployment that attaches it.
#
# None of these has a divio_service_attachment here, and each is attached all the same by its
# environment's next deployment, whoever starts it (a git push, the Control Panel, Terraform): add
# a divio_service_attachment for each to say in the configuration that the application uses it, and
# to deploy for it.
resource "divio_service" "media" {
  environment_id = data.divio_environment.live.id
  service        = "s3"
  prefix         = "MEDIA"
  provision      = false
}

output "database_env_vars" {
  value = divio_service.database.env_var_names # ["DATABASE_URL", "DEFAULT_DATABASE_DSN"]
}
