# With data "divio_environment" "live" declared in the configuration (see divio_environment).
# The attachments of the environment's instances: list them with the instances, so that
# adopting the environment adopts both the instances and their use by the application.
list "divio_service" "live" {
  provider         = divio
  include_resource = true

  config {
    environment_id = data.divio_environment.live.id
  }
}

list "divio_service_attachment" "live" {
  provider         = divio
  include_resource = true

  config {
    environment_id = data.divio_environment.live.id
  }
}
