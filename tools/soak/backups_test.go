package soak

import (
	"reflect"
	"strings"
	"testing"
	"time"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/divio/terraform-provider-divio/internal/simulator"
)

func backup(id, notes, success string) simulator.Backup {
	return simulator.Backup{UUID: id, Notes: notes, State: simulator.BackupCompleted, Success: &success}
}

func TestCheckBackups(t *testing.T) {
	cfg := Config{Services: []Service{{Name: "s1", Env: 0, Service: "postgres-15", Prefix: "MAIN", Backup: 1}}}
	state := stateOf(managed("divio_service", "s1", "i1"), managed("divio_service_backup", "s1", "b1"))
	instances := []simulator.Instance{
		instance("i1", 0, "postgres-15", "MAIN", simulator.StatusPendingAttachment),
		instance("gone", 0, "mysql-8", "MAIN", simulator.StatusRemoved),
	}
	final := "Final backup of service instance gone (DATABASE MAIN), taken by Terraform before removing it."
	held, finalBackup := backup("b1", "", simulator.BackupSuccess), backup("f1", final, simulator.BackupSuccess)
	// A second final backup 10s after the first, and a deployment of the instance's environment
	// from 2s to 8s after it, then one from 5s before it to 2s after it.
	first := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	finalBackup.CreatedAt, finalBackup.Environment = first, "env"
	second := backup("f2", final, simulator.BackupSuccess)
	second.CreatedAt, second.Environment = first.Add(10*time.Second), "env"
	deployment := func(env string, from, to time.Duration) simulator.Deployment {
		ended := first.Add(to)
		return simulator.Deployment{Environment: env, StartedAt: first.Add(from), EndedAt: &ended}
	}
	detaching := []simulator.Deployment{deployment("env", 2*time.Second, 8*time.Second)}

	for _, tt := range []struct {
		name        string
		cfg         Config
		state       *tfjson.State
		backups     []simulator.Backup
		deployments []simulator.Deployment
		want        Findings // counts only
	}{
		{"settled", cfg, state, []simulator.Backup{held, finalBackup}, nil, Findings{}},
		{"a failed final backup before the one that worked", cfg, state, []simulator.Backup{held, backup("f0", final, simulator.BackupFailure), finalBackup}, nil, Findings{}},
		{"orphan", cfg, state, []simulator.Backup{held, backup("b2", "", simulator.BackupSuccess)}, nil, Findings{Orphans: 1}},
		{"left by a killed terraform", cfg, state, []simulator.Backup{held, backup("killed", "", simulator.BackupSuccess)}, nil, Findings{}},
		{"final backup of an instance whose removal failed after it", cfg, state,
			[]simulator.Backup{held, backup("f2", "Final backup of service instance i1 (DATABASE MAIN), taken by Terraform before removing it.", simulator.BackupSuccess)}, nil, Findings{}},
		{"backup of a removed instance taken by hand", cfg, state, []simulator.Backup{held, backup("b2", "before the upgrade", simulator.BackupSuccess)}, nil, Findings{Orphans: 1}},
		{"two final backups of one instance", cfg, state, []simulator.Backup{held, finalBackup, second}, nil, Findings{Duplicates: 1}},
		{"two final backups of one instance, a deployment of another environment between", cfg, state, []simulator.Backup{held, finalBackup, second},
			[]simulator.Deployment{deployment("other", 2*time.Second, 8*time.Second)}, Findings{Duplicates: 1}},
		{"two final backups of one instance, a deployment begun before the first", cfg, state, []simulator.Backup{held, finalBackup, second},
			[]simulator.Deployment{deployment("env", -5*time.Second, 2*time.Second)}, Findings{Duplicates: 1}},
		{"a final backup taken anew after the deployment that detached the instance again", cfg, state, []simulator.Backup{held, second, finalBackup},
			detaching, Findings{}},
		{"ghost", cfg, state, nil, nil, Findings{Ghosts: 1}},
		{"an upgrade's and a copy's, naming two instances", cfg, state, []simulator.Backup{held, finalBackup,
			backup("u1", "Upgrade of service instance gone (DATABASE) into service instance i1 (postgres-16), taken by Terraform to copy its data.", simulator.BackupSuccess),
			backup("c1", "Copy into service instance i1 (DATABASE MAIN), taken by Terraform (copy_data_from).", simulator.BackupFailure)}, nil, Findings{}},
		{"two resources hold one backup", Config{Services: []Service{{Name: "a", Backup: 1}, {Name: "b", Backup: 2}}},
			stateOf(managed("divio_service_backup", "a", "b1"), managed("divio_service_backup", "b", "b1")), []simulator.Backup{held}, nil, Findings{Duplicates: 1}},
		{"configured, not in the state", cfg, stateOf(), nil, nil, Findings{Drift: 1}},
		{"in the state, not configured", Config{}, state, []simulator.Backup{held}, nil, Findings{Drift: 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, killed := CheckBackups(tt.cfg, tt.state, instances, tt.backups, tt.deployments, func(b simulator.Backup) bool { return b.UUID == "killed" })
			if wantKilled := tt.name == "left by a killed terraform"; wantKilled != reflect.DeepEqual(killed, []string{"killed"}) {
				t.Errorf("left by kill: %v", killed)
			}
			problems := got.Problems
			got.Problems = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("CheckBackups = %+v, want %+v; problems:\n%v", got, tt.want, problems)
			}
		})
	}
	if n := FinalBackups(instances, []simulator.Backup{held, finalBackup}); n != 1 {
		t.Errorf("FinalBackups = %d, want 1", n)
	}
}

// The generator backs up only what the API can back up, and does back up, retrigger and drop.
func TestGeneratorBackups(t *testing.T) {
	seen := map[string]bool{}
	for seed := uint64(1); seed <= 30; seed++ {
		g := NewGenerator(seed)
		for cycle := range 200 {
			next, changes := g.Next(false)
			for _, s := range next.Services {
				if s.Backup > 0 && !backupable(s.Service) {
					t.Fatalf("seed %d cycle %d %v: %s (%s) has a backup", seed, cycle, changes, s.Name, s.Service)
				}
			}
			for _, c := range changes {
				seen[strings.Fields(c)[0]+" "+strings.Fields(c)[1]] = true
			}
		}
	}
	for _, want := range []string{"back up", "drop the", "retrigger the"} {
		if !seen[want] {
			t.Errorf("no change %q in 30 seeds x 200 cycles", want)
		}
	}
	hcl := Config{Services: []Service{{Name: "s1", Env: 0, Service: "s3", Prefix: "MEDIA", Backup: 3, NoFinalBackup: true}}}.HCL()
	for _, want := range []string{
		"  final_backup        = false\n",
		"resource \"divio_service_backup\" \"s1\" {\n  service_id = divio_service.s1.id\n  triggers   = { generation = \"3\" }\n\n  timeouts = {\n    create = \"20s\"\n  }\n}",
	} {
		if !strings.Contains(hcl, want) {
			t.Errorf("HCL lacks\n%s\nin\n%s", want, hcl)
		}
	}
}
