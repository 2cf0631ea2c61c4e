# A service instance is imported by its id.
terraform import divio_service.database <instance id>
