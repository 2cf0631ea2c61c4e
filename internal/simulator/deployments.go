package simulator

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Deployment is a deployment as the simulator keeps it; the API adds what
// depends on the time (deploymentView).
type Deployment struct {
	UUID        string     `json:"uuid"`
	Environment string     `json:"environment"`
	Status      string     `json:"status"`
	Success     *bool      `json:"success"`
	StartedAt   time.Time  `json:"started_at"`
	EndedAt     *time.Time `json:"ended_at"`
	// Author is the user who started it; the Divio CLI shows it in its tables.
	Author string `json:"author"`
	// Region is the application's region.
	Region string `json:"region"`
}

// BuildModeAuto is the build mode of a deployment that names none.
const BuildModeAuto = "AUTO"

type deploymentRecord struct {
	Deployment
	EndsAt        time.Time `json:"ends_at"`
	WillFail      bool      `json:"will_fail,omitempty"`
	DropVariables bool      `json:"drop_variables,omitempty"`
	BuildMode     string    `json:"build_mode"`
	// Plan is the configuration it builds from, fixed when it starts. It is
	// nil only in a data file written before plans were kept.
	Plan *deploymentPlan `json:"plan,omitempty"`
	// Variables are what it gave the application (name -> value): set when it
	// succeeds, so a running or failed deployment gave none.
	Variables map[string]string `json:"variables,omitempty"`
	Log       []logLine         `json:"log,omitempty"`
}

// deploymentPlan names the instances a deployment attaches and detaches: those
// not yet attached (NEW through PENDING_ATTACHMENT), and those pending
// detachment, when it started.
type deploymentPlan struct {
	Attach []string `json:"attach"`
	Detach []string `json:"detach"`
	// Built holds, by instance uuid, what each instance it attaches or keeps
	// attached was when it started: the application is built with those
	// names and values, whatever happens to the instance meanwhile (rule 9).
	// Nil in a data file written before it was kept.
	Built map[string]builtInstance `json:"built,omitempty"`
}

// builtInstance is an instance as a deployment built with it.
type builtInstance struct {
	Prefix    string   `json:"prefix"`
	Variables []envVar `json:"variables"`
}

type logLine struct {
	At   time.Time `json:"at"`
	Text string    `json:"text"`
}

// deploymentView is a deployment as GET deployments/<uuid>/ shows it.
type deploymentView struct {
	Deployment
	Percent              int      `json:"percent"`
	EnvironmentVariables []string `json:"environment_variables"`
	// IsUsable: the deployment succeeded, so the application runs what it built.
	IsUsable bool `json:"is_usable"`
}

func (d *deploymentRecord) view(now time.Time) deploymentView {
	names := slices.Sorted(maps.Keys(d.Variables))
	if names == nil {
		names = []string{}
	}
	usable := d.Success != nil && *d.Success
	return deploymentView{Deployment: d.Deployment, Percent: d.percent(now), EnvironmentVariables: names, IsUsable: usable}
}

// deploymentCreated is all that POST deployments/ answers: a client follows
// the deployment with GET.
type deploymentCreated struct {
	UUID        string `json:"uuid"`
	Environment string `json:"environment"`
	BuildMode   string `json:"build_mode"`
}

// percent moves from 0 to 100 over the deployment's delay; it reaches 100
// only when the deployment has ended.
func (d *deploymentRecord) percent(now time.Time) int {
	if d.EndedAt != nil {
		return 100
	}
	total := d.EndsAt.Sub(d.StartedAt)
	if total <= 0 {
		return 99
	}
	return min(99, max(0, int(100*float64(now.Sub(d.StartedAt))/float64(total))))
}

// logText is the log as far as the deployment has got by now.
func (d *deploymentRecord) logText(now time.Time) string {
	var b strings.Builder
	for _, l := range d.Log {
		if !l.At.After(now) {
			fmt.Fprintf(&b, "%s %s\n", l.At.Format(time.RFC3339), l.Text)
		}
	}
	return b.String()
}

func (d *deploymentRecord) logf(at time.Time, format string, args ...any) {
	d.Log = append(d.Log, logLine{At: at, Text: fmt.Sprintf(format, args...)})
}

func (st *state) deployment(id string) (*deploymentRecord, error) {
	for _, d := range st.Deployments {
		if d.UUID == id {
			return d, nil
		}
	}
	return nil, errNotFound
}

func (st *state) runningDeployment(envID string) *deploymentRecord {
	for _, d := range st.Deployments {
		if d.Environment == envID && d.Status == DeploymentWorking {
			return d
		}
	}
	return nil
}

// runningDeploymentDetaching returns the running deployment that builds the
// instance's environment without it, if there is one.
func (st *state) runningDeploymentDetaching(in *instanceRecord) *deploymentRecord {
	d := st.runningDeployment(in.Environment)
	if d != nil && d.Plan != nil && slices.Contains(d.Plan.Detach, in.UUID) {
		return d
	}
	return nil
}

// lastFinishedDeployment is derived rather than stored, so it cannot disagree
// with the deployments.
func (st *state) lastFinishedDeployment(envID string) *deploymentRecord {
	var last *deploymentRecord
	for _, d := range st.Deployments {
		if d.Environment == envID && d.EndedAt != nil {
			last = d
		}
	}
	return last
}

type createDeploymentRequest struct {
	Environment string `json:"environment"`
	BuildMode   string `json:"build_mode"`
}

func (st *state) createDeployment(req createDeploymentRequest, now time.Time) (*deploymentRecord, error) {
	env, app, _, ok := st.data.appOfEnvironment(req.Environment)
	if !ok {
		errs := fieldErrors{}
		requireExisting(errs, "environment", req.Environment, false)
		return nil, errs
	}
	if running := st.runningDeployment(env.UUID); running != nil {
		return nil, conflictError(fmt.Sprintf("A deployment of this environment is already running (%s); wait for it to finish.", running.UUID))
	}
	mode := req.BuildMode
	if mode == "" {
		mode = BuildModeAuto
	}
	d := &deploymentRecord{
		Deployment: Deployment{UUID: uuid.NewString(), Environment: env.UUID, Status: DeploymentWorking,
			StartedAt: now, Author: st.data.user.UUID, Region: app.Region},
		EndsAt:        now.Add(st.deployDelay),
		WillFail:      st.FailNextDeploy,
		DropVariables: st.DropVariablesNextDeploy,
		BuildMode:     mode,
		Plan:          st.planDeployment(env.UUID),
	}
	st.recordBuild(d.Plan, env.UUID)
	st.FailNextDeploy, st.DropVariablesNextDeploy = false, false
	st.logStart(d, env, app)
	st.Deployments = append(st.Deployments, d)
	st.advance(now) // a zero delay finishes it at once
	return d, nil
}

// planDeployment takes the instances as they stand: the deployment builds
// from this configuration, whoever started it, and an instance added,
// attached or detached while it runs waits for the next deployment.
func (st *state) planDeployment(envID string) *deploymentPlan {
	plan := &deploymentPlan{Attach: []string{}, Detach: []string{}}
	for _, in := range st.Instances {
		if in.Environment != envID {
			continue
		}
		switch in.Status {
		case StatusNew, StatusProvisioning, StatusPendingAttachment:
			plan.Attach = append(plan.Attach, in.UUID)
		case StatusPendingDetachment:
			plan.Detach = append(plan.Detach, in.UUID)
		}
	}
	return plan
}

// recordBuild notes what the deployment builds the application with: the
// instances it attaches, given their credentials now since it provisions the
// NEW ones, and those in use that it keeps.
func (st *state) recordBuild(plan *deploymentPlan, envID string) {
	plan.Built = map[string]builtInstance{}
	for _, in := range st.Instances {
		if in.Environment != envID {
			continue
		}
		switch {
		case slices.Contains(plan.Attach, in.UUID):
			st.giveCredentials(in)
		case in.Status != StatusAttached:
			continue // detached, removed, or to be detached: the application is built without it
		}
		plan.Built[in.UUID] = builtInstance{Prefix: in.Prefix, Variables: st.instanceVariables(in)}
	}
	for _, id := range plan.Detach { // named in the log of its detachment
		in, _ := st.anyInstance(id)
		plan.Built[id] = builtInstance{Prefix: in.Prefix, Variables: st.instanceVariables(in)}
	}
}

func (st *state) logStart(d *deploymentRecord, env environment, app application) {
	mode := ""
	if d.BuildMode != BuildModeAuto {
		mode = " (build mode " + d.BuildMode + ")"
	}
	d.logf(d.StartedAt, "Deployment of environment %s of %s started%s.", env.Slug, app.Slug, mode)
	for _, id := range d.Plan.Attach {
		in, _ := st.anyInstance(id)
		d.logf(d.StartedAt, "To attach: %s.", st.describe(in))
	}
	for _, id := range d.Plan.Detach {
		in, _ := st.anyInstance(id)
		d.logf(d.StartedAt, "To detach: %s.", st.describe(in))
	}
	if len(d.Plan.Attach)+len(d.Plan.Detach) == 0 {
		d.logf(d.StartedAt, "No service instance to attach or detach.")
	}
	d.logf(d.StartedAt.Add(d.EndsAt.Sub(d.StartedAt)/2), "Building the application from branch %s.", env.Branch)
}

func (st *state) describe(in *instanceRecord) string {
	svc, _ := st.data.service(in.Service)
	return fmt.Sprintf("%s %s (%s, instance %s)", in.Prefix, svc.Identifier, in.Type, in.UUID)
}

// finishDeployment ends a deployment at its due time, acting on its plan. A
// failed deployment changes nothing: the application keeps its previous
// configuration.
func (st *state) finishDeployment(d *deploymentRecord) {
	success := !d.WillFail
	ended := d.EndsAt
	d.Success, d.EndedAt = &success, &ended
	if d.Plan == nil { // started by a simulator that kept no plan: it acts on the instances as they stand at its end
		d.Plan = st.planDeployment(d.Environment)
	}
	if !success {
		d.Status = DeploymentFailure
		d.logf(ended, "Deployment failed: the build failed (injected with fail-next-deploy). "+
			"Nothing was provisioned, attached or detached; the application keeps running its previous configuration.")
		st.keepPlannedAttached(d)
		return
	}
	d.Status = DeploymentSuccess
	st.detachPlanned(d)
	attached := st.attachPlanned(d)
	withheld := map[string]bool{}
	if d.DropVariables {
		withheld = attached
	}
	d.Variables = st.builtVariables(d, withheld)
	st.logRenames(d)
	d.logf(ended, "Deployment succeeded; the application has %d variables from service instances.", len(d.Variables))
}

func (st *state) detachPlanned(d *deploymentRecord) {
	at := *d.EndedAt
	for _, id := range d.Plan.Detach {
		in, err := st.instance(id)
		if err != nil || in.Status != StatusPendingDetachment {
			continue // removed or changed out of band: nothing left to detach
		}
		in.Status = StatusDetached
		d.logf(at, "Detached %s; the application no longer gets %s.", st.describe(in), variableNames(st.builtWith(d, in)))
	}
}

// keepPlannedAttached returns the instances a failed deployment was to detach to ATTACHED: the
// application keeps running with them (the contract's rule 3), and no later deployment detaches
// them unasked.
func (st *state) keepPlannedAttached(d *deploymentRecord) {
	for _, id := range d.Plan.Detach {
		if in, err := st.instance(id); err == nil && in.Status == StatusPendingDetachment {
			in.Status = StatusAttached
			d.logf(*d.EndedAt, "%s stays attached.", st.describe(in))
		}
	}
}

// attachPlanned provisions and attaches the planned instances, and returns the
// ones it attached.
func (st *state) attachPlanned(d *deploymentRecord) map[string]bool {
	at := *d.EndedAt
	attached := map[string]bool{}
	for _, id := range d.Plan.Attach {
		in, err := st.anyInstance(id)
		if err != nil {
			continue
		}
		switch {
		case in.Status == StatusRemoved:
			d.logf(at, "Could not attach %s: it was removed while the deployment ran.", st.describe(in))
			continue
		case in.Stalled:
			// A stalled provisioning never finishes, so no deployment can
			// attach the instance; it stays as it is.
			d.logf(at, "Could not attach %s: its provisioning has not finished; it stays %s.", st.describe(in), in.Status)
			continue
		case in.Status == StatusNew || in.Status == StatusProvisioning:
			st.giveCredentials(in)
			d.logf(at, "Provisioned %s.", st.describe(in))
		case in.Status != StatusPendingAttachment:
			// Changed behind the deployment's back (the admin API): leave it.
			d.logf(at, "Left %s as it is: it became %s while the deployment ran.", st.describe(in), in.Status)
			continue
		}
		in.ReadyAt = time.Time{}
		in.Status = StatusAttached
		attached[in.UUID] = true
		given := "gave the application " + variableNames(st.builtWith(d, in))
		if d.DropVariables {
			given = "gave the application none of its variables"
		}
		d.logf(at, "Attached %s; %s.", st.describe(in), given)
	}
	return attached
}

// logRenames says which instances the application got variables from were
// renamed while the deployment ran: it keeps their old names until the next
// deployment.
func (st *state) logRenames(d *deploymentRecord) {
	for _, id := range slices.Sorted(maps.Keys(d.Plan.Built)) {
		in, err := st.instance(id)
		b := d.Plan.Built[id]
		if _, given := d.Variables[b.Variables[0].Name]; err == nil && in.Prefix != b.Prefix && given {
			d.logf(*d.EndedAt, "%s was renamed from %s while the deployment ran: the application keeps %s until the next deployment.",
				st.describe(in), b.Prefix, variableNames(b.Variables))
		}
	}
}

// builtWith returns the variables of the instance that the deployment built
// the application with.
func (st *state) builtWith(d *deploymentRecord, in *instanceRecord) []envVar {
	if b, ok := d.Plan.Built[in.UUID]; ok {
		return b.Variables
	}
	return st.instanceVariables(in) // a plan from before builds were kept
}

// builtVariables are what a successful deployment gave the application: the
// variables, as it started, of the instances it leaves in use, but those of
// the withheld instances. An instance it could not attach, or that went out
// of use meanwhile (removed behind its back), gives none.
func (st *state) builtVariables(d *deploymentRecord, withheld map[string]bool) map[string]string {
	if d.Plan.Built == nil {
		return st.variablesInUse(d.Environment, withheld)
	}
	vars := map[string]string{}
	for id, b := range d.Plan.Built {
		in, err := st.instance(id)
		if err != nil || withheld[id] || slices.Contains(d.Plan.Detach, id) ||
			(in.Status != StatusAttached && in.Status != StatusPendingDetachment) {
			continue
		}
		for _, v := range b.Variables {
			vars[v.Name] = v.Value
		}
	}
	return vars
}

// variablesInUse are the variables of the instances the application uses
// (ATTACHED, PENDING_DETACHMENT), but those of the withheld instances.
func (st *state) variablesInUse(envID string, withheld map[string]bool) map[string]string {
	vars := map[string]string{}
	for _, in := range st.Instances {
		if in.Environment != envID || withheld[in.UUID] || (in.Status != StatusAttached && in.Status != StatusPendingDetachment) {
			continue
		}
		for _, v := range st.instanceVariables(in) {
			vars[v.Name] = v.Value
		}
	}
	return vars
}

func variableNames(vars []envVar) string {
	names := make([]string, 0, len(vars))
	for _, v := range vars {
		names = append(names, v.Name)
	}
	return strings.Join(names, ", ")
}
