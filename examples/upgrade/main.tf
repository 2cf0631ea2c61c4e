# Upgrading a database to a new major version, as the guide "Upgrading a database" shows: apply
# this as it is, then change one line, service = "postgres-15" to "postgres-16", and apply again.
#
# The second apply does what Divio's upgrade guide has you do by hand: it adds a postgres-16
# instance beside the old one, copies the data into it with a backup and a restore, swaps the two
# prefixes, detaches the old instance and attaches the new one with one deployment, and removes the
# old instance after its final backup. The plan shows two in-place updates (the database and its
# attachment) and the warning "Database upgraded in place"; the resource's id becomes the new
# instance's. Stopped anywhere, the upgrade is finished by the next apply.
#
# `make examples-check` runs it against the simulator: apply, the one-line change, apply again.

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

  # The upgrade keeps the data, so deletion protection does not stand in its way; it still refuses
  # a change that would delete the data, such as another engine (mysql-8).
  deletion_protection = true

  timeouts = {
    # Bounds the whole upgrade: provisioning, the backup and the restore, the deployment and the old
    # instance's final backup. Raise it for a large database; cut short, the next apply finishes.
    update = "2h"
  }
}

# The attachment follows the database to its new instance in place: the upgrade's deployment has
# attached the new instance already, so it records it without deploying again.
resource "divio_service_attachment" "database" {
  service_id = divio_service.database.id
}

output "database" {
  description = "The instance the application uses, and what it runs."
  value = {
    id            = divio_service.database.id
    service       = divio_service.database.service
    env_var_names = divio_service.database.env_var_names
  }
}
