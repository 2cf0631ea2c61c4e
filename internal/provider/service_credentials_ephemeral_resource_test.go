package provider

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/echoprovider"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/divio/terraform-provider-divio/internal/divio"
	"github.com/divio/terraform-provider-divio/internal/simulator"
)

// testAccEchoProviderFactories adds terraform-plugin-testing's echo provider, which copies its
// configuration into the state of an `echo` resource: the only way to look at ephemeral values.
var testAccEchoProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"divio": testAccProtoV6ProviderFactories["divio"],
	"echo":  echoprovider.NewProviderServer(),
}

var ephemeralResourcesSupported = []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_10_0)}

func TestAccServiceCredentialsEphemeralResource(t *testing.T) {
	// Parallel before it adds instances, not in ParallelTest: a test paused there would hold them
	// (and the subscription's room) while the others run.
	t.Parallel()
	env := newTestEnv(t)
	client := env.client(t)
	envID := env.demoTest()
	db := env.addInstance(envID, simulator.ServicePostgres15, "DEFAULT", true)
	// Another instance in the same environment, whose variable must not show up.
	env.addInstance(envID, simulator.ServiceS3, "MEDIA", true)
	// DEFAULT's alias too against a simulator of the test's own.
	dbVariables := []string{db.Prefix + "_DATABASE_DSN"}
	if db.Prefix == "DEFAULT" {
		dbVariables = append(dbVariables, "DATABASE_URL")
	}
	config := fmt.Sprintf(`
ephemeral "divio_service_credentials" "db" {
  service_id = %q
}
`, db.UUID)

	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   ephemeralResourcesSupported,
		ProtoV6ProviderFactories: testAccEchoProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: env.config(config + `
provider "echo" {
  data = ephemeral.divio_service_credentials.db
}

resource "echo" "credentials" {}
`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("echo.credentials", tfjsonpath.New("data").AtMapKey("service_id"), knownvalue.StringExact(db.UUID)),
					statecheck.ExpectKnownValue("echo.credentials", tfjsonpath.New("data").AtMapKey("environment_id"), knownvalue.StringExact(envID)),
					statecheck.ExpectKnownValue("echo.credentials", tfjsonpath.New("data").AtMapKey("prefix"), knownvalue.StringExact(db.Prefix)),
					statecheck.ExpectKnownValue("echo.credentials", tfjsonpath.New("data").AtMapKey("type"), knownvalue.StringExact(divio.TypeDatabase)),
					statecheck.ExpectKnownValue("echo.credentials", tfjsonpath.New("data").AtMapKey("variables"),
						knownvalue.MapExact(knownStrings(envValues(t, client, envID, dbVariables...)))),
				},
			},
			{
				// Without the echo resource nothing in the state may hold a value.
				Config: env.config(config),
				ConfigStateChecks: []statecheck.StateCheck{
					stateHoldsNone(func() []string { return slices.Collect(maps.Values(envValues(t, client, envID))) }, "echo"),
				},
			},
		},
	})
}

func TestAccServiceCredentialsEphemeralResource_errors(t *testing.T) {
	// Parallel before it adds instances, not in ParallelTest: a test paused there would hold them
	// (and the subscription's room) while the others run.
	t.Parallel()
	env := newTestEnv(t)
	unprovisioned := env.addInstance(env.demoTest(), simulator.ServicePostgres15, "LATER", false)

	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   ephemeralResourcesSupported,
		ProtoV6ProviderFactories: testAccEchoProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      env.config(credentialsEchoConfig("0b5d3a2e-8f1c-4f7a-9a43-2c6f0e8d1b77")),
				ExpectError: regexp.MustCompile(`(?s)Service instance not found.*no service instance with id\s+"0b5d3a2e-8f1c-4f7a-9a43-2c6f0e8d1b77"`),
			},
			{
				Config:      env.config(credentialsEchoConfig(unprovisioned.UUID)),
				ExpectError: regexp.MustCompile(`(?s)Service instance is not functional yet.*status NEW.*Provision it\s+first`),
			},
		},
	})
}

func credentialsEchoConfig(serviceID string) string {
	return fmt.Sprintf(`
ephemeral "divio_service_credentials" "this" {
  service_id = %q
}

provider "echo" {
  data = ephemeral.divio_service_credentials.this
}

resource "echo" "credentials" {}
`, serviceID)
}

func knownStrings(m map[string]string) map[string]knownvalue.Check {
	checks := map[string]knownvalue.Check{}
	for k, v := range m {
		checks[k] = knownvalue.StringExact(v)
	}
	return checks
}
