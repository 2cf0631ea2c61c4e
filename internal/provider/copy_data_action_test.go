package provider

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/divio/terraform-provider-divio/internal/divio"
	"github.com/divio/terraform-provider-divio/internal/simulator"
)

func TestCopyDataAction_invoke(t *testing.T) {
	f := newCopyFixture(t)
	sim, live, test := f.sim, f.live, f.test
	p := newProtocolProvider(t, f.env, true)

	progress, errs := p.invoke("divio_copy_data", map[string]string{"source_service_id": live.UUID, "target_service_id": test.UUID})
	if errs != "" {
		t.Fatal(errs)
	}
	if got := simData(t, sim, test.UUID); got != "live rows" {
		t.Errorf("the target holds %q, want the source's data", got)
	}
	backups, restores := sim.Backups(), sim.Restores()
	if len(backups) != 1 || len(restores) != 1 {
		t.Fatalf("backups %+v, restores %+v; want one of each", backups, restores)
	}
	if want := "Taken by Terraform (divio_copy_data) to copy service instance " + live.UUID + " into service instance " + test.UUID + "."; backups[0].Notes != want || restores[0].Notes != want {
		t.Errorf("notes %q and %q, want %q", backups[0].Notes, restores[0].Notes, want)
	}
	liveLabel := fmt.Sprintf("service instance %s (postgres-15, prefix DEFAULT) in environment demo-app/live (%s)", live.UUID, demoLiveEnvID)
	testLabel := fmt.Sprintf("service instance %s (postgres-16, prefix DEFAULT) in environment demo-app/test (%s)", test.UUID, demoTestEnvID)
	what := fmt.Sprintf("the DATABASE DEFAULT backup %s into service instance %s", backups[0].UUID, test.UUID)
	want := []string{
		fmt.Sprintf("Backing up %s (backup %s)", liveLabel, backups[0].UUID),
		fmt.Sprintf("Backup %s of %s completed", backups[0].UUID, liveLabel),
		fmt.Sprintf("Restoring %s (restore %s)", what, restores[0].UUID),
		fmt.Sprintf("Restore %s of %s succeeded", restores[0].UUID, what),
		fmt.Sprintf("Copied the data of %s into %s; backup %s keeps the copied data", liveLabel, testLabel, backups[0].UUID),
	}
	if !slices.Equal(progress, want) {
		t.Errorf("progress = %q, want %q", progress, want)
	}
	expectStatus(t, sim, simulator.StatusPendingAttachment, live.UUID, test.UUID)
}

func TestCopyDataAction_errors(t *testing.T) {
	f := newCopyFixture(t)
	sim, live, mysql := f.sim, f.live, f.mysql
	storage := addTestInstance(t, f.client, demoTestEnvID, simulator.ServiceS3, "DEFAULT", true)
	copyOf := func(source, target string) string {
		return fmt.Sprintf("Copy of service instance %s into service instance %s ", source, target)
	}

	for _, tc := range []struct {
		name           string
		configure      bool
		source, target string
		want           []string // the error's start, then parts it contains
	}{
		{"provider not configured", false, live.UUID, mysql.UUID, []string{"Divio provider not configured: "}},
		{"unknown source", true, unknownID, mysql.UUID, []string{"Service instance not found: No service instance has the id \"" + unknownID + "\""}},
		{"unknown target", true, live.UUID, unknownID, []string{"Service instance not found: No service instance has the id \"" + unknownID + "\""}},
		{"into another engine", true, live.UUID, mysql.UUID, []string{
			copyOf(live.UUID, mysql.UUID) + "refused: The Divio API refused to write the data of service instance " + live.UUID + " (postgres-15, prefix DEFAULT)",
			"into service instance " + mysql.UUID + " (mysql-8, prefix MYSQL)", "runs mysql-8: a backup of postgres-15 restores into the same engine",
			"the backup taken for the copy was deleted", "The target keeps its data and status.",
		}},
		{"into another type", true, live.UUID, storage.UUID, []string{
			copyOf(live.UUID, storage.UUID) + "refused: Service instance " + live.UUID + " (postgres-15, prefix DEFAULT)", "is a STORAGE instance",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProtocolProvider(t, f.env, tc.configure)
			_, errs := p.invoke("divio_copy_data", map[string]string{"source_service_id": tc.source, "target_service_id": tc.target})
			expectError(t, errs, tc.want)
		})
	}
	if got := simData(t, sim, mysql.UUID); got != "mysql rows" || len(sim.Backups()) != 0 || len(sim.Restores()) != 0 {
		t.Errorf("mysql holds %q, backups %+v, restores %+v: want nothing changed, nothing left", got, sim.Backups(), sim.Restores())
	}
}

// The same instance as source and target is refused when the configuration is validated, before
// any plan; an unknown id is left to the invoke.
func TestCopyDataAction_validate(t *testing.T) {
	env := newTestEnv(t)
	p := newProtocolProvider(t, env, false)
	validate := func(source, target tftypes.Value) string {
		t.Helper()
		config := p.value(p.schemas.ActionSchemas["divio_copy_data"].Schema.ValueType(), map[string]tftypes.Value{"source_service_id": source, "target_service_id": target})
		resp, err := p.server.(tfprotov6.ActionServer).ValidateActionConfig(t.Context(), &tfprotov6.ValidateActionConfigRequest{ActionType: "divio_copy_data", Config: p.dynamic(config)})
		if err != nil {
			t.Fatal(err)
		}
		return errorsOf(resp.Diagnostics)
	}
	id := tftypes.NewValue(tftypes.String, "one")
	if errs := validate(id, id); !strings.HasPrefix(errs, `Source and target are the same service instance: source_service_id and target_service_id are both "one"`) {
		t.Errorf("error = %q", errs)
	}
	for _, target := range []tftypes.Value{tftypes.NewValue(tftypes.String, "another"), tftypes.NewValue(tftypes.String, tftypes.UnknownValue)} {
		if errs := validate(id, target); errs != "" {
			t.Errorf("target %v: error = %q, want none", target, errs)
		}
	}
}

// With Terraform 1.14's CLI, `terraform apply -invoke` copies live's data into test, restores an
// earlier backup of live into test, and refuses both into another engine with the API's reason,
// changing nothing; validate refuses a copy of an instance into itself.
func TestAccDataCopyActions_applyInvoke(t *testing.T) {
	cli := newTerraformCLI(t)
	requireActions(t, cli)
	f := newCopyFixture(t)
	env, sim := f.env, f.sim
	setSimData(t, sim, f.live.UUID, "live rows, last week")
	part := addTestBackup(t, f.client, f.live)
	f.reset(t)

	cli.write(env.config(fmt.Sprintf(`
action "divio_copy_data" "refresh_test" {
  config {
    source_service_id = %[1]q
    target_service_id = %[2]q
    notes             = "Refresh test from live"
  }
}

action "divio_copy_data" "into_mysql" {
  config {
    source_service_id = %[1]q
    target_service_id = %[3]q
  }
}

action "divio_restore_backup" "into_test" {
  config {
    service_instance_backup_id = %[4]q
    service_id                 = %[2]q
  }
}

action "divio_restore_backup" "into_mysql" {
  config {
    service_instance_backup_id = %[4]q
    service_id                 = %[3]q
  }
}
`, f.live.UUID, f.test.UUID, f.mysql.UUID, part.UUID)))
	cli.init()

	refused := []string{"Error: Error when invoking action", "(postgres-15, prefix DEFAULT)", "(mysql-8, prefix MYSQL)",
		"runs mysql-8: a backup of postgres-15 restores into the same engine, in the same or a newer version", "The target keeps its data and status."}
	for _, tc := range []struct {
		action string
		target *divio.ServiceInstance
		// wantData is what the target holds after the invoke; want, the parts of the output in order.
		wantData string
		fails    bool
		want     []string
	}{
		{"divio_copy_data.refresh_test", f.test, "live rows", false, []string{
			"Action action.divio_copy_data.refresh_test (triggered by CLI): Backing up service instance " + f.live.UUID + " (postgres-15, prefix DEFAULT) in environment demo-app/live",
			"Action action.divio_copy_data.refresh_test (triggered by CLI): Restore", "into service instance " + f.test.UUID + " succeeded", "Actions: 1 invoked.",
		}},
		{"divio_restore_backup.into_test", f.test, "live rows, last week", false, []string{
			"Action action.divio_restore_backup.into_test (triggered by CLI): Restore", "of the DATABASE DEFAULT backup " + part.Backup + " into service instance " + f.test.UUID + " succeeded",
			"Actions: 1 invoked.",
		}},
		{"divio_copy_data.into_mysql", f.mysql, "mysql rows", true, append([]string{
			"Copy of service instance " + f.live.UUID + " into service instance " + f.mysql.UUID + " refused", "the backup taken for the copy was deleted",
		}, refused...)},
		{"divio_restore_backup.into_mysql", f.mysql, "mysql rows", true, append([]string{
			"Restore of the DATABASE DEFAULT backup " + part.Backup + " into service instance " + f.mysql.UUID + " refused",
		}, refused...)},
	} {
		out, failed := cli.run("apply", "-auto-approve", "-no-color", "-invoke=action."+tc.action)
		if failed != tc.fails || !errorText(tc.want...).MatchString(out) {
			t.Errorf("%s: want the output to show %q in order (failed = %v):\n%s", tc.action, tc.want, tc.fails, out)
		}
		if got := simData(t, sim, tc.target.UUID); got != tc.wantData {
			t.Errorf("%s: the target holds %q, want %q", tc.action, got, tc.wantData)
		}
	}
	// The earlier backup and the copy's: the refused copy's was deleted.
	if backups, restores := sim.Backups(), sim.Restores(); len(backups) != 2 || len(restores) != 2 || backups[1].Notes != "Refresh test from live" {
		t.Errorf("backups %+v, restores %+v: want two of each, the copy's with its notes", backups, restores)
	}

	cli.write(env.config(fmt.Sprintf(`
action "divio_copy_data" "into_itself" {
  config {
    source_service_id = %[1]q
    target_service_id = %[1]q
  }
}
`, f.live.UUID)))
	out, failed := cli.run("validate", "-no-color")
	if !failed || !errorText("Error: Source and target are the same service instance", "an instance's data cannot be copied into itself").MatchString(out) {
		t.Errorf("want validate to refuse a copy into itself:\n%s", out)
	}
}

// actionsSince is the Terraform version that brought actions.
var actionsSince = struct{ major, minor int }{1, 14}

// requireActions skips a test on a CLI without actions.
func requireActions(t *testing.T, cli *terraformCLI) {
	t.Helper()
	if ok, name := cli.terraformAtLeast(actionsSince.major, actionsSince.minor); !ok {
		t.Skipf("actions need Terraform 1.14 or newer; this is %s", name)
	}
}
