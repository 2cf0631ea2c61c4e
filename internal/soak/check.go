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
	// Attachments are divio_service_attachments in the state whose instance is not ATTACHED, and
	// instances ATTACHED, marked for attachment or detaching without one.
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
// applied. It must run while no apply is under way and with faults off, so that what it reads is
// settled.
func Check(cfg Config, state *tfjson.State, instances []simulator.Instance) Findings {
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
	for _, id := range slices.Sorted(maps.Keys(live)) {
		in := live[id]
		inUse := in.Status == simulator.StatusAttached || in.Status == simulator.StatusPendingDetachment || in.AttachRequested
		if _, ok := attached[id]; !ok && inUse {
			f.add(&f.Attachments, "instance %s (%s %s) is %s (attach requested %t) but no attachment in the state holds it", id, in.Type, in.Prefix, in.Status, in.AttachRequested)
		}
	}

	checkConfig(&f, cfg, services, attachments, live)
	return f
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
	Added      []string // variables it gave the application
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
		out = append(out, AuditedDeployment{Deployment: d, Added: without(now, before), Removed: without(before, now), Planned: planned(d.UUID)})
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

// AccidentalDetachments returns the attachments configured both before and after a cycle whose
// variables one of the deployments took away.
func AccidentalDetachments(before, after Config, audited []AuditedDeployment) []string {
	var found []string
	for _, s := range after.Services {
		prev, existed := before.find(s.Name)
		if !existed || !prev.Attached || !s.Attached || prev.key() != s.key() {
			continue
		}
		for _, a := range audited {
			if a.Deployment.Environment == Environments[s.Env].ID() && slices.ContainsFunc(s.VariableNames(), func(n string) bool { return slices.Contains(a.Removed, n) }) {
				found = append(found, fmt.Sprintf("deployment %s detached %s (%s %s), which stayed attached in the configuration", a.Deployment.UUID, s.Name, s.Service, s.Prefix))
			}
		}
	}
	return found
}
