# With data "divio_environment" "live" declared in the configuration (see divio_environment).
# `terraform query` lists every service instance of the environment, whoever added it; with
# `-generate-config-out=generated.tf` it writes a divio_service and an import block for each.
list "divio_service" "live" {
  provider         = divio
  include_resource = true

  config {
    environment_id = data.divio_environment.live.id
  }
}

# Only the environment's databases that the application uses.
list "divio_service" "attached_databases" {
  provider = divio

  config {
    environment_id = data.divio_environment.live.id
    type           = "DATABASE"
    status         = "ATTACHED"
  }
}
