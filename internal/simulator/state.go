package simulator

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Service instance states.
const (
	StatusNew               = "NEW"
	StatusProvisioning      = "PROVISIONING"
	StatusPendingAttachment = "PENDING_ATTACHMENT"
	StatusAttached          = "ATTACHED"
	StatusPendingDetachment = "PENDING_DETACHMENT"
	StatusDetached          = "DETACHED"
	StatusRemoved           = "REMOVED"
)

var instanceStatuses = []string{StatusNew, StatusProvisioning, StatusPendingAttachment,
	StatusAttached, StatusPendingDetachment, StatusDetached, StatusRemoved}

// Deployment states, spelt as the API spells them.
const (
	DeploymentWorking = "working"
	DeploymentSuccess = "done"
	DeploymentFailure = "failed"
)

var prefixPattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,29}$`)

// envVarSuffix names the variable each catalog type publishes.
var envVarSuffix = map[string]string{
	TypeDatabase:     "_DATABASE_DSN",
	TypeStorage:      "_STORAGE_DSN",
	TypeSearch:       "_HAYSTACK_URL",
	TypeMessageQueue: "_AMQP_BROKER_URL",
}

// Instance is a service instance as the API shows it.
type Instance struct {
	UUID        string    `json:"uuid"`
	Environment string    `json:"environment"`
	Region      string    `json:"region"`
	Service     string    `json:"service"`
	Prefix      string    `json:"prefix"`
	Type        string    `json:"type"`
	Status      string    `json:"service_status"`
	CreatedAt   time.Time `json:"created_at"`
}

// instanceRecord adds what the simulator keeps but the API does not show.
type instanceRecord struct {
	Instance
	ReadyAt  time.Time `json:"ready_at,omitzero"` // when PROVISIONING ends
	Stalled  bool      `json:"stalled,omitempty"` // PROVISIONING never ends
	Password string    `json:"password,omitempty"`
	DSN      string    `json:"dsn,omitempty"` // the secret it publishes, fixed when provisioned
	// Data stands for the instance's content (the admin API's data): only a
	// functional instance holds any; a backup captures it, a restore writes it.
	Data string `json:"data,omitempty"`
}

// InstanceState is an instance as the admin API shows it: what the API
// shows, and the data it holds.
type InstanceState struct {
	Instance
	Data string `json:"data"`
}

func (in *instanceRecord) state() InstanceState {
	return InstanceState{Instance: in.Instance, Data: in.Data}
}

// state is everything that changes; it is what the data file holds.
type state struct {
	Dataset            string              `json:"dataset"`
	Instances          []*instanceRecord   `json:"instances"`
	Deployments        []*deploymentRecord `json:"deployments"`
	FailNextDeploy     bool                `json:"fail_next_deploy,omitempty"`
	StallNextProvision bool                `json:"stall_next_provision,omitempty"`
	Backups            []*backupRecord     `json:"backups,omitempty"`
	Restores           []*restoreRecord    `json:"restores,omitempty"`
	FailNextBackup     bool                `json:"fail_next_backup,omitempty"`
	FailNextRestore    bool                `json:"fail_next_restore,omitempty"`

	DropVariablesNextDeploy bool `json:"drop_variables_next_deploy,omitempty"`

	// ClockOffset is how far the simulator's clock runs ahead of the
	// machine's: the admin API moves it forward, never back, and a data file
	// keeps it, so that no time the simulator handed out lies in its future.
	ClockOffset time.Duration `json:"clock_offset,omitempty"`
	// NextScheduledBackupAt is when the platform takes its next daily
	// scheduled backups, while they are on.
	NextScheduledBackupAt time.Time `json:"next_scheduled_backup_at,omitzero"`

	scheduledBackups bool
	data             *dataset
	provisionDelay   time.Duration
	deployDelay      time.Duration
	backupDelay      time.Duration
}

// Errors of the state machine; handlers translate them into answers.
var errNotFound = errors.New("not found")

// fieldErrors is a DRF validation error: field name -> messages.
type fieldErrors map[string][]string

func (fe fieldErrors) Error() string {
	return fmt.Sprintf("invalid request: %v", map[string][]string(fe))
}

func (fe fieldErrors) add(field, msg string) { fe[field] = append(fe[field], msg) }

// conflictError is a request that makes no sense in the current state (409).
type conflictError string

func (c conflictError) Error() string { return string(c) }

// newState is the data set's initial state, its seeded instances included.
func newState(ds *dataset) *state {
	st := &state{Dataset: ds.name, Instances: []*instanceRecord{}, Deployments: []*deploymentRecord{}, data: ds}
	st.seed()
	return st
}

func (st *state) instance(id string) (*instanceRecord, error) {
	for _, in := range st.Instances {
		if in.UUID == id && in.Status != StatusRemoved {
			return in, nil
		}
	}
	return nil, errNotFound
}

// anyInstance finds an instance even when removed, for the admin API.
func (st *state) anyInstance(id string) (*instanceRecord, error) {
	for _, in := range st.Instances {
		if in.UUID == id {
			return in, nil
		}
	}
	return nil, errNotFound
}

type createInstanceRequest struct {
	Environment string `json:"environment"`
	Service     string `json:"service"`
	Prefix      string `json:"prefix"`
	Region      string `json:"region"`
}

// createInstance checks, in order, the fields, the region's offering,
// uniqueness and the subscription, so that the first problem a user would
// fix is the one reported.
func (st *state) createInstance(req createInstanceRequest, now time.Time) (*instanceRecord, error) {
	errs := fieldErrors{}
	env, app, reg, envOK := st.data.appOfEnvironment(req.Environment)
	svc, svcOK := st.data.service(req.Service)
	requireExisting(errs, "environment", req.Environment, envOK)
	requireExisting(errs, "service", req.Service, svcOK)
	checkPrefix(errs, req.Prefix)
	if req.Region != "" && envOK && req.Region != reg.UUID {
		errs.add("region", fmt.Sprintf("The region must be the application's region (%s, %s).", reg.Name, reg.UUID))
	}
	if len(errs) > 0 {
		return nil, errs
	}

	if !st.data.offers(reg, svc.Identifier) {
		return nil, fieldErrors{"service": {fmt.Sprintf("The service %s is not offered in region %s, which offers: %s.",
			svc.Identifier, reg.Name, strings.Join(st.data.offerings[reg.Vendor], ", "))}}
	}
	if st.prefixTaken(env.UUID, svc.Type, req.Prefix) {
		return nil, prefixTakenError(svc.Type, req.Prefix)
	}
	if err := st.checkSubscription(app, svc); err != nil {
		return nil, err
	}

	in := &instanceRecord{Instance: Instance{
		UUID: uuid.NewString(), Environment: env.UUID, Region: reg.UUID, Service: svc.UUID,
		Prefix: req.Prefix, Type: svc.Type, Status: StatusNew, CreatedAt: now,
	}}
	st.Instances = append(st.Instances, in)
	return in, nil
}

func requireExisting(errs fieldErrors, field, value string, exists bool) {
	switch {
	case value == "":
		errs.add(field, "This field is required.")
	case !exists:
		errs.add(field, fmt.Sprintf("Invalid pk %q - object does not exist.", value))
	}
}

func checkPrefix(errs fieldErrors, prefix string) {
	switch {
	case prefix == "":
		errs.add("prefix", "This field is required.")
	case !prefixPattern.MatchString(prefix):
		errs.add("prefix", "Enter a valid prefix: an upper-case letter followed by up to 29 upper-case letters, digits or underscores.")
	}
}

func prefixTakenError(typ, prefix string) fieldErrors {
	return fieldErrors{"prefix": {fmt.Sprintf("An instance of type %s with prefix %s already exists in this environment.", typ, prefix)}}
}

func (st *state) prefixTaken(envID, typ, prefix string) bool {
	for _, in := range st.Instances {
		if in.Status != StatusRemoved && in.Environment == envID && in.Type == typ && in.Prefix == prefix {
			return true
		}
	}
	return false
}

// checkSubscription refuses an instance that the application's subscription
// has no free slot for.
func (st *state) checkSubscription(app application, svc service) error {
	if st.freeSlots(app, svc) > 0 {
		return nil
	}
	included := app.included[svc.Identifier]
	msg := fmt.Sprintf("The subscription of application %s does not include an instance of %s (%s).", app.Slug, svc.Name, svc.Identifier)
	if included > 0 {
		msg = fmt.Sprintf("The subscription of application %s does not include another instance of %s (%s): %d included, all in use.",
			app.Slug, svc.Name, svc.Identifier, included)
	}
	return fieldErrors{"service": {msg}}
}

// freeSlots is how many more instances of the service the application's
// subscription allows: every instance of its environments that is not removed
// takes one, and no other application's does.
func (st *state) freeSlots(app application, svc service) int {
	used := 0
	for _, in := range st.Instances {
		if in.Status == StatusRemoved || in.Service != svc.UUID {
			continue
		}
		if env, _ := st.data.environment(in.Environment); env.Application == app.UUID {
			used++
		}
	}
	return max(0, app.included[svc.Identifier]-used)
}

type renameRequest struct {
	Prefix *string `json:"prefix"`
}

// rename changes an instance's prefix in place, in any state (rule 9): the
// instance keeps its uuid, status, credentials and data; its variables take
// the new names at once, while the application keeps what its last deployment
// gave it. A request without a prefix changes nothing, as a DRF partial
// update; renaming to the current prefix is a no-op, so a retry is safe.
func (st *state) rename(id string, req renameRequest) (*instanceRecord, error) {
	in, err := st.instance(id)
	if err != nil || req.Prefix == nil || *req.Prefix == in.Prefix {
		return in, err
	}
	errs := fieldErrors{}
	checkPrefix(errs, *req.Prefix)
	if len(errs) > 0 {
		return nil, errs
	}
	if st.prefixTaken(in.Environment, in.Type, *req.Prefix) {
		return nil, prefixTakenError(in.Type, *req.Prefix)
	}
	in.Prefix = *req.Prefix
	return in, nil
}

// provision starts provisioning a NEW instance; anything later is already
// provisioned or on its way, so asking again changes nothing.
func (st *state) provision(id string, now time.Time) (*instanceRecord, error) {
	in, err := st.instance(id)
	if err != nil {
		return nil, err
	}
	if in.Status == StatusNew {
		st.startProvisioning(in, now)
	}
	return in, nil
}

func (st *state) startProvisioning(in *instanceRecord, now time.Time) {
	in.Status = StatusProvisioning
	in.ReadyAt = now.Add(st.provisionDelay)
	in.Stalled = st.StallNextProvision
	st.StallNextProvision = false
	st.giveCredentials(in)
	st.advance(now) // a zero delay takes effect at once
}

// attach asks the next deployment to attach a detached instance. An instance
// not yet attached is attached by the next deployment anyway, and an attached
// one needs nothing: both are already in effect. A pending detachment is
// cancelled, unless a running deployment is already building without it.
func (st *state) attach(id string) (*instanceRecord, error) {
	in, err := st.instance(id)
	if err != nil {
		return nil, err
	}
	switch in.Status {
	case StatusDetached:
		in.Status = StatusPendingAttachment
	case StatusPendingDetachment:
		if d := st.runningDeploymentDetaching(in); d != nil {
			return nil, conflictError(fmt.Sprintf("The service instance is being detached: deployment %s, running now, detaches it. "+
				"Attach it again once that deployment has ended; the next deployment then attaches it.", d.UUID))
		}
		in.Status = StatusAttached // the detachment has not started: cancel it
	}
	return in, nil
}

// detach asks the next deployment to detach an attached instance. One that is
// not attached yet cannot be detached: the next deployment attaches it, and
// removing it is what keeps that from happening.
func (st *state) detach(id string) (*instanceRecord, error) {
	in, err := st.instance(id)
	if err != nil {
		return nil, err
	}
	switch in.Status {
	case StatusAttached:
		in.Status = StatusPendingDetachment
	case StatusNew, StatusProvisioning, StatusPendingAttachment:
		return nil, conflictError(fmt.Sprintf("The service instance is %s: it is not attached, and the environment's next deployment attaches it. "+
			"To keep that from happening, remove the instance.", in.Status))
	}
	return in, nil
}

func (st *state) remove(id string) error {
	in, err := st.instance(id)
	if err != nil {
		return err
	}
	switch in.Status {
	case StatusAttached:
		return conflictError("The service instance is attached to its environment: detach it and deploy the environment before removing it.")
	case StatusPendingDetachment:
		return conflictError("The service instance's detachment is pending: deploy the environment to complete it before removing it.")
	}
	st.removeInstance(in)
	return nil
}

// removeInstance deletes the instance's data; its variables go with the password.
func (st *state) removeInstance(in *instanceRecord) {
	in.Status = StatusRemoved
	in.Password, in.DSN, in.Data = "", "", ""
	in.ReadyAt = time.Time{}
	in.Stalled = false
}

// advance applies every transition that is due at now, so that time-driven
// changes need no timers and survive restarts. It reports whether anything changed.
func (st *state) advance(now time.Time) bool {
	changed := false
	for _, in := range st.Instances {
		if in.Status == StatusProvisioning && !in.Stalled && !now.Before(in.ReadyAt) {
			in.Status = StatusPendingAttachment
			in.ReadyAt = time.Time{}
			changed = true
		}
	}
	for _, d := range st.Deployments {
		if d.Status == DeploymentWorking && !now.Before(d.EndsAt) {
			st.finishDeployment(d)
			changed = true
		}
	}
	return st.advanceBackups(now) || changed
}

type envVar struct {
	Name        string `json:"name"`
	Value       string `json:"value"`
	IsSensitive bool   `json:"is_sensitive"`
	Environment string `json:"environment"`
}

func (in *instanceRecord) provisioned() bool {
	switch in.Status {
	case StatusPendingAttachment, StatusAttached, StatusPendingDetachment, StatusDetached:
		return true
	}
	return false
}

// environmentVariables lists what provisioned instances publish, narrowed by
// the optional filters (empty = any).
func (st *state) environmentVariables(envID, appID, name string) []envVar {
	vars := []envVar{}
	for _, in := range st.Instances {
		if !in.provisioned() || (envID != "" && in.Environment != envID) {
			continue
		}
		if env, _ := st.data.environment(in.Environment); appID != "" && env.Application != appID {
			continue
		}
		for _, v := range st.instanceVariables(in) {
			if name == "" || v.Name == name {
				vars = append(vars, v)
			}
		}
	}
	return vars
}

// defaultAliases are the names under which a DEFAULT instance of a type also
// publishes its variable.
var defaultAliases = map[string]string{
	TypeDatabase:     "DATABASE_URL",
	TypeMessageQueue: "BROKER_URL",
}

// instanceVariables are the variables one instance publishes in its
// environment, named after its prefix as it is now.
func (st *state) instanceVariables(in *instanceRecord) []envVar {
	value := in.DSN
	if value == "" { // not provisioned yet, or provisioned by a simulator that did not keep it
		svc, _ := st.data.service(in.Service)
		reg, _ := st.data.region(in.Region)
		value = svc.dsn(reg, in)
	}
	vars := []envVar{{Name: in.Prefix + envVarSuffix[in.Type], Value: value, IsSensitive: true, Environment: in.Environment}}
	if alias, ok := defaultAliases[in.Type]; ok && in.Prefix == "DEFAULT" {
		vars = append(vars, envVar{Name: alias, Value: value, IsSensitive: true, Environment: in.Environment})
	}
	return vars
}

// InstancePatch changes an instance behind the client's back (admin API).
type InstancePatch struct {
	Status *string `json:"service_status"`
}

func (st *state) patchInstance(id string, patch InstancePatch, now time.Time) error {
	in, err := st.anyInstance(id)
	if err != nil {
		return err
	}
	if patch.Status != nil {
		if !validStatus(*patch.Status) {
			return fieldErrors{"service_status": {fmt.Sprintf("%q is not a valid choice; choose one of %s.",
				*patch.Status, strings.Join(instanceStatuses, ", "))}}
		}
		st.setStatus(in, *patch.Status, now)
	}
	return nil
}

// setData stands for writing content into an instance (admin API): only a
// functional one can hold it.
func (st *state) setData(id, data string) (*instanceRecord, error) {
	in, err := st.anyInstance(id)
	if err != nil {
		return nil, err
	}
	if !in.provisioned() {
		return nil, conflictError(fmt.Sprintf("The service instance %s is %s: only a functional instance (%s through %s) holds data.",
			in.UUID, in.Status, StatusPendingAttachment, StatusDetached))
	}
	in.Data = data
	return in, nil
}

type upgradeRequest struct {
	Service string `json:"service"` // a catalog identifier
}

// upgradeInPlace plays the platform's own upgrade (rule 10): the instance's
// service becomes a newer version of the same engine, offered in its region;
// its uuid, prefix, status, secret and data stay. It is Divio's move, so no
// subscription slot is asked for: the instance takes the new identifier's.
func (st *state) upgradeInPlace(id string, req upgradeRequest) (*instanceRecord, error) {
	in, err := st.instance(id)
	if err != nil {
		return nil, err
	}
	current, _ := st.data.service(in.Service)
	target, found := find(st.data.catalog, func(svc service) bool { return svc.Identifier == req.Service })
	reg, _ := st.data.region(in.Region)
	var problem string
	switch {
	case req.Service == "":
		problem = "This field is required."
	case !found:
		problem = fmt.Sprintf("No catalog entry has the identifier %q.", req.Service)
	case target.engine != current.engine || target.version <= current.version:
		problem = fmt.Sprintf("%s is not a newer version of the engine of %s, which the instance runs.", target.Identifier, current.Identifier)
	case !st.data.offers(reg, target.Identifier):
		problem = fmt.Sprintf("%s is not offered in region %s.", target.Identifier, reg.Name)
	}
	if problem != "" {
		return nil, fieldErrors{"service": {problem}}
	}
	in.Service = target.UUID
	return in, nil
}

// setStatus forces a status while keeping the record consistent: provisioned
// instances need a password, and only PROVISIONING has a deadline.
func (st *state) setStatus(in *instanceRecord, status string, now time.Time) {
	if status == StatusRemoved {
		st.removeInstance(in)
		return
	}
	in.Status = status
	in.ReadyAt, in.Stalled = time.Time{}, false
	if status == StatusProvisioning {
		in.ReadyAt = now.Add(st.provisionDelay)
		st.advance(now)
	}
	if in.provisioned() {
		st.giveCredentials(in)
	} else {
		in.Data = "" // only a functional instance holds data
	}
}

func validStatus(s string) bool {
	for _, v := range instanceStatuses {
		if v == s {
			return true
		}
	}
	return false
}

// giveCredentials makes the secret the instance publishes once provisioned.
// It is made once: a deployment that provisions the instance has built with
// it already, and a provisioning requested meanwhile must not change it; a
// rename or an upgrade changes the variables' names, not the database.
func (st *state) giveCredentials(in *instanceRecord) {
	if in.Password == "" {
		in.Password = newPassword()
	}
	if in.DSN == "" {
		svc, _ := st.data.service(in.Service)
		reg, _ := st.data.region(in.Region)
		in.DSN = svc.dsn(reg, in)
	}
}

func newPassword() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
