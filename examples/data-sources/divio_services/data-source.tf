data "divio_application" "app" {
  slug = "demo-app"
}

# The catalog of the application's region.
data "divio_services" "catalog" {
  region_id = data.divio_application.app.region_id
}

# Only its databases.
data "divio_services" "databases" {
  region_id = data.divio_application.app.region_id
  type      = "DATABASE"
}

output "postgres_service_id" {
  value = data.divio_services.catalog.ids_by_identifier["postgres-15"]
}

output "database_identifiers" {
  value = data.divio_services.databases.services[*].identifier
}
