package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/divio/terraform-provider-divio/internal/simulator"
)

func TestRestoreBackupAction_invoke(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	client := env.client(t)
	inst := addTestInstance(t, client, demoTestEnvID, simulator.ServicePostgres15, "DEFAULT", true)
	part := addTestBackup(t, client, inst)
	p := newProtocolProvider(t, env, true)

	progress, errs := p.invoke("divio_restore_backup", map[string]string{"service_instance_backup_id": part.UUID, "notes": "before the migration"})
	if errs != "" {
		t.Fatal(errs)
	}
	restores := sim.Restores()
	if len(restores) != 1 {
		t.Fatalf("the simulator has %d restores, want 1", len(restores))
	}
	r := restores[0]
	if r.Backup != part.Backup || !slices.Equal(r.ServiceInstanceRestores, []simulator.ServiceInstanceRestore{{ServiceInstanceBackup: part.UUID}}) ||
		r.Notes != "before the migration" || !r.Finished || r.Success == nil || *r.Success != "SUCCESS" {
		t.Errorf("restore %+v, want a finished, successful restore of part %s of backup %s with the notes", r, part.UUID, part.Backup)
	}
	what := fmt.Sprintf("the DATABASE DEFAULT backup %s into service instance %s", part.Backup, inst.UUID)
	want := []string{
		fmt.Sprintf("Restoring %s (restore %s)", what, r.UUID),
		fmt.Sprintf("Restore %s of %s succeeded", r.UUID, what),
	}
	if !slices.Equal(progress, want) {
		t.Errorf("progress = %q, want %q", progress, want)
	}
	expectStatus(t, sim, simulator.StatusPendingAttachment, inst.UUID)
}

func TestRestoreBackupAction_errors(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	client := env.client(t)
	inst := addTestInstance(t, client, demoTestEnvID, simulator.ServicePostgres15, "DEFAULT", true)
	part := addTestBackup(t, client, inst)
	what := fmt.Sprintf("the DATABASE DEFAULT backup %s into service instance %s", part.Backup, inst.UUID)
	const unknown = "0b5d3a2e-8f1c-4f7a-9a43-2c6f0e8d1b77"

	for _, tc := range []struct {
		name      string
		configure bool
		prepare   func(t *testing.T)
		id        string
		want      []string // the error's start, then parts it contains
	}{
		{"provider not configured", false, nil, part.UUID, []string{"Divio provider not configured: "}},
		{"unknown backup", true, nil, unknown, []string{
			"Service instance backup not found: No service instance backup has the id \"" + unknown + "\"",
		}},
		{"the restore fails", true, func(*testing.T) { sim.FailNextRestore() }, part.UUID, []string{
			"Restore of " + what + " failed: Restore ", "finished with success FAILURE", "Injected failure", "The instance keeps its status.",
		}},
		{"the instance was removed", true, func(t *testing.T) {
			if err := client.DeleteServiceInstance(context.Background(), inst.UUID); err != nil {
				t.Fatal(err)
			}
		}, part.UUID, []string{"Cannot restore " + what + ": ", "has been removed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.prepare != nil {
				tc.prepare(t)
			}
			p := newProtocolProvider(t, env, tc.configure)
			_, errs := p.invoke("divio_restore_backup", map[string]string{"service_instance_backup_id": tc.id})
			if !strings.HasPrefix(errs, tc.want[0]) {
				t.Fatalf("error = %q, want one that starts %q", errs, tc.want[0])
			}
			for _, part := range tc.want[1:] {
				if !strings.Contains(errs, part) {
					t.Errorf("error = %q, want it to contain %q", errs, part)
				}
			}
		})
	}
}
