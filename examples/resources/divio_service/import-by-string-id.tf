# The id of the service instance: data "divio_service_instances" lists an environment's instances
# with their ids, services, prefixes and statuses (the Control Panel's Services view shows the same
# instances by service and prefix), and a plan refused with "Prefix already in use" names the
# instance that holds the prefix. From Terraform 1.6 on, id may be an expression, such as one that
# picks the instance from that data source by type and prefix.
#
# The apply that imports also sets what only the configuration holds (deletion_protection,
# timeouts), without changing anything on Divio.
import {
  to = divio_service.database
  id = "<instance id>"
}
