package provider

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/divio/terraform-provider-divio/internal/divio"
	"github.com/divio/terraform-provider-divio/internal/simulator"
)

func TestDeployAction_invoke(t *testing.T) {
	// A deployment that takes a while, so that its percent can be seen moving.
	env := newTestEnv(t, withDeployDelay(500*time.Millisecond))
	sim := env.requireSim(t)
	client := env.client(t)
	inst := addTestInstance(t, client, demoTestEnvID, simulator.ServicePostgres15, "DEFAULT", true)
	if err := client.AttachServiceInstance(context.Background(), inst.UUID); err != nil {
		t.Fatal(err)
	}
	p := newProtocolProvider(t, env, true)

	progress, errs := p.invoke("divio_deploy", map[string]string{"environment_id": demoTestEnvID})
	if errs != "" {
		t.Fatal(errs)
	}
	deployments := testDeployments(sim)
	if len(deployments) != 1 {
		t.Fatalf("the simulator ran %d deployments, want 1", len(deployments))
	}
	id := deployments[0].UUID
	t.Logf("progress: %q", progress)
	expectStatus(t, sim, simulator.StatusAttached, inst.UUID)
	if len(progress) < 4 || progress[0] != "Deploying demo-app/test" || progress[len(progress)-1] != "Deployment "+id+" of demo-app/test succeeded" {
		t.Fatalf("progress = %q, want Deploying, at least two percents, then succeeded", progress)
	}
	// The percents in between: of this deployment, each higher than the one before.
	percent := regexp.MustCompile(`^Deployment ` + regexp.QuoteMeta(id) + ` of demo-app/test: (\d+)%$`)
	last := -1
	for _, message := range progress[1 : len(progress)-1] {
		m := percent.FindStringSubmatch(message)
		if m == nil {
			t.Fatalf("progress %q is not a percent of deployment %s", message, id)
		}
		n, _ := strconv.Atoi(m[1])
		if n <= last || n > 100 {
			t.Errorf("percent %d after %d: progress = %q", n, last, progress)
		}
		last = n
	}
}

func TestDeployAction_failedDeploymentShowsItsLog(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	sim.FailNextDeploy()
	p := newProtocolProvider(t, env, true)

	_, errs := p.invoke("divio_deploy", map[string]string{"environment_id": demoTestEnvID})
	deployments := testDeployments(sim)
	if len(deployments) != 1 {
		t.Fatalf("the simulator ran %d deployments, want 1", len(deployments))
	}
	want := fmt.Sprintf("Deployment of demo-app/test failed: Deployment %s of demo-app/test ended with status failed. "+
		"The application keeps running its previous configuration", deployments[0].UUID)
	if !strings.HasPrefix(errs, want) {
		t.Fatalf("error = %q, want one that starts %q", errs, want)
	}
	if !strings.Contains(errs, "The end of its log:\n") || !strings.Contains(errs, "Deployment failed: the build failed") {
		t.Errorf("error = %q, want the end of the deployment's log", errs)
	}
}

func TestDeployAction_errors(t *testing.T) {
	env := newTestEnv(t)
	const unknownEnv = "0b5d3a2e-8f1c-4f7a-9a43-2c6f0e8d1b77"
	for _, tc := range []struct {
		name      string
		configure bool
		envID     string
		want      string
	}{
		{"unknown environment", true, unknownEnv, "Cannot find environment " + unknownEnv + ": "},
		{"provider not configured", false, demoTestEnvID, "Divio provider not configured: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProtocolProvider(t, env, tc.configure)
			if _, errs := p.invoke("divio_deploy", map[string]string{"environment_id": tc.envID}); !strings.HasPrefix(errs, tc.want) {
				t.Errorf("error = %q, want one that starts %q", errs, tc.want)
			}
		})
	}
}

func TestLogTail(t *testing.T) {
	for _, tc := range []struct {
		log  string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc"},
		{"a\nb\nc", 5, "a\nb\nc"},
		{"", 3, ""},
	} {
		if got := logTail(tc.log, tc.n); got != tc.want {
			t.Errorf("logTail(%q, %d) = %q, want %q", tc.log, tc.n, got, tc.want)
		}
	}
}

// deployTriggerConfig marks an instance for attachment and deploys with the action after the
// attachment is created or, with events, also updated.
func deployTriggerConfig(env *testEnv, serviceID, events, timeout string) string {
	return env.config(fmt.Sprintf(`
resource "divio_service_attachment" "a" {
  service_id = %q
  deploy     = false

  timeouts = {
    create = %q
  }

  lifecycle {
    action_trigger {
      events  = [%s]
      actions = [action.divio_deploy.test]
    }
  }
}

action "divio_deploy" "test" {
  config {
    environment_id = %q
  }
}
`, serviceID, timeout, events, demoTestEnvID))
}

func TestAccDeployAction_trigger(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	ids := addAttachableInstances(t, env, demoTestEnvID, 1)

	resource.ParallelTest(t, resource.TestCase{
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_14_0)},
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             env.checkNothingAttached(env.demoTest()),
		Steps: []resource.TestStep{
			{
				// The attachment only marks the instance; the action's deployment attaches it.
				Config: deployTriggerConfig(env, ids[0], "after_create", "10m"),
				Check: resource.ComposeAggregateTestCheckFunc(
					expectSimInstance(sim, ids[0], simulator.StatusAttached),
					env.expectDeployments(1),
				),
			},
			{
				// An update without after_update among the events deploys nothing.
				Config: deployTriggerConfig(env, ids[0], "after_create", "11m"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(attachmentAddr, plancheck.ResourceActionUpdate)},
				},
				Check: env.expectDeployments(1),
			},
			{
				Config: deployTriggerConfig(env, ids[0], "after_create, after_update", "12m"),
				Check:  env.expectDeployments(2),
			},
		},
	})
}

// `terraform apply -invoke` runs an action alone and shows its progress; the testing framework
// cannot drive it, so the test runs the CLI itself, with both actions on legacy-app.
func TestAccActions_applyInvoke(t *testing.T) {
	cli := newTerraformCLI(t)
	if ok, name := cli.terraformAtLeast(1, 14); !ok {
		t.Skipf("actions need Terraform 1.14 or newer; this is %s", name)
	}
	env := newTestEnv(t, withDeployDelay(500*time.Millisecond))
	sim := env.requireSim(t)
	liveEnvID := simulator.EnvironmentID(simulator.LegacyApp, simulator.EnvLive)
	liveDeployments := func() []simulator.Deployment {
		var deps []simulator.Deployment
		for _, d := range sim.Deployments() {
			if d.Environment == liveEnvID {
				deps = append(deps, d)
			}
		}
		return deps
	}
	client := env.client(t)
	instances, err := client.ListServiceInstances(context.Background(), liveEnvID)
	if err != nil {
		t.Fatal(err)
	}
	var database *divio.ServiceInstance
	for i := range instances {
		if instances[i].Type == divio.TypeDatabase {
			database = &instances[i]
		}
	}
	if database == nil {
		t.Fatalf("legacy-app/live has no database: %+v", instances)
	}
	part := addTestBackup(t, client, database)

	cli.write(env.config(fmt.Sprintf(`
data "divio_application" "legacy" {
  slug = "legacy-app"
}

data "divio_environment" "live" {
  application_id = data.divio_application.legacy.id
  slug           = "live"
}

action "divio_deploy" "live" {
  config {
    environment_id = data.divio_environment.live.id
  }
}

action "divio_restore_backup" "database" {
  config {
    service_instance_backup_id = %q
  }
}
`, part.UUID)))
	cli.init()
	expectOutput := func(out string, lines ...string) {
		t.Helper()
		for _, want := range append(lines, "Actions: 1 invoked.") {
			if !strings.Contains(out, want) {
				t.Errorf("the output lacks %q:\n%s", want, out)
			}
		}
	}

	before := len(liveDeployments())
	out := cli.mustRun("apply", "-auto-approve", "-no-color", "-invoke=action.divio_deploy.live")
	deployments := liveDeployments()
	if len(deployments) != before+1 {
		t.Fatalf("the simulator ran %d deployments of legacy-app/live, want 1\n%s", len(deployments)-before, out)
	}
	expectOutput(out,
		"Action action.divio_deploy.live (triggered by CLI): Deploying legacy-app/live\n",
		fmt.Sprintf("Action action.divio_deploy.live (triggered by CLI): Deployment %s of legacy-app/live succeeded\n", deployments[len(deployments)-1].UUID))

	out = cli.mustRun("apply", "-auto-approve", "-no-color", "-invoke=action.divio_restore_backup.database")
	restores := sim.Restores()
	if len(restores) != 1 || restores[0].Backup != part.Backup || restores[0].Success == nil || *restores[0].Success != "SUCCESS" {
		t.Fatalf("the simulator's restores are %+v, want one successful restore of backup %s\n%s", restores, part.Backup, out)
	}
	expectOutput(out, fmt.Sprintf("Action action.divio_restore_backup.database (triggered by CLI): Restore %s of the DATABASE DEFAULT backup %s into service instance %s succeeded\n",
		restores[0].UUID, part.Backup, database.UUID))
}
