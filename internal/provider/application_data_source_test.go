package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/divio/terraform-provider-divio/internal/simulator"
)

func TestAccApplicationDataSource(t *testing.T) {
	env := newTestEnv(t)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: env.config(`
data "divio_application" "both" {
  slug = "demo-app"
  id   = "` + testApplicationID(t, simulator.DemoApp) + `"
}
`),
				ExpectError: errorText(`Invalid Attribute Combination`, `Exactly one of these attributes must be configured: [slug,id]`),
			},
			{
				Config: env.config(`
data "divio_application" "neither" {}
`),
				ExpectError: errorText(`Missing Attribute Configuration`, `Exactly one of these attributes must be configured: [slug,id]`),
			},
			{
				Config: env.config(`
data "divio_application" "missing" {
  slug = "no-such-app"
}
`),
				ExpectError: errorText(`Application not found`, `No application has the slug "no-such-app"`),
			},
			{
				Config: env.config(`
data "divio_application" "missing" {
  id = "0b5d3a2e-8f1c-4f7a-9a43-2c6f0e8d1b77"
}
`),
				ExpectError: errorText(`Application not found`, `No application has the id "0b5d3a2e-8f1c-4f7a-9a43-2c6f0e8d1b77"`),
			},
			{
				Config: env.config(`
data "divio_application" "by_slug" {
  slug = "demo-app"
}

data "divio_application" "by_id" {
  id = data.divio_application.by_slug.id
}

data "divio_application" "azure" {
  slug = "azure-app"
}
`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.divio_application.by_slug", tfjsonpath.New("id"), knownvalue.StringExact(testApplicationID(t, simulator.DemoApp))),
					statecheck.ExpectKnownValue("data.divio_application.by_slug", tfjsonpath.New("name"), env.stringInSim("Demo App")),
					statecheck.ExpectKnownValue("data.divio_application.by_slug", tfjsonpath.New("region_id"), knownvalue.StringExact(testRegionID(t, simulator.RegionAWSEUCentral1))),
					statecheck.ExpectKnownValue("data.divio_application.by_slug", tfjsonpath.New("organisation_id"), knownvalue.StringExact(testOrganisationID(t, simulator.DemoApp))),
					statecheck.ExpectKnownValue("data.divio_application.by_id", tfjsonpath.New("slug"), knownvalue.StringExact(simulator.DemoApp)),
					statecheck.CompareValuePairs("data.divio_application.by_slug", tfjsonpath.New("region_id"),
						"data.divio_application.by_id", tfjsonpath.New("region_id"), compare.ValuesSame()),
					statecheck.CompareValuePairs("data.divio_application.by_slug", tfjsonpath.New("organisation_id"),
						"data.divio_application.by_id", tfjsonpath.New("organisation_id"), compare.ValuesSame()),
					statecheck.ExpectKnownValue("data.divio_application.azure", tfjsonpath.New("region_id"), knownvalue.StringExact(testRegionID(t, simulator.RegionAzureWestEurope))),
				},
			},
		},
	})
}
