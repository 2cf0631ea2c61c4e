package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

const (
	// defaultGatherWindow is how long a batch waits for one more caller before it deploys:
	// long enough for Terraform to start the other attachments it runs in parallel, short
	// next to a deployment's minutes.
	defaultGatherWindow = 500 * time.Millisecond
	// maxGatherWindows bounds a batch's gathering, so that a steady trickle of callers cannot
	// hold its deployment back.
	maxGatherWindows = 4
	// sharedDeployTimeout bounds the work a batch does for all its members, which does not end
	// with any one member's context; each member stops waiting at its own timeout.
	sharedDeployTimeout = 6 * time.Hour
	// undoTimeout bounds undoing the detachment requests of a batch that everyone left (Ctrl-C).
	undoTimeout = 30 * time.Second
	// leaveGrace is how long a caller that gave up waits to see whether the others give up too.
	leaveGrace = 200 * time.Millisecond
	// labelTimeout bounds reading an environment's name for the message of a caller that gave up.
	labelTimeout = time.Second
)

// errNobodyWaiting ends a batch whose members all gave up before its deployment started: nobody
// wants it any more, so it does not start, and the detachments asked for it are undone.
var errNobodyWaiting = errors.New("every caller gave up before the deployment started")

// deployer carries out the attachments and detachments of this provider process with as few
// deployments as it can. On Divio a deployment rebuilds and restarts the application; it acts on the
// environment's instances as they stand when it starts (the contract's rule 1): it attaches every
// instance that awaits attachment (NEW, PROVISIONING, PENDING_ATTACHMENT) and detaches every one
// PENDING_DETACHMENT, whoever started it; and only one runs per environment at a time. So:
//   - callers for one environment gather into a batch, whose requests (attach for a DETACHED
//     instance, detach for an ATTACHED one; an instance awaiting attachment needs none) are sent
//     together just before the one deployment that carries all of them out (asking late, rather
//     than when each caller arrives, keeps a run killed in between from leaving a detachment that
//     no deployment of its own follows);
//   - before it starts a deployment, a batch looks for one already running (another workspace's,
//     a git push's, or a retry's whose answer was lost), as the Divio CLI does; it waits for it,
//     then deploys only for the members that one did not carry out;
//   - a member whose instance is already as it wants needs no deployment at all.
type deployer struct {
	client *divio.Client
	cache  *apiCache
	window time.Duration

	mu sync.Mutex
	// last is each environment's newest batch: gathering members, or started (closed).
	last map[string]*deployBatch
}

// deployChange is what a caller wants of an instance; instance is empty for a deployment wanted
// for its own sake (divio_deployment), which only a deployment started after the call satisfies.
type deployChange struct {
	instance string
	attach   bool // attached, else detached
}

// deployOutcome is what a caller learns of its change.
type deployOutcome struct {
	// Deployment carried the change out: nil when none was needed, or (with an error) the one
	// that was running for it when the error came.
	Deployment *divio.Deployment
	// Instance is the instance as last read, if it was read.
	Instance *divio.ServiceInstance
	// Pending reports that the change waits for a deployment, which carries it out whoever starts
	// it: the instance awaits attachment, or its detachment was asked for. If the call failed, the
	// environment's next deployment may still carry it out (unless the batch undid a detachment
	// when nobody waited any more).
	Pending bool
}

// member is one caller of a batch. gone, pending and asked are guarded by deployer.mu.
type member struct {
	change  deployChange
	gone    bool // the caller gave up
	pending bool // see deployOutcome.Pending
	// asked reports that this batch sent the request that the change waits on: only a detachment
	// it asked for is undone when everyone leaves (an attachment cannot be taken back: the contract
	// refuses to detach an instance that is not attached).
	asked   bool
	done    chan struct{}
	outcome deployOutcome
	err     error
}

// deployBatch is the callers that one deployment serves.
type deployBatch struct {
	environmentID string
	// prev is the environment's batch before this one; it must end before this one starts.
	prev *deployBatch
	// joined tells the gathering that a member arrived, restarting its quiet window.
	joined chan struct{}

	// closed, members, running and abandoned are guarded by deployer.mu.
	closed    bool // started: new callers form the next batch
	members   []*member
	running   *divio.Deployment // the deployment the batch waits for, once it waits for one
	abandoned bool

	abandon chan struct{} // closed when every member has given up
	done    chan struct{} // closed once every member is finished
}

func newDeployer(client *divio.Client, cache *apiCache, window time.Duration) *deployer {
	if window <= 0 {
		window = defaultGatherWindow
	}
	return &deployer{client: client, cache: cache, window: window, last: map[string]*deployBatch{}}
}

// Attach has instanceID attached by a deployment of its environment, and waits until it is.
func (d *deployer) Attach(ctx context.Context, environmentID, instanceID string) (deployOutcome, error) {
	return d.request(ctx, environmentID, deployChange{instance: instanceID, attach: true})
}

// Detach has instanceID detached by a deployment of its environment, and waits until it is.
func (d *deployer) Detach(ctx context.Context, environmentID, instanceID string) (deployOutcome, error) {
	return d.request(ctx, environmentID, deployChange{instance: instanceID})
}

// Deploy runs a deployment of the environment that starts after this call began, and waits for
// it. A failed deployment returns *divio.DeploymentFailedError, with the deployment.
func (d *deployer) Deploy(ctx context.Context, environmentID string) (*divio.Deployment, error) {
	out, err := d.request(ctx, environmentID, deployChange{})
	return out.Deployment, err
}

func (d *deployer) request(ctx context.Context, environmentID string, change deployChange) (out deployOutcome, err error) {
	m := &member{change: change, done: make(chan struct{})}
	b := d.join(ctx, environmentID, m)
	defer func() {
		if out.Deployment != nil || out.Pending || err != nil {
			// A deployment changes every instance it carries out, not only this caller's; and a
			// request that failed may have taken effect.
			d.cache.forget(environmentID)
		}
	}()
	select {
	case <-m.done:
		return m.outcome, m.err
	case <-ctx.Done():
	}
	if d.leave(b, m) {
		// Terraform stops every operation at once (Ctrl-C): if the others leave too, the batch
		// undoes the detachments no deployment of its own carries out. Wait for that, briefly, so
		// that what this caller reports is what is left.
		select {
		case <-b.abandon:
			select {
			case <-m.done:
			case <-time.After(undoTimeout):
			}
		case <-m.done:
		case <-time.After(leaveGrace):
		}
	}
	// Named as its users know it: read before, its name is cached; else the id, without waiting.
	labelCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), labelTimeout)
	defer cancel()
	return d.leftBehind(b, m), fmt.Errorf("gave up waiting for the deployment of environment %s: %w", d.cache.EnvironmentLabel(labelCtx, environmentID), ctx.Err())
}

// join adds the caller to the environment's gathering batch, or opens one.
func (d *deployer) join(ctx context.Context, environmentID string, m *member) *deployBatch {
	d.mu.Lock()
	defer d.mu.Unlock()
	b := d.last[environmentID]
	if b == nil || b.closed {
		b = &deployBatch{environmentID: environmentID, prev: b, joined: make(chan struct{}, 1),
			abandon: make(chan struct{}), done: make(chan struct{})}
		d.last[environmentID] = b
		// The batch's work outlives this caller if it gives up; the values (loggers) are kept.
		go d.run(context.WithoutCancel(ctx), b)
	} else {
		select {
		case b.joined <- struct{}{}:
		default: // a signal is already pending; one is enough
		}
	}
	b.members = append(b.members, m)
	return b
}

// leave records that a caller gave up, and reports whether its change was pending. When nobody is
// left, the batch is abandoned: it stops waiting, and undoes the detachments it asked for that no
// deployment carries out.
func (d *deployer) leave(b *deployBatch, m *member) (pending bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m.gone = true
	if !b.abandoned && !slices.ContainsFunc(b.members, func(m *member) bool { return !m.gone }) {
		b.abandoned = true
		close(b.abandon)
	}
	return m.pending
}

// leftBehind says what a caller that gave up leaves behind: its pending change, and the deployment
// that carries it out if one is known.
func (d *deployer) leftBehind(b *deployBatch, m *member) deployOutcome {
	select {
	case <-m.done:
		return m.outcome
	default:
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return deployOutcome{Deployment: b.running, Pending: m.pending}
}

func (d *deployer) abandoned(b *deployBatch) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return b.abandoned
}

// run gathers the batch, waits for the previous one to end, and has a deployment carry out its
// members' changes.
func (d *deployer) run(ctx context.Context, b *deployBatch) {
	defer d.finish(b)
	d.gather(b)
	if b.prev != nil {
		<-b.prev.done
		b.prev = nil // do not keep the chain of every batch alive
		// The previous batch's members are done, so Terraform starts other resources now:
		// those of this environment should find this batch still gathering.
		d.gather(b)
	}
	ctx, cancel := context.WithTimeout(ctx, sharedDeployTimeout)
	defer cancel()
	// Waiting stops when every member has given up; undoing detachments then must not.
	waitCtx, stopWaiting := context.WithCancel(ctx)
	defer stopWaiting()
	go func() {
		select {
		case <-b.abandon:
			stopWaiting()
		case <-waitCtx.Done():
		}
	}()
	d.close(b)
	d.carryOut(waitCtx, ctx, b)
	// Whatever the outcome, the environment's instances may have changed.
	d.cache.forget(b.environmentID)
}

// gather returns once no member arrived for a window, or maxGatherWindows after it began.
func (d *deployer) gather(b *deployBatch) {
	quiet := time.NewTimer(d.window)
	defer quiet.Stop()
	limit := time.NewTimer(maxGatherWindows * d.window)
	defer limit.Stop()
	for {
		select {
		case <-b.joined:
			quiet.Reset(d.window)
		case <-quiet.C:
			return
		case <-limit.C:
			return
		}
	}
}

// close stops the batch taking members.
func (d *deployer) close(b *deployBatch) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b.closed = true
}

// finish ends every member not finished yet (with errNobodyWaiting: nobody is left to tell), and
// the batch.
func (d *deployer) finish(b *deployBatch) {
	for _, m := range d.pending(b) {
		d.end(m, deployOutcome{}, errNobodyWaiting)
	}
	close(b.done)
	d.mu.Lock()
	if d.last[b.environmentID] == b {
		delete(d.last, b.environmentID)
	}
	d.mu.Unlock()
}

// pending returns the members not finished yet, gone or not.
func (d *deployer) pending(b *deployBatch) []*member {
	var out []*member
	for _, m := range b.members {
		select {
		case <-m.done:
		default:
			out = append(out, m)
		}
	}
	return out
}

func (d *deployer) end(m *member, outcome deployOutcome, err error) {
	d.mu.Lock()
	outcome.Pending = m.pending
	d.mu.Unlock()
	m.outcome, m.err = outcome, err
	close(m.done)
}

// prepare reads each member's instance and sends the request its change waits on, if any: attach
// for a DETACHED instance, which deployments otherwise leave detached, or PENDING_DETACHMENT (which
// cancels the detachment), and detach for an ATTACHED one. An instance that awaits attachment needs
// none: the deployment attaches it. A member whose instance is already as it wants is done without
// a deployment; one that gave up before its turn is left alone. It runs again after a failed
// deployment, which undoes the detachments it was to carry out (rule 3).
func (d *deployer) prepare(ctx context.Context, b *deployBatch) {
	envVars := d.lastDeploymentVariables(ctx, b.environmentID)
	for _, m := range d.pending(b) {
		if m.change.instance == "" {
			continue
		}
		inst, err := d.client.GetServiceInstance(ctx, m.change.instance)
		if err != nil {
			d.end(m, deployOutcome{}, err)
			continue
		}
		if satisfied(inst, m.change, envVars) {
			d.end(m, deployOutcome{Instance: inst}, nil)
			continue
		}
		ask := d.requestFor(inst, m.change)
		d.mu.Lock()
		gone := m.gone
		if !gone {
			// Before the request, which may take effect unseen.
			m.pending = true
			m.asked = m.asked || ask != nil && !m.change.attach
		}
		d.mu.Unlock()
		if gone {
			d.end(m, deployOutcome{Instance: inst}, errNobodyWaiting)
			continue
		}
		if ask == nil {
			continue // a deployment carries it out as it stands
		}
		if err := ask(ctx, inst.UUID); err != nil {
			// A request refused (4xx) changed nothing; one whose answer never came may have.
			var apiErr *divio.APIError
			if errors.As(err, &apiErr) && apiErr.StatusCode < 500 {
				d.mu.Lock()
				m.pending = inst.AwaitsAttachment() && m.change.attach
				d.mu.Unlock()
			}
			d.end(m, deployOutcome{Instance: inst}, err)
			continue
		}
		// Attaching an instance whose detachment was pending cancels it: that may be all the
		// change needs.
		if inst, err = d.client.GetServiceInstance(ctx, inst.UUID); err == nil && satisfied(inst, m.change, envVars) {
			d.end(m, deployOutcome{Instance: inst}, nil)
		}
	}
}

// requestFor returns the request that a change of inst waits on before a deployment carries it out,
// or nil when a deployment carries it out as the instance stands.
func (d *deployer) requestFor(inst *divio.ServiceInstance, change deployChange) func(context.Context, string) error {
	switch {
	case change.attach && (inst.Status == divio.StatusDetached || inst.Status == divio.StatusPendingDetachment):
		return d.client.AttachServiceInstance
	case !change.attach && inst.Status == divio.StatusAttached:
		return d.client.DetachServiceInstance
	}
	return nil
}

// carryOut has the batch's changes carried out: by a deployment already running if it does, else
// by one it starts. It deploys only while a member still needs it. ctx ends when every member has
// given up; undoCtx, for undoing their detachments then and for starting a deployment, does not.
func (d *deployer) carryOut(ctx, undoCtx context.Context, b *deployBatch) {
	// Asking is quick, and a detachment asked for must be known, to be undone if everyone leaves:
	// it does not stop with the waiting. Asking first ends at once the members that need nothing.
	d.prepare(undoCtx, b)
	reaskedAfter := "" // the failed deployment after which the batch last asked again
	for {
		if d.abandoned(b) {
			d.undo(undoCtx, b)
			return
		}
		if len(d.pending(b)) == 0 {
			return
		}
		latest, err := d.latestDeployment(ctx, b.environmentID)
		if err != nil && d.abandoned(b) {
			continue // undone at the top
		}
		if err != nil {
			d.endAll(d.pending(b), deployOutcome{}, err)
			return
		}
		if latest != nil && !latest.Finished() {
			// Another deployment runs: it carries out what awaited it when it started, which may
			// include this batch's changes. Wait, and see which members still need one of their own.
			finished, err := d.follow(ctx, b, latest)
			var failed *divio.DeploymentFailedError
			switch {
			case d.abandoned(b):
				continue // undone at the top
			case err != nil && !errors.As(err, &failed):
				d.endAll(d.pending(b), deployOutcome{Deployment: latest}, err)
				return
			}
			d.settle(ctx, b, finished, false)
			continue
		}
		if latest != nil && latest.Failed() && latest.UUID != reaskedAfter {
			// The last deployment failed, perhaps after the batch asked: it undid the detachments it
			// was to carry out (rule 3). Ask again for what is not in effect.
			d.prepare(undoCtx, b)
			reaskedAfter = latest.UUID
			if len(d.pending(b)) == 0 {
				return
			}
		}
		// Once sent, a deployment carries the changes out, and no leaving caller may undo them: the
		// request is not cut short by everyone leaving.
		started, err := d.client.CreateDeployment(undoCtx, b.environmentID)
		if errors.Is(err, divio.ErrOutcomeUnknown) {
			// The answer was lost: a deployment newer than the one just looked up is this one (or
			// one that started after the requests, which carries them out all the same).
			started, err = d.newerThan(undoCtx, b.environmentID, latest)
			if started == nil && err == nil {
				continue // it did not start: start one
			}
		}
		if errors.Is(err, divio.ErrConflict) {
			continue // one started since the look-up: wait for it instead
		}
		if err != nil {
			d.endAll(d.pending(b), deployOutcome{}, err)
			return
		}
		finished, err := d.follow(ctx, b, started)
		if err != nil {
			d.endAll(d.pending(b), deployOutcome{Deployment: finished}, err)
			return
		}
		d.settle(ctx, b, finished, true)
		for _, m := range d.pending(b) {
			d.end(m, deployOutcome{Deployment: finished}, d.notCarriedOut(m, finished, nil))
		}
		return
	}
}

// latestDeployment returns the environment's newest deployment, asked for as the Divio CLI asks:
// by application and environment.
func (d *deployer) latestDeployment(ctx context.Context, environmentID string) (*divio.Deployment, error) {
	env, err := d.cache.Environment(ctx, environmentID)
	if err != nil {
		return nil, err
	}
	return d.client.LatestDeployment(ctx, divio.DeploymentFilter{Application: env.Application, Environment: environmentID})
}

// newerThan returns the environment's newest deployment if it is not seen, the newest before.
func (d *deployer) newerThan(ctx context.Context, environmentID string, seen *divio.Deployment) (*divio.Deployment, error) {
	latest, err := d.latestDeployment(ctx, environmentID)
	if err != nil || latest == nil || seen != nil && latest.UUID == seen.UUID {
		return nil, err
	}
	return latest, nil
}

func (d *deployer) endAll(members []*member, outcome deployOutcome, err error) {
	for _, m := range members {
		d.end(m, outcome, err)
	}
}

// follow waits for a deployment to end, logging its progress, and records it as the one the batch
// waits for.
func (d *deployer) follow(ctx context.Context, b *deployBatch, dep *divio.Deployment) (*divio.Deployment, error) {
	d.mu.Lock()
	b.running = dep
	d.mu.Unlock()
	reported := -1.0
	return d.client.WaitForDeploymentProgress(ctx, dep.UUID, func(p *divio.Deployment) {
		if p.Percent > reported {
			reported = p.Percent
			tflog.Info(ctx, fmt.Sprintf("Deployment %s of environment %s: %.0f%%", p.UUID, b.environmentID, p.Percent))
		}
	})
}

// settle ends the members whose instance the finished deployment left as they want. A deployment
// wanted for its own sake is settled only by one the batch started (own).
func (d *deployer) settle(ctx context.Context, b *deployBatch, finished *divio.Deployment, own bool) {
	for _, m := range d.pending(b) {
		if m.change.instance == "" {
			if own {
				d.end(m, deployOutcome{Deployment: finished}, nil)
			}
			continue
		}
		inst, err := d.client.GetServiceInstance(ctx, m.change.instance)
		if err != nil {
			d.end(m, deployOutcome{Deployment: finished}, err)
			continue
		}
		if !statusSatisfied(inst, m.change) {
			if own {
				d.end(m, deployOutcome{Deployment: finished, Instance: inst}, d.notCarriedOut(m, finished, inst))
			}
			continue
		}
		d.end(m, deployOutcome{Deployment: finished, Instance: inst}, variablesCheck(inst, m.change, finished))
	}
}

// notCarriedOut is the error of a member that a successful deployment of its own batch did not
// serve; inst is its instance as read after it, if it was.
func (d *deployer) notCarriedOut(m *member, dep *divio.Deployment, inst *divio.ServiceInstance) error {
	if m.change.instance == "" {
		return nil
	}
	return &changeUndoneError{Deployment: dep, ID: m.change.instance, Instance: inst, Attach: m.change.attach}
}

// undo takes back the detachments that a batch everybody left asked for before a deployment of
// its own started: one left behind would be carried out, unasked, by whatever deploys the
// environment next. That includes one whose request failed after it may have been made; not a
// member's whose change is done. Attaching an instance whose detachment is pending cancels it.
func (d *deployer) undo(ctx context.Context, b *deployBatch) {
	ctx, cancel := context.WithTimeout(ctx, undoTimeout)
	defer cancel()
	pending := d.pending(b)
	for _, m := range b.members {
		d.mu.Lock()
		asked := m.asked
		d.mu.Unlock()
		if !asked || !slices.Contains(pending, m) && m.err == nil {
			continue
		}
		if err := d.client.AttachServiceInstance(ctx, m.change.instance); err != nil {
			tflog.Warn(ctx, "Cannot take back the detachment of an instance whose deployment nobody waits for", map[string]any{"instance": m.change.instance, "error": err.Error()})
			continue
		}
		d.mu.Lock()
		m.asked, m.pending = false, false
		d.mu.Unlock()
	}
	d.endAll(pending, deployOutcome{Deployment: b.running}, errNobodyWaiting)
}

// attachedBy returns the deployment that attached an instance, when it is attached and needs no
// deployment for it: the environment's last finished deployment, whose variables are the instance's
// (or, when that is not known, nil with attached true).
func (d *deployer) attachedBy(ctx context.Context, inst *divio.ServiceInstance) (dep *divio.Deployment, attached bool) {
	change := deployChange{instance: inst.UUID, attach: true}
	if !statusSatisfied(inst, change) {
		return nil, false
	}
	last := d.lastDeployment(ctx, inst.Environment)
	if last == nil {
		return nil, true
	}
	return last, satisfied(inst, change, last.EnvironmentVariables)
}

// lastDeploymentVariables returns the names of the variables the environment's last finished
// deployment gave the application, or nil when that is not known.
func (d *deployer) lastDeploymentVariables(ctx context.Context, environmentID string) []string {
	if last := d.lastDeployment(ctx, environmentID); last != nil {
		return last.EnvironmentVariables
	}
	return nil
}

// lastDeployment returns the environment's last finished deployment when it succeeded, or nil when
// that is not known. The deployment is read by its uuid, which is all of last_finished_deployment
// that the Divio CLI relies on.
func (d *deployer) lastDeployment(ctx context.Context, environmentID string) *divio.Deployment {
	env, err := d.client.GetEnvironment(ctx, environmentID)
	if err != nil || env.LastFinishedDeployment == nil {
		return nil
	}
	last, err := d.client.GetDeployment(ctx, env.LastFinishedDeployment.UUID)
	if err != nil || !last.Finished() || last.Failed() {
		return nil
	}
	return last
}

// statusSatisfied reports whether an instance's status is as the change wants. An instance that
// awaits attachment is not attached: a detachment needs nothing of it, although the environment's
// next deployment attaches it (the attachment's Delete says so).
func statusSatisfied(inst *divio.ServiceInstance, change deployChange) bool {
	if change.attach {
		return inst.Status == divio.StatusAttached
	}
	return !inst.InUse()
}

// satisfied reports whether an instance needs no deployment for the change: its status is as
// wanted and, for an attachment, the application got its variables from the last deployment when
// that is known (an instance that reads ATTACHED without them is deployed again).
func satisfied(inst *divio.ServiceInstance, change deployChange, lastVariables []string) bool {
	if !statusSatisfied(inst, change) {
		return false
	}
	return !change.attach || lastVariables == nil || missingVariables(inst, lastVariables) == nil
}

// missingVariables returns the names of the instance's variables that are not among names.
func missingVariables(inst *divio.ServiceInstance, names []string) []string {
	var missing []string
	for _, n := range divio.VariableNames(inst.Type, inst.Prefix) {
		if !slices.Contains(names, n) {
			missing = append(missing, n)
		}
	}
	return missing
}

// variablesCheck confirms a change by the variables the deployment gave the application, when the
// API lists them: an attached instance's are there, a detached one's are gone.
func variablesCheck(inst *divio.ServiceInstance, change deployChange, dep *divio.Deployment) error {
	if dep == nil || dep.EnvironmentVariables == nil {
		return nil
	}
	if change.attach {
		if missing := missingVariables(inst, dep.EnvironmentVariables); len(missing) > 0 {
			return &variablesMissingError{Deployment: dep, Instance: inst, Missing: missing}
		}
		return nil
	}
	var left []string
	for _, n := range divio.VariableNames(inst.Type, inst.Prefix) {
		if slices.Contains(dep.EnvironmentVariables, n) {
			left = append(left, n)
		}
	}
	if len(left) > 0 {
		return &variablesMissingError{Deployment: dep, Instance: inst, Missing: left, Detached: true}
	}
	return nil
}

// variablesMissingError reports an instance that reads as the change wants, whose variables the
// deployment did not give the application (or, detached, did not take away).
type variablesMissingError struct {
	Deployment *divio.Deployment
	Instance   *divio.ServiceInstance
	Missing    []string
	Detached   bool
}

func (e *variablesMissingError) Error() string {
	if e.Detached {
		return fmt.Sprintf("service instance %s reads %s, but deployment %s still gave the application its variables %v",
			e.Instance.UUID, e.Instance.Status, e.Deployment.UUID, e.Missing)
	}
	return fmt.Sprintf("service instance %s reads %s, but deployment %s did not give the application its variables %v",
		e.Instance.UUID, e.Instance.Status, e.Deployment.UUID, e.Missing)
}

// changeUndoneError reports a change that a successful deployment of the batch did not carry out.
type changeUndoneError struct {
	Deployment *divio.Deployment
	ID         string
	Instance   *divio.ServiceInstance // as read after the deployment, if it was
	Attach     bool
}

func (e *changeUndoneError) Error() string {
	what := "detached"
	if e.Attach {
		what = "attached"
	}
	msg := fmt.Sprintf("deployment %s succeeded, but service instance %s was not %s", e.Deployment.UUID, e.ID, what)
	switch {
	case e.Instance == nil:
		return msg
	case e.Attach && (e.Instance.Status == divio.StatusNew || e.Instance.Status == divio.StatusProvisioning):
		return msg + fmt.Sprintf(": it is %s, and the deployment could not attach it before its provisioning finished (see the deployment's log); the environment's next deployment attaches it", e.Instance.Status)
	case e.Attach && e.Instance.AwaitsAttachment():
		return msg + fmt.Sprintf(": it is %s, which it became after the deployment had started (a deployment attaches what awaits attachment when it starts); the environment's next deployment attaches it", e.Instance.Status)
	}
	return msg + fmt.Sprintf(": it is %s; it was probably changed outside Terraform while the environment deployed", e.Instance.Status)
}
