# The same id as in the import block above.
terraform import divio_deployment.services <deployment id>
