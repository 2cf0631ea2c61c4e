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
	marked := instance("i2", 1, "s3", "DEFAULT", simulator.StatusPendingAttachment)
	marked.AttachRequested = true

	tests := []struct {
		name      string
		cfg       Config
		state     *tfjson.State
		instances []simulator.Instance
		want      Findings // counts only
	}{
		{"settled", cfg, settled, settledInstances, Findings{}},
		{"orphan", cfg, settled, append(settledInstances, instance("i3", 2, "mysql-8", "MAIN", simulator.StatusNew)), Findings{Orphans: 1}},
		{"duplicate", cfg, settled, append(settledInstances, instance("i3", 0, "mysql-8", "MAIN", simulator.StatusNew)), Findings{Orphans: 1, Duplicates: 1}},
		{"ghost", cfg, settled, settledInstances[:1], Findings{Ghosts: 1}},
		{"two resources hold one instance", Config{}, stateOf(managed("divio_service", "a", "i1"), managed("divio_service", "b", "i1")),
			settledInstances[:1], Findings{Duplicates: 1, Attachments: 1, Drift: 2}},
		{"attachment in state, instance detached", cfg, settled,
			[]simulator.Instance{instance("i1", 0, "postgres-15", "MAIN", simulator.StatusDetached), settledInstances[1]}, Findings{Attachments: 1}},
		{"instance marked without attachment", cfg, settled, []simulator.Instance{settledInstances[0], marked}, Findings{Attachments: 1}},
		{"configuration not applied", Config{Services: append(cfg.Services, Service{Name: "s3", Env: 3, Service: "rabbitmq-3", Prefix: "JOBS", Attached: true})},
			settled, settledInstances, Findings{Drift: 1}},
		{"instance differs from configuration", Config{Services: []Service{cfg.Services[0], {Name: "s2", Env: 1, Service: "s3", Prefix: "MEDIA"}}},
			settled, settledInstances, Findings{Drift: 1}},
		{"destroyed", Config{}, stateOf(), settledInstances[2:], Findings{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Check(tt.cfg, tt.state, tt.instances)
			got.Problems = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Check = %+v, want %+v; problems:\n%v", got, tt.want, Check(tt.cfg, tt.state, tt.instances).Problems)
			}
		})
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
}
