# azure-app runs on Azure (the simulator's demo data): its media storage is Azure Blob Storage.
variables {
  application = "azure-app"
  environment = "live"
}

run "attaches_azure_blob_storage" {
  assert {
    condition     = divio_service.media[0].service == "ms-blob" && output.storage_service == "ms-blob"
    error_message = "An Azure application's media storage should be ms-blob."
  }

  assert {
    condition     = output.env_var_names == tolist(["DATABASE_URL", "DEFAULT_DATABASE_DSN", "MEDIA_STORAGE_DSN"])
    error_message = "Unexpected environment variables: ${jsonencode(output.env_var_names)}."
  }
}
