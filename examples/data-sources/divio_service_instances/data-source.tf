data "divio_application" "app" {
  slug = "demo-app"
}

data "divio_environment" "live" {
  application_id = data.divio_application.app.id
  slug           = "live"
}

# Every instance of the environment, also those added outside Terraform.
data "divio_service_instances" "live" {
  environment_id = data.divio_environment.live.id
}

output "attached_prefixes" {
  value = [for i in data.divio_service_instances.live.instances : "${i.type}/${i.prefix}" if i.status == "ATTACHED"]
}

# The instances that the environment's next deployment attaches, whoever starts it (Terraform, a
# git push, the Control Panel): added or provisioned, and not attached yet.
output "awaiting_attachment" {
  value = [for i in data.divio_service_instances.live.instances : "${i.type}/${i.prefix} (${i.status})" if i.awaits_attachment]
}
