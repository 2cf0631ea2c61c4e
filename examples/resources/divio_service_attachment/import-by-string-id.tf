# The id of the attached service instance, the same as its divio_service's (see there where to
# find it). Importing an attachment deploys nothing.
import {
  to = divio_service_attachment.database
  id = "<instance id>"
}
