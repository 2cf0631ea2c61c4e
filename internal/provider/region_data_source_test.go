package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/divio/terraform-provider-divio/internal/simulator"
)

func TestAccRegionDataSource(t *testing.T) {
	env := newTestEnv(t)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: env.config(`
data "divio_region" "mars" {
  name = "mars-north-1"
}
`),
				ExpectError: errorText(`Region not found`, env.inSim(`No region is named "mars-north-1". The regions there are: aws-eu-central-1, aws-us-east-1, azure-westeurope, exoscale-ch-dk-2.`,
					`No region is named "mars-north-1". The regions there are:`)),
			},
			{
				Config: env.config(`
data "divio_region" "frankfurt" {
  name = "aws-eu-central-1"
}

data "divio_region" "azure" {
  name = "azure-westeurope"
}
`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.divio_region.frankfurt", tfjsonpath.New("id"), knownvalue.StringExact(testRegionID(t, simulator.RegionAWSEUCentral1))),
					statecheck.ExpectKnownValue("data.divio_region.frankfurt", tfjsonpath.New("vendor"), knownvalue.StringExact("aws")),
					statecheck.ExpectKnownValue("data.divio_region.azure", tfjsonpath.New("id"), knownvalue.StringExact(testRegionID(t, simulator.RegionAzureWestEurope))),
					statecheck.ExpectKnownValue("data.divio_region.azure", tfjsonpath.New("vendor"), knownvalue.StringExact("azure")),
				},
			},
		},
	})
}
