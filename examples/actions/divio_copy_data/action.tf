# Refreshes the test environment's database from the live one's, on demand:
# terraform apply -invoke=action.divio_copy_data.refresh_test
#
# The action takes a fresh backup of live's database and restores it into test's, whose data it
# overwrites; test's database keeps its status, and the test application goes on using it.
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

resource "divio_service" "live_database" {
  environment_id = data.divio_environment.live.id
  service        = "postgres-15"
}

# The target is of the source's engine, in the same or a newer version.
resource "divio_service" "test_database" {
  environment_id = data.divio_environment.test.id
  service        = "postgres-16"
}

action "divio_copy_data" "refresh_test" {
  config {
    source_service_id = divio_service.live_database.id
    target_service_id = divio_service.test_database.id
    notes             = "Refresh test from live"

    timeouts = {
      invoke = "1h"
    }
  }
}
