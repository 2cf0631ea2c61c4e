package provider

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

const deploymentAddr = "divio_deployment.d"

// rfc3339 matches the timestamps the resource reports.
var rfc3339 = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)

func deploymentConfig(env *testEnv, release string) string {
	return env.config(fmt.Sprintf(`
resource "divio_deployment" "d" {
  environment_id = %q
  triggers = {
    release = %q
  }
}
`, env.demoTest(), release))
}

func TestAccDeployment_lifecycle(t *testing.T) {
	env := newTestEnv(t)
	envID := env.demoTest()

	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: deploymentConfig(env, "v1"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(deploymentAddr, plancheck.ResourceActionCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(deploymentAddr, tfjsonpath.New("environment_id"), knownvalue.StringExact(envID)),
					statecheck.ExpectKnownValue(deploymentAddr, tfjsonpath.New("status"), knownvalue.StringExact(divio.DeploymentSuccess)),
					statecheck.ExpectKnownValue(deploymentAddr, tfjsonpath.New("started_at"), knownvalue.StringRegexp(rfc3339)),
					statecheck.ExpectKnownValue(deploymentAddr, tfjsonpath.New("ended_at"), knownvalue.StringRegexp(rfc3339)),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					env.expectDeployments(1),
					env.expectLastDeploymentIn(envID, deploymentAddr, "id"),
				),
			},
			{
				Config: deploymentConfig(env, "v1"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				ResourceName:      deploymentAddr,
				ImportState:       true,
				ImportStateVerify: true,
				// Only the configuration knows the triggers.
				ImportStateVerifyIgnore: []string{"triggers"},
			},
			{
				// Changed triggers deploy again.
				Config: deploymentConfig(env, "v2"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(deploymentAddr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					env.expectDeployments(2),
					env.expectLastDeploymentIn(envID, deploymentAddr, "id"),
				),
			},
			{
				// The deployment gone from the API: the plan deploys again. Only a simulator of the
				// test's own can forget its deployments.
				SkipFunc: func() (bool, error) { return env.Sim == nil, nil },
				PreConfig: func() { // run before SkipFunc
					if env.Sim != nil {
						env.Sim.Reset()
					}
				},
				Config:             deploymentConfig(env, "v2"),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
		},
	})
}

func TestAccDeployment_failed(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)

	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				PreConfig:   sim.FailNextDeploy,
				Config:      deploymentConfig(env, "v1"),
				ExpectError: regexp.MustCompile(`(?s)Cannot deploy environment ` + demoTestEnvID + `.*ended\s+with\s+status\s+failed`),
			},
			{
				// The failed deployment stayed in the state, tainted: the next apply deploys again.
				Config: deploymentConfig(env, "v1"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(deploymentAddr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(deploymentAddr, tfjsonpath.New("status"), knownvalue.StringExact(divio.DeploymentSuccess)),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					env.expectDeployments(2),
					env.expectLastDeploymentIn(env.demoTest(), deploymentAddr, "id"),
				),
			},
		},
	})
}

// The environment id is checked by the API: an unknown one fails the create with its message.
func TestAccDeployment_unknownEnvironment(t *testing.T) {
	env := newTestEnv(t)

	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: env.config(`
resource "divio_deployment" "d" {
  environment_id = "no-such-environment"
}
`),
				ExpectError: regexp.MustCompile(`Cannot deploy environment no-such-environment`),
			},
		},
	})
}
