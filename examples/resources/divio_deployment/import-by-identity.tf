import {
  to = divio_deployment.services
  identity = {
    id = "<deployment id>"
  }
}
