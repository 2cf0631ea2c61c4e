data "divio_application" "app" {
  slug = "demo-app"
}

data "divio_environment" "live" {
  application_id = data.divio_application.app.id
  slug           = "live"
}

resource "divio_service" "database" {
  environment_id = data.divio_environment.live.id
  service        = "postgres-15"
}

# Terraform 1.10 or newer: the values are read during each plan and apply, and are never
# written to the state or the plan file.
ephemeral "divio_service_credentials" "database" {
  service_id = divio_service.database.id
}

# Ephemeral values can go where Terraform does not store them: provider configurations,
# provisioners, write-only attributes. Here a command, run once for each new database, receives the
# database's DSN in its environment. It only checks that the DSN is there: put your own command in
# its place, such as a schema migration ("python manage.py migrate").
resource "terraform_data" "migrate" {
  triggers_replace = [divio_service.database.id]

  provisioner "local-exec" {
    command = "test -n \"$DATABASE_URL\""
    environment = {
      DATABASE_URL = ephemeral.divio_service_credentials.database.variables["DATABASE_URL"]
    }
  }
}
