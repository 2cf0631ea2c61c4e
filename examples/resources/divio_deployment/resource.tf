data "divio_application" "app" {
  slug = "demo-app"
}

data "divio_environment" "live" {
  application_id = data.divio_application.app.id
  slug           = "live"
}

resource "divio_service" "db" {
  for_each       = toset(["DEFAULT", "REPORTING"])
  environment_id = data.divio_environment.live.id
  service        = "postgres-15"
  prefix         = each.key
}

# The attachments say that the application uses the instances, and deploy nothing: the instances
# await attachment... (deploy = false is about attaching: destroying an attachment always detaches
# its instance with a deployment of the environment.)
resource "divio_service_attachment" "db" {
  for_each   = divio_service.db
  service_id = each.value.id
  deploy     = false
}

# ...and one deployment attaches them all: a deployment attaches every instance of the environment
# that awaits attachment, whoever starts it. A change of triggers deploys again.
resource "divio_deployment" "services" {
  environment_id = data.divio_environment.live.id
  triggers = {
    services = join(",", sort([for a in divio_service_attachment.db : a.id]))
  }
  depends_on = [divio_service_attachment.db]
}
