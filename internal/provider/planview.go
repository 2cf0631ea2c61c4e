package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

// planView is this provider process's view of the plan Terraform is making or applying: what each
// resource of the provider plans, recorded as Terraform asks for each plan. Terraform plans every
// resource on its own, in parallel, ordered only by references; so a check that spans resources (two
// claims on one prefix, an attachment removed with its service, a replacement that keeps its
// instance) cannot be made by one resource alone, and asks here instead.
//
// Terraform configures the provider anew for every walk (plan, apply), and each Configure makes a new
// planView; so a plan and the apply that re-plans it never see each other's records, even in one
// process (as in acceptance tests). Within a walk a resource is planned once, but for a replacement,
// which the framework plans first against its prior state (recorded as replaced) and then as a create:
// the checks accept that create as the replacement of the instance it removes first.
//
// What Terraform guarantees about order, and the checks rely on:
//   - a resource is refreshed (Read) just before it is planned, in the same graph node, so a create
//     planned right after a Read of an instance with its prefix is that resource replacing its own
//     (tainted) instance;
//   - the plan of a destroyed divio_service_attachment comes before the plan of destroying the
//     divio_service it references (destroy edges follow the state's dependencies).
type planView struct {
	mu          sync.Mutex
	instances   map[string]*plannedInstance   // by instance id
	creates     map[instanceKey][]string      // services planned as new instances, by key
	attachments map[string]*plannedAttachment // by instance id
	slots       map[slotKey]*slotUse
	deploying   map[string]bool // environments this walk plans to deploy, once reported
	upgrades    map[string]bool // new instances of upgrades this walk plans to finish: theirs to attach
	// recorded is closed, and replaced, whenever an instance's or an attachment's plan is
	// recorded, for the checks that wait for other resources' plans (awaitUncovered).
	recorded chan struct{}
}

// instanceKey is what Divio keeps unique: one instance per environment, type and prefix.
type instanceKey struct {
	environment, serviceType, prefix string
}

// instanceFate is what the plan does with an existing instance, as far as this walk knows.
type instanceFate int

const (
	// fateManaged: a divio_service read it, so it is in this configuration's state; its plan is
	// not known yet.
	fateManaged  instanceFate = iota + 1
	fateKept                  // planned to stay: no change, or an update
	fateReplaced              // planned to be replaced: removed before its replacement is added
	fateRemoved               // planned to be destroyed
)

type plannedInstance struct {
	key     instanceKey
	service string // catalog uuid
	fate    instanceFate
}

type plannedAttachment struct {
	attaches int  // attachments planned to keep it or to attach it
	detached bool // an attachment of it is planned to be destroyed
	// detaching is closed once detached is set, for awaitDetachment.
	detaching chan struct{}
}

func newPlanView() *planView {
	return &planView{
		instances:   map[string]*plannedInstance{},
		creates:     map[instanceKey][]string{},
		attachments: map[string]*plannedAttachment{},
		slots:       map[slotKey]*slotUse{},
		deploying:   map[string]bool{},
		upgrades:    map[string]bool{},
		recorded:    make(chan struct{}),
	}
}

// notifyLocked wakes the checks waiting for another resource's plan; v.mu is held.
func (v *planView) notifyLocked() {
	close(v.recorded)
	v.recorded = make(chan struct{})
}

// sawInstance records an instance that a divio_service read: it is in this configuration's state.
func (v *planView) sawInstance(id string, key instanceKey, service string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, known := v.instances[id]; !known {
		v.instances[id] = &plannedInstance{key: key, service: service, fate: fateManaged}
		v.notifyLocked()
	}
}

// awaitKnown reports whether a resource of this configuration has instance id (it was read or
// planned), giving its refresh up to patience to arrive: Terraform refreshes each resource just
// before it plans it, in parallel with the others, so a create may be planned before the resource
// that holds its prefix is read.
func (v *planView) awaitKnown(ctx context.Context, id string, patience time.Duration) bool {
	timer := time.NewTimer(patience)
	defer timer.Stop()
	for {
		v.mu.Lock()
		_, known := v.instances[id]
		recorded := v.recorded
		v.mu.Unlock()
		if known {
			return true
		}
		select {
		case <-recorded:
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// planInstance records what the plan does with an existing instance, and reports whether that is
// news: the first time the instance is recorded with fate.
func (v *planView) planInstance(id string, key instanceKey, service string, fate instanceFate) (changed bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	prev := v.instances[id]
	v.instances[id] = &plannedInstance{key: key, service: service, fate: fate}
	v.notifyLocked()
	return prev == nil || prev.fate != fate
}

// holderFate says what the plan does with the existing instance id, which holds the key that a
// create wants; known is false when no resource of this configuration has it. An instance that was
// read but not planned since is the creating resource's own, which Terraform replaces because it is
// tainted or was asked to (-replace): it is then recorded as replaced, and ownReplaced is true.
func (v *planView) holderFate(id string) (fate instanceFate, known, ownReplaced bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	in, known := v.instances[id]
	if !known {
		return 0, false, false
	}
	if in.fate == fateManaged {
		in.fate = fateReplaced
		return fateReplaced, true, true
	}
	return in.fate, true, false
}

// keep records an existing instance planned to stay, and returns the services of the creates this
// walk planned for its key: each would need the prefix that the kept instance holds.
func (v *planView) keep(id string, key instanceKey) (claimedBy []string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	in := v.instances[id]
	if in == nil {
		in = &plannedInstance{key: key}
		v.instances[id] = in
	}
	in.fate = fateKept
	return append(claimedBy, v.creates[in.key]...)
}

// claimKey records a create planned for key and returns the services of the creates planned for
// the same key before it in this walk: Divio keeps one instance per key.
func (v *planView) claimKey(key instanceKey, service string) (earlier []string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	earlier = append(earlier, v.creates[key]...)
	v.creates[key] = append(v.creates[key], service)
	return earlier
}

// createEnvironments returns the environments of the instances this walk has planned to add so far.
func (v *planView) createEnvironments() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var envs []string
	for key := range v.creates {
		if !slices.Contains(envs, key.environment) {
			envs = append(envs, key.environment)
		}
	}
	return envs
}

func (v *planView) attachment(id string) *plannedAttachment {
	a := v.attachments[id]
	if a == nil {
		a = &plannedAttachment{detaching: make(chan struct{})}
		v.attachments[id] = a
	}
	return a
}

// planAttachment records an attachment planned to keep or attach instance id, and reports what else
// the plan does with attachments of it: others is how many other attachments of it it keeps or adds,
// detached whether it destroys one.
func (v *planView) planAttachment(id string) (others int, detached bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	a := v.attachment(id)
	others = a.attaches
	a.attaches++
	v.notifyLocked()
	return others, a.detached
}

// planDetachment records an attachment of instance id planned to be destroyed, and reports how many
// attachments of it the plan keeps or adds.
func (v *planView) planDetachment(id string) (attaches int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	a := v.attachment(id)
	if !a.detached {
		a.detached = true
		close(a.detaching)
	}
	return a.attaches
}

// awaitDetachment reports whether the plan destroys an attachment of instance id, waiting up to
// patience for that plan to arrive. Terraform plans a destroyed attachment before the service it
// references when it destroys everything (terraform destroy), but in a normal plan the two removed
// resources may be planned together, in either order; the wait bounds how long the service's plan
// gives the attachment's to catch up.
func (v *planView) awaitDetachment(ctx context.Context, id string, patience time.Duration) bool {
	v.mu.Lock()
	a := v.attachment(id)
	detached, detaching := a.detached, a.detaching
	v.mu.Unlock()
	if detached {
		return true
	}
	timer := time.NewTimer(patience)
	defer timer.Stop()
	select {
	case <-detaching:
		return true
	case <-timer.C:
	case <-ctx.Done():
	}
	return false
}

// slotKey is one service (catalog uuid) of one application's subscription: the instances of an
// application's environments share its slots (the contract's Details).
type slotKey struct{ application, service string }

// slotUse counts what this walk plans and does with the instances of one service of a subscription,
// so that the creates of one plan are counted against the free instances together, also when the
// apply walk re-plans them while it adds and removes instances.
type slotUse struct {
	planned   int // creates planned
	replacing int // instances planned to be replaced: each is removed before its replacement is added
	created   int // instances added by this walk
	removed   int // instances removed by this walk
	// free is what the API said was left when first asked, and created and removed were then.
	free                   *int
	createdAt0, removedAt0 int
}

func (v *planView) slot(k slotKey) *slotUse {
	s := v.slots[k]
	if s == nil {
		s = &slotUse{}
		v.slots[k] = s
	}
	return s
}

// claimSlot records a create planned for k and reports whether the subscription has room for every
// create of k this walk planned and has not carried out yet. freeNow is what the API says is left.
func (v *planView) claimSlot(k slotKey, freeNow int) (pending, free int, ok bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	s := v.slot(k)
	if s.free == nil {
		// The API's count already reflects what this walk did before asking; later changes are
		// counted from here on.
		s.free, s.createdAt0, s.removedAt0 = &freeNow, s.created, s.removed
	}
	s.planned++
	free = *s.free - (s.created - s.createdAt0) + (s.removed - s.removedAt0) + max(0, s.replacing-s.removed)
	pending = s.planned - s.created
	return pending, free, pending <= free
}

// replacing records an instance of k planned to be replaced: its removal frees a slot for its
// replacement.
func (v *planView) replacing(k slotKey) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.slot(k).replacing++
}

// added and removedInstance record what the apply walk did, for claimSlot.
func (v *planView) added(k slotKey) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.slot(k).created++
}

func (v *planView) removedInstance(k slotKey) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.slot(k).removed++
}

// upgradeInto records the new instance of an upgrade that an apply cut short added: the upgrade
// attaches it in place of the old one, so it is no instance that a deployment attaches unasked.
func (v *planView) upgradeInto(id string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.upgrades[id] = true
	v.notifyLocked()
}

// deploys records that this walk plans a deployment of an environment, and reports whether it is the
// first resource to say so: that one reports what the deployment attaches unasked.
func (v *planView) deploys(environmentID string) (first bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	first = !v.deploying[environmentID]
	v.deploying[environmentID] = true
	return first
}

// awaitUncovered returns, of the instances ids, those that no attachment of the plan keeps or adds
// and that the plan neither removes nor replaces, giving the plans of other resources up to patience
// to arrive: Terraform plans unrelated resources in parallel, in no set order.
func (v *planView) awaitUncovered(ctx context.Context, ids []string, patience time.Duration) []string {
	timer := time.NewTimer(patience)
	defer timer.Stop()
	for {
		v.mu.Lock()
		var uncovered []string
		for _, id := range ids {
			if !v.coveredLocked(id) {
				uncovered = append(uncovered, id)
			}
		}
		recorded := v.recorded
		v.mu.Unlock()
		if len(uncovered) == 0 {
			return nil
		}
		select {
		case <-recorded:
		case <-timer.C:
			return uncovered
		case <-ctx.Done():
			return uncovered
		}
	}
}

func (v *planView) coveredLocked(id string) bool {
	if a := v.attachments[id]; (a != nil && a.attaches > 0) || v.upgrades[id] {
		return true
	}
	in := v.instances[id]
	return in != nil && (in.fate == fateRemoved || in.fate == fateReplaced)
}

// attachPatience is how long the first plan of an environment's deployment waits for the plans of
// attachments of the instances the deployment would attach unasked (awaitUncovered): unrelated
// resources are planned together, so they come within milliseconds if they come.
const attachPatience = time.Second

// warnUnaskedAttachments warns, once per environment and walk, about the instances that a deployment
// this plan starts (for the reason given) attaches although no divio_service_attachment of the
// configuration covers them: Divio's deployments attach every instance of the environment that awaits
// attachment, whoever starts them (the contract's rule 1). A divio_service created in the same apply
// is named by the plan made again during the apply, once it exists: before, no plan can tell which
// attachment, if any, refers to it.
func (d *providerData) warnUnaskedAttachments(ctx context.Context, environmentID, reason string, diags *diag.Diagnostics) {
	if !d.plan.deploys(environmentID) {
		return
	}
	instances, err := d.cache.Instances(ctx, environmentID)
	if err != nil {
		return // the deployment's own checks report the API's failure
	}
	awaiting := map[string]*divio.ServiceInstance{}
	var ids []string
	for i := range instances {
		if instances[i].AwaitsAttachment() {
			awaiting[instances[i].UUID] = &instances[i]
			ids = append(ids, instances[i].UUID)
		}
	}
	uncovered := d.plan.awaitUncovered(ctx, ids, attachPatience)
	if len(uncovered) == 0 {
		return
	}
	labels := make([]string, 0, len(uncovered))
	for _, id := range uncovered {
		inst := awaiting[id]
		labels = append(labels, fmt.Sprintf("  - %s (%s, variables %s)", d.cache.InstanceLabel(ctx, inst), inst.Status,
			strings.Join(divio.VariableNames(inst.Type, inst.Prefix), ", ")))
	}
	diags.AddWarning("Deployment attaches services that no attachment covers",
		fmt.Sprintf("This plan deploys environment %s (%s). Divio's deployments attach every service instance of the environment that awaits attachment, whoever starts them, "+
			"so this deployment also attaches these, which no divio_service_attachment of this configuration covers:\n\n%s\n\n"+
			"The application receives their environment variables from then on. If that is intended, add a divio_service_attachment for each, so that the configuration says so. "+
			"If not, remove them (their divio_service) before this deployment: an instance that awaits attachment cannot be detached.",
			d.cache.EnvironmentLabel(ctx, environmentID), reason, strings.Join(labels, "\n")))
}
