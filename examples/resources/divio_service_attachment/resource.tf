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

# Attaches the database to the application: deploys the environment and waits until the
# instance is ATTACHED. Attachments of one environment applied together share a deployment.
# Destroying it detaches the instance with a deployment, also with deploy = false; the instance and
# its data stay until its divio_service is destroyed. A new service_id moves it in place: one
# deployment detaches the old instance and attaches the new one, and none when the upgrade of the
# divio_service (service = "postgres-16") has swapped them already.
resource "divio_service_attachment" "database" {
  service_id = divio_service.database.id

  timeouts = {
    create = "30m"
    delete = "30m"
  }
}
