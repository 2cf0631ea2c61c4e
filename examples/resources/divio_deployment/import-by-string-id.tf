# The id of the deployment: divio_environment's last_finished_deployment_id is that of the
# environment's latest finished one. Its triggers are known only to the configuration: when the
# configuration sets them, the apply that imports the deployment also replaces it, that is, deploys
# again.
import {
  to = divio_deployment.services
  id = "<deployment id>"
}
