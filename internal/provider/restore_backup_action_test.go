package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/divio/terraform-provider-divio/internal/divio"
	"github.com/divio/terraform-provider-divio/internal/simulator"
)

// addTestBackup backs an instance up through the API and returns the instance's part of the
// backup.
func addTestBackup(t *testing.T, client *divio.Client, inst *divio.ServiceInstance) *divio.ServiceInstanceBackup {
	t.Helper()
	ctx := context.Background()
	backup, err := client.CreateBackup(ctx, divio.CreateBackupRequest{Environment: inst.Environment, Services: []string{inst.UUID}})
	if err != nil {
		t.Fatal(err)
	}
	if backup, err = client.WaitForBackup(ctx, backup.UUID); err != nil {
		t.Fatal(err)
	}
	if len(backup.ServiceInstanceBackups) != 1 {
		t.Fatalf("backup %s has parts %v, want one", backup.UUID, backup.ServiceInstanceBackups)
	}
	part, err := client.GetServiceInstanceBackup(ctx, backup.ServiceInstanceBackups[0])
	if err != nil {
		t.Fatal(err)
	}
	return part
}

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
	if err := expectSimInstance(sim, inst.UUID, simulator.StatusPendingAttachment)(nil); err != nil {
		t.Error(err)
	}
}

// With service_id, the backup is written into another instance, of a newer version in another
// environment here, which keeps its status; the one it was taken from keeps its data.
func TestRestoreBackupAction_intoAnotherInstance(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	client := env.client(t)
	live := addTestInstance(t, client, demoLiveEnvID, simulator.ServicePostgres15, "DEFAULT", true)
	setSimData(t, sim, live.UUID, "before the migration")
	part := addTestBackup(t, client, live)
	setSimData(t, sim, live.UUID, "after the migration")
	test := addTestInstance(t, client, demoTestEnvID, simulator.ServicePostgres16, "DEFAULT", true)
	p := newProtocolProvider(t, env, true)

	progress, errs := p.invoke("divio_restore_backup", map[string]string{"service_instance_backup_id": part.UUID, "service_id": test.UUID})
	if errs != "" {
		t.Fatal(errs)
	}
	if got := simData(t, sim, test.UUID); got != "before the migration" {
		t.Errorf("the target holds %q, want the backup's data", got)
	}
	if got := simData(t, sim, live.UUID); got != "after the migration" {
		t.Errorf("the instance backed up holds %q, want its own data", got)
	}
	restores := sim.Restores()
	if len(restores) != 1 || !slices.Equal(restores[0].ServiceInstanceRestores, []simulator.ServiceInstanceRestore{{ServiceInstanceBackup: part.UUID, ServiceInstance: test.UUID}}) {
		t.Fatalf("restores %+v, want one of part %s into %s", restores, part.UUID, test.UUID)
	}
	what := fmt.Sprintf("the DATABASE DEFAULT backup %s into service instance %s", part.Backup, test.UUID)
	if want := fmt.Sprintf("Restore %s of %s succeeded", restores[0].UUID, what); len(progress) != 2 || progress[1] != want {
		t.Errorf("progress = %q, want it to end %q", progress, want)
	}
	if err := expectSimInstance(sim, test.UUID, simulator.StatusPendingAttachment)(nil); err != nil {
		t.Error(err)
	}
}

func TestRestoreBackupAction_errors(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	client := env.client(t)
	inst := addTestInstance(t, client, demoTestEnvID, simulator.ServicePostgres15, "DEFAULT", true)
	part := addTestBackup(t, client, inst)
	mysql := addTestInstance(t, client, demoTestEnvID, simulator.ServiceMySQL8, "MYSQL", true)
	what := fmt.Sprintf("the DATABASE DEFAULT backup %s into service instance %s", part.Backup, inst.UUID)
	const unknown = "0b5d3a2e-8f1c-4f7a-9a43-2c6f0e8d1b77"

	for _, tc := range []struct {
		name      string
		configure bool
		prepare   func(t *testing.T)
		id        string
		serviceID string
		want      []string // the error's start, then parts it contains
	}{
		{"provider not configured", false, nil, part.UUID, "", []string{"Divio provider not configured: "}},
		{"unknown backup", true, nil, unknown, "", []string{
			"Service instance backup not found: No service instance backup has the id \"" + unknown + "\"",
		}},
		{"unknown target", true, nil, part.UUID, unknown, []string{
			"Service instance not found: No service instance has the id \"" + unknown + "\"",
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
			p := newProtocolProvider(t, env, tc.configure)
			config := map[string]string{"service_instance_backup_id": tc.id}
			if tc.serviceID != "" {
				config["service_id"] = tc.serviceID
			}
			_, errs := p.invoke("divio_restore_backup", config)
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

// `terraform apply -invoke` restores a backup of live into test with Terraform 1.14's CLI, and a
// restore into another engine is refused with the API's reason, writing nothing.
func TestAccRestoreBackupAction_intoAnotherInstance(t *testing.T) {
	cli := newTerraformCLI(t)
	if ok, name := cli.terraformAtLeast(1, 14); !ok {
		t.Skipf("actions need Terraform 1.14 or newer; this is %s", name)
	}
	env := newTestEnv(t)
	sim := env.requireSim(t)
	client := env.client(t)
	live := addTestInstance(t, client, demoLiveEnvID, simulator.ServicePostgres15, "DEFAULT", true)
	setSimData(t, sim, live.UUID, "live rows")
	part := addTestBackup(t, client, live)
	test := addTestInstance(t, client, demoTestEnvID, simulator.ServicePostgres16, "DEFAULT", true)
	mysql := addTestInstance(t, client, demoTestEnvID, simulator.ServiceMySQL8, "MYSQL", true)
	setSimData(t, sim, mysql.UUID, "mysql rows")

	cli.write(env.config(fmt.Sprintf(`
action "divio_restore_backup" "into_test" {
  config {
    service_instance_backup_id = %[1]q
    service_id                 = %[2]q
  }
}

action "divio_restore_backup" "into_mysql" {
  config {
    service_instance_backup_id = %[1]q
    service_id                 = %[3]q
  }
}
`, part.UUID, test.UUID, mysql.UUID)))
	cli.init()

	out := cli.mustRun("apply", "-auto-approve", "-no-color", "-invoke=action.divio_restore_backup.into_test")
	restores := sim.Restores()
	if got := simData(t, sim, test.UUID); got != "live rows" || len(restores) != 1 {
		t.Fatalf("test holds %q after restores %+v, want live's data from one restore\n%s", got, restores, out)
	}
	if want := fmt.Sprintf("Action action.divio_restore_backup.into_test (triggered by CLI): Restore %s of the DATABASE DEFAULT backup %s into service instance %s succeeded\n",
		restores[0].UUID, part.Backup, test.UUID); !strings.Contains(out, want) {
		t.Errorf("the output lacks %q:\n%s", want, out)
	}

	out, failed := cli.run("apply", "-auto-approve", "-no-color", "-invoke=action.divio_restore_backup.into_mysql")
	if !failed || !errorText("Error: Error when invoking action", "Restore of the DATABASE DEFAULT backup "+part.Backup+" into service instance "+mysql.UUID+" refused",
		"(mysql-8, prefix MYSQL)", "runs mysql-8: a backup of postgres-15 restores into the same engine", "The target keeps its data and status.").MatchString(out) {
		t.Errorf("want the restore into mysql refused with the reason:\n%s", out)
	}
	if got := simData(t, sim, mysql.UUID); got != "mysql rows" || len(sim.Restores()) != 1 || len(sim.Backups()) != 1 {
		t.Errorf("mysql holds %q, restores %+v, backups %+v: want the refused restore to change nothing", got, sim.Restores(), sim.Backups())
	}
}
