package provider

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/divio/terraform-provider-divio/internal/divio"
	"github.com/divio/terraform-provider-divio/internal/simulator"
)

// A state written before identities (by Terraform 1.11, or an older provider) has none: every
// Read must set one, also when the object is gone and when the provider cannot be configured
// yet, or the framework fails the refresh with "Missing Resource Identity After Read".
func TestResourceIdentity_readWithoutStoredIdentity(t *testing.T) {
	env := newTestEnv(t)
	client := env.client(t)
	envID := env.demoTest()
	inst := env.addInstance(envID, simulator.ServicePostgres15, "DEFAULT", true)
	dep := attachTestInstance(t, client, inst)
	const goneID = "0b5d3a2e-8f1c-4f7a-9a43-2c6f0e8d1b77"

	serviceState := func(id string) map[string]string {
		return map[string]string{"id": id, "environment_id": envID, "service": "postgres-15"}
	}
	attachmentState := func(id string) map[string]string {
		return map[string]string{"id": id, "service_id": id, "environment_id": envID}
	}
	deploymentState := func(id string) map[string]string {
		return map[string]string{"id": id, "environment_id": envID}
	}
	backup, err := client.CreateBackup(context.Background(), divio.CreateBackupRequest{Environment: envID, Services: []string{inst.UUID}, Notes: env.notes("")})
	if err != nil {
		t.Fatal(err)
	}
	backupState := func(id string) map[string]string {
		return map[string]string{"id": id, "service_id": inst.UUID, "state": divio.BackupStateCompleted}
	}
	configured := newProtocolProvider(t, env, true)
	unconfigured := newProtocolProvider(t, env, false)

	for _, tc := range []struct {
		name         string
		provider     *protocolProvider
		typeName     string
		state        map[string]string
		wantIdentity map[string]string
		wantGone     bool
	}{
		{"service", configured, "divio_service", serviceState(inst.UUID),
			map[string]string{"id": inst.UUID, "environment_id": envID}, false},
		{"service gone", configured, "divio_service", serviceState(goneID),
			map[string]string{"id": goneID, "environment_id": envID}, true},
		{"service, provider not configured", unconfigured, "divio_service", serviceState(inst.UUID),
			map[string]string{"id": inst.UUID, "environment_id": envID}, false},
		{"attachment", configured, "divio_service_attachment", attachmentState(inst.UUID),
			map[string]string{"id": inst.UUID}, false},
		{"attachment gone", configured, "divio_service_attachment", attachmentState(goneID),
			map[string]string{"id": goneID}, true},
		{"attachment, provider not configured", unconfigured, "divio_service_attachment", attachmentState(inst.UUID),
			map[string]string{"id": inst.UUID}, false},
		{"deployment", configured, "divio_deployment", deploymentState(dep.UUID),
			map[string]string{"id": dep.UUID}, false},
		{"deployment gone", configured, "divio_deployment", deploymentState(goneID),
			map[string]string{"id": goneID}, true},
		{"deployment, provider not configured", unconfigured, "divio_deployment", deploymentState(dep.UUID),
			map[string]string{"id": dep.UUID}, false},
		{"backup", configured, "divio_service_backup", backupState(backup.UUID),
			map[string]string{"id": backup.UUID}, false},
		{"backup gone", configured, "divio_service_backup", backupState(goneID),
			map[string]string{"id": goneID}, true},
		{"backup, provider not configured", unconfigured, "divio_service_backup", backupState(backup.UUID),
			map[string]string{"id": backup.UUID}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.provider.t = t
			newState, identity, diags := tc.provider.read(tc.typeName, tc.provider.state(tc.typeName, tc.state), nil)
			if msg := errorsOf(diags); msg != "" {
				t.Fatalf("read failed: %s", msg)
			}
			if !maps.Equal(identity, tc.wantIdentity) {
				t.Errorf("identity = %v, want %v", identity, tc.wantIdentity)
			}
			if newState.IsNull() != tc.wantGone {
				t.Errorf("state removed = %v, want %v", newState.IsNull(), tc.wantGone)
			}
			if warnings := summaries(diags, tfprotov6.DiagnosticSeverityWarning); tc.wantGone != (len(warnings) == 1 && strings.HasSuffix(warnings[0], "no longer exists")) {
				t.Errorf("warnings = %q, want one that says it no longer exists only when gone", warnings)
			}
		})
	}
}

// An import block's identity names the object by its id; a service's may add its environment,
// which must then be the instance's.
func TestResourceIdentity_importByIdentity(t *testing.T) {
	env := newTestEnv(t)
	client := env.client(t)
	envID := env.demoTest()
	inst := env.addInstance(envID, simulator.ServicePostgres15, "DEFAULT", true)
	backup, err := client.CreateBackup(context.Background(), divio.CreateBackupRequest{Environment: envID, Services: []string{inst.UUID}, Notes: env.notes("")})
	if err != nil {
		t.Fatal(err)
	}
	p := newProtocolProvider(t, env, true)
	liveEnvID := testEnvironmentID(t, simulator.DemoApp, simulator.EnvLive)

	importByIdentity := func(typeName string, identity map[string]string) (*tfprotov6.ImportResourceStateResponse, map[string]string) {
		data := p.value(p.identities[typeName].ValueType(), stringValues(identity))
		resp, err := p.server.ImportResourceState(context.Background(), &tfprotov6.ImportResourceStateRequest{
			TypeName: typeName, Identity: &tfprotov6.ResourceIdentityData{IdentityData: p.dynamic(data)},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.ImportedResources) != 1 {
			return resp, nil
		}
		return resp, p.identity(typeName, resp.ImportedResources[0].Identity)
	}

	for _, tc := range []struct {
		name, typeName string
		identity       map[string]string
		wantIdentity   map[string]string
		wantError      string
	}{
		{"service by id", "divio_service", map[string]string{"id": inst.UUID},
			map[string]string{"id": inst.UUID, "environment_id": envID}, ""},
		{"service by id and environment", "divio_service", map[string]string{"id": inst.UUID, "environment_id": envID},
			map[string]string{"id": inst.UUID, "environment_id": envID}, ""},
		{"service in another environment", "divio_service", map[string]string{"id": inst.UUID, "environment_id": liveEnvID}, nil,
			fmt.Sprintf("Service instance is in another environment: Service instance %s belongs to environment %s, not to environment %s", inst.UUID, envID, liveEnvID)},
		{"service with an id that is not one", "divio_service", map[string]string{"id": "demo-app/test"}, nil,
			`Invalid import identity: The identity's id "demo-app/test" is not the id of a service instance`},
		{"attachment", "divio_service_attachment", map[string]string{"id": inst.UUID}, map[string]string{"id": inst.UUID}, ""},
		{"deployment", "divio_deployment", map[string]string{"id": "d-1"}, map[string]string{"id": "d-1"}, ""},
		{"backup", "divio_service_backup", map[string]string{"id": backup.UUID}, map[string]string{"id": backup.UUID}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.t = t
			resp, identity := importByIdentity(tc.typeName, tc.identity)
			msg := errorsOf(resp.Diagnostics)
			if tc.wantError != "" {
				if !strings.HasPrefix(msg, tc.wantError) {
					t.Fatalf("error = %q, want one that starts %q", msg, tc.wantError)
				}
				return
			}
			if msg != "" {
				t.Fatal(msg)
			}
			if !maps.Equal(identity, tc.wantIdentity) {
				t.Errorf("identity = %v, want %v", identity, tc.wantIdentity)
			}
		})
	}
}

// identityConfig is a service, its attachment and a deployment after it, with extra arguments
// (a `timeouts` attribute) in each.
// Against the real API the service has the test's prefix and the backup its notes.
func identityConfig(env *testEnv, extra string) string {
	notes := ""
	if env.Sim == nil {
		notes = fmt.Sprintf("\n  notes = %q", env.notes("identity"))
	}
	return env.config(fmt.Sprintf(`
resource "divio_service" "db" {
  environment_id = %[1]q
  service        = "postgres-15"
%[2]s%[3]s
}

resource "divio_service_attachment" "db" {
  service_id = divio_service.db.id
%[2]s
}

resource "divio_deployment" "d" {
  environment_id = %[1]q
  depends_on     = [divio_service_attachment.db]
%[2]s
}

resource "divio_service_backup" "db" {
  service_id = divio_service.db.id
%[2]s%[4]s
}
`, env.demoTest(), extra, env.withPrefixes(""), notes))
}

var identityAddrs = []string{"divio_service.db", "divio_service_attachment.db", "divio_deployment.d", "divio_service_backup.db"}

// expectIdentities checks every resource's identity: its id is the state's, and the service's
// identity also names its environment.
func expectIdentities(env *testEnv) []statecheck.StateCheck {
	checks := []statecheck.StateCheck{
		statecheck.ExpectIdentity("divio_service.db", map[string]knownvalue.Check{
			"id": knownvalue.NotNull(), "environment_id": knownvalue.StringExact(env.demoTest()),
		}),
		statecheck.ExpectIdentity("divio_service_attachment.db", map[string]knownvalue.Check{"id": knownvalue.NotNull()}),
		statecheck.ExpectIdentity("divio_deployment.d", map[string]knownvalue.Check{"id": knownvalue.NotNull()}),
		statecheck.ExpectIdentity("divio_service_backup.db", map[string]knownvalue.Check{"id": knownvalue.NotNull()}),
	}
	for _, addr := range identityAddrs {
		checks = append(checks, statecheck.ExpectIdentityValueMatchesState(addr, tfjsonpath.New("id")))
	}
	return checks
}

// Identity is set by Create and Update, and an import block with it (Terraform 1.12+) imports
// each resource with no change to plan.
func TestAccResourceIdentity_createImportUpdate(t *testing.T) {
	env := newTestEnv(t)
	steps := []resource.TestStep{{
		Config:            identityConfig(env, ""),
		ConfigStateChecks: expectIdentities(env),
	}}
	for _, addr := range identityAddrs {
		steps = append(steps, resource.TestStep{
			ResourceName:    addr,
			ImportState:     true,
			ImportStateKind: resource.ImportBlockWithResourceIdentity,
		})
	}
	updates := make([]plancheck.PlanCheck, 0, len(identityAddrs))
	for _, addr := range identityAddrs {
		updates = append(updates, plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate))
	}
	steps = append(steps, resource.TestStep{
		Config:            identityConfig(env, createTimeout("5m")),
		ConfigPlanChecks:  resource.ConfigPlanChecks{PreApply: updates},
		ConfigStateChecks: expectIdentities(env),
	})

	resource.ParallelTest(t, resource.TestCase{
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_12_0)},
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             env.checkNoInstanceLeft(),
		Steps:                    steps,
	})
}

// Each identity names the object by its API id; a service's may also name its environment.
func TestResourceIdentity_schemas(t *testing.T) {
	env := newTestEnv(t)
	p := newProtocolProvider(t, env, false)
	want := map[string][]string{
		"divio_deployment":         {"id (required for import)"},
		"divio_service":            {"environment_id (optional for import)", "id (required for import)"},
		"divio_service_attachment": {"id (required for import)"},
		"divio_service_backup":     {"id (required for import)"},
	}
	got := map[string][]string{}
	for typeName, schema := range p.identities {
		for _, attr := range schema.IdentityAttributes {
			need := "optional for import"
			if attr.RequiredForImport {
				need = "required for import"
			}
			got[typeName] = append(got[typeName], attr.Name+" ("+need+")")
		}
		slices.Sort(got[typeName])
	}
	if !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("identity schemas = %v, want %v", got, want)
	}
}
