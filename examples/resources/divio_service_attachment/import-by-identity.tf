# The id of the attached service instance.
import {
  to = divio_service_attachment.database
  identity = {
    id = "<instance id>"
  }
}
