package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/divio/terraform-provider-divio/internal/simulator"
)

func TestAccServicesDataSource(t *testing.T) {
	env := newTestEnv(t)
	azure := testRegionID(t, simulator.RegionAzureWestEurope)
	aws := testRegionID(t, simulator.RegionAWSEUCentral1)
	id := func(identifier string) knownvalue.Check { return knownvalue.StringExact(testServiceID(t, identifier)) }
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: env.config(`
data "divio_services" "bad_type" {
  region_id = "` + aws + `"
  type      = "CACHE"
}
`),
				ExpectError: errorText(`Attribute type value must be one of: ["DATABASE" "STORAGE" "SEARCH" "MESSAGE_QUEUE"], got: "CACHE"`),
			},
			{
				Config: env.config(`
data "divio_services" "nowhere" {
  region_id = "no-such-region"
}
`),
				ExpectError: errorText(`Region not found`, env.inSim(`No region has the id "no-such-region". The regions there are: aws-eu-central-1 (`+aws+`)`,
					`No region has the id "no-such-region". The regions there are:`)),
			},
			{
				Config: env.config(`
data "divio_region" "azure" {
  name = "azure-westeurope"
}

data "divio_services" "azure" {
  region_id = data.divio_region.azure.id
}

data "divio_services" "azure_databases" {
  region_id = data.divio_region.azure.id
  type      = "DATABASE"
}

data "divio_services" "aws_storage" {
  region_id = "` + aws + `"
  type      = "STORAGE"
}

data "divio_services" "aws_search" {
  region_id = "` + aws + `"
  type      = "SEARCH"
}
`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.divio_services.azure", tfjsonpath.New("id"), knownvalue.StringExact(azure)),
					// Sorted by identifier; ms-blob is there and s3 is not.
					statecheck.ExpectKnownValue("data.divio_services.azure", tfjsonpath.New("services"), env.listOf(
						env.objectOf(map[string]knownvalue.Check{
							"id":          id(simulator.ServiceMSBlob),
							"identifier":  knownvalue.StringExact(simulator.ServiceMSBlob),
							"name":        knownvalue.StringExact("Azure Blob Storage"),
							"type":        knownvalue.StringExact("STORAGE"),
							"description": knownvalue.StringExact("Object storage container on Azure Blob Storage."),
						}, "id", "identifier", "type"),
						expectServiceIdentifier(t, simulator.ServiceMySQL8),
						expectServiceIdentifier(t, simulator.ServicePostgres15),
						expectServiceIdentifier(t, simulator.ServicePostgres16),
					)),
					statecheck.ExpectKnownValue("data.divio_services.azure", tfjsonpath.New("ids_by_identifier"), env.mapOf(map[string]knownvalue.Check{
						simulator.ServiceMSBlob:     id(simulator.ServiceMSBlob),
						simulator.ServiceMySQL8:     id(simulator.ServiceMySQL8),
						simulator.ServicePostgres15: id(simulator.ServicePostgres15),
						simulator.ServicePostgres16: id(simulator.ServicePostgres16),
					})),
					statecheck.ExpectKnownValue("data.divio_services.azure_databases", tfjsonpath.New("id"), knownvalue.StringExact(azure+"/DATABASE")),
					statecheck.ExpectKnownValue("data.divio_services.azure_databases", tfjsonpath.New("services"), env.listOf(
						expectServiceIdentifier(t, simulator.ServiceMySQL8),
						expectServiceIdentifier(t, simulator.ServicePostgres15),
						expectServiceIdentifier(t, simulator.ServicePostgres16),
					)),
					statecheck.ExpectKnownValue("data.divio_services.aws_storage", tfjsonpath.New("ids_by_identifier"), env.mapOf(map[string]knownvalue.Check{
						simulator.ServiceS3: id(simulator.ServiceS3),
					})),
					statecheck.ExpectKnownValue("data.divio_services.aws_search", tfjsonpath.New("services"), env.listOf(
						env.objectOf(map[string]knownvalue.Check{
							"id":          id(simulator.ServiceElasticsearch8),
							"identifier":  knownvalue.StringExact(simulator.ServiceElasticsearch8),
							"name":        knownvalue.StringExact("Elasticsearch 8"),
							"type":        knownvalue.StringExact("SEARCH"),
							"description": knownvalue.StringExact("Managed Elasticsearch 8 cluster."),
						}, "id", "identifier", "type"),
					)),
				},
			},
		},
	})
}

func expectServiceIdentifier(t *testing.T, identifier string) knownvalue.Check {
	return knownvalue.ObjectPartial(map[string]knownvalue.Check{
		"id":         knownvalue.StringExact(testServiceID(t, identifier)),
		"identifier": knownvalue.StringExact(identifier),
	})
}
