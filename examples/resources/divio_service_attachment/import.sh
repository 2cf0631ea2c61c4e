# The same id as in the import block above: the attached service instance's.
terraform import divio_service_attachment.database <instance id>
