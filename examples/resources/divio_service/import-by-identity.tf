# The instance's id; environment_id may be left out, and if given must be the instance's.
import {
  to = divio_service.database
  identity = {
    id             = "<instance id>"
    environment_id = "<environment id>"
  }
}
