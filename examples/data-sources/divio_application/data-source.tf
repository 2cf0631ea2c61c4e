# By slug, as in the application's Control Panel URL.
data "divio_application" "app" {
  slug = "demo-app"
}

# Or by id.
data "divio_application" "same_app" {
  id = data.divio_application.app.id
}

output "application_region_id" {
  value = data.divio_application.app.region_id
}
