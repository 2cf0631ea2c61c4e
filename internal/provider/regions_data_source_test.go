package provider

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/divio/terraform-provider-divio/internal/simulator"
)

// TestDataSourceSchemas checks what the framework checks only at run time, and that every
// attribute, nested ones included, has the description the docs are generated from.
func TestDataSourceSchemas(t *testing.T) {
	ctx := context.Background()
	for _, newDataSource := range (&DivioProvider{}).DataSources(ctx) {
		ds := newDataSource()
		var meta datasource.MetadataResponse
		ds.Metadata(ctx, datasource.MetadataRequest{ProviderTypeName: "divio"}, &meta)
		var resp datasource.SchemaResponse
		ds.Schema(ctx, datasource.SchemaRequest{}, &resp)
		if diags := resp.Schema.ValidateImplementation(ctx); diags.HasError() {
			t.Errorf("%s: invalid schema: %v", meta.TypeName, diags)
		}
		if resp.Schema.MarkdownDescription == "" {
			t.Errorf("%s has no MarkdownDescription", meta.TypeName)
		}
		checkDataSourceDescriptions(t, meta.TypeName, resp.Schema.Attributes)
	}
}

func checkDataSourceDescriptions(t *testing.T, prefix string, attributes map[string]schema.Attribute) {
	t.Helper()
	for name, a := range attributes {
		if a.GetMarkdownDescription() == "" {
			t.Errorf("%s.%s has no MarkdownDescription", prefix, name)
		}
		if nested, ok := a.(schema.ListNestedAttribute); ok {
			checkDataSourceDescriptions(t, prefix+"."+name, nested.NestedObject.Attributes)
		}
	}
}

func TestAccRegionsDataSource(t *testing.T) {
	env := newTestEnv(t)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: env.config(`
data "divio_regions" "gcp" {
  vendor = "gcp"
}
`),
				ExpectError: errorText(`Attribute vendor value must be one of: ["aws" "azure" "exoscale"], got: "gcp"`),
			},
			{
				Config: env.config(`
data "divio_regions" "all" {}

data "divio_regions" "aws" {
  vendor = "aws"
}
`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.divio_regions.all", tfjsonpath.New("id"), knownvalue.StringExact("all")),
					statecheck.ExpectKnownValue("data.divio_regions.all", tfjsonpath.New("regions"), env.listOf(
						expectRegion(t, simulator.RegionAWSEUCentral1, "aws"),
						expectRegion(t, simulator.RegionAWSUSEast1, "aws"),
						expectRegion(t, simulator.RegionAzureWestEurope, "azure"),
						expectRegion(t, simulator.RegionExoscaleCHDK2, "exoscale"),
					)),
					statecheck.ExpectKnownValue("data.divio_regions.aws", tfjsonpath.New("id"), knownvalue.StringExact("aws")),
					statecheck.ExpectKnownValue("data.divio_regions.aws", tfjsonpath.New("regions"), env.listOf(
						expectRegion(t, simulator.RegionAWSEUCentral1, "aws"),
						expectRegion(t, simulator.RegionAWSUSEast1, "aws"),
					)),
				},
			},
		},
	})
}

func expectRegion(t *testing.T, name, vendor string) knownvalue.Check {
	return knownvalue.ObjectExact(map[string]knownvalue.Check{
		"id":     knownvalue.StringExact(testRegionID(t, name)),
		"name":   knownvalue.StringExact(name),
		"vendor": knownvalue.StringExact(vendor),
	})
}
