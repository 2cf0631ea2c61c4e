# demo-app runs on AWS (the simulator's demo data): its media storage is S3.
variables {
  application = "demo-app"
  databases   = ["DEFAULT", "REPORTING"]
}

run "plans_s3_for_an_aws_application" {
  command = plan

  assert {
    condition     = divio_service.media[0].service == "s3"
    error_message = "An AWS application's media storage should be s3, not ${divio_service.media[0].service}."
  }
}

run "adds_the_services" {
  assert {
    condition     = output.env_var_names == tolist(["DATABASE_URL", "DEFAULT_DATABASE_DSN", "MEDIA_STORAGE_DSN", "REPORTING_DATABASE_DSN"])
    error_message = "Unexpected environment variables: ${jsonencode(output.env_var_names)}."
  }

  # deploy = false: no attachment deployed on its own; the divio_deployment did.
  assert {
    condition     = alltrue([for a in divio_service_attachment.this : a.deployment_id == null]) && divio_deployment.this.id != null
    error_message = "Only divio_deployment should have deployed the environment."
  }
}

# The attachments were recorded before the deployment ran; reading them again shows what it did.
run "the_deployment_attached_them_all" {
  plan_options {
    mode = refresh-only
  }

  assert {
    condition     = alltrue([for a in divio_service_attachment.this : a.status == "ATTACHED"])
    error_message = "Every service instance should be attached after the deployment: ${jsonencode({ for k, a in divio_service_attachment.this : k => a.status })}."
  }
}

# Dropping the media storage destroys its attachment, which detaches the MEDIA instance with a
# deployment, then removes the instance (after its final backup). Its plan also warns "Service
# instance in use is detached first" and says that no attachment covers the instance: Terraform
# plans an attachment that drops out of a for_each over the services only after them, too late for
# the provider to see it go (README.md, "Plan-time guards"). The databases stay attached.
run "drops_the_media_storage" {
  variables {
    media_storage = false
  }

  assert {
    condition     = length(divio_service.media) == 0 && !contains(output.env_var_names, "MEDIA_STORAGE_DSN")
    error_message = "Without media storage, no MEDIA instance should be left."
  }

  assert {
    condition     = keys(divio_service_attachment.this) == ["DEFAULT", "REPORTING"] && alltrue([for a in divio_service_attachment.this : a.status == "ATTACHED"])
    error_message = "The databases should stay attached: ${jsonencode({ for k, a in divio_service_attachment.this : k => a.status })}."
  }
}
