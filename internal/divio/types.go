package divio

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

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

// Deployment statuses, as the API spells them: a real finished deployment reads "status": "done",
// "success": true; "working" and "failed" are [modelled]. They are for showing and for tests:
// the client decides from ended_at and success alone (Finished, Succeeded, Failed), never from
// status's spelling, as the contract asks.
const (
	DeploymentWorking = "working" // [modelled]
	DeploymentDone    = "done"
	DeploymentFailed  = "failed" // [modelled]

	// DeploymentSuccess and DeploymentFailure are the former names of DeploymentDone and
	// DeploymentFailed, deprecated (the provider's tests still name them).
	DeploymentSuccess = DeploymentDone
	DeploymentFailure = DeploymentFailed
)

// PrefixPattern is what the API accepts as an instance's prefix. [modelled]: the contract's
// rule 5 confirms upper case; the exact pattern is ours.
var PrefixPattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,29}$`)

// DefaultPrefix is the prefix projects use; some of its variables are also published under a
// second name (defaultAliases).
const DefaultPrefix = "DEFAULT"

// variableSuffixes names the variable an instance of each catalog type publishes after its
// prefix [confirmed, for SEARCH and MESSAGE_QUEUE by the Elasticsearch and Celery how-tos].
var variableSuffixes = map[string]string{
	TypeDatabase:     "_DATABASE_DSN",
	TypeStorage:      "_STORAGE_DSN",
	TypeSearch:       "_HAYSTACK_URL",
	TypeMessageQueue: "_AMQP_BROKER_URL",
}

// defaultAliases names the second name under which a DEFAULT instance of a type publishes its
// variable: DEFAULT_DATABASE_DSN is also DATABASE_URL, DEFAULT_AMQP_BROKER_URL also BROKER_URL
// [confirmed: the Celery how-to].
var defaultAliases = map[string]string{
	TypeDatabase:     "DATABASE_URL",
	TypeMessageQueue: "BROKER_URL",
}

// VariableNames returns, sorted, the names of the environment variables that a provisioned
// instance of serviceType with prefix publishes in its environment.
func VariableNames(serviceType, prefix string) []string {
	suffix, ok := variableSuffixes[serviceType]
	if !ok {
		return []string{}
	}
	names := []string{prefix + suffix}
	if alias, ok := defaultAliases[serviceType]; ok && prefix == DefaultPrefix {
		names = append(names, alias)
	}
	slices.Sort(names)
	return names
}

// ServiceVersion splits a catalog identifier into its engine and major version, as Divio names them:
// postgres-15 is PostgreSQL 15, mysql-8 MySQL 8; ok is false for an identifier without a version,
// such as s3. [modelled]: the catalog's fields name no version; the identifiers do, and Divio's
// upgrade guide moves between them (postgres-13 to postgres-15).
func ServiceVersion(identifier string) (engine string, version int, ok bool) {
	i := strings.LastIndexByte(identifier, '-')
	if i <= 0 {
		return "", 0, false
	}
	version, err := strconv.Atoi(identifier[i+1:])
	if err != nil || version < 0 {
		return "", 0, false
	}
	return identifier[:i], version, true
}

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
	// in a catalog listed for an application (website=), nil where the API does not say. [modelled]
	Available *int `json:"available"`
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
	UUID        string `json:"uuid"`
	Environment string `json:"environment"`
	Region      string `json:"region"`
	// Service is the catalog entry it runs, which Divio may move to a newer version in place
	// (the contract's rule 10); UUID never changes.
	Service   string    `json:"service"`
	Prefix    string    `json:"prefix"`
	Type      string    `json:"type"`
	Status    string    `json:"service_status"`
	CreatedAt time.Time `json:"created_at"` // [modelled]
}

// Functional reports whether the instance is provisioned: reachable and able to hold data.
func (i *ServiceInstance) Functional() bool {
	switch i.Status {
	case StatusPendingAttachment, StatusAttached, StatusPendingDetachment, StatusDetached:
		return true
	}
	return false
}

// InUse reports whether the application uses the instance, which is when removing it is refused:
// it is attached, or its detachment waits for a deployment.
func (i *ServiceInstance) InUse() bool {
	return i.Status == StatusAttached || i.Status == StatusPendingDetachment
}

// AwaitsAttachment reports whether the environment's next deployment attaches the instance,
// whoever starts it (the contract's rule 1): it was added and not attached yet (NEW, PROVISIONING,
// PENDING_ATTACHMENT, the last also after an attach of a DETACHED one).
func (i *ServiceInstance) AwaitsAttachment() bool {
	switch i.Status {
	case StatusNew, StatusProvisioning, StatusPendingAttachment:
		return true
	}
	return false
}

// renameServiceInstanceBody is the request of a rename in place. [modelled]: the capability is
// confirmed (the upgrade guide renames instances), the request is our model of it.
type renameServiceInstanceBody struct {
	Prefix string `json:"prefix"`
}

type CreateServiceInstanceRequest struct {
	Environment string `json:"environment"`
	Service     string `json:"service"`
	Prefix      string `json:"prefix"`
	Region      string `json:"region,omitempty"`
}

// Deployment is a deployment as GET deployments/<uuid>/ gives it. The answer to its POST has
// only UUID, Environment and BuildMode: the rest is zero until the deployment is read again.
type Deployment struct {
	UUID        string `json:"uuid"`
	Environment string `json:"environment"`
	// BuildMode is how it was asked to build, such as "AUTO"; the POST answer gives it.
	BuildMode string `json:"build_mode"`
	// Status is the API's word for its state (see DeploymentDone), to show, not to decide from.
	Status string `json:"status"`
	// Success is null until the deployment ends, then a boolean (see Verdict).
	Success   *Verdict   `json:"success"`
	StartedAt *time.Time `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at"`
	// Percent is the progress, 0 to 100; a float so that a fractional value decodes too.
	Percent float64 `json:"percent"`
	// EnvironmentVariables are the names of the variables this deployment gave the application.
	EnvironmentVariables VariableNameList `json:"environment_variables"`
	Region               string           `json:"region"`
	IsUsable             bool             `json:"is_usable"`
}

// Finished reports whether the deployment has ended, either way: its ended_at is set, which is
// what the Divio CLI waits for.
func (d *Deployment) Finished() bool { return d.EndedAt != nil }

// Succeeded reports whether the deployment ended with success true.
func (d *Deployment) Succeeded() bool {
	return d.Finished() && d.Success != nil && bool(*d.Success)
}

// Failed reports whether the deployment ended without success true (false, or none at all):
// nothing it was to change can be counted on.
func (d *Deployment) Failed() bool { return d.Finished() && !d.Succeeded() }

// Verdict decodes a deployment's success: true or false [confirmed]. A spelled-out value, as
// backups use ("SUCCESS", "FAILURE", "PARTIAL", any case), decodes too, true only for SUCCESS,
// so that another spelling does not break every read of an environment, whose
// last_finished_deployment carries it.
type Verdict bool

func (v *Verdict) UnmarshalJSON(b []byte) error {
	var flag bool
	if err := json.Unmarshal(b, &flag); err == nil {
		*v = Verdict(flag)
		return nil
	}
	var word string
	if err := json.Unmarshal(b, &word); err != nil {
		return fmt.Errorf("success: want true, false or a word, got %s", b)
	}
	*v = Verdict(strings.EqualFold(word, BackupSuccess) || strings.EqualFold(word, "true"))
	return nil
}

// VariableNameList decodes the names of a deployment's variables: a list of names, as the
// contract gives them, or an object keyed by name (its keys, sorted), since the Divio CLI only
// joins what it gets and so would print either.
type VariableNameList []string

func (l *VariableNameList) UnmarshalJSON(b []byte) error {
	var names []string
	if err := json.Unmarshal(b, &names); err == nil {
		*l = names
		return nil
	}
	var byName map[string]json.RawMessage
	if err := json.Unmarshal(b, &byName); err != nil {
		return fmt.Errorf("environment_variables: want a list of names or an object, got %s", b)
	}
	*l = slices.Sorted(maps.Keys(byName))
	return nil
}

// ErrorText decodes an `errors` field: a list as the contract gives it (`[]` when none, as the
// Divio API how-to's example answer shows), whose items, text or objects, are joined; null or
// plain text decode too. Empty means no error.
type ErrorText string

func (e *ErrorText) UnmarshalJSON(b []byte) error {
	var text string
	if err := json.Unmarshal(b, &text); err == nil {
		*e = ErrorText(text)
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(b, &items); err != nil {
		return fmt.Errorf("errors: want text or a list, got %s", b)
	}
	parts := make([]string, 0, len(items))
	for _, item := range items {
		var text string
		if json.Unmarshal(item, &text) != nil {
			text = string(item) // an object: shown as the API wrote it
		}
		parts = append(parts, text)
	}
	*e = ErrorText(strings.Join(parts, "; "))
	return nil
}

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

// Backup states and outcomes, as the API names them. A backup's state ends at COMPLETED; its
// success then says how it went. A restore's success says the same once it is finished.
// PENDING, WORKING and FAILURE are [modelled]; the Divio CLI also meets success PARTIAL.
const (
	BackupStatePending   = "PENDING"
	BackupStateWorking   = "WORKING"
	BackupStateCompleted = "COMPLETED"
	BackupSuccess        = "SUCCESS"
	BackupFailure        = "FAILURE"
)

// Backup triggers: an on-demand backup is MANUAL, which is what a client asks for; the platform
// takes its own by the subscription's schedule, SCHEDULED [modelled].
const (
	BackupTriggerManual    = "MANUAL"
	BackupTriggerScheduled = "SCHEDULED"
)

// Backup is a backup of some of an environment's service instances. It outlives them, but the
// platform's retention may delete it at any time (then GET is 404).
type Backup struct {
	UUID        string `json:"uuid"`
	Environment string `json:"environment"`
	// State ends at COMPLETED; Success is null until then.
	State                  string   `json:"state"`
	Success                *string  `json:"success"`
	ServiceInstanceBackups []string `json:"service_instance_backups"`
	Notes                  string   `json:"notes"`
	// ScheduledForDeletionAt is when the API deletes it; nil when none is set.
	ScheduledForDeletionAt *time.Time `json:"scheduled_for_deletion_at"`
	Trigger                string     `json:"trigger"`
	CreatedAt              *time.Time `json:"created_at"` // [modelled]
}

// Completed reports whether the backup has ended, either way.
func (b *Backup) Completed() bool { return b.State == BackupStateCompleted }

// Succeeded reports whether the backup completed with SUCCESS. As the Divio CLI reads it, any
// other success value of a completed backup (FAILURE, PARTIAL, none) is a failure.
func (b *Backup) Succeeded() bool {
	return b.Completed() && b.Success != nil && *b.Success == BackupSuccess
}

// ServiceInstanceBackup is one instance's part of a backup, in the shape of the Divio API how-to's
// example answer.
type ServiceInstanceBackup struct {
	UUID            string     `json:"uuid"`
	Backup          string     `json:"backup"`
	ServiceType     string     `json:"service_type"`
	ServiceInstance string     `json:"service_instance"`
	QueuedAt        *time.Time `json:"queued_at"`
	StartedAt       *time.Time `json:"started_at"`
	TakenAt         *time.Time `json:"taken_at"`
	// EndedAt is null while the part runs.
	EndedAt *time.Time `json:"ended_at"`
	Size    *int64     `json:"size"` // bytes
	// Errors says why the part failed; empty when it did not.
	Errors ErrorText `json:"errors"`
	Prefix string    `json:"prefix"` // [modelled]: the instance's prefix when it was taken
}

// CreateBackupRequest asks for a backup of some of an environment's instances.
type CreateBackupRequest struct {
	Environment string
	Services    []string // service instance uuids: DATABASE and STORAGE instances only
	Notes       string
	// ScheduledForDeletionAt is when the API deletes the backup; zero keeps it until deleted.
	// It is sent, and compared, to the microsecond.
	ScheduledForDeletionAt time.Time
}

// createBackupBody is what the Divio CLI sends: the trigger is always MANUAL, the deletion
// time in UTC with a "Z", as DRF writes times.
type createBackupBody struct {
	Environment            string   `json:"environment"`
	Services               []string `json:"services"`
	Trigger                string   `json:"trigger"`
	Notes                  string   `json:"notes,omitempty"`
	ScheduledForDeletionAt string   `json:"scheduled_for_deletion_at,omitempty"`
}

const drfTimeFormat = "2006-01-02T15:04:05.000000Z"

func (r CreateBackupRequest) body() createBackupBody {
	b := createBackupBody{Environment: r.Environment, Services: r.Services, Trigger: BackupTriggerManual, Notes: r.Notes}
	if !r.ScheduledForDeletionAt.IsZero() {
		b.ScheduledForDeletionAt = r.ScheduledForDeletionAt.UTC().Format(drfTimeFormat)
	}
	return b
}

// Restore writes parts of a backup into instances: those they were taken from, or others.
type Restore struct {
	UUID     string    `json:"uuid"`
	Backup   string    `json:"backup"` // [modelled]
	Finished bool      `json:"finished"`
	Success  *string   `json:"success"`
	Errors   ErrorText `json:"errors"` // [modelled]
	Notes    string    `json:"notes"`  // [modelled]
}

// Succeeded reports whether the restore finished with SUCCESS; as for backups, anything else
// a finished restore says is a failure.
func (r *Restore) Succeeded() bool {
	return r.Finished && r.Success != nil && *r.Success == BackupSuccess
}

// CreateRestoreRequest names a backup and the parts of it to write back. Each part goes back into
// the instance it was taken from, or into the one Targets names for it.
type CreateRestoreRequest struct {
	Backup                 string
	ServiceInstanceBackups []string
	// Targets maps a part (one of ServiceInstanceBackups) to the instance it is written into
	// instead of its own: another instance of the same type, in any environment of the
	// organisation's applications, whose data it overwrites. The API refuses a target that is not
	// functional (409), of another type or engine, or of an older version (400).
	Targets map[string]string
	Notes   string
}

type serviceInstanceRestore struct {
	ServiceInstanceBackup string `json:"service_instance_backup"`
	// ServiceInstance is the target; left out, the part goes back where it came from. [modelled]
	ServiceInstance string `json:"service_instance,omitempty"`
}

type createRestoreBody struct {
	Backup                  string                   `json:"backup"`
	ServiceInstanceRestores []serviceInstanceRestore `json:"service_instance_restores"`
	Notes                   string                   `json:"notes,omitempty"`
}
