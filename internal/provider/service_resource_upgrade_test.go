package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/divio/terraform-provider-divio/internal/divio"
	"github.com/divio/terraform-provider-divio/internal/simulator"
)

// upgradeConfig is a postgres divio_service "db" of demo-app/test in the given version, with an
// attachment when attached.
func upgradeConfig(env *testEnv, service string, attached bool) string {
	return upgradeConfigIn(env, demoTestEnvID, service, attached)
}

// upgradeConfigIn is upgradeConfig in another environment.
func upgradeConfigIn(env *testEnv, envID, service string, attached bool) string {
	config := fmt.Sprintf("resource \"divio_service\" \"db\" {\n  environment_id = %q\n  service        = %q\n}\n", envID, service)
	if attached {
		config += "\nresource \"divio_service_attachment\" \"db\" {\n  service_id = divio_service.db.id\n}\n"
	}
	return env.config(config)
}

// instanceData returns the simulator's data token of an instance, and whether it is there, not
// removed.
func instanceData(sim *simulator.Simulator, id string) (string, bool) {
	for _, in := range sim.InstanceStates() {
		if in.UUID == id {
			return in.Data, in.Status != simulator.StatusRemoved
		}
	}
	return "", false
}

// Changing service to a newer version of the engine upgrades the instance in place: the plan shows
// an update, and says what it does; the data arrives in the new instance, which takes the prefix and
// the resource's id; the old one is removed after its final backup; an attached instance is swapped
// with exactly one deployment, and no deployment leaves the application without the prefix's
// variables; an unattached one with none. The attachment follows without being replaced, and records the swap's deployment. The plan
// after is empty.
func TestAccServiceResource_upgrade(t *testing.T) {
	for _, attached := range []bool{true, false} {
		t.Run(fmt.Sprintf("attached: %v", attached), func(t *testing.T) {
			env := newTestEnv(t)
			sim := env.requireSim(t)
			cli := newTerraformCLI(t)
			cli.apply(upgradeConfig(env, "postgres-15", attached))
			old, err := onlySimInstance(sim)
			if err != nil {
				t.Fatal(err)
			}
			if err := sim.SetInstanceData(old.UUID, "rows of live data"); err != nil {
				t.Fatal(err)
			}
			deploymentsBefore := len(testDeployments(sim))

			config := upgradeConfig(env, "postgres-16", attached)
			diags, failed := cli.plan(config)
			if upgraded := withSummary(diags, "Database upgraded in place"); failed || len(upgraded) != 1 ||
				!strings.Contains(upgraded[0].Detail, "moves from postgres-15 to postgres-16, keeping its data") {
				t.Errorf("want the plan's upgrade warning, got %v", diags)
			}
			plan := cli.mustRun("plan", "-no-color", "-input=false")
			if !strings.Contains(plan, "divio_service.db will be updated in-place") || strings.Contains(plan, "must be replaced") ||
				attached && !strings.Contains(plan, "divio_service_attachment.db will be updated in-place") {
				t.Errorf("want in-place updates, got:\n%s", plan)
			}
			diags = cli.apply(config)
			if kept := withSummary(diags, "Final backup kept"); len(kept) != 1 || !strings.Contains(kept[0].Detail, old.UUID) {
				t.Errorf("want the old instance's final backup reported, got %v", diags)
			}

			live := liveInstances(sim)
			if len(live) != 1 || live[0].UUID == old.UUID || live[0].Prefix != "DEFAULT" || live[0].Service != simulator.ServiceID(simulator.ServicePostgres16) {
				t.Fatalf("instances after the upgrade: %+v; want one postgres-16 DEFAULT instance, not the old one", live)
			}
			next := live[0]
			if data, _ := instanceData(sim, next.UUID); data != "rows of live data" {
				t.Errorf("the new instance holds %q, want the old one's data", data)
			}
			if _, there := instanceData(sim, old.UUID); there {
				t.Error("the old instance is still there")
			}
			if state := cli.mustRun("state", "show", "-no-color", "divio_service.db"); !strings.Contains(state, next.UUID) {
				t.Errorf("the resource's id is not the new instance's:\n%s", state)
			}
			deployments := testDeployments(sim)[deploymentsBefore:]
			wantDeployments, wantStatus := 0, simulator.StatusPendingAttachment
			if attached {
				wantDeployments, wantStatus = 1, simulator.StatusAttached
			}
			if len(deployments) != wantDeployments || next.Status != wantStatus {
				t.Errorf("%d deployments for the upgrade, new instance %s; want %d, %s", len(deployments), next.Status, wantDeployments, wantStatus)
			}
			for _, d := range testDeployments(sim) {
				if names := sim.DeploymentVariables(d.UUID); !slices.Contains(names, "DEFAULT_DATABASE_DSN") {
					t.Errorf("deployment %s gave the application %v, without DEFAULT_DATABASE_DSN", d.UUID, names)
				}
			}
			if attached {
				state := cli.mustRun("state", "show", "-no-color", "divio_service_attachment.db")
				if !strings.Contains(state, next.UUID) {
					t.Errorf("the attachment does not follow the new instance:\n%s", state)
				}
				if len(deployments) == 1 && !strings.Contains(state, fmt.Sprintf("deployment_id  = %q", deployments[0].UUID)) {
					t.Errorf("the attachment does not record the deployment that swapped, %s:\n%s", deployments[0].UUID, state)
				}
			}
			if empty, plan := cli.planIsEmpty(); !empty {
				t.Errorf("the plan after the upgrade is not empty:\n%s", plan)
			}
		})
	}
}

// A move to an older version is refused at plan; another engine is a replacement.
func TestAccServiceResource_upgradeGuards(t *testing.T) {
	env := newTestEnv(t)
	env.requireSim(t)
	cli := newTerraformCLI(t)
	cli.apply(upgradeConfig(env, "postgres-16", false))
	diags, failed := cli.plan(upgradeConfig(env, "postgres-15", false))
	if refused := withSummary(diags, "Cannot move to an older version"); !failed || len(refused) != 1 ||
		!strings.Contains(refused[0].Detail, "runs postgres-16, and service asks for postgres-15, an older version of the engine") {
		t.Errorf("want the downgrade refused, got failed %v, %v", failed, diags)
	}
	cli.write(upgradeConfig(env, "mysql-8", false))
	if plan := cli.mustRun("plan", "-no-color", "-input=false"); !strings.Contains(plan, "divio_service.db must be replaced") {
		t.Errorf("want a replacement for another engine, got:\n%s", plan)
	}
}

// Changing the prefix of an attached instance renames it in place: the same instance, with its
// data, and no deployment; the plan says when the application sees the new names.
func TestAccServiceResource_rename(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	cli := newTerraformCLI(t)
	cli.apply(upgradeConfig(env, "postgres-15", true))
	before, err := onlySimInstance(sim)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.SetInstanceData(before.UUID, "kept through the rename"); err != nil {
		t.Fatal(err)
	}
	deployments := len(testDeployments(sim))
	renamed := strings.Replace(upgradeConfig(env, "postgres-15", true), `service        = "postgres-15"`, "service        = \"postgres-15\"\n  prefix         = \"MAIN\"", 1)
	diags, _ := cli.plan(renamed)
	if warned := withSummary(diags, "Prefix renamed in place"); len(warned) != 1 ||
		!strings.Contains(warned[0].Detail, "The application keeps DATABASE_URL, DEFAULT_DATABASE_DSN, as its last deployment gave them, until the environment's next deployment") {
		t.Errorf("want the rename's warning, got %v", diags)
	}
	cli.apply(renamed)
	after, err := onlySimInstance(sim)
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := instanceData(sim, after.UUID); after.UUID != before.UUID || after.Prefix != "MAIN" || after.Status != simulator.StatusAttached || data != "kept through the rename" {
		t.Errorf("after the rename: %+v with %q; want instance %s, MAIN, ATTACHED, with its data", after, data, before.UUID)
	}
	if got := len(testDeployments(sim)); got != deployments {
		t.Errorf("the rename deployed %d times, want 0", got-deployments)
	}
	if empty, plan := cli.planIsEmpty(); !empty {
		t.Errorf("the plan after the rename is not empty:\n%s", plan)
	}
}

// Divio moved the instance to a newer version itself (the contract's rule 10): the plan changes
// nothing and warns once; once the configuration says the new version, the plan records it without
// touching the instance.
func TestAccServiceResource_platformUpgrade(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	cli := newTerraformCLI(t)
	cli.apply(upgradeConfig(env, "postgres-15", false))
	in, err := onlySimInstance(sim)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.UpgradeInstance(in.UUID, simulator.ServicePostgres16); err != nil {
		t.Fatal(err)
	}
	diags, failed := cli.plan(upgradeConfig(env, "postgres-15", false), "-detailed-exitcode")
	if warned := withSummary(diags, "Service upgraded by Divio"); failed || len(warned) != 1 ||
		!strings.Contains(warned[0].Detail, "from postgres-15 to postgres-16 in place") || !strings.Contains(warned[0].Detail, `service = "postgres-16"`) {
		t.Errorf("want one warning and no change, got failed %v (exit 2 is a change), %v", failed, diags)
	}
	cli.apply(upgradeConfig(env, "postgres-16", false))
	if after, err := onlySimInstance(sim); err != nil || after.UUID != in.UUID {
		t.Errorf("after the configuration followed: %+v, %v; want the same instance %s", after, err, in.UUID)
	}
	if empty, plan := cli.planIsEmpty(); !empty {
		t.Errorf("the plan after the configuration followed is not empty:\n%s", plan)
	}
}

// copy_data_from fills a new test database with a copy of live's.
func TestAccServiceResource_copyDataFrom(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	live := addTestInstance(t, env.client(t), simulator.EnvironmentID(simulator.DemoApp, simulator.EnvLive), simulator.ServicePostgres15, "DEFAULT", true)
	if err := sim.SetInstanceData(live.UUID, "live's rows"); err != nil {
		t.Fatal(err)
	}
	cli := newTerraformCLI(t)
	cli.apply(env.config(fmt.Sprintf(`
resource "divio_service" "test" {
  environment_id = %q
  service        = "postgres-16"
  copy_data_from = {
    service_id = %q
  }
}
`, demoTestEnvID, live.UUID)))
	for _, in := range liveInstances(sim) {
		if in.Environment == demoTestEnvID {
			if data, _ := instanceData(sim, in.UUID); data != "live's rows" {
				t.Errorf("the test database holds %q, want live's data", data)
			}
			return
		}
	}
	t.Error("no test database was added")
}

// A killed run records nothing: the instance it added, with its copy_data_from not yet made, comes
// back by import, and the update that sets copy_data_from fills it, since no deployment has attached
// it; an instance that has been attached keeps its data, and the plan says which is which.
func TestAccServiceResource_copyDataFromAfterImport(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	client := env.client(t)
	live := addTestInstance(t, client, simulator.EnvironmentID(simulator.DemoApp, simulator.EnvLive), simulator.ServicePostgres15, "DEFAULT", true)
	used := addTestInstance(t, client, demoTestEnvID, simulator.ServicePostgres16, "USED", true)
	attachTestInstance(t, client, used) // before the other is added: a deployment attaches what was added
	added := addTestInstance(t, client, demoTestEnvID, simulator.ServicePostgres16, "DEFAULT", true)
	for id, data := range map[string]string{live.UUID: "live's rows", used.UUID: "test's own rows"} {
		if err := sim.SetInstanceData(id, data); err != nil {
			t.Fatal(err)
		}
	}
	var config strings.Builder
	for name, inst := range map[string]*divio.ServiceInstance{"added": added, "used": used} {
		fmt.Fprintf(&config, `
import {
  to = divio_service.%[1]s
  id = %[2]q
}

resource "divio_service" "%[1]s" {
  environment_id = %[3]q
  service        = "postgres-16"
  prefix         = %[4]q
  copy_data_from = {
    service_id = %[5]q
  }
}
`, name, inst.UUID, demoTestEnvID, inst.Prefix, live.UUID)
	}
	cli := newTerraformCLI(t)
	diags, failed := cli.plan(env.config(config.String()))
	copied, kept := withSummary(diags, "Data copied into an existing instance"), withSummary(diags, "Data not copied")
	if failed || len(copied) != 1 || !strings.Contains(copied[0].Detail, added.UUID) || len(kept) != 1 || !strings.Contains(kept[0].Detail, used.UUID) {
		t.Fatalf("the plan: failed %v, %v; want one warning that %s is filled, one that %s keeps its data", failed, diags, added.UUID, used.UUID)
	}
	cli.apply(env.config(config.String()))
	for id, want := range map[string]string{added.UUID: "live's rows", used.UUID: "test's own rows"} {
		if data, _ := instanceData(sim, id); data != want {
			t.Errorf("instance %s holds %q, want %q", id, data, want)
		}
	}
	if empty, plan := cli.planIsEmpty(); !empty {
		t.Errorf("the plan after the apply is not empty:\n%s", plan)
	}
}

// An upgrade stopped by a failed restore, or by a failed swap deployment, leaves the old instance in
// the state, attached, with its data, and the application running as before; the next plain apply
// finishes the upgrade, with no instance added twice and none left behind.
func TestAccServiceResource_upgradeResumes(t *testing.T) {
	for _, tc := range []struct {
		name, step, envID string
		fail              func(*simulator.Simulator)
		// deployedBetween: a deployment outside Terraform runs before the next apply, and attaches
		// the new instance under its temporary prefix, as any deployment attaches what was added.
		deployedBetween bool
	}{
		{"failed restore", "while it copied the data into the new instance", demoTestEnvID, (*simulator.Simulator).FailNextRestore, false},
		{"failed restore, then a deployment attached the new instance", "while it copied the data into the new instance",
			demoTestEnvID, (*simulator.Simulator).FailNextRestore, true},
		// azure-app's subscription has room for one postgres-16: the one the stopped apply added.
		{"failed deployment", "while it deployed the environment to detach the old instance and attach the new one",
			simulator.EnvironmentID(simulator.AzureApp, simulator.EnvTest), (*simulator.Simulator).FailNextDeploy, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t)
			sim := env.requireSim(t)
			cli := newTerraformCLI(t)
			cli.apply(upgradeConfigIn(env, tc.envID, "postgres-15", true))
			old, err := onlySimInstance(sim)
			if err != nil {
				t.Fatal(err)
			}
			if err := sim.SetInstanceData(old.UUID, "precious"); err != nil {
				t.Fatal(err)
			}
			tc.fail(sim)
			cli.write(upgradeConfigIn(env, tc.envID, "postgres-16", true))
			out, failed := cli.run("apply", "-auto-approve", "-json", "-input=false")
			errs := strings.Join(diagnosticStrings(diagnostics(out)), "\n")
			if !failed || !strings.Contains(errs, "error: Upgrade of service instance "+old.UUID+" stopped") || !strings.Contains(errs, tc.step) ||
				!strings.Contains(errs, "The next apply finishes the upgrade from where it stopped") {
				t.Fatalf("want the upgrade stopped %s, got failed %v:\n%s", tc.step, failed, errs)
			}
			if data, there := instanceData(sim, old.UUID); !there || data != "precious" || simInstanceStatus(sim, old.UUID) != simulator.StatusAttached {
				t.Errorf("the old instance: there %v, data %q, status %s; want it attached with its data", there, data, simInstanceStatus(sim, old.UUID))
			}

			if tc.deployedBetween {
				deployOutsideTerraform(t, env, tc.envID)
				live := liveInstances(sim)
				if len(live) != 2 || slices.ContainsFunc(live, func(in simulator.Instance) bool { return in.Status != simulator.StatusAttached }) {
					t.Fatalf("after the deployment outside Terraform: %+v; want the new instance attached beside the old", live)
				}
			}

			// The plan that resumes it names no instance a deployment would attach unasked: the new
			// instance is the upgrade's own.
			if diags, failed := cli.plan(upgradeConfigIn(env, tc.envID, "postgres-16", true)); failed || len(withSummary(diags, "Deployment attaches services that no attachment covers")) > 0 {
				t.Errorf("the plan that resumes the upgrade: failed %v, %v", failed, diags)
			}
			cli.apply(upgradeConfigIn(env, tc.envID, "postgres-16", true))
			live := liveInstances(sim)
			if len(live) != 1 || live[0].UUID == old.UUID || live[0].Prefix != "DEFAULT" || live[0].Status != simulator.StatusAttached {
				t.Fatalf("after the next apply: %+v; want only the new instance, DEFAULT, attached", live)
			}
			if data, _ := instanceData(sim, live[0].UUID); data != "precious" {
				t.Errorf("the new instance holds %q, want the old one's data", data)
			}
			for _, d := range testDeployments(sim) {
				if d.Status == simulator.DeploymentSuccess && !slices.Contains(sim.DeploymentVariables(d.UUID), "DEFAULT_DATABASE_DSN") {
					t.Errorf("deployment %s left the application without DEFAULT_DATABASE_DSN", d.UUID)
				}
			}
			if empty, plan := cli.planIsEmpty(); !empty {
				t.Errorf("the plan after the upgrade is not empty:\n%s", plan)
			}
		})
	}
}

func simInstanceStatus(sim *simulator.Simulator, id string) string {
	for _, in := range sim.InstanceStates() {
		if in.UUID == id {
			return in.Status
		}
	}
	return ""
}

// upgradeConfigWithTimeouts is upgradeConfig, attached, with the divio_service's timeouts.
func upgradeConfigWithTimeouts(env *testEnv, service, create, update string) string {
	return env.config(fmt.Sprintf(`resource "divio_service" "db" {
  environment_id = %q
  service        = %q
  timeouts = {
    create = %q
    update = %q
  }
}

resource "divio_service_attachment" "db" {
  service_id = divio_service.db.id
}
`, demoTestEnvID, service, create, update))
}

// An upgrade whose new instance is stuck in provisioning stops at the create timeout, and says
// that the next apply replaces that instance; the next plan says so too, and its apply removes the
// stuck instance, adds another and finishes the upgrade with the data.
func TestAccServiceResource_upgradeReplacesAStuckNewInstance(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	cli := newTerraformCLI(t)
	cli.apply(upgradeConfigWithTimeouts(env, "postgres-15", "2s", "60s"))
	old, err := onlySimInstance(sim)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.SetInstanceData(old.UUID, "precious"); err != nil {
		t.Fatal(err)
	}
	sim.StallNextProvision()
	config := upgradeConfigWithTimeouts(env, "postgres-16", "2s", "60s")
	cli.write(config)
	out, failed := cli.run("apply", "-auto-approve", "-json", "-input=false")
	errs := strings.Join(diagnosticStrings(diagnostics(out)), "\n")
	if !failed || !strings.Contains(errs, "while it provisioned the new instance") || !strings.Contains(errs, "appears stuck, and holds no data, so the next apply removes it and adds another") {
		t.Fatalf("want the upgrade stopped at the create timeout, got failed %v:\n%s", failed, errs)
	}
	var stuck string
	for _, in := range liveInstances(sim) {
		if in.UUID != old.UUID {
			stuck = in.UUID
		}
	}
	if stuck == "" {
		t.Fatal("no new instance was added")
	}

	diags, failed := cli.plan(config)
	if upgraded := withSummary(diags, "Database upgraded in place"); failed || len(upgraded) != 1 || !strings.Contains(upgraded[0].Detail, stuck) ||
		!strings.Contains(upgraded[0].Detail, "it appears stuck and holds no data, so the apply removes it and adds another") {
		t.Errorf("want the plan to say that the stuck instance is replaced, got failed %v, %v", failed, diags)
	}
	cli.apply(config)
	live := liveInstances(sim)
	if len(live) != 1 || live[0].UUID == old.UUID || live[0].UUID == stuck || live[0].Prefix != "DEFAULT" || live[0].Status != simulator.StatusAttached {
		t.Fatalf("after the next apply: %+v; want only a third instance, DEFAULT, attached", live)
	}
	if data, _ := instanceData(sim, live[0].UUID); data != "precious" {
		t.Errorf("the new instance holds %q, want the old one's data", data)
	}
}

// An upgrade whose update timeout runs out during the swap deployment says that the deployment goes
// on; once it has ended, the next apply finishes the upgrade.
func TestAccServiceResource_upgradeTimeoutDuringTheSwap(t *testing.T) {
	env := newTestEnv(t, func(o *simulator.Options) { o.DeployDelay = 6 * time.Second })
	sim := env.requireSim(t)
	cli := newTerraformCLI(t)
	cli.apply(upgradeConfigWithTimeouts(env, "postgres-15", "60s", "60s"))
	old, err := onlySimInstance(sim)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.SetInstanceData(old.UUID, "precious"); err != nil {
		t.Fatal(err)
	}
	cli.write(upgradeConfigWithTimeouts(env, "postgres-16", "60s", "3s"))
	out, failed := cli.run("apply", "-auto-approve", "-json", "-input=false")
	errs := strings.Join(diagnosticStrings(diagnostics(out)), "\n")
	if !failed || !strings.Contains(errs, "while it deployed the environment") || !strings.Contains(errs, "until the deployment, if one began, ends") {
		t.Fatalf("want the upgrade stopped during the swap, got failed %v:\n%s", failed, errs)
	}
	waitUntil(t, "the swap deployment ends", func() bool {
		deps := testDeployments(sim)
		return len(deps) > 0 && deps[len(deps)-1].Status == simulator.DeploymentSuccess && simInstanceStatus(sim, old.UUID) == simulator.StatusDetached
	})

	config := upgradeConfigWithTimeouts(env, "postgres-16", "60s", "60s")
	if diags, failed := cli.plan(config); failed || len(withSummary(diags, "Database upgraded in place")) != 1 {
		t.Errorf("the plan that finishes the upgrade: failed %v, %v", failed, diags)
	} else if detail := withSummary(diags, "Database upgraded in place")[0].Detail; strings.Contains(detail, "the new one is not") {
		t.Errorf("the plan says the new instance is not attached, and it is: %s", detail)
	}
	cli.apply(config)
	live := liveInstances(sim)
	if len(live) != 1 || live[0].UUID == old.UUID || live[0].Prefix != "DEFAULT" || live[0].Status != simulator.StatusAttached {
		t.Fatalf("after the next apply: %+v; want only the new instance, DEFAULT, attached", live)
	}
	if data, _ := instanceData(sim, live[0].UUID); data != "precious" {
		t.Errorf("the new instance holds %q, want the old one's data", data)
	}
	if empty, plan := cli.planIsEmpty(); !empty {
		t.Errorf("the plan after the upgrade is not empty:\n%s", plan)
	}
}

// An apply killed after the upgrade removed the old instance, and before Terraform saved the state,
// leaves a state that names the removed instance: the refresh follows the resource to its new
// instance (by the notes of the upgrade's backup), and the next apply adds, removes and deploys
// nothing.
func TestAccServiceResource_upgradeKilledBeforeTheStateWasSaved(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	cli := newTerraformCLI(t)
	cli.apply(upgradeConfig(env, "postgres-15", true))
	stateFile := filepath.Join(cli.dir, "terraform.tfstate")
	before, err := os.ReadFile(stateFile)
	if err != nil {
		t.Fatal(err)
	}
	config := upgradeConfig(env, "postgres-16", true)
	cli.apply(config)
	live := liveInstances(sim)
	if len(live) != 1 {
		t.Fatalf("after the upgrade: %+v; want one instance", live)
	}
	if err := os.WriteFile(stateFile, before, 0o600); err != nil { // as if the apply had never saved
		t.Fatal(err)
	}
	deployments := len(testDeployments(sim))

	cli.apply(config)
	if state := cli.mustRun("state", "show", "-no-color", "divio_service.db"); !strings.Contains(state, live[0].UUID) {
		t.Errorf("the resource does not follow the new instance %s:\n%s", live[0].UUID, state)
	}
	if now := liveInstances(sim); len(now) != 1 || now[0].UUID != live[0].UUID {
		t.Errorf("instances after the apply: %+v; want only %s", now, live[0].UUID)
	}
	if n := len(testDeployments(sim)) - deployments; n != 0 {
		t.Errorf("the apply deployed %d times, want 0", n)
	}
	if empty, plan := cli.planIsEmpty(); !empty {
		t.Errorf("the plan after is not empty:\n%s", plan)
	}
}
