# A backup of one service instance is imported by its id. Its deletion time is imported as
# delete_at: write that (or neither delete_at nor retention) in the configuration.
terraform import divio_service_backup.before_release <backup id>
