import {
  to = divio_service_backup.before_release
  identity = {
    id = "<backup id>"
  }
}
