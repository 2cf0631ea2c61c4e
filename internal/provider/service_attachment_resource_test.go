package provider

import (
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/divio/terraform-provider-divio/internal/divio"
	"github.com/divio/terraform-provider-divio/internal/simulator"
)

func TestAccServiceAttachment_lifecycle(t *testing.T) {
	// Parallel before it adds instances, not in ParallelTest: a test paused there would hold them
	// (and the subscription's room) while the others run.
	t.Parallel()
	env := newTestEnv(t)
	envID := env.demoTest()
	ids := addAttachableInstances(t, env, envID, 2)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             env.checkNothingAttached(envID),
		Steps: []resource.TestStep{
			{
				Config: attachmentConfig(env, ids[0], ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(attachmentAddr, plancheck.ResourceActionCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(attachmentAddr, tfjsonpath.New("id"), knownvalue.StringExact(ids[0])),
					statecheck.ExpectKnownValue(attachmentAddr, tfjsonpath.New("environment_id"), knownvalue.StringExact(envID)),
					statecheck.ExpectKnownValue(attachmentAddr, tfjsonpath.New("status"), knownvalue.StringExact(divio.StatusAttached)),
					statecheck.ExpectKnownValue(attachmentAddr, tfjsonpath.New("deploy"), knownvalue.Bool(true)),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					env.expectInstance(ids[0], simulator.StatusAttached),
					// Every deployment attaches what awaits attachment: the other instance too.
					env.expectInstance(ids[1], simulator.StatusAttached),
					env.expectDeployments(1),
					env.expectLastDeploymentIn(envID, attachmentAddr, "deployment_id"),
				),
			},
			{
				Config: attachmentConfig(env, ids[0], ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				ResourceName:      attachmentAddr,
				ImportState:       true,
				ImportStateId:     ids[0],
				ImportStateVerify: true,
				// Which deployment attached an instance is known only to the apply that deployed.
				ImportStateVerifyIgnore: []string{"deployment_id"},
			},
			{
				ResourceName:  attachmentAddr,
				ImportState:   true,
				ImportStateId: "demo-app/test/postgres-15",
				ExpectError: errorText(`"demo-app/test/postgres-15" is not a valid import ID: give the id of the service instance that is attached `+
					`(an attachment is imported by its instance's id)`, "divio_service_instances lists the ids of an environment's instances, with their status"),
			},
			{
				Config: attachmentConfig(env, ids[0], "  deploy = false"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(attachmentAddr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(attachmentAddr, tfjsonpath.New("deploy"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(attachmentAddr, tfjsonpath.New("status"), knownvalue.StringExact(divio.StatusAttached)),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					env.expectInstance(ids[0], simulator.StatusAttached),
					env.expectDeployments(1),
					env.expectLastDeploymentIn(envID, attachmentAddr, "deployment_id"),
				),
			},
			{
				// The other instance, which the first deployment attached: the old one is detached
				// (one deployment), and the new one needs none.
				Config: attachmentConfig(env, ids[1], ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(attachmentAddr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(attachmentAddr, tfjsonpath.New("id"), knownvalue.StringExact(ids[1])),
					statecheck.ExpectKnownValue(attachmentAddr, tfjsonpath.New("status"), knownvalue.StringExact(divio.StatusAttached)),
					statecheck.ExpectKnownValue(attachmentAddr, tfjsonpath.New("deployment_id"), knownvalue.Null()),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					env.expectInstance(ids[0], simulator.StatusDetached),
					env.expectInstance(ids[1], simulator.StatusAttached),
					env.expectDeployments(2),
				),
			},
		},
	})
}

func TestAccServiceAttachment_deployLater(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	ids := addAttachableInstances(t, env, demoTestEnvID, 1)

	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             env.checkNothingAttached(env.demoTest()),
		Steps: []resource.TestStep{
			{
				Config: attachmentConfig(env, ids[0], "  deploy = false"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(attachmentAddr, tfjsonpath.New("status"), knownvalue.StringExact(divio.StatusPendingAttachment)),
					statecheck.ExpectKnownValue(attachmentAddr, tfjsonpath.New("deployment_id"), knownvalue.Null()),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					expectSimInstance(sim, ids[0], simulator.StatusPendingAttachment),
					env.expectDeployments(0),
				),
			},
			{
				Config: attachmentConfig(env, ids[0], "  deploy = false"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// deploy turned on: the marked instance is deployed now, in place.
				Config: attachmentConfig(env, ids[0], ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(attachmentAddr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(attachmentAddr, tfjsonpath.New("status"), knownvalue.StringExact(divio.StatusAttached)),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					expectSimInstance(sim, ids[0], simulator.StatusAttached),
					env.expectDeployments(1),
					env.expectLastDeploymentIn(env.demoTest(), attachmentAddr, "deployment_id"),
				),
			},
		},
	})
}

// An attachment destroyed before any deployment attached its instance: there is nothing to detach,
// and an instance that awaits attachment cannot be detached, so the destroy changes nothing and
// warns that the environment's next deployment attaches the instance.
func TestAccServiceAttachment_destroyBeforeAnyDeployment(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	ids := addAttachableInstances(t, env, demoTestEnvID, 1)
	cli := newTerraformCLI(t)
	cli.apply(attachmentConfig(env, ids[0], "  deploy = false"))
	if err := expectSimInstance(sim, ids[0], simulator.StatusPendingAttachment)(nil); err != nil {
		t.Fatal(err)
	}
	warnings := diagnosticStrings(cli.apply(env.config("")))
	want := "warning: Service instance will be attached by the next deployment: Service instance " + ids[0] + " in environment demo-app/test (" + demoTestEnvID +
		") is PENDING_ATTACHMENT: no deployment has attached it yet, so there was nothing to detach. Divio attaches every instance added to an environment at the environment's next deployment, whoever starts it, and removing this attachment does not change that"
	if len(warnings) != 1 || !strings.HasPrefix(warnings[0], want) {
		t.Errorf("warnings %q, want one starting %q", warnings, want)
	}
	if err := resource.ComposeAggregateTestCheckFunc(
		expectSimInstance(sim, ids[0], simulator.StatusPendingAttachment),
		env.expectDeployments(0),
	)(nil); err != nil {
		t.Error(err)
	}
}

func TestAccServiceAttachment_drift(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	ids := addAttachableInstances(t, env, demoTestEnvID, 1)
	setStatus := func(status string) func() {
		return func() {
			if err := sim.SetInstance(ids[0], simulator.InstancePatch{Status: &status}); err != nil {
				t.Fatal(err)
			}
		}
	}

	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: attachmentConfig(env, ids[0], ""),
				Check:  expectSimInstance(sim, ids[0], simulator.StatusAttached),
			},
			{
				// Detached outside Terraform: the attachment is planned again, and the apply attaches it.
				PreConfig: setStatus(simulator.StatusDetached),
				Config:    attachmentConfig(env, ids[0], ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(attachmentAddr, plancheck.ResourceActionCreate)},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					expectSimInstance(sim, ids[0], simulator.StatusAttached),
					env.expectDeployments(2),
				),
			},
			{
				// A detachment asked for outside Terraform counts as detached.
				PreConfig:          setStatus(simulator.StatusPendingDetachment),
				Config:             attachmentConfig(env, ids[0], ""),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				PreConfig: setStatus(simulator.StatusAttached),
				Config:    attachmentConfig(env, ids[0], ""),
				PlanOnly:  true,
			},
			{
				// The instance removed outside Terraform: the attachment is gone too.
				PreConfig: func() {
					if err := sim.DeleteInstanceOutOfBand(ids[0]); err != nil {
						t.Fatal(err)
					}
				},
				Config:      attachmentConfig(env, ids[0], ""),
				PlanOnly:    true,
				ExpectError: errorText(`There is no service instance with id "` + ids[0] + `"`),
			},
		},
	})
}

// attachAgainStep applies attachmentConfig of id again after an apply that could not attach it and
// recorded nothing: the attachment is created again, and its deployment, the second, attaches the
// instance and is recorded. preConfig, if not nil, runs first.
func attachAgainStep(env *testEnv, sim *simulator.Simulator, id string, preConfig func()) resource.TestStep {
	return resource.TestStep{
		PreConfig: preConfig,
		Config:    attachmentConfig(env, id, ""),
		ConfigPlanChecks: resource.ConfigPlanChecks{
			PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(attachmentAddr, plancheck.ResourceActionCreate)},
		},
		Check: resource.ComposeAggregateTestCheckFunc(
			expectSimInstance(sim, id, simulator.StatusAttached),
			env.expectDeployments(2),
			env.expectLastDeploymentIn(env.demoTest(), attachmentAddr, "deployment_id"),
		),
	}
}

func TestAccServiceAttachment_failedDeploymentOnAttach(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	ids := addAttachableInstances(t, env, demoTestEnvID, 1)

	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             env.checkNothingAttached(env.demoTest()),
		Steps: []resource.TestStep{
			{
				PreConfig: sim.FailNextDeploy,
				Config:    attachmentConfig(env, ids[0], ""),
				ExpectError: errorText("Service instance "+ids[0]+" was not attached", "Deployment", "of environment demo-app/test",
					"ended with status failed, so service instance "+ids[0]+" is not attached and the application runs as before.",
					"The instance still awaits attachment: the environment's next deployment attaches it, whoever starts it.",
					"This attachment is not recorded, so the next apply plans it again"),
			},
			// Nothing changed; the attachment is not in the state (so never tainted): the next
			// apply creates it, which deploys again.
			attachAgainStep(env, sim, ids[0], func() {
				expectStatus(t, sim, simulator.StatusPendingAttachment, ids[0])
				if deps := testDeployments(sim); len(deps) != 1 || deps[0].Status != simulator.DeploymentFailure {
					t.Errorf("deployments %+v, want one that failed", deps)
				}
			}),
		},
	})
}

func TestAccServiceAttachment_failedDeploymentOnDetach(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	ids := addAttachableInstances(t, env, demoTestEnvID, 1)

	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             env.checkNothingAttached(env.demoTest()),
		Steps: []resource.TestStep{
			{
				Config: attachmentConfig(env, ids[0], ""),
				Check:  expectSimInstance(sim, ids[0], simulator.StatusAttached),
			},
			{
				PreConfig: sim.FailNextDeploy,
				Config:    attachmentConfig(env, ids[0], ""),
				Destroy:   true,
				ExpectError: errorText("the instance stays attached and the application keeps running with it. " +
					"The attachment stays in Terraform's state."),
			},
			{
				// Still attached in the simulator and in the state: nothing to change.
				PreConfig: func() {
					expectStatus(t, sim, simulator.StatusAttached, ids[0])
				},
				Config: attachmentConfig(env, ids[0], ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: env.expectDeployments(2),
			},
			// The test's own destroy then succeeds: CheckDestroy finds the instance detached.
		},
	})
}

// Attachments that do not deploy, and one divio_deployment after them: exactly one deployment
// attaches them all.
func TestAccServiceAttachment_deploymentAttachesPending(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	ids := addAttachableInstances(t, env, demoTestEnvID, 3)
	attachments := env.config(fmt.Sprintf(`
resource "divio_service_attachment" "all" {
  count      = %d
  service_id = %s[count.index]
  deploy     = false
}
`, len(ids), hclList(ids)))
	withDeployment := attachments + fmt.Sprintf(`
resource "divio_deployment" "after" {
  environment_id = %q
  depends_on     = [divio_service_attachment.all]
}
`, demoTestEnvID)
	allInSim := func(status string) resource.TestCheckFunc {
		var checks []resource.TestCheckFunc
		for _, id := range ids {
			checks = append(checks, expectSimInstance(sim, id, status))
		}
		return resource.ComposeAggregateTestCheckFunc(checks...)
	}

	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             env.checkNothingAttached(env.demoTest()),
		Steps: []resource.TestStep{
			{
				Config: attachments,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("divio_service_attachment.all[0]", tfjsonpath.New("status"), knownvalue.StringExact(divio.StatusPendingAttachment)),
				},
				Check: resource.ComposeAggregateTestCheckFunc(allInSim(simulator.StatusPendingAttachment), env.expectDeployments(0)),
			},
			{
				Config: withDeployment,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("divio_deployment.after", tfjsonpath.New("status"), knownvalue.StringExact(divio.DeploymentDone)),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					allInSim(simulator.StatusAttached),
					env.expectDeployments(1),
					env.expectLastDeploymentIn(env.demoTest(), "divio_deployment.after", "id"),
				),
			},
			{
				Config: withDeployment,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

func hclList(values []string) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = fmt.Sprintf("%q", v)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// Services and their attachments, created and destroyed in one run each.
func TestAccServiceAttachment_fullStack(t *testing.T) {
	env := newTestEnv(t)

	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             env.checkNoInstanceLeft(),
		Steps: []resource.TestStep{
			{
				Config: env.config(fmt.Sprintf(`
resource "divio_service" "db" {
  environment_id = %[1]q
  service        = "postgres-15"%[2]s
}

resource "divio_service_attachment" "a" {
  service_id = divio_service.db.id
}

# Not provisioned yet: the deployment that attaches it provisions it.
resource "divio_service" "media" {
  environment_id = %[1]q
  service        = "s3"
  prefix         = %[3]q
  provision      = false
}

resource "divio_service_attachment" "media" {
  service_id = divio_service.media.id
}
`, env.demoTest(), strings.TrimRight(env.withPrefixes(""), "\n"), env.prefix("MEDIA"))),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(attachmentAddr, tfjsonpath.New("status"), knownvalue.StringExact(divio.StatusAttached)),
					statecheck.ExpectKnownValue("divio_service_attachment.media", tfjsonpath.New("status"), knownvalue.StringExact(divio.StatusAttached)),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttrPair(attachmentAddr, "id", "divio_service.db", "id"),
					resource.TestCheckResourceAttrPair("divio_service_attachment.media", "id", "divio_service.media", "id"),
					func(s *terraform.State) error {
						for _, addr := range []string{attachmentAddr, "divio_service_attachment.media"} {
							id := s.RootModule().Resources[addr].Primary.ID
							if err := env.expectInstance(id, simulator.StatusAttached)(s); err != nil {
								return err
							}
						}
						return nil
					},
				),
			},
		},
	})
}

// Attachments of one environment applied together share deployments: with Terraform's default
// parallelism of 10, 12 attachments take at most 2.
func TestAccServiceAttachment_coalescesDeployments(t *testing.T) {
	env := newTestEnv(t, func(o *simulator.Options) {
		o.Dataset = simulator.DatasetBench // a subscription without limits
		o.DeployDelay = time.Second
	})
	sim := env.requireSim(t)
	envID := simulator.EnvironmentID("bench-app-1", simulator.EnvTest)
	ids := addAttachableInstances(t, env, envID, 12)
	atMostDeployments := func(n int) resource.TestCheckFunc {
		return func(*terraform.State) error {
			if got := len(testDeployments(sim)); got > n {
				return fmt.Errorf("the simulator ran %d deployments, want at most %d", got, n)
			}
			return nil
		}
	}
	var checks []resource.TestCheckFunc
	for _, id := range ids {
		checks = append(checks, expectSimInstance(sim, id, simulator.StatusAttached))
	}

	// The release window, not the tests' 20ms: a loaded machine (CI runs the acceptance tests in
	// parallel) may be slow to start Terraform's parallel operations, and a shorter window than
	// users get would split the gathering and measure the machine, not the deployer.
	provider := testProvider()
	provider.gatherWindow = defaultGatherWindow

	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: map[string]func() (tfprotov6.ProviderServer, error){
			"divio": providerserver.NewProtocol6WithError(provider),
		},
		CheckDestroy: resource.ComposeAggregateTestCheckFunc(
			env.checkNothingAttached(env.demoTest()),
			atMostDeployments(4), // and at most 2 more to detach them
		),
		Steps: []resource.TestStep{
			{
				Config: env.config(fmt.Sprintf(`
resource "divio_service_attachment" "all" {
  count      = %d
  service_id = %s[count.index]
}
`, len(ids), hclList(ids))),
				Check: resource.ComposeAggregateTestCheckFunc(append(checks, atMostDeployments(2))...),
			},
		},
	})
}

// Ctrl-C, or the create timeout, while an attachment waits for its deployment: the apply cannot
// confirm the attachment, so it fails and says so, and records nothing (an attachment recorded
// with an error would be tainted, and its replacement would detach the instance from the running
// application only to attach it again). The deployment goes on; the next apply finds the instance
// attached by it and records it with that deployment, or, when it failed, deploys again. One
// deployment in all (two when the first fails), no detachment, and then an empty plan.
func TestAccServiceAttachment_cutShortDeployment(t *testing.T) {
	for _, tc := range []struct {
		name            string
		extra           string
		signal          bool
		deploymentFails bool
		cause           string
	}{
		{"Ctrl-C", "", true, false, "The apply was interrupted while service instance"},
		{"create timeout", createTimeout("1s"), false, false, "The timeout ran out while service instance"},
		{"Ctrl-C, then the deployment fails", "", true, true, "The apply was interrupted while service instance"},
		{"create timeout, then the deployment fails", createTimeout("1s"), false, true, "The timeout ran out while service instance"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t, withDeployDelay(3*time.Second))
			sim := env.requireSim(t)
			ids := addAttachableInstances(t, env, demoTestEnvID, 1)
			if tc.deploymentFails {
				sim.FailNextDeploy()
			}
			cli := newTerraformCLI(t)
			config := attachmentConfig(env, ids[0], tc.extra)
			var out string
			var failed bool
			if tc.signal {
				out = cli.interruptApply(config, func() bool { return workingDeployment(sim) != nil })
			} else {
				cli.write(config)
				out, failed = cli.run("apply", "-auto-approve", "-json", "-input=false")
				if !failed {
					t.Errorf("the apply whose create timeout ran out succeeded:\n%s", out)
				}
			}
			errs := strings.Join(diagnosticStrings(diagnostics(out)), "\n")
			for _, want := range []string{"error: Service instance " + ids[0] + " was not attached", tc.cause,
				"so the apply cannot confirm that the application uses it.", "which attaches it, goes on at Divio.",
				"This attachment is not recorded, so the next apply plans it again"} {
				if !strings.Contains(errs, want) {
					t.Fatalf("want the error to say %q, got:\n%s", want, errs)
				}
			}
			if state, _ := cli.run("state", "list"); strings.Contains(state, attachmentAddr) {
				t.Fatalf("the attachment is in the state:\n%s", state)
			}
			wantDeployments := 1
			if tc.deploymentFails {
				// Applied again once the deployment has failed: the create deploys again, and
				// records that deployment.
				waitUntil(t, "the deployment has failed", func() bool { return workingDeployment(sim) == nil })
				wantDeployments = 2
			}
			// Applied again (at once, while the deployment runs, unless it is to fail), with the
			// default timeout: the create follows the running deployment and records it, without
			// one of its own.
			cli.apply(attachmentConfig(env, ids[0], ""))
			deps := testDeployments(sim)
			if state := cli.mustRun("state", "show", "-no-color", attachmentAddr); len(deps) != wantDeployments || !strings.Contains(state, deps[len(deps)-1].UUID) {
				t.Errorf("deployments %+v; want %d, the last recorded as the attachment's:\n%s", deps, wantDeployments, state)
			}
			waitUntil(t, "the deployment has ended", func() bool { return workingDeployment(sim) == nil })
			if empty, plan := cli.planIsEmpty(); !empty {
				t.Errorf("the plan after the deployment ended is not empty:\n%s", plan)
			}
			if err := resource.ComposeAggregateTestCheckFunc(
				expectSimInstance(sim, ids[0], simulator.StatusAttached),
				env.expectDeployments(wantDeployments),
			)(nil); err != nil {
				t.Error(err)
			}
		})
	}
}

func diagnosticStrings(diags []diagnostic) []string {
	out := make([]string, len(diags))
	for i, d := range diags {
		out[i] = d.String()
	}
	return out
}

// Four workspaces (provider processes of their own), whose services exist, each adding three
// attachments to one environment at the same moment, with a create timeout shorter than two
// deployments: every apply succeeds and every instance is attached, with at most two deployments.
func TestAccServiceAttachment_concurrentWorkspaces(t *testing.T) {
	// Long deployments, as on Divio, where they take minutes: the four applies start together, but
	// terraform takes its own while to get to the attachments on a loaded machine.
	env := newTestEnv(t, func(o *simulator.Options) { o.Dataset = simulator.DatasetBench; o.DeployDelay = 8 * time.Second })
	sim := env.requireSim(t)
	envID := simulator.EnvironmentID("bench-app-1", "live")
	workspaces := make([]*terraformCLI, 4)
	configs := make([]string, 4)
	for w := range workspaces {
		var services, attachments strings.Builder
		for i := range 3 {
			fmt.Fprintf(&services, "resource \"divio_service\" \"s%[1]d\" {\n  environment_id = %[2]q\n  service        = \"postgres-15\"\n  prefix         = \"W%[3]d_%[1]d\"\n}\n", i, envID, w)
			fmt.Fprintf(&attachments, "resource \"divio_service_attachment\" \"s%[1]d\" {\n  service_id = divio_service.s%[1]d.id\n  timeouts = {\n    create = \"30s\"\n  }\n}\n", i)
		}
		workspaces[w] = newTerraformCLI(t)
		workspaces[w].apply(env.config(services.String()))
		configs[w] = env.config(services.String() + attachments.String())
		workspaces[w].write(configs[w])
	}
	// Each workspace plans first, and the saved plans are applied together: an apply that also
	// refreshed and planned reached its attachments up to a deployment later than the others on a
	// loaded machine (CI), and its instances then needed a third deployment of their own.
	inEachWorkspace := func(args ...string) {
		var wg sync.WaitGroup
		for w, cli := range workspaces {
			wg.Go(func() {
				if out, failed := cli.run(args...); failed {
					t.Errorf("workspace %d: terraform %s failed:\n%s", w, args[0], out)
				}
			})
		}
		wg.Wait()
	}
	inEachWorkspace("plan", "-no-color", "-input=false", "-out=attach.tfplan")
	if t.Failed() {
		return
	}
	inEachWorkspace("apply", "-no-color", "-input=false", "attach.tfplan")
	deps := sim.Deployments()
	t.Logf("4 workspaces, 12 attachments: %d deployments", len(deps))
	if len(deps) > 2 {
		t.Errorf("%d deployments, want at most 2", len(deps))
	}
	expectEveryInstanceIn(t, sim, envID, simulator.StatusAttached)
}

// A deployment that "succeeds" and leaves the instance reading ATTACHED, but does not give the
// application its variables, is an error that says so; the attachment is not recorded, and the next
// apply deploys again.
func TestAccServiceAttachment_variablesConfirmTheAttachment(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	ids := addAttachableInstances(t, env, demoTestEnvID, 1)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             env.checkNothingAttached(env.demoTest()),
		Steps: []resource.TestStep{
			{
				PreConfig: sim.DropVariablesNextDeploy,
				Config:    attachmentConfig(env, ids[0], ""),
				ExpectError: errorText("Service instance "+ids[0]+" was not attached", "Service instance "+ids[0]+" reads ATTACHED, but deployment",
					"did not give the application its variables [DB_1_DATABASE_DSN] (environment demo-app/test",
					"The application does not use the instance yet.", "This attachment is not recorded, so the next apply plans it again"),
			},
			attachAgainStep(env, sim, ids[0], nil),
		},
	})
}

// A detachment asked for outside Terraform (PENDING_DETACHMENT) keeps the attachment in the state,
// since a failed deployment would leave the instance attached; the next apply attaches it again,
// which cancels the detachment, with no deployment.
func TestAccServiceAttachment_pendingDetachmentOutside(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	ids := addAttachableInstances(t, env, demoTestEnvID, 1)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             env.checkNothingAttached(env.demoTest()),
		Steps: []resource.TestStep{
			{Config: attachmentConfig(env, ids[0], "")},
			{
				PreConfig: func() {
					pending := simulator.StatusPendingDetachment
					if err := sim.SetInstance(ids[0], simulator.InstancePatch{Status: &pending}); err != nil {
						t.Fatal(err)
					}
				},
				Config: attachmentConfig(env, ids[0], ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(attachmentAddr, plancheck.ResourceActionUpdate)},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					expectSimInstance(sim, ids[0], simulator.StatusAttached),
					env.expectDeployments(1),
				),
			},
		},
	})
}

// restartableAPI serves a simulator that keeps its state in a data file at a fixed address, so that
// a test can stop it (connections are refused, as from an API that went away) and start it again.
type restartableAPI struct {
	t      *testing.T
	addr   string
	file   string
	sim    *simulator.Simulator
	server *http.Server
}

func newRestartableAPI(t *testing.T, opts simulator.Options) *restartableAPI {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	api := &restartableAPI{t: t, addr: listener.Addr().String(), file: filepath.Join(t.TempDir(), "sim.json")}
	api.serve(listener, opts)
	t.Cleanup(api.stop)
	return api
}

func (a *restartableAPI) serve(listener net.Listener, opts simulator.Options) {
	opts.DataFile = a.file
	sim, err := simulator.New(opts)
	if err != nil {
		a.t.Fatal(err)
	}
	a.sim, a.server = sim, &http.Server{Handler: sim, ReadHeaderTimeout: time.Second}
	go func() { _ = a.server.Serve(listener) }()
}

// stop closes the listener and every connection, and the simulator, which saves its state.
func (a *restartableAPI) stop() {
	if a.server != nil {
		_ = a.server.Close()
		_ = a.sim.Close()
		a.server = nil
	}
}

// start serves the saved state again at the same address.
func (a *restartableAPI) start(opts simulator.Options) {
	listener, err := net.Listen("tcp", a.addr)
	if err != nil {
		a.t.Fatal(err)
	}
	a.serve(listener, opts)
}

// The API goes away while an attachment's deployment runs (issue 20, item 2). Back within seconds,
// the client's retries ride it out and the apply succeeds, with the one deployment. Gone for good, the
// apply cannot confirm the attachment: it fails, says so, and records nothing, so that the next
// apply finishes the job.
func TestAccServiceAttachment_apiGoneMidDeployment(t *testing.T) {
	for _, tc := range []struct {
		name         string
		retryWaitMin time.Duration // the retries' first wait: 100ms gives them 7 s at least, 10ms 1.3 s at most
		down         time.Duration // 0: not back before the apply ends
	}{
		{"restarted", 100 * time.Millisecond, 1500 * time.Millisecond},
		{"gone", 10 * time.Millisecond, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := simulator.Options{DeployDelay: 2 * time.Second}
			api := newRestartableAPI(t, opts)
			env := &testEnv{URL: "http://" + api.addr, Token: simulator.DemoToken, Sim: api.sim, t: t}
			id := addTestInstance(t, env.client(t), demoTestEnvID, simulator.ServicePostgres15, "DEFAULT", true).UUID
			cli := newTerraformCLI(t, func(p *DivioProvider) { p.retryWaitMin = tc.retryWaitMin })
			cli.write(attachmentConfig(env, id, ""))
			cli.init()
			type result struct {
				out    string
				failed bool
			}
			done := make(chan result, 1)
			go func() {
				out, failed := cli.run("apply", "-auto-approve", "-json", "-input=false")
				done <- result{out, failed}
			}()
			waitUntil(t, "the deployment runs", func() bool { return workingDeployment(api.sim) != nil })
			api.stop()
			if tc.down > 0 {
				time.Sleep(tc.down)
				api.start(opts)
			}
			r := <-done
			if tc.down > 0 {
				if r.failed {
					t.Fatalf("the apply failed although the API came back:\n%s", r.out)
				}
				if err := resource.ComposeAggregateTestCheckFunc(expectSimInstance(api.sim, id, simulator.StatusAttached), env.expectDeployments(1))(nil); err != nil {
					t.Error(err)
				}
				if empty, plan := cli.planIsEmpty(); !empty {
					t.Errorf("the plan after the apply is not empty:\n%s", plan)
				}
				return
			}
			errs := strings.Join(diagnosticStrings(diagnostics(r.out)), "\n")
			if !r.failed || !strings.Contains(errs, "error: Service instance "+id+" was not attached: The Divio API kept failing while service instance "+id+" was being attached") ||
				!strings.Contains(errs, "so the apply cannot confirm that the application uses it.") || !strings.Contains(errs, "This attachment is not recorded, so the next apply plans it again") {
				t.Fatalf("want the apply to fail and say why, got failed %v:\n%s", r.failed, errs)
			}
			if state, _ := cli.run("state", "list"); strings.Contains(state, attachmentAddr) {
				t.Errorf("the attachment is in the state:\n%s", state)
			}
			// Back: the next apply records the attachment that the deployment made meanwhile.
			api.start(opts)
			waitUntil(t, "the deployment has ended", func() bool { return workingDeployment(api.sim) == nil })
			cli.apply(attachmentConfig(env, id, ""))
			if err := resource.ComposeAggregateTestCheckFunc(expectSimInstance(api.sim, id, simulator.StatusAttached), env.expectDeployments(1))(nil); err != nil {
				t.Error(err)
			}
		})
	}
}
