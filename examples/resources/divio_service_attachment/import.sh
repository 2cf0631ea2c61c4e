# An attachment is imported by the id of the attached service instance.
terraform import divio_service_attachment.database <instance id>
