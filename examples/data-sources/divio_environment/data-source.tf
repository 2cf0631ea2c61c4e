data "divio_application" "app" {
  slug = "demo-app"
}

data "divio_environment" "live" {
  application_id = data.divio_application.app.id
  slug           = "live"
}

output "live_environment_id" {
  value = data.divio_environment.live.id
}
