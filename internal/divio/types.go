package divio

import "time"

// The structs below decode the API's answers; encoding/json ignores the fields they leave out, so
// the API may add fields freely. A field marked [modelled] is not in the public Divio CLI's use of
// the API but in our model of it (see the contract); the rest are confirmed.

// Service instance states, as the API names them.
const (
	StatusNew               = "NEW"
	StatusProvisioning      = "PROVISIONING"
	StatusPendingAttachment = "PENDING_ATTACHMENT"
	StatusAttached          = "ATTACHED"
	StatusPendingDetachment = "PENDING_DETACHMENT"
	StatusDetached          = "DETACHED"
	StatusRemoved           = "REMOVED"
)

// Deployment states. [modelled]: the Divio CLI reads `ended_at`, `success` and `percent`, and
// compares status only to a lower case "failure".
const (
	DeploymentWorking = "WORKING"
	DeploymentSuccess = "SUCCESS"
	DeploymentFailure = "FAILURE"
)

// Catalog service types.
const (
	TypeDatabase     = "DATABASE"
	TypeStorage      = "STORAGE"
	TypeSearch       = "SEARCH"        // [modelled]
	TypeMessageQueue = "MESSAGE_QUEUE" // [modelled]
)

type Region struct {
	UUID   string `json:"uuid"`
	Name   string `json:"name"`
	Vendor string `json:"vendor"` // [modelled]
}

// Service is an entry of the catalog: what can be added to an environment.
type Service struct {
	UUID        string `json:"uuid"`
	Name        string `json:"name"`
	Type        string `json:"type"`
	Identifier  string `json:"identifier"`
	Description string `json:"description"`
	// Available is the number of instances of it the organisation's subscription has free; only
	// in a catalog listed for an application (website=). [modelled]
	Available int `json:"available"`
}

type Application struct {
	UUID         string `json:"uuid"`
	Slug         string `json:"slug"`
	Name         string `json:"name"`
	Region       string `json:"region"`
	Organisation string `json:"organisation"`
	// TestStatus and LiveStatus name the application's test and live environments.
	TestStatus *EnvironmentStatus `json:"test_status"`
	LiveStatus *EnvironmentStatus `json:"live_status"`
}

// EnvironmentStatus is how an application names one of its environments.
type EnvironmentStatus struct {
	UUID    string `json:"uuid"`
	SiteURL string `json:"site_url"`
}

type Environment struct {
	UUID        string `json:"uuid"`
	Slug        string `json:"slug"`
	Application string `json:"application"`
	Branch      string `json:"branch"`
	// LastFinishedDeployment is the deployment, as GetDeployment gives it, or nil before the
	// first one ends.
	LastFinishedDeployment *Deployment  `json:"last_finished_deployment"`
	SSHEndpoint            *SSHEndpoint `json:"ssh_endpoint"`
}

// LastFinishedDeploymentID is the id of the environment's last finished deployment, or nil
// before the first one ends.
func (e *Environment) LastFinishedDeploymentID() *string {
	if e.LastFinishedDeployment == nil {
		return nil
	}
	return &e.LastFinishedDeployment.UUID
}

type SSHEndpoint struct {
	Host string `json:"host"`
	Port int    `json:"port"`
	User string `json:"user"`
}

type ServiceInstance struct {
	UUID            string    `json:"uuid"`
	Environment     string    `json:"environment"`
	Region          string    `json:"region"`
	Service         string    `json:"service"`
	Prefix          string    `json:"prefix"`
	Type            string    `json:"type"`
	Status          string    `json:"service_status"`
	AttachRequested bool      `json:"attach_requested"` // [modelled]
	CreatedAt       time.Time `json:"created_at"`       // [modelled]
}

// Functional reports whether the instance is provisioned: reachable and able to hold data.
func (i *ServiceInstance) Functional() bool {
	switch i.Status {
	case StatusPendingAttachment, StatusAttached, StatusPendingDetachment, StatusDetached:
		return true
	}
	return false
}

// InUse reports whether the application uses the instance or will after the next deployment,
// which is when removing it is refused.
func (i *ServiceInstance) InUse() bool {
	return i.Status == StatusAttached || i.Status == StatusPendingDetachment || i.AttachRequested
}

type CreateServiceInstanceRequest struct {
	Environment string `json:"environment"`
	Service     string `json:"service"`
	Prefix      string `json:"prefix"`
	Region      string `json:"region,omitempty"`
}

type Deployment struct {
	UUID        string     `json:"uuid"`
	Environment string     `json:"environment"`
	Status      string     `json:"status"`
	Success     *bool      `json:"success"`
	StartedAt   *time.Time `json:"started_at"`
	EndedAt     *time.Time `json:"ended_at"`
	// Percent is the progress, 0 to 100; a float so that a fractional value decodes too.
	Percent float64 `json:"percent"`
	// EnvironmentVariables are the names of the variables this deployment gave the application.
	EnvironmentVariables []string `json:"environment_variables"`
}

// Finished reports whether the deployment has ended, either way.
func (d *Deployment) Finished() bool { return d.Success != nil }

type EnvironmentVariable struct {
	Name        string `json:"name"`
	Value       string `json:"value"`
	IsSensitive bool   `json:"is_sensitive"`
	Environment string `json:"environment"`
}

// DeploymentEnvironmentVariables is what a deployment gave the application: values by name.
type DeploymentEnvironmentVariables struct {
	Environment string            `json:"environment"`
	Variables   map[string]string `json:"environment_variables"`
}

type DeploymentLogs struct {
	UUID string `json:"uuid"`
	Logs string `json:"logs"`
}

type Organisation struct {
	UUID      string    `json:"uuid"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// User is the owner of the API token.
type User struct {
	UUID      string `json:"uuid"`
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}
