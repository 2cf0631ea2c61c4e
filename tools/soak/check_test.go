package soak

import (
	"reflect"
	"strings"
	"testing"
	"time"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/divio/terraform-provider-divio/internal/simulator"
)

func stateOf(resources ...*tfjson.StateResource) *tfjson.State {
	return &tfjson.State{Values: &tfjson.StateValues{RootModule: &tfjson.StateModule{Resources: resources}}}
}

func managed(typ, name, id string) *tfjson.StateResource {
	return &tfjson.StateResource{Mode: tfjson.ManagedResourceMode, Type: typ, Name: name, AttributeValues: map[string]any{"id": id}}
}

func instance(id string, env int, service, prefix, status string) simulator.Instance {
	return simulator.Instance{UUID: id, Environment: Environments[env].ID(), Service: simulator.ServiceID(service),
		Prefix: prefix, Type: ServiceTypes[service], Status: status}
}

func TestCheck(t *testing.T) {
	cfg := Config{Services: []Service{
		{Name: "s1", Env: 0, Service: "postgres-15", Prefix: "MAIN", Attached: true},
		{Name: "s2", Env: 1, Service: "s3", Prefix: "DEFAULT"},
	}}
	settled := stateOf(
		&tfjson.StateResource{Mode: tfjson.DataResourceMode, Type: "divio_application", Name: "bench_app_1", AttributeValues: map[string]any{"id": "app"}},
		managed("divio_service", "s1", "i1"), managed("divio_service_attachment", "s1", "i1"), managed("divio_service", "s2", "i2"))
	settledInstances := []simulator.Instance{
		instance("i1", 0, "postgres-15", "MAIN", simulator.StatusAttached),
		instance("i2", 1, "s3", "DEFAULT", simulator.StatusPendingAttachment),
		instance("old", 1, "s3", "DEFAULT", simulator.StatusRemoved),
	}
	// s2 as a deployment of its environment left it: its status, the others as settled.
	s2 := func(status string) []simulator.Instance {
		return []simulator.Instance{settledInstances[0], instance("i2", 1, "s3", "DEFAULT", status), settledInstances[2]}
	}
	// s1 without its attachment, as a cycle that detached it leaves the state; i1 as status.
	detachedCfg := Config{Services: []Service{{Name: "s1", Env: 0, Service: "postgres-15", Prefix: "MAIN"}, cfg.Services[1]}}
	withoutAttachment := stateOf(managed("divio_service", "s1", "i1"), managed("divio_service", "s2", "i2"))
	s1 := func(status string) []simulator.Instance {
		return []simulator.Instance{instance("i1", 0, "postgres-15", "MAIN", status), settledInstances[1]}
	}
	// heldBefore is what the check before saw: i1 attached by its attachment.
	heldBefore := func() *Detachments {
		var d Detachments
		d.Observe(settled, settledInstances)
		return &d
	}
	batched := Config{Services: cfg.Services, Batched: []bool{true}}

	tests := []struct {
		name      string
		cfg       Config
		state     *tfjson.State
		instances []simulator.Instance
		detached  *Detachments
		want      Findings // counts only
	}{
		{"settled", cfg, settled, settledInstances, nil, Findings{}},
		{"orphan", cfg, settled, append(settledInstances, instance("i3", 2, "mysql-8", "MAIN", simulator.StatusNew)), nil, Findings{Orphans: 1}},
		{"orphan a deployment attached", cfg, settled, append(settledInstances, instance("i3", 2, "mysql-8", "MAIN", simulator.StatusAttached)), nil, Findings{Orphans: 1}},
		{"duplicate", cfg, settled, append(settledInstances, instance("i3", 0, "mysql-8", "MAIN", simulator.StatusNew)), nil, Findings{Orphans: 1, Duplicates: 1}},
		{"ghost", cfg, settled, settledInstances[:1], nil, Findings{Ghosts: 1}},
		{"two resources hold one instance", Config{}, stateOf(managed("divio_service", "a", "i1"), managed("divio_service", "b", "i1")),
			settledInstances[:1], nil, Findings{Duplicates: 1, Drift: 2}},
		{"attachment in state, instance detached", cfg, settled, s1(simulator.StatusDetached), nil, Findings{Attachments: 1}},
		{"attachment in state, instance awaiting attachment", cfg, settled, s1(simulator.StatusPendingAttachment), nil, Findings{Attachments: 1}},
		{"service without attachment attached by a deployment", cfg, settled, s2(simulator.StatusAttached), nil, Findings{}},
		{"service without attachment provisioning", cfg, settled, s2(simulator.StatusProvisioning), nil, Findings{}},
		{"service without attachment detached unasked", cfg, settled, s2(simulator.StatusDetached), nil, Findings{Attachments: 1}},
		{"service without attachment detaching unasked", cfg, settled, s2(simulator.StatusPendingDetachment), nil, Findings{Attachments: 1}},
		{"attachment destroyed, instance detached", detachedCfg, withoutAttachment, s1(simulator.StatusDetached), heldBefore(), Findings{}},
		{"attachment destroyed, instance still attached", detachedCfg, withoutAttachment, s1(simulator.StatusAttached), heldBefore(), Findings{Attachments: 1}},
		{"attachment destroyed, instance still detaching", detachedCfg, withoutAttachment, s1(simulator.StatusPendingDetachment), heldBefore(), Findings{Attachments: 1}},
		{"attachment configured, never recorded, instance attached", cfg, withoutAttachment, settledInstances, nil, Findings{Drift: 1, Attachments: 1}},
		{"attachment configured, never recorded, instance awaiting attachment", cfg, withoutAttachment, s1(simulator.StatusPendingAttachment), nil, Findings{Drift: 1}},
		{"configuration not applied", Config{Services: append(cfg.Services, Service{Name: "s3", Env: 3, Service: "rabbitmq-3", Prefix: "JOBS", Attached: true})},
			settled, settledInstances, nil, Findings{Drift: 1}},
		{"instance differs from configuration", Config{Services: []Service{cfg.Services[0], {Name: "s2", Env: 1, Service: "s3", Prefix: "MEDIA"}}},
			settled, settledInstances, nil, Findings{Drift: 1}},
		{"divio_deployment configured, not in the state", batched, settled, settledInstances, nil, Findings{Drift: 1}},
		{"divio_deployment in the state", batched, stateOf(append(settled.Values.RootModule.Resources, managed("divio_deployment", "bench_app_1_test", "d1"))...),
			settledInstances, nil, Findings{}},
		{"divio_deployment in the state, not configured", cfg, stateOf(append(settled.Values.RootModule.Resources, managed("divio_deployment", "bench_app_1_test", "d1"))...),
			settledInstances, nil, Findings{Drift: 1}},
		{"destroyed", Config{}, stateOf(), settledInstances[2:], nil, Findings{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Check(tt.cfg, tt.state, tt.instances, tt.detached)
			problems := got.Problems
			got.Problems = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Check = %+v, want %+v; problems:\n%v", got, tt.want, problems)
			}
		})
	}
}

// TestDetachments: an instance stays detached by the configuration from the check after its
// attachment went until one holds it again, and is forgotten once removed; an attachment destroyed
// before its instance was attached detached nothing.
func TestDetachments(t *testing.T) {
	attachedState := stateOf(managed("divio_service", "s1", "i1"), managed("divio_service_attachment", "s1", "i1"))
	bare := stateOf(managed("divio_service", "s1", "i1"))
	at := func(status string) []simulator.Instance {
		return []simulator.Instance{instance("i1", 0, "postgres-15", "MAIN", status)}
	}
	var d Detachments
	steps := []struct {
		state        *tfjson.State
		instances    []simulator.Instance
		wantDetached bool // before Observe
	}{
		{bare, at(simulator.StatusAttached), false},          // attached by a deployment, no attachment
		{attachedState, at(simulator.StatusAttached), false}, // an attachment holds it
		{bare, at(simulator.StatusDetached), true},           // the cycle destroyed it
		{bare, at(simulator.StatusDetached), true},           // and it stays detached
		{attachedState, at(simulator.StatusAttached), false}, // attached again
		{bare, at(simulator.StatusRemoved), true},
		{bare, at(simulator.StatusAttached), false}, // removed: forgotten
		{attachedState, at(simulator.StatusPendingAttachment), false},
		{bare, at(simulator.StatusPendingAttachment), false}, // its attachment never took effect
	}
	for i, step := range steps {
		attached := map[string]string{}
		for name, id := range stateIDs(step.state, "divio_service_attachment") {
			attached[id] = name
		}
		if got := d.detachedNow("i1", attached); got != step.wantDetached {
			t.Errorf("step %d: detached %t, want %t", i, got, step.wantDetached)
		}
		d.Observe(step.state, step.instances)
	}
}

func TestAttachedByRule(t *testing.T) {
	cfg := Config{Services: []Service{
		{Name: "s1", Env: 0, Service: "postgres-15", Prefix: "MAIN", Attached: true},
		{Name: "s2", Env: 0, Service: "s3", Prefix: "DEFAULT"},
		{Name: "s3", Env: 0, Service: "s3", Prefix: "MEDIA"},
	}}
	state := stateOf(managed("divio_service", "s1", "i1"), managed("divio_service_attachment", "s1", "i1"),
		managed("divio_service", "s2", "i2"), managed("divio_service", "s3", "i3"))
	got := AttachedByRule(cfg, state, []simulator.Instance{
		instance("i1", 0, "postgres-15", "MAIN", simulator.StatusAttached),
		instance("i2", 0, "s3", "DEFAULT", simulator.StatusAttached),
		instance("i3", 0, "s3", "MEDIA", simulator.StatusDetached),
	})
	if want := map[string]string{"i2": "s2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("AttachedByRule = %v, want %v", got, want)
	}
}

func TestDeploymentAudit(t *testing.T) {
	env := Environments[0].ID()
	ended := time.Now()
	vars := map[string][]string{}
	dep := func(id, status string, names ...string) simulator.Deployment {
		vars[id] = names
		return simulator.Deployment{UUID: id, Environment: env, Status: status, EndedAt: &ended}
	}
	variables := func(id string) []string { return vars[id] }
	planned := func(id string) int {
		if id == "5" {
			return 1 // was to attach something, which a fault kept it from
		}
		return 0
	}
	var a DeploymentAudit
	got := a.Audit([]simulator.Deployment{
		dep("1", simulator.DeploymentSuccess, "DEFAULT_DATABASE_DSN", "DATABASE_URL"),
		dep("2", simulator.DeploymentFailure),
		dep("3", simulator.DeploymentSuccess, "DEFAULT_DATABASE_DSN", "DATABASE_URL"),
		dep("4", simulator.DeploymentSuccess, "MEDIA_STORAGE_DSN"),
		dep("5", simulator.DeploymentSuccess, "MEDIA_STORAGE_DSN"),
	}, variables, planned)
	if len(got) != 4 || got[0].Idle() || !got[1].Idle() || got[2].Idle() || got[3].Idle() {
		t.Fatalf("audit: %+v; want 4 successful deployments, the second idle", got)
	}
	if again := a.Audit([]simulator.Deployment{dep("4", simulator.DeploymentSuccess)}, variables, planned); len(again) != 0 {
		t.Errorf("a deployment audited twice: %+v", again)
	}
	before := Config{Services: []Service{{Name: "db", Env: 0, Service: simulator.ServicePostgres15, Prefix: "DEFAULT", Attached: true}}}
	if d := AccidentalDetachments(before, before, got); len(d) != 1 || !strings.Contains(d[0], "deployment 4 detached db") {
		t.Errorf("accidental detachments: %v", d)
	}
	detached := Config{Services: []Service{{Name: "db", Env: 0, Service: simulator.ServicePostgres15, Prefix: "DEFAULT"}}}
	if d := AccidentalDetachments(before, detached, got); len(d) != 0 {
		t.Errorf("a detachment the configuration asked for was counted: %v", d)
	}
	// A service without attachment that a deployment attached by Divio's rule is not to be
	// detached either.
	if d := AccidentalDetachments(detached, detached, got); len(d) != 1 || !strings.Contains(d[0], "which has no attachment") {
		t.Errorf("accidental detachments of a service a deployment attached: %v", d)
	}
	replaced := Config{Services: []Service{{Name: "db", Env: 0, Service: simulator.ServiceMySQL8, Prefix: "DEFAULT", Attached: true}}}
	if d := AccidentalDetachments(before, replaced, got); len(d) != 0 {
		t.Errorf("the detachment of a replaced instance was counted: %v", d)
	}
}
