# Refreshes the test environment's database from the live one's, on demand:
# terraform apply -invoke=action.divio_copy_data.refresh_test
#
# The action takes a fresh backup of live's database and restores it into test's, whose data it
# overwrites; test's database keeps its status, and the test application goes on using it.
data "divio_application" "app" {
  slug = "demo-app"
}

data "divio_environment" "env" {
  for_each       = toset(["live", "test"])
  application_id = data.divio_application.app.id
  slug           = each.key
}

# The target runs the source's engine, in the same or a newer version.
resource "divio_service" "database" {
  for_each       = { live = "postgres-15", test = "postgres-16" }
  environment_id = data.divio_environment.env[each.key].id
  service        = each.value
}

action "divio_copy_data" "refresh_test" {
  config {
    source_service_id = divio_service.database["live"].id
    target_service_id = divio_service.database["test"].id
    notes             = "Refresh test from live"

    timeouts = {
      invoke = "1h"
    }
  }
}
