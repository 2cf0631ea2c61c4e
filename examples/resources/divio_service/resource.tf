data "divio_application" "app" {
  slug = "demo-app"
}

data "divio_environment" "live" {
  application_id = data.divio_application.app.id
  slug           = "live"
}

# The application's database: provisioned right away, protected from removal. Once it may be
# removed, its removal backs it up first (final_backup) and keeps that backup for 90 days.
resource "divio_service" "database" {
  environment_id         = data.divio_environment.live.id
  service                = "postgres-15"
  deletion_protection    = true
  final_backup_retention = "90d"

  timeouts = {
    create = "30m"
    delete = "2h" # bounds the final backup's wait too
  }
}

# Media storage, publishing MEDIA_STORAGE_DSN; provisioned by the deployment that attaches it.
#
# Neither has a divio_service_attachment here, and both are attached all the same by the
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
