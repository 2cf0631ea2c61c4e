package soak

import (
	"fmt"
	"maps"
	"slices"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/divio/terraform-provider-divio/internal/simulator"
)

// Findings is what a check found wrong, counted by kind, with a line per problem.
type Findings struct {
	// Duplicates are instances beyond the first for one (environment, type, prefix), and ids held
	// by two resources of the state.
	Duplicates int
	// Orphans are instances that are not REMOVED but that no divio_service in the state holds:
	// Terraform forgot them, and they would stay, paid for, for ever.
	Orphans int
	// Ghosts are ids in the state whose instance is REMOVED or never existed.
	Ghosts int
	// Attachments are instances whose use by the application disagrees with the configuration and
	// the state. Divio's deployments attach every instance of their environment that awaits
	// attachment, whoever starts them, and never one that was detached (the contract's rule 1); so,
	// once an apply has converged:
	//   - a divio_service_attachment in the state holds an ATTACHED instance: one NEW, PROVISIONING,
	//     PENDING_ATTACHMENT, PENDING_DETACHMENT or DETACHED is an attachment the apply did not carry
	//     out (a DETACHED one, an accidental detachment), and one REMOVED or gone is lost;
	//   - a configured divio_service without an attachment in the configuration holds an instance
	//     that awaits attachment (NEW, PROVISIONING, PENDING_ATTACHMENT) or that a deployment attached
	//     by that rule (ATTACHED), as long as the configuration never took an attachment of it away.
	//     Once it has (Detachments), the instance must be DETACHED: still in use, the detachment was
	//     lost. Without such a detachment, PENDING_DETACHMENT or DETACHED means that something detached
	//     it unasked;
	//   - a configured divio_service whose configured attachment is not in the state holds no instance
	//     in use: the attachment was destroyed, or never recorded, while the application uses it (the
	//     missing attachment is Drift too).
	// Instances that no configured divio_service holds are judged as orphans or drift only.
	Attachments int
	// Drift is a configured resource missing from the state, a resource in the state that is not
	// configured, or an instance that does not match its configuration.
	Drift    int
	Problems []string
}

// Total is the number of problems found.
func (f Findings) Total() int { return f.Duplicates + f.Orphans + f.Ghosts + f.Attachments + f.Drift }

func (f *Findings) add(count *int, format string, args ...any) {
	*count++
	f.Problems = append(f.Problems, fmt.Sprintf(format, args...))
}

// stateIDs returns the id of every managed resource of type typ in the state, by resource name;
// deposed objects get their own entry, since each holds an instance too.
func stateIDs(state *tfjson.State, typ string) map[string]string {
	ids := map[string]string{}
	if state == nil || state.Values == nil || state.Values.RootModule == nil {
		return ids
	}
	for _, r := range state.Values.RootModule.Resources {
		if r.Mode != tfjson.ManagedResourceMode || r.Type != typ {
			continue
		}
		id, _ := r.AttributeValues["id"].(string)
		name := r.Name
		if r.DeposedKey != "" {
			name += " (deposed " + r.DeposedKey + ")"
		}
		ids[name] = id
	}
	return ids
}

// Check compares what the simulator holds with Terraform's state and the configuration that was
// applied; detached is what the configuration detached before. It must run while no apply is under
// way and with faults off, so that what it reads is settled.
func Check(cfg Config, state *tfjson.State, instances []simulator.Instance, detached *Detachments) Findings {
	var f Findings
	live := map[string]simulator.Instance{}
	perKey := map[string][]string{}
	for _, in := range instances {
		if in.Status == simulator.StatusRemoved {
			continue
		}
		live[in.UUID] = in
		key := in.Environment + "/" + in.Type + "/" + in.Prefix
		perKey[key] = append(perKey[key], in.UUID)
	}
	for _, key := range slices.Sorted(maps.Keys(perKey)) {
		if ids := perKey[key]; len(ids) > 1 {
			f.add(&f.Duplicates, "%d instances for %s: %v", len(ids), key, ids)
		}
	}

	services := stateIDs(state, "divio_service")
	attachments := stateIDs(state, "divio_service_attachment")
	holders := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(services)) {
		id := services[name]
		if other, held := holders[id]; held {
			f.add(&f.Duplicates, "divio_service.%s and divio_service.%s both hold instance %s", other, name, id)
		}
		holders[id] = name
		if _, ok := live[id]; !ok {
			f.add(&f.Ghosts, "divio_service.%s holds instance %s, which does not exist or is REMOVED", name, id)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(live)) {
		if _, held := holders[id]; !held {
			in := live[id]
			f.add(&f.Orphans, "instance %s (%s %s, %s) in environment %s is in no divio_service of the state", id, in.Type, in.Prefix, in.Status, in.Environment)
		}
	}

	attached := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(attachments)) {
		id := attachments[name]
		attached[id] = name
		if in, ok := live[id]; !ok || in.Status != simulator.StatusAttached {
			f.add(&f.Attachments, "divio_service_attachment.%s holds instance %s, which is %s", name, id, statusOf(live, id))
		}
	}
	for _, s := range cfg.Services {
		id, ok := services[s.Name]
		in, isLive := live[id]
		if _, held := attached[id]; !ok || !isLive || held {
			continue
		}
		inUse := in.Status == simulator.StatusAttached || in.Status == simulator.StatusPendingDetachment
		switch {
		case s.Attached && inUse:
			f.add(&f.Attachments, "instance %s of divio_service.%s (%s %s) is %s, but its configured attachment is not in the state", id, s.Name, in.Type, in.Prefix, in.Status)
		case s.Attached:
			// Awaiting attachment, its attachment not recorded: Drift says so.
		case detached.detachedNow(id, attached) && in.Status != simulator.StatusDetached:
			f.add(&f.Attachments, "instance %s of divio_service.%s (%s %s) is %s, but the configuration took its attachment away", id, s.Name, in.Type, in.Prefix, in.Status)
		case !detached.detachedNow(id, attached) && (in.Status == simulator.StatusDetached || in.Status == simulator.StatusPendingDetachment):
			f.add(&f.Attachments, "instance %s of divio_service.%s (%s %s) is %s, but the configuration never took an attachment of it away: it was detached unasked", id, s.Name, in.Type, in.Prefix, in.Status)
		}
	}

	checkConfig(&f, cfg, services, attachments, live)
	checkDeployments(&f, cfg, stateIDs(state, "divio_deployment"))
	return f
}

// checkDeployments compares the configuration's divio_deployments with the state's.
func checkDeployments(f *Findings, cfg Config, deployments map[string]string) {
	configured := map[string]bool{}
	for _, env := range cfg.Deployments() {
		name := Environments[env].dataName()
		configured[name] = true
		if _, ok := deployments[name]; !ok {
			f.add(&f.Drift, "divio_deployment.%s is configured but not in the state", name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(deployments)) {
		if !configured[name] {
			f.add(&f.Drift, "divio_deployment.%s is in the state but not configured", name)
		}
	}
}

// checkConfig compares the configuration with the state and the instances it names.
func checkConfig(f *Findings, cfg Config, services, attachments map[string]string, live map[string]simulator.Instance) {
	configured := map[string]bool{}
	for _, s := range cfg.Services {
		configured[s.Name] = true
		id, ok := services[s.Name]
		if !ok {
			f.add(&f.Drift, "divio_service.%s is configured but not in the state", s.Name)
			continue
		}
		if in, ok := live[id]; ok {
			env := Environments[s.Env]
			if in.Environment != env.ID() || in.Service != simulator.ServiceID(s.Service) || in.Prefix != s.Prefix {
				f.add(&f.Drift, "divio_service.%s is configured as %s %s on %s but instance %s is service %s prefix %s in environment %s",
					s.Name, s.Service, s.Prefix, env, id, in.Service, in.Prefix, in.Environment)
			}
		}
		attachmentID, hasAttachment := attachments[s.Name]
		switch {
		case s.Attached && !hasAttachment:
			f.add(&f.Drift, "divio_service_attachment.%s is configured but not in the state", s.Name)
		case !s.Attached && hasAttachment:
			f.add(&f.Drift, "divio_service_attachment.%s is in the state but not configured", s.Name)
		case hasAttachment && attachmentID != id:
			f.add(&f.Drift, "divio_service_attachment.%s holds instance %s, not divio_service.%s's %s", s.Name, attachmentID, s.Name, id)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(services)) {
		if !configured[name] {
			f.add(&f.Drift, "divio_service.%s is in the state but not configured", name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(attachments)) {
		if !configured[name] {
			f.add(&f.Drift, "divio_service_attachment.%s is in the state but its service is not configured", name)
		}
	}
}

// Detachments remembers, from one check to the next, the instances whose attachment the
// configuration took away while keeping their divio_service: Divio's deployments never attach a
// DETACHED instance again, so each must stay DETACHED until an attachment holds it again. Only an
// attachment that held an ATTACHED instance at a check counts: destroying one whose instance still
// awaited attachment detaches nothing, and the environment's next deployment attaches it.
type Detachments struct {
	held     map[string]bool // instances held by an attachment and ATTACHED at the last check
	detached map[string]bool // instances whose attachment the configuration destroyed since
}

// detachedNow reports whether the configuration has taken the attachment of instance id away, given
// the attachments now in the state (by instance).
func (d *Detachments) detachedNow(id string, attached map[string]string) bool {
	if d == nil {
		return false
	}
	_, held := attached[id]
	return !held && (d.detached[id] || d.held[id])
}

// Observe records the state and the instances as a check saw them.
func (d *Detachments) Observe(state *tfjson.State, instances []simulator.Instance) {
	status := map[string]string{}
	for _, in := range instances {
		status[in.UUID] = in.Status
	}
	attached := map[string]string{}
	for name, id := range stateIDs(state, "divio_service_attachment") {
		attached[id] = name
	}
	detached := map[string]bool{}
	for id := range d.held {
		if d.detachedNow(id, attached) {
			detached[id] = true
		}
	}
	for id := range d.detached {
		if d.detachedNow(id, attached) {
			detached[id] = true
		}
	}
	held := map[string]bool{}
	for id := range attached {
		if status[id] == simulator.StatusAttached {
			held[id] = true
		}
	}
	for id := range detached {
		if s, ok := status[id]; !ok || s == simulator.StatusRemoved {
			delete(detached, id)
		}
	}
	d.held, d.detached = held, detached
}

// AttachedByRule returns the configured services without an attachment whose instance a deployment
// attached (Divio's rule), by instance id.
func AttachedByRule(cfg Config, state *tfjson.State, instances []simulator.Instance) map[string]string {
	services := stateIDs(state, "divio_service")
	status := map[string]string{}
	for _, in := range instances {
		status[in.UUID] = in.Status
	}
	out := map[string]string{}
	for _, s := range cfg.Services {
		if id, ok := services[s.Name]; ok && !s.Attached && status[id] == simulator.StatusAttached {
			out[id] = s.Name
		}
	}
	return out
}

func statusOf(live map[string]simulator.Instance, id string) string {
	if in, ok := live[id]; ok {
		return in.Status
	}
	return "gone"
}

// DeploymentAudit follows an environment's successful deployments from one check to the next, and
// tells what each changed: a deployment restarts the application, so one that gives it the same
// variables as the deployment before changed nothing and should not have run, and one that takes
// away the variables of an attachment that stayed in the configuration detached it by accident.
type DeploymentAudit struct {
	seen map[string]bool     // deployments audited
	last map[string][]string // environment -> variables of its last successful deployment
}

// AuditedDeployment is what a successful deployment changed.
type AuditedDeployment struct {
	Deployment simulator.Deployment
	Variables  []string // every variable it gave the application
	Added      []string // variables it gave the application that the deployment before did not
	Removed    []string // variables it took away
	Planned    int      // instances it was to attach or detach when it started
}

// Idle reports a deployment that had nothing to do and changed nothing: one that should not have
// run. (One with work planned that an injected fault kept from doing it, such as a stalled
// provisioning, was not idle.)
func (a AuditedDeployment) Idle() bool {
	return a.Planned == 0 && len(a.Added) == 0 && len(a.Removed) == 0
}

// Audit returns what each successful deployment not audited before changed, oldest first;
// variables gives the names of the variables a deployment gave the application, planned how many
// instances it was to attach or detach. Failed deployments change nothing by design and are left out.
func (a *DeploymentAudit) Audit(deployments []simulator.Deployment, variables func(id string) []string, planned func(id string) int) []AuditedDeployment {
	if a.seen == nil {
		a.seen, a.last = map[string]bool{}, map[string][]string{}
	}
	var out []AuditedDeployment
	for _, d := range deployments {
		if a.seen[d.UUID] || d.EndedAt == nil {
			continue
		}
		a.seen[d.UUID] = true
		if d.Status != simulator.DeploymentSuccess {
			continue
		}
		before, now := a.last[d.Environment], variables(d.UUID)
		out = append(out, AuditedDeployment{Deployment: d, Variables: now, Added: without(now, before), Removed: without(before, now), Planned: planned(d.UUID)})
		a.last[d.Environment] = now
	}
	return out
}

// without returns the names of a that are not in b.
func without(a, b []string) []string {
	var out []string
	for _, n := range a {
		if !slices.Contains(b, n) {
			out = append(out, n)
		}
	}
	return out
}

// VariableNames are the names of the variables an attached service gives its application.
func (s Service) VariableNames() []string {
	suffix := map[string]string{simulator.TypeDatabase: "_DATABASE_DSN", simulator.TypeStorage: "_STORAGE_DSN",
		simulator.TypeSearch: "_HAYSTACK_URL", simulator.TypeMessageQueue: "_AMQP_BROKER_URL"}[ServiceTypes[s.Service]]
	names := []string{s.Prefix + suffix}
	if ServiceTypes[s.Service] == simulator.TypeDatabase && s.Prefix == "DEFAULT" {
		names = append(names, "DATABASE_URL")
	}
	return names
}

// AccidentalDetachments returns the services kept by a cycle, with the same service and prefix,
// whose variables one of its deployments took away although the cycle did not take an attachment
// of them away: attachments configured all along, and services without one that a deployment
// attached by Divio's rule (no deployment may detach those either). A service replaced by the cycle
// is left out: its old instance is detached and removed.
func AccidentalDetachments(before, after Config, audited []AuditedDeployment) []string {
	var found []string
	for _, s := range after.Services {
		prev, existed := before.find(s.Name)
		if !existed || prev.Service != s.Service || prev.Prefix != s.Prefix || prev.Attached && !s.Attached {
			continue
		}
		for _, a := range audited {
			if a.Deployment.Environment == Environments[s.Env].ID() && slices.ContainsFunc(s.VariableNames(), func(n string) bool { return slices.Contains(a.Removed, n) }) {
				how := "which stayed attached in the configuration"
				if !s.Attached {
					how = "which has no attachment, and which no attachment of the configuration detached"
				}
				found = append(found, fmt.Sprintf("deployment %s detached %s (%s %s), %s", a.Deployment.UUID, s.Name, s.Service, s.Prefix, how))
			}
		}
	}
	return found
}

// LostVariables returns the successful deployments of a cycle that left the application without
// the variables of a service that it used before the cycle and that the cycle upgraded or renamed
// without taking its attachment away: an upgrade swaps the old instance for the new one in one
// deployment, so every deployment gives the prefix's variables, from the one or the other; a
// rename does not deploy, so a deployment gives the old names or, after the rename, the new ones.
// inUse are the services the application used before the cycle: with an attachment, or attached
// by a deployment without one (Divio's rule). Services kept as they were are AccidentalDetachments'.
func LostVariables(before, after Config, inUse map[string]bool, audited []AuditedDeployment) []string {
	var found []string
	for _, s := range after.Services {
		prev, existed := before.find(s.Name)
		switch {
		case !existed || !inUse[s.Name] || engine(prev.Service) != engine(s.Service): // new, unused, or replaced
			continue
		case prev.Service == s.Service && prev.Prefix == s.Prefix: // kept as it was
			continue
		case prev.Attached && !s.Attached: // the configuration detached it
			continue
		}
		for _, a := range audited {
			if a.Deployment.Environment != Environments[s.Env].ID() {
				continue
			}
			has := func(names []string) bool {
				return !slices.ContainsFunc(names, func(n string) bool { return !slices.Contains(a.Variables, n) })
			}
			if !has(prev.VariableNames()) && !has(s.VariableNames()) {
				found = append(found, fmt.Sprintf("deployment %s gave the application %v, without the variables of %s (%s %s, before the cycle %s %s), which it used and still uses",
					a.Deployment.UUID, a.Variables, s.Name, s.Service, s.Prefix, prev.Service, prev.Prefix))
			}
		}
	}
	return found
}

// TemporaryVariables returns the variables under an upgrade's temporary prefix that a deployment gave
// the application: a deployment that ran while an upgrade's new instance awaited attachment attached
// it (Divio's rule), or one that ran between the renames and the swap. Harmless, and reported apart.
func TemporaryVariables(audited []AuditedDeployment) []string {
	var found []string
	for _, a := range audited {
		for _, n := range a.Variables {
			if temporary(n) {
				found = append(found, fmt.Sprintf("deployment %s of environment %s gave the application %s", a.Deployment.UUID, a.Deployment.Environment, n))
			}
		}
	}
	return found
}
