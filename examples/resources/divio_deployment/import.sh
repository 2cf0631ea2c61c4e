# A deployment is imported by its id. Its triggers are known only to the configuration.
terraform import divio_deployment.services <deployment id>
