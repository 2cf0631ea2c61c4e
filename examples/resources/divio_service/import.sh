# The same id as in the import block above.
terraform import divio_service.database <instance id>
