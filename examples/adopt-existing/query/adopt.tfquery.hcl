# What `terraform query` lists: every service instance of the environment and every attachment,
# each with the resource its import makes (include_resource), so that
# `terraform query -generate-config-out=generated.tf` writes resource and import blocks for all.

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
