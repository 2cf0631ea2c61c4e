package provider

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/divio/terraform-provider-divio/internal/simulator"
)

func TestCopyDataAction_invoke(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	client := env.client(t)
	live := addTestInstance(t, client, demoLiveEnvID, simulator.ServicePostgres15, "DEFAULT", true)
	test := addTestInstance(t, client, demoTestEnvID, simulator.ServicePostgres16, "DEFAULT", true)
	setSimData(t, sim, live.UUID, "live rows")
	setSimData(t, sim, test.UUID, "test rows")
	p := newProtocolProvider(t, env, true)

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
	for _, id := range []string{live.UUID, test.UUID} {
		if err := expectSimInstance(sim, id, simulator.StatusPendingAttachment)(nil); err != nil {
			t.Error(err)
		}
	}
}

func TestCopyDataAction_errors(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	client := env.client(t)
	live := addTestInstance(t, client, demoLiveEnvID, simulator.ServicePostgres15, "DEFAULT", true)
	mysql := addTestInstance(t, client, demoTestEnvID, simulator.ServiceMySQL8, "DEFAULT", true)
	storage := addTestInstance(t, client, demoTestEnvID, simulator.ServiceS3, "DEFAULT", true)
	setSimData(t, sim, mysql.UUID, "mysql rows")
	const unknown = "0b5d3a2e-8f1c-4f7a-9a43-2c6f0e8d1b77"
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
		{"unknown source", true, unknown, mysql.UUID, []string{"Service instance not found: No service instance has the id \"" + unknown + "\""}},
		{"unknown target", true, live.UUID, unknown, []string{"Service instance not found: No service instance has the id \"" + unknown + "\""}},
		{"into another engine", true, live.UUID, mysql.UUID, []string{
			copyOf(live.UUID, mysql.UUID) + "refused: The Divio API refused to write the data of service instance " + live.UUID + " (postgres-15, prefix DEFAULT)",
			"into service instance " + mysql.UUID + " (mysql-8, prefix DEFAULT)", "runs mysql-8: a backup of postgres-15 restores into the same engine",
			"the backup taken for the copy was deleted", "The target keeps its data and status.",
		}},
		{"into another type", true, live.UUID, storage.UUID, []string{
			copyOf(live.UUID, storage.UUID) + "refused: Service instance " + live.UUID + " (postgres-15, prefix DEFAULT)", "is a STORAGE instance",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProtocolProvider(t, env, tc.configure)
			_, errs := p.invoke("divio_copy_data", map[string]string{"source_service_id": tc.source, "target_service_id": tc.target})
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

// `terraform apply -invoke` copies live's data into test with Terraform 1.14's CLI, shows the
// progress, refuses a copy into another engine with the API's reason, and a copy of an instance
// into itself before anything is sent.
func TestAccCopyDataAction_applyInvoke(t *testing.T) {
	cli := newTerraformCLI(t)
	if ok, name := cli.terraformAtLeast(1, 14); !ok {
		t.Skipf("actions need Terraform 1.14 or newer; this is %s", name)
	}
	env := newTestEnv(t)
	sim := env.requireSim(t)
	client := env.client(t)
	live := addTestInstance(t, client, demoLiveEnvID, simulator.ServicePostgres15, "DEFAULT", true)
	test := addTestInstance(t, client, demoTestEnvID, simulator.ServicePostgres15, "DEFAULT", true)
	mysql := addTestInstance(t, client, demoTestEnvID, simulator.ServiceMySQL8, "MYSQL", true)
	setSimData(t, sim, live.UUID, "live rows")
	setSimData(t, sim, test.UUID, "test rows")
	setSimData(t, sim, mysql.UUID, "mysql rows")

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
`, live.UUID, test.UUID, mysql.UUID)))
	cli.init()

	out := cli.mustRun("apply", "-auto-approve", "-no-color", "-invoke=action.divio_copy_data.refresh_test")
	if got := simData(t, sim, test.UUID); got != "live rows" {
		t.Errorf("test holds %q, want live's data\n%s", got, out)
	}
	backups, restores := sim.Backups(), sim.Restores()
	if len(backups) != 1 || len(restores) != 1 || backups[0].Notes != "Refresh test from live" {
		t.Fatalf("backups %+v, restores %+v: want one of each, with the notes\n%s", backups, restores, out)
	}
	for _, want := range []string{
		fmt.Sprintf("Action action.divio_copy_data.refresh_test (triggered by CLI): Backing up service instance %s (postgres-15, prefix DEFAULT) in environment demo-app/live", live.UUID),
		fmt.Sprintf("Action action.divio_copy_data.refresh_test (triggered by CLI): Restore %s of the DATABASE DEFAULT backup %s into service instance %s succeeded\n", restores[0].UUID, backups[0].UUID, test.UUID),
		"Actions: 1 invoked.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the output lacks %q:\n%s", want, out)
		}
	}

	out, failed := cli.run("apply", "-auto-approve", "-no-color", "-invoke=action.divio_copy_data.into_mysql")
	if !failed || !errorText("Error: Error when invoking action", "Copy of service instance "+live.UUID+" into service instance "+mysql.UUID+" refused",
		"(postgres-15, prefix DEFAULT)", "(mysql-8, prefix MYSQL)", "data is written only into an instance of the same type and engine, in the same or a newer version",
		"runs mysql-8: a backup of postgres-15 restores into the same engine", "the backup taken for the copy was deleted").MatchString(out) {
		t.Errorf("want the copy into mysql refused with the reason:\n%s", out)
	}
	if got := simData(t, sim, mysql.UUID); got != "mysql rows" || len(sim.Backups()) != 1 || len(sim.Restores()) != 1 {
		t.Errorf("mysql holds %q, backups %+v, restores %+v: want the refused copy to change and leave nothing", got, sim.Backups(), sim.Restores())
	}

	cli.write(env.config(fmt.Sprintf(`
action "divio_copy_data" "into_itself" {
  config {
    source_service_id = %[1]q
    target_service_id = %[1]q
  }
}
`, live.UUID)))
	out, failed = cli.run("validate", "-no-color")
	if !failed || !errorText("Error: Source and target are the same service instance", "an instance's data cannot be copied into itself").MatchString(out) {
		t.Errorf("want validate to refuse a copy into itself:\n%s", out)
	}
}
