terraform {
  required_version = ">= 1.5"
  required_providers {
    divio = {
      source = "divio/divio"
    }
  }
}

# The token is read from DIVIO_API_TOKEN; keep it out of configuration files.
provider "divio" {}
