package provider

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	fwresource "github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/divio/terraform-provider-divio/internal/divio"
	"github.com/divio/terraform-provider-divio/internal/simulator"
)

func TestAccServiceResource_basic(t *testing.T) {
	env := newTestEnv(t)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             env.checkNoInstanceLeft(),
		Steps: []resource.TestStep{
			{
				Config: serviceConfig(env, "postgres-15", ""),
				Check: resource.ComposeAggregateTestCheckFunc(
					env.expectLiveInstance(simulator.ServicePostgres15, "DEFAULT", simulator.StatusPendingAttachment),
					env.expectStateIDIsLiveInstance(),
				),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(serviceAddr, tfjsonpath.New("service"), knownvalue.StringExact("postgres-15")),
					statecheck.ExpectKnownValue(serviceAddr, tfjsonpath.New("prefix"), knownvalue.StringExact(env.prefix("DEFAULT"))),
					statecheck.ExpectKnownValue(serviceAddr, tfjsonpath.New("provision"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(serviceAddr, tfjsonpath.New("deletion_protection"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(serviceAddr, tfjsonpath.New("status"), knownvalue.StringExact(simulator.StatusPendingAttachment)),
					statecheck.ExpectKnownValue(serviceAddr, tfjsonpath.New("type"), knownvalue.StringExact("DATABASE")),
					statecheck.ExpectKnownValue(serviceAddr, tfjsonpath.New("region_id"), knownvalue.StringExact(testRegionID(t, simulator.RegionAWSEUCentral1))),
					statecheck.ExpectKnownValue(serviceAddr, tfjsonpath.New("env_var_names"), env.defaultDatabaseVarNames()),
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(serviceAddr, plancheck.ResourceActionCreate),
						// Known at plan time, for the resources that use them.
						plancheck.ExpectKnownValue(serviceAddr, tfjsonpath.New("env_var_names"), env.defaultDatabaseVarNames()),
						plancheck.ExpectKnownValue(serviceAddr, tfjsonpath.New("type"), knownvalue.StringExact("DATABASE")),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				ResourceName:      serviceAddr,
				ImportState:       true,
				ImportStateVerify: true,
			},
			{
				ResourceName:  serviceAddr,
				ImportState:   true,
				ImportStateId: "demo-app/test",
				ExpectError:   errorText(`"demo-app/test" is not a valid import ID: give the id of the service instance, e.g.`, "divio_service_instances lists the ids of an environment's instances"),
			},
			{
				// The uuid of the same catalog entry is the same service: no change.
				Config: serviceConfig(env, testServiceID(t, simulator.ServicePostgres15), ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(serviceAddr, tfjsonpath.New("service"), knownvalue.StringExact("postgres-15")),
				},
				Check: env.expectLiveInstance(simulator.ServicePostgres15, "DEFAULT", simulator.StatusPendingAttachment),
			},
		},
	})
}

func TestAccServiceResource_uuidThenIdentifier(t *testing.T) {
	env := newTestEnv(t)
	uuid := testServiceID(t, simulator.ServiceS3)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             env.checkNoInstanceLeft(),
		Steps: []resource.TestStep{
			{
				Config: serviceConfig(env, uuid, `  prefix = "MEDIA"`),
				Check:  env.expectLiveInstance(simulator.ServiceS3, "MEDIA", simulator.StatusPendingAttachment),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(serviceAddr, tfjsonpath.New("service"), knownvalue.StringExact(uuid)),
					statecheck.ExpectKnownValue(serviceAddr, tfjsonpath.New("type"), knownvalue.StringExact("STORAGE")),
					statecheck.ExpectKnownValue(serviceAddr, tfjsonpath.New("env_var_names"), stringList(env.prefix("MEDIA")+"_STORAGE_DSN")),
				},
			},
			{
				Config: serviceConfig(env, "s3", `  prefix = "MEDIA"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: env.expectLiveInstance(simulator.ServiceS3, "MEDIA", simulator.StatusPendingAttachment),
			},
		},
	})
}

func TestAccServiceResource_provisionAndProtection(t *testing.T) {
	env := newTestEnv(t)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             env.checkNoInstanceLeft(),
		Steps: []resource.TestStep{
			{
				Config: serviceConfig(env, "mysql-8", `  provision = false`),
				Check:  env.expectLiveInstance(simulator.ServiceMySQL8, "DEFAULT", simulator.StatusNew),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(serviceAddr, tfjsonpath.New("status"), knownvalue.StringExact(simulator.StatusNew)),
					statecheck.ExpectKnownValue(serviceAddr, tfjsonpath.New("provision"), knownvalue.Bool(false)),
				},
			},
			{
				Config: serviceConfig(env, "mysql-8", "  provision = true\n  deletion_protection = true"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(serviceAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectUnknownValue(serviceAddr, tfjsonpath.New("status")), // it provisions
					},
				},
				Check: env.expectLiveInstance(simulator.ServiceMySQL8, "DEFAULT", simulator.StatusPendingAttachment),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(serviceAddr, tfjsonpath.New("status"), knownvalue.StringExact(simulator.StatusPendingAttachment)),
					statecheck.ExpectKnownValue(serviceAddr, tfjsonpath.New("deletion_protection"), knownvalue.Bool(true)),
				},
			},
			{
				// Removing a protected service fails at plan time.
				Config:      env.config(""),
				ExpectError: errorText("has deletion_protection = true, so Terraform refuses to remove or replace it"),
			},
			{
				// Replacing it deletes its data too.
				Config:      serviceConfig(env, "mysql-8", "  prefix = \"OTHER\"\n  deletion_protection = true"),
				ExpectError: errorText("Changing prefix replaces the instance, which deletes its data."),
			},
			{
				// Provisioning cannot be undone: false only records the value.
				Config: serviceConfig(env, "mysql-8", "  provision = false\n  deletion_protection = false"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(serviceAddr, plancheck.ResourceActionUpdate),
						// Only what changes: the status stays as it is (against a shared account, another
						// test's deployment may have attached it).
						plancheck.ExpectKnownValue(serviceAddr, tfjsonpath.New("status"), knownvalue.StringFunc(func(v string) error {
							if v != simulator.StatusPendingAttachment && (env.Sim != nil || v != simulator.StatusAttached) {
								return fmt.Errorf("status %s, want it as refreshed", v)
							}
							return nil
						})),
					},
				},
				Check: env.expectLiveInstance(simulator.ServiceMySQL8, "DEFAULT", simulator.StatusPendingAttachment),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(serviceAddr, tfjsonpath.New("provision"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(serviceAddr, tfjsonpath.New("deletion_protection"), knownvalue.Bool(false)),
				},
			},
		},
	})
}

func TestAccServiceResource_replace(t *testing.T) {
	env := newTestEnv(t)
	var firstID string
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             env.checkNoInstanceLeft(),
		Steps: []resource.TestStep{
			{
				Config: serviceConfig(env, "postgres-15", ""),
				Check: func(*terraform.State) error {
					in, err := env.onlyLiveInstance()
					firstID = in.UUID
					return err
				},
			},
			{
				Config: serviceConfig(env, "postgres-15", `  prefix = "REPORTS"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(serviceAddr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					env.expectLiveInstance(simulator.ServicePostgres15, "REPORTS", simulator.StatusPendingAttachment),
					env.expectStateIDIsLiveInstance(),
					func(*terraform.State) error {
						if in, _ := env.onlyLiveInstance(); in.UUID == firstID {
							return fmt.Errorf("instance %s was not replaced", firstID)
						}
						return nil
					},
				),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(serviceAddr, tfjsonpath.New("env_var_names"), stringList(env.prefix("REPORTS")+"_DATABASE_DSN")),
				},
			},
			{
				// Another database with the same prefix: the prefix is free once the old one is removed first.
				Config: serviceConfig(env, "mysql-8", `  prefix = "REPORTS"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(serviceAddr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				Check: env.expectLiveInstance(simulator.ServiceMySQL8, "REPORTS", simulator.StatusPendingAttachment),
			},
		},
	})
}

func TestAccServiceResource_drift(t *testing.T) {
	env := newTestEnv(t)
	var firstID string
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             env.checkNoInstanceLeft(),
		Steps: []resource.TestStep{
			{
				Config: serviceConfig(env, "postgres-15", ""),
				Check: func(*terraform.State) error {
					in, err := env.onlyLiveInstance()
					firstID = in.UUID
					return err
				},
			},
			{
				PreConfig: func() {
					// Removed outside Terraform, as the Divio Control Panel would.
					if err := env.client(t).DeleteServiceInstance(context.Background(), firstID); err != nil {
						t.Fatal(err)
					}
				},
				Config: serviceConfig(env, "postgres-15", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(serviceAddr, plancheck.ResourceActionCreate)},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					env.expectLiveInstance(simulator.ServicePostgres15, "DEFAULT", simulator.StatusPendingAttachment),
					env.expectStateIDIsLiveInstance(),
				),
			},
		},
	})
}

func TestAccServiceResource_notOfferedInRegion(t *testing.T) {
	env := newTestEnv(t)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             env.checkNoInstanceLeft(),
		Steps: []resource.TestStep{
			{
				Config: serviceConfig(env, "ms-blob", ""),
				ExpectError: errorText(env.inSim(`"ms-blob" is not offered in region aws-eu-central-1 (aws), where application demo-app runs. `+
					`Services offered there: elasticsearch-8, mysql-8, postgres-15, postgres-16, rabbitmq-3, s3.`,
					`"ms-blob" is not offered in region aws-eu-central-1 (aws), where application demo-app runs. Services offered there:`)),
			},
		},
	})
}

func TestAccServiceResource_invalidPrefix(t *testing.T) {
	env := newTestEnv(t)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      serviceConfig(env, "postgres-15", `  prefix = "default"`),
				ExpectError: errorText("prefix must be an upper-case letter followed by up to 29 upper-case letters, digits or underscores, e.g. DEFAULT or MEDIA_2, got: default"),
			},
		},
	})
}

func TestAccServiceResource_prefixTaken(t *testing.T) {
	env := newTestEnv(t)
	first := serviceConfig(env, "postgres-15", "")
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             env.checkNoInstanceLeft(),
		Steps: []resource.TestStep{
			{Config: first},
			{
				Config: first + fmt.Sprintf(`
resource "divio_service" "other" {
  environment_id = %q
  service        = "mysql-8"
  prefix         = %q
}
`, env.demoTest(), env.prefix("DEFAULT")),
				ExpectError: errorText("Prefix already in use", "has prefix "+env.prefix("DEFAULT")+" and stays in this plan, while another divio_service of this plan adds a DATABASE instance with the same prefix (mysql-8)"),
			},
			{
				// Nothing was added.
				Config: first,
				Check:  env.expectLiveInstance(simulator.ServicePostgres15, "DEFAULT", simulator.StatusPendingAttachment),
			},
		},
	})
}

// A divio_service without an attachment is attached by the environment's next deployment, whoever
// starts it (here one started outside Terraform, as a git push would): the next plan is empty, and
// destroying it detaches it with a deployment first, then removes it.
func TestAccServiceResource_attached(t *testing.T) {
	env := newTestEnv(t)
	deployOutside := func() {
		client := env.client(t)
		in, err := env.onlyLiveInstance()
		if err == nil {
			_, err = newDeployer(client, newAPICache(client), 0).Deploy(context.Background(), in.Environment)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             env.checkNoInstanceLeft(),
		Steps: []resource.TestStep{
			{
				Config: serviceConfig(env, "postgres-15", ""),
				Check:  env.expectLiveInstance(simulator.ServicePostgres15, "DEFAULT", simulator.StatusPendingAttachment),
			},
			{
				PreConfig: deployOutside,
				Config:    serviceConfig(env, "postgres-15", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					// Refreshed, and no change planned for it.
					statecheck.ExpectKnownValue(serviceAddr, tfjsonpath.New("status"), knownvalue.StringExact(simulator.StatusAttached)),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					env.expectLiveInstance(simulator.ServicePostgres15, "DEFAULT", simulator.StatusAttached),
					env.expectDeployments(1),
				),
			},
			{
				// Removed from the configuration: detached with a deployment, then removed.
				Config: env.config(""),
				Check:  env.expectDeployments(2),
			},
		},
	})
}

func TestAccServiceResource_stalledProvisioning(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	config := serviceConfig(env, "postgres-15", createTimeout("1s"))
	var stalledID string
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             env.checkNoInstanceLeft(),
		Steps: []resource.TestStep{
			{
				// The create timeout runs out: the instance is kept, untainted, and the plan that
				// follows the apply waits for it (an update) while it is younger than the timeout.
				PreConfig: sim.StallNextProvision,
				Config:    config,
				Check: resource.ComposeAggregateTestCheckFunc(
					env.expectLiveInstance(simulator.ServicePostgres15, "DEFAULT", simulator.StatusProvisioning),
					env.expectStateIDIsLiveInstance(),
					func(*terraform.State) error {
						in, err := onlySimInstance(sim)
						stalledID = in.UUID
						return err
					},
				),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(serviceAddr, tfjsonpath.New("status"), knownvalue.StringExact(simulator.StatusProvisioning)),
				},
				ExpectNonEmptyPlan: true,
			},
			{
				// Still provisioning once the create timeout has passed since it was added: stuck,
				// and replaced, since it holds no data.
				PreConfig: func() { time.Sleep(time.Second) },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(serviceAddr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					env.expectLiveInstance(simulator.ServicePostgres15, "DEFAULT", simulator.StatusPendingAttachment),
					env.expectStateIDIsLiveInstance(),
					func(*terraform.State) error {
						if in, _ := onlySimInstance(sim); in.UUID == stalledID {
							return fmt.Errorf("stalled instance %s was kept", stalledID)
						}
						return nil
					},
				),
			},
		},
	})
}

// TestServiceResource_destroyPlan runs the plan of a destroy directly, since the testing
// framework does not show warnings.
func TestServiceResource_destroyPlan(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	ctx := context.Background()
	client := env.client(t)
	inst, err := client.CreateServiceInstance(ctx, divio.CreateServiceInstanceRequest{
		Environment: demoTestEnvID, Service: simulator.ServiceID(simulator.ServicePostgres15), Prefix: "DEFAULT",
	})
	if err != nil {
		t.Fatal(err)
	}
	attached := simulator.StatusAttached
	if err := sim.SetInstance(inst.UUID, simulator.InstancePatch{Status: &attached}); err != nil {
		t.Fatal(err)
	}

	r := &ServiceResource{resourceWithConfigure{data: newProviderData(client, 0)}}
	var schemaResp fwresource.SchemaResponse
	r.Schema(ctx, fwresource.SchemaRequest{}, &schemaResp)
	nullObject := tftypes.NewValue(schemaResp.Schema.Type().TerraformType(ctx), nil)

	planDestroy := func(protected, finalBackup bool) diag.Diagnostics {
		state := tfsdk.State{Schema: schemaResp.Schema, Raw: nullObject}
		for attribute, value := range map[string]any{
			"id": inst.UUID, "environment_id": demoTestEnvID, "service": "postgres-15", "deletion_protection": protected,
			"final_backup": finalBackup, "final_backup_retention": "7d",
		} {
			if diags := state.SetAttribute(ctx, path.Root(attribute), value); diags.HasError() {
				t.Fatal(diags)
			}
		}
		resp := fwresource.ModifyPlanResponse{Plan: tfsdk.Plan{Schema: schemaResp.Schema, Raw: nullObject}}
		r.ModifyPlan(ctx, fwresource.ModifyPlanRequest{State: state, Plan: resp.Plan}, &resp)
		return resp.Diagnostics
	}

	diags := planDestroy(false, true)
	if diags.HasError() || diags.WarningsCount() != 2 {
		t.Fatalf("want two warnings, got %v", diags)
	}
	if w := diags.Warnings()[0]; w.Summary() != "Service instance in use is detached first" ||
		!strings.HasPrefix(w.Detail(), "Service instance "+inst.UUID+" (postgres-15, prefix DEFAULT) in environment demo-app/test ("+demoTestEnvID+") is ATTACHED: "+
			"the application uses it") ||
		!strings.HasSuffix(w.Detail(), "the apply first detaches it with a deployment of the environment, after which the application no longer receives DATABASE_URL, DEFAULT_DATABASE_DSN. Then it removes it.") {
		t.Errorf("warning: %s: %s", w.Summary(), w.Detail())
	}
	finalBackupWarning := "Service instance " + inst.UUID + " (postgres-15, prefix DEFAULT) in environment demo-app/test (" + demoTestEnvID + ") " +
		"is backed up before it is removed (final_backup = true): the removal waits until the backup has completed, and if the backup fails, nothing is removed. " +
		"The backup is kept for 7d (final_backup_retention), until about " + time.Now().Add(7*24*time.Hour).UTC().Format(time.DateOnly) + "."
	if w := diags.Warnings()[1]; w.Summary() != "Final backup before removal" || !strings.HasPrefix(w.Detail(), finalBackupWarning) {
		t.Errorf("final backup warning: %s: %s\nwant it to start with %s", w.Summary(), w.Detail(), finalBackupWarning)
	}

	// With its attachment destroyed in the same plan (planned first, as Terraform does), only the
	// final backup's warning; none without a final backup.
	r.data.plan.planDetachment(inst.UUID)
	if diags := planDestroy(false, true); diags.HasError() || diags.WarningsCount() != 1 || diags.Warnings()[0].Summary() != "Final backup before removal" {
		t.Errorf("want the final backup's warning only, got %v", diags)
	}
	if diags := planDestroy(false, false); diags.HasError() || diags.WarningsCount() != 0 {
		t.Errorf("want no warning, got %v", diags)
	}

	diags = planDestroy(true, true)
	if diags.ErrorsCount() != 1 || !strings.Contains(diags.Errors()[0].Detail(), "Set deletion_protection = false and apply first") {
		t.Errorf("want the deletion protection error, got %v", diags)
	}
}

// An apply interrupted (Ctrl-C) while it waits for provisioning leaves the instance in the state,
// untainted, with a warning; the next plan waits for it as an update.
func TestServiceResource_interruptedCreateKeepsTheInstance(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	sim.StallNextProvision()
	client := env.client(t)
	r := &ServiceResource{resourceWithConfigure{data: newProviderData(client, 0)}}
	ctx := context.Background()
	var schemaResp fwresource.SchemaResponse
	r.Schema(ctx, fwresource.SchemaRequest{}, &schemaResp)
	nullObject := tftypes.NewValue(schemaResp.Schema.Type().TerraformType(ctx), nil)
	plan := tfsdk.Plan{Schema: schemaResp.Schema, Raw: nullObject}
	for attribute, value := range map[string]any{
		"environment_id": demoTestEnvID, "service": "postgres-15", "prefix": "DEFAULT", "provision": true, "deletion_protection": false,
	} {
		if diags := plan.SetAttribute(ctx, path.Root(attribute), value); diags.HasError() {
			t.Fatal(diags)
		}
	}

	interrupted, interrupt := context.WithCancel(ctx)
	go func() { // Ctrl-C once the instance exists and is being waited for
		for len(testInstances(sim)) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond)
		interrupt()
	}()
	resp := fwresource.CreateResponse{State: tfsdk.State{Schema: schemaResp.Schema, Raw: nullObject}}
	r.Create(interrupted, fwresource.CreateRequest{Plan: plan}, &resp)

	if resp.Diagnostics.HasError() || resp.Diagnostics.WarningsCount() != 1 ||
		!strings.Contains(resp.Diagnostics.Warnings()[0].Detail(), "The apply was interrupted while service instance") {
		t.Fatalf("want one warning that says the create was interrupted, and no error, got %v", resp.Diagnostics)
	}
	instances := testInstances(sim)
	if len(instances) != 1 || instances[0].Status != simulator.StatusProvisioning {
		t.Fatalf("simulator instances = %+v, want one PROVISIONING", instances)
	}
	var id, status types.String
	resp.Diagnostics.Append(resp.State.GetAttribute(ctx, path.Root("id"), &id)...)
	resp.Diagnostics.Append(resp.State.GetAttribute(ctx, path.Root("status"), &status)...)
	if id.ValueString() != instances[0].UUID || status.ValueString() != simulator.StatusProvisioning {
		t.Fatalf("state id = %s, status = %s (%v), want the instance %s, PROVISIONING", id, status, resp.Diagnostics, instances[0].UUID)
	}

	// The next plan schedules the rest as an update: status unknown, no replacement.
	modify := fwresource.ModifyPlanResponse{Plan: tfsdk.Plan{Schema: schemaResp.Schema, Raw: resp.State.Raw}}
	r.ModifyPlan(ctx, fwresource.ModifyPlanRequest{State: resp.State, Plan: modify.Plan}, &modify)
	var planned types.String
	modify.Diagnostics.Append(modify.Plan.GetAttribute(ctx, path.Root("status"), &planned)...)
	if modify.Diagnostics.HasError() || !planned.IsUnknown() || len(modify.RequiresReplace) > 0 {
		t.Errorf("next plan: status %s, requires replace %v, diagnostics %v; want an update", planned, modify.RequiresReplace, modify.Diagnostics)
	}
}

func TestEnvVarNames(t *testing.T) {
	for _, tc := range []struct {
		serviceType, prefix string
		want                []string
	}{
		{"DATABASE", "DEFAULT", []string{"DATABASE_URL", "DEFAULT_DATABASE_DSN"}},
		{"DATABASE", "REPORTS", []string{"REPORTS_DATABASE_DSN"}},
		{"STORAGE", "DEFAULT", []string{"DEFAULT_STORAGE_DSN"}},
		{"SEARCH", "DEFAULT", []string{"DEFAULT_HAYSTACK_URL"}},
		{"MESSAGE_QUEUE", "Q", []string{"Q_AMQP_BROKER_URL"}},
		{"UNKNOWN", "DEFAULT", []string{}},
	} {
		if got := divio.VariableNames(tc.serviceType, tc.prefix); !slices.Equal(got, tc.want) {
			t.Errorf("divio.VariableNames(%q, %q) = %q, want %q", tc.serviceType, tc.prefix, got, tc.want)
		}
	}
}

func TestPrefixValidator(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		valid  bool
	}{
		{"DEFAULT", true},
		{"A", true},
		{"MEDIA_2", true},
		{"A" + strings.Repeat("B", 29), true},
		{"A" + strings.Repeat("B", 30), false},
		{"default", false},
		{"2ND", false},
		{"_X", false},
		{"MEDIA-2", false},
		{"", false},
	} {
		resp := &validator.StringResponse{}
		prefixValidator.ValidateString(context.Background(), validator.StringRequest{
			Path: path.Root("prefix"), ConfigValue: types.StringValue(tc.prefix),
		}, resp)
		if got := !resp.Diagnostics.HasError(); got != tc.valid {
			t.Errorf("prefix %q: valid = %v, want %v (%v)", tc.prefix, got, tc.valid, resp.Diagnostics)
		}
	}
}

// Ctrl-C while a service provisions (issue: it used to be tainted, and the next plan failed on its
// own instance): the instance stays in the state untainted, the next plan waits for it as an update,
// and the apply after converges on the same instance, removing nothing.
func TestAccServiceResource_interruptedProvisioning(t *testing.T) {
	env := newTestEnv(t, func(o *simulator.Options) { o.ProvisionDelay = 3 * time.Second })
	sim := env.requireSim(t)
	cli := newTerraformCLI(t)
	config := serviceConfig(env, "postgres-15", "")
	out := cli.interruptApply(config, func() bool {
		live := liveInstances(sim)
		return len(live) == 1 && live[0].Status == simulator.StatusProvisioning
	})
	warnings := withSummary(diagnostics(out), "Service instance still provisioning")
	if len(warnings) != 1 || !strings.Contains(warnings[0].Detail, "The apply was interrupted while service instance") ||
		!strings.Contains(warnings[0].Detail, "The next terraform apply waits for it to finish, and removes or replaces nothing") {
		t.Fatalf("want the warning that provisioning goes on, got %v\n%s", warnings, out)
	}
	first, err := onlySimInstance(sim)
	if err != nil {
		t.Fatal(err)
	}
	if state := cli.mustRun("state", "show", "-no-color", serviceAddr); !strings.Contains(state, first.UUID) || strings.Contains(state, "tainted") {
		t.Fatalf("want %s in the state, untainted:\n%s", first.UUID, state)
	}

	// The plan says what its update does, unless provisioning has finished meanwhile (no change).
	diags, _ := cli.plan(config)
	if still := withSummary(diags, "Service instance still provisioning"); len(diags) != len(still) || len(still) > 1 ||
		len(still) == 1 && !strings.Contains(still[0].Detail, "This plan's update waits for its provisioning to finish (starting it if it has not begun), within the create timeout (20m0s) counted from when it was added; it removes and replaces nothing.") {
		t.Errorf("the plan after the interrupt: %v", diags)
	}
	cli.apply(config)
	if in, err := onlySimInstance(sim); err != nil || in.UUID != first.UUID || in.Status != simulator.StatusPendingAttachment {
		t.Fatalf("after the next apply: %+v, %v; want %s PENDING_ATTACHMENT", in, err, first.UUID)
	}
	if out, failed := cli.run("plan", "-detailed-exitcode", "-no-color"); failed {
		t.Fatalf("the plan after the recovering apply is not empty:\n%s", out)
	}
}

// kill -9 of terraform while a service provisions (issue: the rerun failed with no id and no way
// out): the instance exists at Divio but not in the state. The next plan names it, its status and
// age, and the exact import; the import and the apply after it converge on that instance.
func TestAccServiceResource_killedRun(t *testing.T) {
	env := newTestEnv(t, func(o *simulator.Options) { o.ProvisionDelay = 2 * time.Second })
	sim := env.requireSim(t)
	cli := newTerraformCLI(t)
	config := serviceConfig(env, "postgres-15", "")
	cli.killApply(config, func() bool { return len(liveInstances(sim)) == 1 })
	orphan, err := onlySimInstance(sim)
	if err != nil {
		t.Fatal(err)
	}

	diags, failed := cli.plan(config)
	taken := withSummary(diags, "Prefix already in use")
	if !failed || len(taken) != 1 {
		t.Fatalf("want the plan to fail on the prefix, got %v", diags)
	}
	for _, want := range []string{
		"Environment demo-app/test (" + demoTestEnvID + ") already has a DATABASE instance with prefix DEFAULT: " + orphan.UUID + " (postgres-15, status ",
		", added ", " ago), which this configuration's state does not hold.",
		"terraform import 'divio_service.<name>' " + orphan.UUID,
		"import {\n    to = divio_service.<name>\n    id = \"" + orphan.UUID + "\"\n  }",
		"import {\n    to       = divio_service.<name>\n    identity = { id = \"" + orphan.UUID + "\" }\n  }",
	} {
		if !strings.Contains(taken[0].Detail, want) {
			t.Errorf("the message lacks %q:\n%s", want, taken[0].Detail)
		}
	}

	// The recovery the message names.
	cli.mustRun("import", "-no-color", "-input=false", serviceAddr, orphan.UUID)
	cli.apply(config)
	if in, err := onlySimInstance(sim); err != nil || in.UUID != orphan.UUID || in.Status != simulator.StatusPendingAttachment {
		t.Fatalf("after the import and apply: %+v, %v; want %s provisioned", in, err, orphan.UUID)
	}
	if empty, plan := cli.planIsEmpty(); !empty {
		t.Errorf("the plan after the recovery is not empty:\n%s", plan)
	}
}

// An instance whose detachment was asked for but not carried out (outside Terraform, or by a run cut
// short) is removed once a deployment has carried it out: the removal runs one, rather than waiting
// for one that may never come.
func TestAccServiceResource_removePendingDetachment(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             env.checkNoInstanceLeft(),
		Steps: []resource.TestStep{
			{Config: serviceConfig(env, "postgres-15", "")},
			{
				PreConfig: func() {
					in, err := onlySimInstance(sim)
					pending := simulator.StatusPendingDetachment
					if err == nil {
						err = sim.SetInstance(in.UUID, simulator.InstancePatch{Status: &pending})
					}
					if err != nil {
						t.Fatal(err)
					}
				},
				Config: env.config(""),
				Check: resource.ComposeAggregateTestCheckFunc(
					env.checkNoInstanceLeft(),
					env.expectDeployments(1),
				),
			},
		},
	})
}

// A provisioning that never ends, cut short by Ctrl-C: the next apply waits only until the create
// timeout has passed since the instance was added, and says the next plan replaces it; which it
// does, removing nothing that holds data.
func TestAccServiceResource_stuckProvisioningWaitsNoLongerThanItsCreateTimeout(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	cli := newTerraformCLI(t)
	config := serviceConfig(env, "postgres-15", createTimeout("6s"))
	stuck := interruptStalledProvisioning(t, cli, sim, config)
	expectStuckInstanceReplaced(t, cli, sim, config, stuck.UUID, "6s")
}

// interruptStalledProvisioning applies config, whose one instance's provisioning never ends, and
// interrupts the apply (Ctrl-C) while it waits; it returns the instance.
func interruptStalledProvisioning(t *testing.T, cli *terraformCLI, sim *simulator.Simulator, config string) simulator.Instance {
	t.Helper()
	sim.StallNextProvision()
	cli.interruptApply(config, func() bool {
		live := liveInstances(sim)
		return len(live) == 1 && live[0].Status == simulator.StatusProvisioning
	})
	stuck, err := onlySimInstance(sim)
	if err != nil {
		t.Fatal(err)
	}
	return stuck
}

// expectStuckInstanceReplaced applies config, whose update finds instance stuckID still
// provisioning: it stops at the create timeout (as written in config), warns that the next plan
// replaces the instance, and records provision = true, as planned; the next plan and apply then
// replace it with a new, provisioned instance.
func expectStuckInstanceReplaced(t *testing.T, cli *terraformCLI, sim *simulator.Simulator, config, stuckID, createTimeout string) {
	t.Helper()
	out, failed := cli.run("apply", "-auto-approve", "-no-color", "-input=false")
	if failed || !errorText("Warning: Service instance stuck in provisioning", "past its create timeout ("+createTimeout+"): the next plan replaces it, since it never became functional and holds no data").MatchString(out) {
		t.Fatalf("want the update to stop at the create timeout and say what comes next, got:\n%s", out)
	}
	if state := cli.mustRun("state", "show", "-no-color", serviceAddr); !regexp.MustCompile(`provision\s+= true`).MatchString(state) {
		t.Errorf("want provision = true in the state, as planned:\n%s", state)
	}
	if plan, _ := cli.run("plan", "-no-color", "-input=false"); !strings.Contains(plan, serviceAddr+" must be replaced") {
		t.Errorf("want the next plan to replace the stuck instance, got:\n%s", plan)
	}
	cli.apply(config)
	if in, err := onlySimInstance(sim); err != nil || in.UUID == stuckID || in.Status != simulator.StatusPendingAttachment {
		t.Fatalf("after the replacing apply: %+v, %v; want a new, provisioned instance", in, err)
	}
}

// The same with deletion_protection: the stuck instance is not replaced, and the warnings name the
// step that lets it be.
func TestAccServiceResource_stuckProvisioningOfAProtectedInstance(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	cli := newTerraformCLI(t)
	config := serviceConfig(env, "postgres-15", "  deletion_protection = true\n"+createTimeout("2s"))
	// Interrupted once provisioning has begun: an instance interrupted while still NEW has not
	// started provisioning, and the next apply starts it and waits within the update timeout.
	interruptStalledProvisioning(t, cli, sim, config)
	time.Sleep(2 * time.Second) // past the create timeout
	out, failed := cli.run("apply", "-auto-approve", "-no-color", "-input=false")
	if failed || !errorText("deletion_protection = true keeps it from being replaced: set deletion_protection = false and apply, and the apply after replaces it").MatchString(out) {
		t.Fatalf("want the update to warn, naming the step, got:\n%s", out)
	}
	diags, failed := cli.plan(config)
	if failed || len(withSummary(diags, "Service instance stuck in provisioning")) != 1 ||
		!strings.Contains(withSummary(diags, "Service instance stuck in provisioning")[0].Detail, "It appears stuck, but "+stuckProtected) {
		t.Fatalf("want the warning that the protected stuck instance is not replaced, got %v", diags)
	}
	stuck, err := onlySimInstance(sim)
	if err != nil || stuck.Status != simulator.StatusProvisioning {
		t.Fatalf("the protected instance was not kept: %+v, %v", stuck, err)
	}
	// The step, and the apply after it.
	unprotected := strings.Replace(config, "deletion_protection = true", "deletion_protection = false", 1)
	cli.apply(unprotected)
	cli.apply(unprotected)
	if in, err := onlySimInstance(sim); err != nil || in.UUID == stuck.UUID || in.Status != simulator.StatusPendingAttachment {
		t.Fatalf("after turning deletion_protection off: %+v, %v; want a new, provisioned instance", in, err)
	}
}

// The verdict that an instance is stuck holds from the plan to the apply (seen in the soak): a plan
// made while the instance was still within its create timeout, applied after it had passed, failed
// with "Provider produced inconsistent final plan", since Terraform plans the resource again during
// the apply and the provider then turned the update into a replacement. The update now stops at
// once and says the next plan replaces the instance; which it does.
func TestAccServiceResource_stuckVerdictHoldsFromPlanToApply(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	cli := newTerraformCLI(t)
	config := serviceConfig(env, "postgres-15", createTimeout("4s"))
	stuck := interruptStalledProvisioning(t, cli, sim, config)
	if out, failed := cli.run("plan", "-no-color", "-input=false", "-out=saved.tfplan"); failed || !strings.Contains(out, serviceAddr+" will be updated in-place") {
		t.Fatalf("want the plan within the create timeout to update the instance, got:\n%s", out)
	}
	time.Sleep(time.Until(stuck.CreatedAt.Add(4*time.Second + 500*time.Millisecond))) // past the create timeout
	out, failed := cli.run("apply", "-no-color", "-input=false", "saved.tfplan")
	if failed || !errorText("Warning: Service instance stuck in provisioning", "past its create timeout (4s): the next plan replaces it").MatchString(out) {
		t.Fatalf("want the saved plan's update to stop at once and say what comes next, got:\n%s", out)
	}
	if plan, _ := cli.run("plan", "-no-color", "-input=false"); !strings.Contains(plan, serviceAddr+" must be replaced") ||
		!strings.Contains(plan, "the last wait for it ran out of its create timeout (4s)") {
		t.Errorf("want the next plan to replace the stuck instance, saying why, got:\n%s", plan)
	}
	cli.apply(config)
	if in, err := onlySimInstance(sim); err != nil || in.UUID == stuck.UUID || in.Status != simulator.StatusPendingAttachment {
		t.Fatalf("after the replacing apply: %+v, %v; want a new, provisioned instance", in, err)
	}
	if empty, plan := cli.planIsEmpty(); !empty {
		t.Errorf("the plan after the replacement is not empty:\n%s", plan)
	}
}

// An instance imported while it is still provisioning, and stuck there (issue 10, seen in the soak):
// the update that finishes its provisioning stops at the create timeout and keeps provision = true,
// as planned (it wrote provision = false back, an inconsistent result), and says that the next plan
// replaces it; which it does.
func TestAccServiceResource_stuckProvisioningOfAnImportedInstance(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	client := env.client(t)
	sim.StallNextProvision()
	stuck := addTestInstance(t, client, demoTestEnvID, simulator.ServicePostgres15, divio.DefaultPrefix, false)
	if err := client.ProvisionServiceInstance(context.Background(), stuck.UUID); err != nil {
		t.Fatal(err)
	}
	cli := newTerraformCLI(t)
	config := serviceConfig(env, "postgres-15", createTimeout("3s"))
	cli.write(config)
	cli.init()
	cli.mustRun("import", "-no-color", "-input=false", serviceAddr, stuck.UUID)
	expectStuckInstanceReplaced(t, cli, sim, config, stuck.UUID, "3s")
}

// An instance added with provision = false, and provisioned by a later apply once its create
// timeout has passed since it was added: that update starts the provisioning, so it waits for it
// within the update timeout. It used to give up at once, as if the create's provisioning were stuck,
// and the next plan replaced the instance instead of provisioning it.
func TestAccServiceResource_provisionLaterThanItsCreateTimeout(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	cli := newTerraformCLI(t)
	cli.apply(serviceConfig(env, "postgres-15", "  provision = false\n"+createTimeout("1s")))
	added, err := onlySimInstance(sim)
	if err != nil || added.Status != simulator.StatusNew {
		t.Fatalf("want a NEW instance, got %+v, %v", added, err)
	}
	time.Sleep(1500 * time.Millisecond) // past the create timeout
	config := serviceConfig(env, "postgres-15", "  provision = true\n"+createTimeout("1s"))
	if diags := cli.apply(config); len(diags) != 0 {
		t.Errorf("want no diagnostics, got %v", diags)
	}
	if in, err := onlySimInstance(sim); err != nil || in.UUID != added.UUID || in.Status != simulator.StatusPendingAttachment {
		t.Fatalf("after provision = true: %+v, %v; want instance %s provisioned", in, err, added.UUID)
	}
	if empty, plan := cli.planIsEmpty(); !empty {
		t.Errorf("the plan after the provisioning is not empty:\n%s", plan)
	}
}
