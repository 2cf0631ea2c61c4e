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

# With deploy = false the attachment deploys nothing: the instance awaits attachment, and the
# action's deployment attaches it (with every other instance of the environment that awaits
# attachment), after the attachment is created or changed.
resource "divio_service_attachment" "database" {
  service_id = divio_service.database.id
  deploy     = false

  lifecycle {
    action_trigger {
      events  = [after_create, after_update]
      actions = [action.divio_deploy.live]
    }
  }
}

# Also on demand: terraform apply -invoke=action.divio_deploy.live
action "divio_deploy" "live" {
  config {
    environment_id = data.divio_environment.live.id

    timeouts = {
      invoke = "30m"
    }
  }
}
