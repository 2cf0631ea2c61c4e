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
	client := env.client(t)
	appID := testApplicationID(t, simulator.DemoApp)
	liveID := testEnvironmentID(t, simulator.DemoApp, simulator.EnvLive)
	// Against the real API others deploy live too (the sweepers, other tests, anyone): its last
	// deployment is the test's only against a simulator of its own.
	lastDeployment := func(want func() string) knownvalue.Check {
		if env.Sim == nil {
			return knownvalue.NotNull()
		}
		return knownvalue.StringFunc(func(v string) error {
			if v != want() {
				return fmt.Errorf("want the deployment made in PreConfig, %s", want())
			}
			return nil
		})
	}
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
				ExpectError: errorText(`Environment not found`, env.inSim(fmt.Sprintf(`Application %q has no environment "staging". Its environments are: test, live.`, appID),
					fmt.Sprintf(`Application %q has no environment "staging". Its environments are:`, appID))),
			},
			{
				Config: env.config(`
data "divio_environment" "orphan" {
  application_id = "no-such-app"
  slug           = "live"
}
`),
				ExpectError: errorText(`Environment not found`, `Looking for environment "live": application "no-such-app" has no environments`),
			},
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.divio_environment.live", tfjsonpath.New("id"), knownvalue.StringExact(liveID)),
					statecheck.ExpectKnownValue("data.divio_environment.live", tfjsonpath.New("application_id"), knownvalue.StringExact(appID)),
					statecheck.ExpectKnownValue("data.divio_environment.live", tfjsonpath.New("last_finished_deployment_id"), nullInSim(env)),
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
					statecheck.ExpectKnownValue("data.divio_environment.live", tfjsonpath.New("last_finished_deployment_id"), lastDeployment(func() string { return deploymentID })),
				},
			},
		},
	})
}
