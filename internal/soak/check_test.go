package soak

import (
	"reflect"
	"testing"

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
