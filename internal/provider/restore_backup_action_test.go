package provider

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/divio/terraform-provider-divio/internal/divio"
	"github.com/divio/terraform-provider-divio/internal/simulator"
)

// The backup is written into the instance it was taken from, or with service_id into another,
// of a newer version in another environment here; the target keeps its status.
func TestRestoreBackupAction_invoke(t *testing.T) {
	f := newCopyFixture(t)
	sim := f.sim
	part := addTestBackup(t, f.client, f.live)
	p := newProtocolProvider(t, f.env, true)

	for _, tc := range []struct {
		name   string
		target *divio.ServiceInstance
		// into is the restore's service_instance: empty for the instance the backup was taken from.
		into string
	}{
		{"into the instance it was taken from", f.live, ""},
		{"into another instance", f.test, f.test.UUID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setSimData(t, sim, f.live.UUID, "live rows, changed since the backup")
			config := map[string]string{"service_instance_backup_id": part.UUID, "notes": "before the migration"}
			if tc.into != "" {
				config["service_id"] = tc.into
			}
			progress, errs := p.invoke("divio_restore_backup", config)
			if errs != "" {
				t.Fatal(errs)
			}
			restores := sim.Restores()
			r := restores[len(restores)-1]
			if r.Backup != part.Backup || !slices.Equal(r.ServiceInstanceRestores, []simulator.ServiceInstanceRestore{{ServiceInstanceBackup: part.UUID, ServiceInstance: tc.into}}) ||
				r.Notes != "before the migration" || !r.Finished || r.Success == nil || *r.Success != "SUCCESS" {
				t.Errorf("restore %+v, want a finished, successful restore of part %s of backup %s into %q with the notes", r, part.UUID, part.Backup, tc.into)
			}
			what := fmt.Sprintf("the DATABASE DEFAULT backup %s into service instance %s", part.Backup, tc.target.UUID)
			want := []string{
				fmt.Sprintf("Restoring %s (restore %s)", what, r.UUID),
				fmt.Sprintf("Restore %s of %s succeeded", r.UUID, what),
			}
			if !slices.Equal(progress, want) {
				t.Errorf("progress = %q, want %q", progress, want)
			}
			if got := simData(t, sim, tc.target.UUID); got != "live rows" {
				t.Errorf("the target holds %q, want the backup's data", got)
			}
			expectStatus(t, sim, simulator.StatusPendingAttachment, tc.target.UUID)
		})
	}
	if got := simData(t, sim, f.live.UUID); got != "live rows, changed since the backup" {
		t.Errorf("the instance backed up holds %q, want its own data kept by a restore into another", got)
	}
}

func TestRestoreBackupAction_errors(t *testing.T) {
	f := newCopyFixture(t)
	sim, client, inst, mysql := f.sim, f.client, f.live, f.mysql
	part := addTestBackup(t, client, inst)
	what := fmt.Sprintf("the DATABASE DEFAULT backup %s into service instance %s", part.Backup, inst.UUID)

	for _, tc := range []struct {
		name      string
		configure bool
		prepare   func(t *testing.T)
		id        string
		serviceID string
		want      []string // the error's start, then parts it contains
	}{
		{"provider not configured", false, nil, part.UUID, "", []string{"Divio provider not configured: "}},
		{"unknown backup", true, nil, unknownID, "", []string{
			"Service instance backup not found: No service instance backup has the id \"" + unknownID + "\"",
		}},
		{"unknown target", true, nil, part.UUID, unknownID, []string{
			"Service instance not found: No service instance has the id \"" + unknownID + "\"",
		}},
		{"the restore fails", true, func(*testing.T) { sim.FailNextRestore() }, part.UUID, "", []string{
			"Restore of " + what + " failed: Restore ", "finished with success FAILURE", "Injected failure", "The instance keeps its status.",
		}},
		{"into another engine", true, nil, part.UUID, mysql.UUID, []string{
			fmt.Sprintf("Restore of the DATABASE DEFAULT backup %s into service instance %s refused: The Divio API refused to write the data of service instance backup %s", part.Backup, mysql.UUID, part.UUID),
			"(mysql-8, prefix MYSQL)", "runs mysql-8: a backup of postgres-15 restores into the same engine, in the same or a newer version", "The target keeps its data and status.",
		}},
		{"the instance was removed", true, func(t *testing.T) {
			if err := client.DeleteServiceInstance(context.Background(), inst.UUID); err != nil {
				t.Fatal(err)
			}
		}, part.UUID, "", []string{"Service instance not found: Service instance backup " + part.UUID + " was taken from service instance " + inst.UUID +
			", which no longer exists: set service_id to restore it into another instance of its type."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.prepare != nil {
				tc.prepare(t)
			}
			p := newProtocolProvider(t, f.env, tc.configure)
			config := map[string]string{"service_instance_backup_id": tc.id}
			if tc.serviceID != "" {
				config["service_id"] = tc.serviceID
			}
			_, errs := p.invoke("divio_restore_backup", config)
			expectError(t, errs, tc.want)
		})
	}
}
