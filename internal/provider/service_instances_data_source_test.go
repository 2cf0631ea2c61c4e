package provider

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/divio/terraform-provider-divio/internal/divio"
	"github.com/divio/terraform-provider-divio/internal/simulator"
)

func TestAccServiceInstancesDataSource(t *testing.T) {
	env := newTestEnv(t)
	client := env.client(t)
	liveID := testEnvironmentID(t, simulator.DemoApp, simulator.EnvLive)
	testID := env.demoTest()

	// The ids of live's instances by "<type>/<prefix>", filled in PreConfig for the checks after it.
	ids := map[string]string{}
	add := func(envID, service, prefix string) *divio.ServiceInstance {
		inst := env.addInstance(envID, service, prefix, false)
		if envID == liveID {
			ids[inst.Type+"/"+prefix] = inst.UUID
		}
		return inst
	}
	addInstances := func() {
		ctx := context.Background()
		// Added in an order that is not the listed one, to see the sorting.
		db := add(liveID, simulator.ServicePostgres15, "DEFAULT")
		// Attached by a deployment of live; the others, added after it, await attachment.
		if err := client.ProvisionServiceInstance(ctx, db.UUID); err != nil {
			t.Fatalf("provisioning postgres: %v", err)
		}
		if _, err := client.WaitForInstance(ctx, db.UUID, "be provisioned", (*divio.ServiceInstance).Functional); err != nil {
			t.Fatal(err)
		}
		attachTestInstance(t, client, db)
		add(liveID, simulator.ServiceS3, "DEFAULT")
		add(liveID, simulator.ServiceMySQL8, "ANALYTICS")
		// Neither an instance of another environment nor a removed one is listed.
		add(testID, simulator.ServicePostgres15, "DEFAULT")
		gone := add(liveID, simulator.ServicePostgres15, "GONE")
		if err := client.DeleteServiceInstance(ctx, gone.UUID); err != nil {
			t.Fatalf("removing an instance outside Terraform: %v", err)
		}
	}

	region := testRegionID(t, simulator.RegionAWSEUCentral1)
	expectInstance := func(service, typ, prefix, status string, awaitsAttachment bool) knownvalue.Check {
		return knownvalue.ObjectExact(map[string]knownvalue.Check{
			"id": knownvalue.StringFunc(func(v string) error {
				if want := ids[typ+"/"+prefix]; v != want {
					return fmt.Errorf("want the id of %s/%s, %s", typ, prefix, want)
				}
				return nil
			}),
			"service_id":        knownvalue.StringExact(testServiceID(t, service)),
			"prefix":            knownvalue.StringExact(env.prefix(prefix)),
			"type":              knownvalue.StringExact(typ),
			"status":            knownvalue.StringExact(status),
			"region_id":         knownvalue.StringExact(region),
			"awaits_attachment": knownvalue.Bool(awaitsAttachment),
		})
	}

	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: env.config(`
data "divio_service_instances" "nowhere" {
  environment_id = "no-such-environment"
}
`),
				ExpectError: errorText(`Environment not found`, `No environment has the id "no-such-environment"`),
			},
			{
				PreConfig: addInstances,
				Config: env.config(`
data "divio_application" "demo" {
  slug = "demo-app"
}

data "divio_environment" "live" {
  application_id = data.divio_application.demo.id
  slug           = "live"
}

data "divio_service_instances" "live" {
  environment_id = data.divio_environment.live.id
}

data "divio_service_instances" "azure_test" {
  environment_id = "` + testEnvironmentID(t, simulator.AzureApp, simulator.EnvTest) + `"
}
`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.divio_service_instances.live", tfjsonpath.New("id"), knownvalue.StringExact(liveID)),
					statecheck.ExpectKnownValue("data.divio_service_instances.live", tfjsonpath.New("instances"), env.listOf(
						expectInstance(simulator.ServiceMySQL8, divio.TypeDatabase, "ANALYTICS", divio.StatusNew, true),
						expectInstance(simulator.ServicePostgres15, divio.TypeDatabase, "DEFAULT", divio.StatusAttached, false),
						expectInstance(simulator.ServiceS3, divio.TypeStorage, "DEFAULT", divio.StatusNew, true),
					)),
					statecheck.ExpectKnownValue("data.divio_service_instances.live", tfjsonpath.New("instances"), env.ownEntries(3)),
					// Against the real API others' instances may be anywhere, also in azure-app/test.
					statecheck.ExpectKnownValue("data.divio_service_instances.azure_test", tfjsonpath.New("instances"), env.listOf()),
					statecheck.ExpectKnownValue("data.divio_service_instances.azure_test", tfjsonpath.New("instances"), env.ownEntries(0)),
				},
			},
		},
	})
}
