package provider

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/divio/terraform-provider-divio/internal/simulator"
)

func TestAccEnvironmentDataSource(t *testing.T) {
	env := newTestEnv(t)
	env.requireSim(t)
	client := env.client(t)
	appID := simulator.ApplicationID(simulator.DemoApp)
	liveID := simulator.EnvironmentID(simulator.DemoApp, simulator.EnvLive)
	config := env.config(`
data "divio_application" "demo" {
  slug = "demo-app"
}

data "divio_environment" "live" {
  application_id = data.divio_application.demo.id
  slug           = "live"
}
`)
	var deploymentID string
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: env.config(`
data "divio_environment" "staging" {
  application_id = "` + appID + `"
  slug           = "staging"
}
`),
				ExpectError: dsErrorRegexp(`Environment not found`, fmt.Sprintf(`Application %q has no environment "staging". Its environments are: test, live.`, appID)),
			},
			{
				Config: env.config(`
data "divio_environment" "orphan" {
  application_id = "no-such-app"
  slug           = "live"
}
`),
				ExpectError: dsErrorRegexp(`Environment not found`, `Looking for environment "live": application "no-such-app" has no environments`),
			},
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.divio_environment.live", tfjsonpath.New("id"), knownvalue.StringExact(liveID)),
					statecheck.ExpectKnownValue("data.divio_environment.live", tfjsonpath.New("application_id"), knownvalue.StringExact(appID)),
					statecheck.ExpectKnownValue("data.divio_environment.live", tfjsonpath.New("last_finished_deployment_id"), knownvalue.Null()),
				},
			},
			{
				// A deployment made outside Terraform shows on the next read.
				PreConfig: func() {
					ctx := context.Background()
					dep, err := client.CreateDeployment(ctx, liveID)
					if err != nil {
						t.Fatalf("deploying live: %v", err)
					}
					if _, err := client.WaitForDeployment(ctx, dep.UUID); err != nil {
						t.Fatalf("waiting for the deployment of live: %v", err)
					}
					deploymentID = dep.UUID
				},
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.divio_environment.live", tfjsonpath.New("last_finished_deployment_id"), knownvalue.StringFunc(func(v string) error {
						if v != deploymentID {
							return fmt.Errorf("want the deployment made in PreConfig, %s", deploymentID)
						}
						return nil
					})),
				},
			},
		},
	})
}
