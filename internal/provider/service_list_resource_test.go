package provider

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/querycheck"
	"github.com/hashicorp/terraform-plugin-testing/querycheck/queryfilter"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/divio/terraform-provider-divio/internal/divio"
	"github.com/divio/terraform-provider-divio/internal/simulator"
)

// listTestInstances are the instances of demo-app's test environment that the list tests find,
// added outside Terraform, as in the Control Panel.
type listTestInstances struct {
	postgres *divio.ServiceInstance // attached by a deployment
	s3       *divio.ServiceInstance // provisioned, then detached outside Terraform
	rabbitmq *divio.ServiceInstance // added after the deployment, not provisioned: it awaits attachment
}

func addListTestInstances(t *testing.T, env *testEnv) listTestInstances {
	t.Helper()
	client := env.client(t)
	is := listTestInstances{postgres: addTestInstance(t, client, demoTestEnvID, simulator.ServicePostgres15, "DEFAULT", true)}
	attachTestInstance(t, client, is.postgres)
	// Added after the deployment, which would have attached them.
	is.s3 = addTestInstance(t, client, demoTestEnvID, simulator.ServiceS3, "DEFAULT", true)
	detached := simulator.StatusDetached
	if err := env.requireSim(t).SetInstance(is.s3.UUID, simulator.InstancePatch{Status: &detached}); err != nil {
		t.Fatal(err)
	}
	is.rabbitmq = addTestInstance(t, client, demoTestEnvID, simulator.ServiceRabbitMQ3, "QUEUE", false)
	// In another environment: never listed for the test environment.
	addTestInstance(t, client, simulator.EnvironmentID(simulator.DemoApp, simulator.EnvLive), simulator.ServiceMySQL8, "DEFAULT", false)
	return is
}

// Every listed instance is exactly what importing it makes: the same state and the same identity.
func TestServiceListResource_listedIsImported(t *testing.T) {
	env := newTestEnv(t)
	env.requireSim(t)
	addListTestInstances(t, env)
	p := newProtocolProvider(t, env, true)

	for _, typeName := range []string{"divio_service", "divio_service_attachment"} {
		results, errs := p.list(typeName, map[string]string{"environment_id": demoTestEnvID})
		if errs != "" {
			t.Fatalf("%s: %s", typeName, errs)
		}
		if len(results) == 0 {
			t.Fatalf("%s: nothing listed", typeName)
		}
		for _, r := range results {
			state, identity := p.importByID(typeName, r.identity["id"])
			if !r.resource.Equal(state) {
				t.Errorf("%s %q: listed\n%v\nbut the import gives\n%v", typeName, r.displayName, r.resource, state)
			}
			if !maps.Equal(r.identity, identity) {
				t.Errorf("%s %q: listed identity %v, but the import gives %v", typeName, r.displayName, r.identity, identity)
			}
		}
	}
}

func TestServiceListResource_filters(t *testing.T) {
	env := newTestEnv(t)
	env.requireSim(t)
	is := addListTestInstances(t, env)
	p := newProtocolProvider(t, env, true)
	all := "postgres-15 DEFAULT (ATTACHED) in demo-app/test|rabbitmq-3 QUEUE (NEW) in demo-app/test|s3 DEFAULT (DETACHED) in demo-app/test"

	for _, tc := range []struct {
		name    string
		filters map[string]string
		want    string // display names, sorted by type then prefix, joined by |
	}{
		{"all, by type then prefix", nil, all},
		{"service by identifier", map[string]string{"service": "postgres-15"}, "postgres-15 DEFAULT (ATTACHED) in demo-app/test"},
		{"service by uuid", map[string]string{"service": simulator.ServiceID(simulator.ServiceS3)}, "s3 DEFAULT (DETACHED) in demo-app/test"},
		{"type", map[string]string{"type": divio.TypeStorage}, "s3 DEFAULT (DETACHED) in demo-app/test"},
		{"status", map[string]string{"status": divio.StatusNew}, "rabbitmq-3 QUEUE (NEW) in demo-app/test"},
		{"service and status that no instance has together", map[string]string{"service": "postgres-15", "status": divio.StatusNew}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.t = t
			config := map[string]string{"environment_id": demoTestEnvID}
			maps.Copy(config, tc.filters)
			results, errs := p.list("divio_service", config)
			if errs != "" {
				t.Fatal(errs)
			}
			names := make([]string, len(results))
			for i, r := range results {
				names[i] = r.displayName
			}
			if got := strings.Join(names, "|"); got != tc.want {
				t.Errorf("listed %q, want %q", got, tc.want)
			}
		})
	}

	// The attachments: the attached instance and the one that awaits attachment.
	p.t = t
	results, errs := p.list("divio_service_attachment", map[string]string{"environment_id": demoTestEnvID})
	if errs != "" {
		t.Fatal(errs)
	}
	var got []string
	for _, r := range results {
		got = append(got, r.identity["id"]+" "+r.displayName)
	}
	want := []string{
		is.postgres.UUID + " postgres-15 DEFAULT attached in demo-app/test",
		is.rabbitmq.UUID + " rabbitmq-3 QUEUE awaiting attachment by the next deployment in demo-app/test",
	}
	if !slices.Equal(got, want) {
		t.Errorf("attachments listed %q, want %q", got, want)
	}
}

func TestServiceListResource_errors(t *testing.T) {
	env := newTestEnv(t)
	configured := newProtocolProvider(t, env, true)
	unconfigured := newProtocolProvider(t, env, false)
	const unknownEnv = "0b5d3a2e-8f1c-4f7a-9a43-2c6f0e8d1b77"
	for _, typeName := range []string{"divio_service", "divio_service_attachment"} {
		t.Run(typeName, func(t *testing.T) {
			configured.t, unconfigured.t = t, t
			_, errs := configured.list(typeName, map[string]string{"environment_id": unknownEnv})
			if want := fmt.Sprintf("Environment not found: No environment has the id %q", unknownEnv); !strings.HasPrefix(errs, want) {
				t.Errorf("unknown environment: error %q, want one that starts %q", errs, want)
			}
			_, errs = unconfigured.list(typeName, map[string]string{"environment_id": demoTestEnvID})
			if want := "Divio provider not configured: "; !strings.HasPrefix(errs, want) {
				t.Errorf("unconfigured provider: error %q, want one that starts %q", errs, want)
			}
		})
	}
}

// serviceQuery lists demo-app's test environment through both list resources, and with the filters.
func serviceQuery(env *testEnv) string {
	return env.config(fmt.Sprintf(`
list "divio_service" "all" {
  provider         = divio
  include_resource = true
  config {
    environment_id = %[1]q
  }
}

list "divio_service" "storage" {
  provider = divio
  config {
    environment_id = %[1]q
    type           = "STORAGE"
  }
}

list "divio_service" "first" {
  provider = divio
  limit    = 1
  config {
    environment_id = %[1]q
  }
}

list "divio_service_attachment" "all" {
  provider         = divio
  include_resource = true
  config {
    environment_id = %[1]q
  }
}
`, demoTestEnvID))
}

func TestAccServiceListResource_query(t *testing.T) {
	env := newTestEnv(t)
	env.requireSim(t)
	is := addListTestInstances(t, env)
	// A filter matches the whole identity.
	byID := func(id string) queryfilter.QueryFilter {
		return queryfilter.ByResourceIdentity(map[string]knownvalue.Check{"id": knownvalue.StringExact(id)})
	}
	byServiceID := func(id string) queryfilter.QueryFilter {
		return queryfilter.ByResourceIdentity(map[string]knownvalue.Check{
			"id": knownvalue.StringExact(id), "environment_id": knownvalue.StringExact(demoTestEnvID),
		})
	}
	value := func(attribute string, check knownvalue.Check) querycheck.KnownValueCheck {
		return querycheck.KnownValueCheck{Path: tfjsonpath.New(attribute), KnownValue: check}
	}

	resource.ParallelTest(t, resource.TestCase{
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_14_0)},
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Query:  true,
				Config: serviceQuery(env),
				QueryResultChecks: []querycheck.QueryResultCheck{
					querycheck.ExpectLength("divio_service.all", 3),
					querycheck.ExpectIdentity("divio_service.all", map[string]knownvalue.Check{
						"id": knownvalue.StringExact(is.postgres.UUID), "environment_id": knownvalue.StringExact(demoTestEnvID),
					}),
					querycheck.ExpectResourceDisplayName("divio_service.all", byServiceID(is.postgres.UUID),
						knownvalue.StringExact("postgres-15 DEFAULT (ATTACHED) in demo-app/test")),
					querycheck.ExpectResourceKnownValues("divio_service.all", byServiceID(is.postgres.UUID), []querycheck.KnownValueCheck{
						value("environment_id", knownvalue.StringExact(demoTestEnvID)),
						value("service", knownvalue.StringExact("postgres-15")),
						value("prefix", knownvalue.StringExact("DEFAULT")),
						value("provision", knownvalue.Bool(true)),
						value("deletion_protection", knownvalue.Bool(false)),
						value("status", knownvalue.StringExact(divio.StatusAttached)),
					}),
					querycheck.ExpectResourceKnownValues("divio_service.all", byServiceID(is.rabbitmq.UUID), []querycheck.KnownValueCheck{
						value("service", knownvalue.StringExact("rabbitmq-3")),
						value("provision", knownvalue.Bool(false)),
					}),
					querycheck.ExpectLength("divio_service.storage", 1),
					querycheck.ExpectIdentity("divio_service.storage", map[string]knownvalue.Check{
						"id": knownvalue.StringExact(is.s3.UUID), "environment_id": knownvalue.StringExact(demoTestEnvID),
					}),
					querycheck.ExpectLength("divio_service.first", 1),
					querycheck.ExpectLength("divio_service_attachment.all", 2),
					querycheck.ExpectResourceDisplayName("divio_service_attachment.all", byID(is.postgres.UUID),
						knownvalue.StringExact("postgres-15 DEFAULT attached in demo-app/test")),
					querycheck.ExpectResourceKnownValues("divio_service_attachment.all", byID(is.postgres.UUID), []querycheck.KnownValueCheck{
						value("service_id", knownvalue.StringExact(is.postgres.UUID)),
						value("deploy", knownvalue.Bool(true)),
						value("status", knownvalue.StringExact(divio.StatusAttached)),
						value("deployment_id", knownvalue.Null()),
					}),
				},
			},
		},
	})
}

func TestAccServiceListResource_invalidFilter(t *testing.T) {
	env := newTestEnv(t)
	resource.ParallelTest(t, resource.TestCase{
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_14_0)},
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Query: true,
				Config: env.config(fmt.Sprintf(`
list "divio_service" "all" {
  provider = divio
  config {
    environment_id = %q
    type           = "DATABSE"
  }
}
`, demoTestEnvID)),
				ExpectError: errorText(`Attribute type value must be one of: ["DATABASE" "STORAGE" "SEARCH" "MESSAGE_QUEUE"], got: "DATABSE"`),
			},
		},
	})
}
