package divio

import "time"

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

// Deployment states.
const (
	DeploymentWorking = "WORKING"
	DeploymentSuccess = "SUCCESS"
	DeploymentFailure = "FAILURE"
)

// Catalog service types.
const (
	TypeDatabase     = "DATABASE"
	TypeStorage      = "STORAGE"
	TypeSearch       = "SEARCH"
	TypeMessageQueue = "MESSAGE_QUEUE"
)

type Region struct {
	UUID   string `json:"uuid"`
	Name   string `json:"name"`
	Vendor string `json:"vendor"`
}

// Service is an entry of the catalog: what can be added to an environment.
type Service struct {
	UUID        string `json:"uuid"`
	Name        string `json:"name"`
	Type        string `json:"type"`
	Identifier  string `json:"identifier"`
	Description string `json:"description"`
}

type Application struct {
	UUID         string `json:"uuid"`
	Slug         string `json:"slug"`
	Name         string `json:"name"`
	Region       string `json:"region"`
	Organisation string `json:"organisation"`
}

type Environment struct {
	UUID                   string  `json:"uuid"`
	Slug                   string  `json:"slug"`
	Application            string  `json:"application"`
	LastFinishedDeployment *string `json:"last_finished_deployment"`
}

type ServiceInstance struct {
	UUID            string    `json:"uuid"`
	Environment     string    `json:"environment"`
	Region          string    `json:"region"`
	Service         string    `json:"service"`
	Prefix          string    `json:"prefix"`
	Type            string    `json:"type"`
	Status          string    `json:"service_status"`
	AttachRequested bool      `json:"attach_requested"`
	CreatedAt       time.Time `json:"created_at"`
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
}

// Finished reports whether the deployment has ended, either way.
func (d *Deployment) Finished() bool { return d.Success != nil }

type EnvironmentVariable struct {
	Name        string `json:"name"`
	Value       string `json:"value"`
	IsSensitive bool   `json:"is_sensitive"`
	Environment string `json:"environment"`
}
