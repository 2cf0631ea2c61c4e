package provider

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/path"
	fwresource "github.com/hashicorp/terraform-plugin-framework/resource"
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

const backupAddr = "divio_service_backup.db"

// backupConfig is a database "db" in demo-app's test environment and a divio_service_backup "db"
// of it with extra arguments.
func backupConfig(env *testEnv, extra string) string {
	return serviceConfig(env, "postgres-15", "") + fmt.Sprintf(`
resource "divio_service_backup" "db" {
  service_id = divio_service.db.id
%s
}
`, extra)
}

// backupsOtherThanFinal returns the simulator's backups that are not final backups.
func backupsOtherThanFinal(sim *simulator.Simulator) []simulator.Backup {
	var out []simulator.Backup
	for _, b := range sim.Backups() {
		if finalBackupInstance(b.Notes) == nil {
			out = append(out, b)
		}
	}
	return out
}

// onlySimBackup returns the simulator's one backup that is not a final backup, and its part.
func onlySimBackup(sim *simulator.Simulator) (simulator.Backup, simulator.ServiceInstanceBackup, error) {
	backups := backupsOtherThanFinal(sim)
	if len(backups) != 1 || len(backups[0].ServiceInstanceBackups) != 1 {
		return simulator.Backup{}, simulator.ServiceInstanceBackup{}, fmt.Errorf("want one backup of one instance, got %+v", backups)
	}
	for _, part := range sim.ServiceInstanceBackups() {
		if part.UUID == backups[0].ServiceInstanceBackups[0] {
			return backups[0], part, nil
		}
	}
	return simulator.Backup{}, simulator.ServiceInstanceBackup{}, fmt.Errorf("backup %s has no part", backups[0].UUID)
}

// onlySuccessfulBackup returns the simulator's one backup, with its part and instance, if it is a
// completed, successful backup of the simulator's one instance.
func onlySuccessfulBackup(sim *simulator.Simulator) (simulator.Backup, simulator.ServiceInstanceBackup, simulator.Instance, error) {
	b, part, err := onlySimBackup(sim)
	if err != nil {
		return b, part, simulator.Instance{}, err
	}
	in, err := onlySimInstance(sim)
	if err == nil && (part.ServiceInstance != in.UUID || b.State != simulator.BackupCompleted || *b.Success != simulator.BackupSuccess) {
		err = fmt.Errorf("backup %+v of %+v: want a completed, successful backup of instance %s", b, part, in.UUID)
	}
	return b, part, in, err
}

func TestAccServiceBackupResource_basic(t *testing.T) {
	env := newTestEnv(t)
	notes := fmt.Sprintf("  notes = %q\n", env.notes("before the migration"))
	var firstID string
	rememberBackup := func(*terraform.State) error {
		b, _, err := env.onlyBackup()
		firstID = b.UUID
		return err
	}
	replaced := func(*terraform.State) error {
		if b, _, err := env.onlyBackup(); err != nil || b.UUID == firstID {
			return fmt.Errorf("want backup %s replaced by another one: %+v, %w", firstID, b, err)
		}
		return nil
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             env.checkOnlyFinalBackupsLeft(),
		Steps: []resource.TestStep{
			{
				Config: backupConfig(env, notes+"  retention = \"7d\"\n  triggers = { release = \"1\" }"),
				Check:  resource.ComposeAggregateTestCheckFunc(env.expectStateIsOnlyBackup(), rememberBackup),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(backupAddr, tfjsonpath.New("notes"), knownvalue.StringExact(env.notes("before the migration"))),
					statecheck.ExpectKnownValue(backupAddr, tfjsonpath.New("state"), knownvalue.StringExact(divio.BackupStateCompleted)),
					statecheck.ExpectKnownValue(backupAddr, tfjsonpath.New("success"), knownvalue.StringExact(divio.BackupSuccess)),
					statecheck.ExpectKnownValue(backupAddr, tfjsonpath.New("delete_at"), knownvalue.StringFunc(func(v string) error {
						b, _, err := env.onlyBackup()
						if err == nil && !sameInstant(v, *b.ScheduledForDeletionAt) {
							err = fmt.Errorf("delete_at %s, want the API's %s", v, b.ScheduledForDeletionAt)
						}
						if err == nil && b.ScheduledForDeletionAt.Sub(*b.CreatedAt).Round(time.Hour) != 7*24*time.Hour {
							err = fmt.Errorf("deleted at %s, want 7 days after %s", b.ScheduledForDeletionAt, b.CreatedAt)
						}
						return err
					})),
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				ResourceName:            backupAddr,
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"retention", "triggers"},
			},
			{
				// A change of triggers takes a new backup and deletes the old one.
				Config: backupConfig(env, notes+"  retention = \"7d\"\n  triggers = { release = \"2\" }"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(backupAddr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				Check: resource.ComposeAggregateTestCheckFunc(env.expectStateIsOnlyBackup(), replaced, rememberBackup),
			},
			{
				// delete_at instead of retention: a new deletion time, so a new backup.
				Config: backupConfig(env, notes+"  delete_at = \"2099-01-31T00:00:00Z\"\n  triggers = { release = \"2\" }"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(backupAddr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				Check: resource.ComposeAggregateTestCheckFunc(env.expectStateIsOnlyBackup(), replaced, rememberBackup,
					resource.TestCheckResourceAttr(backupAddr, "delete_at", "2099-01-31T00:00:00Z")),
			},
			{
				// Left out, delete_at keeps the time the backup has.
				Config: backupConfig(env, notes+"  triggers = { release = \"2\" }"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

// A backup deleted outside Terraform, or by Divio at its time, leaves the state; the next apply
// takes a new one.
func TestAccServiceBackupResource_drift(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	deleteOutOfBand := func() {
		b, _, err := onlySimBackup(sim)
		if err == nil {
			err = env.client(t).DeleteBackup(context.Background(), b.UUID)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	recreated := resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(backupAddr, plancheck.ResourceActionCreate)}}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             env.checkOnlyFinalBackupsLeft(),
		Steps: []resource.TestStep{
			{Config: backupConfig(env, "")},
			{
				PreConfig:        deleteOutOfBand,
				Config:           backupConfig(env, ""),
				ConfigPlanChecks: recreated,
				Check:            env.expectStateIsOnlyBackup(),
			},
			{
				// Long enough for the step's own refresh to come before the deletion time, whatever
				// the load (3s was not, on CI).
				Config: backupConfig(env, `  retention = "8s"`),
				Check:  env.expectStateIsOnlyBackup(),
			},
			{
				// Deleted by Divio at its time: the plan takes a new one.
				PreConfig: func() {
					b, _, err := onlySimBackup(sim)
					if err != nil {
						t.Fatal(err)
					}
					time.Sleep(time.Until(b.ScheduledForDeletionAt.Add(100 * time.Millisecond)))
				},
				Config:             backupConfig(env, `  retention = "8s"`),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
		},
	})
}

// The warnings terraform prints for a backup deleted outside Terraform and one deleted at its time.
func TestAccServiceBackupResource_goneWarnings(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	cli := newTerraformCLI(t)
	// Long enough for the first plan to come before the deletion time, whatever the load.
	config := backupConfig(env, `  retention = "5s"`)
	cli.apply(config)
	first, _, err := onlySimBackup(sim)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.client(t).DeleteBackup(context.Background(), first.UUID); err != nil {
		t.Fatal(err)
	}
	outside, _ := cli.plan(config)
	cli.apply(config)
	second, _, err := onlySimBackup(sim)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(second.ScheduledForDeletionAt.Add(100 * time.Millisecond)))
	scheduled, _ := cli.plan(config)

	in, err := onlySimInstance(sim)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		diags    []diagnostic
		id, want string
	}{
		{outside, first.UUID, "was deleted outside Terraform, so it is removed from the state; the next plan will propose creating it again."},
		{scheduled, second.UUID, "was deleted by Divio at its scheduled time (delete_at "},
	} {
		warnings := withSummary(tc.diags, "Backup "+tc.id+" of service instance "+in.UUID+" no longer exists")
		if len(warnings) != 1 || !strings.Contains(warnings[0].Detail, tc.want) {
			t.Errorf("want the warning that backup %s is gone (%q), got %v", tc.id, tc.want, tc.diags)
		}
	}
}

// A failed backup is an error, and the resource is tainted: the next apply deletes it and takes a
// new one.
func TestAccServiceBackupResource_failed(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	var failedID string
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             env.checkOnlyFinalBackupsLeft(),
		Steps: []resource.TestStep{
			{Config: serviceConfig(env, "postgres-15", "")},
			{
				PreConfig:   sim.FailNextBackup,
				Config:      backupConfig(env, ""),
				ExpectError: errorText("Backup failed", "completed with success FAILURE", "Injected failure (fail-next-backup)", "The backup holds no data; the next apply deletes it and takes a new one."),
			},
			{
				PreConfig: func() {
					b, _, err := onlySimBackup(sim)
					if err != nil {
						t.Fatal(err)
					}
					failedID = b.UUID
				},
				Config: backupConfig(env, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(backupAddr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				Check: resource.ComposeAggregateTestCheckFunc(env.expectStateIsOnlyBackup(), resource.TestCheckResourceAttrWith(backupAddr, "id", func(id string) error {
					if id == failedID {
						return fmt.Errorf("the failed backup %s was kept", id)
					}
					return nil
				})),
			},
		},
	})
}

// What the API would refuse mid-apply is refused at plan time when the instance is known.
func TestAccServiceBackupResource_planGuards(t *testing.T) {
	env := newTestEnv(t)
	env.requireSim(t) // it adds an instance that it never removes
	client := env.client(t)
	queue := addTestInstance(t, client, demoTestEnvID, simulator.ServiceRabbitMQ3, "DEFAULT", true)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      env.config(fmt.Sprintf("resource \"divio_service_backup\" \"q\" {\n  service_id = %q\n}\n", queue.UUID)),
				ExpectError: errorText("Service instance cannot be backed up", "is a MESSAGE_QUEUE instance: Divio backs up only DATABASE and STORAGE instances."),
			},
			{
				Config:      env.config("resource \"divio_service_backup\" \"q\" {\n  service_id = \"no-such-instance\"\n}\n"),
				ExpectError: errorText("Service instance not found", "Service instance no-such-instance does not exist"),
			},
			{
				Config:      env.config(fmt.Sprintf("resource \"divio_service_backup\" \"q\" {\n  service_id = %q\n  retention = \"1w\"\n}\n", queue.UUID)),
				ExpectError: errorText(`"1w" is not a duration such as 30d, 36h or 1d12h`),
			},
			{
				Config:      env.config(fmt.Sprintf("resource \"divio_service_backup\" \"q\" {\n  service_id = %q\n  retention = \"1d\"\n  delete_at = \"2099-01-01T00:00:00Z\"\n}\n", queue.UUID)),
				ExpectError: errorText(`Attribute "delete_at" cannot be specified when "retention" is specified`),
			},
		},
	})
}

// An apply interrupted (Ctrl-C) while a backup runs keeps it in the state, untainted, with a
// warning; the next plan waits for it as an update, which takes no second backup.
func TestServiceBackupResource_interruptedCreateKeepsTheBackup(t *testing.T) {
	env := newTestEnv(t, func(o *simulator.Options) { o.BackupDelay = time.Second })
	sim := env.requireSim(t)
	client := env.client(t)
	inst := addTestInstance(t, client, demoTestEnvID, simulator.ServicePostgres15, "DEFAULT", true)
	r := &ServiceBackupResource{configuredResource{data: newProviderData(client, 0)}}
	ctx := context.Background()
	var schemaResp fwresource.SchemaResponse
	r.Schema(ctx, fwresource.SchemaRequest{}, &schemaResp)
	nullObject := tftypes.NewValue(schemaResp.Schema.Type().TerraformType(ctx), nil)
	plan := tfsdk.Plan{Schema: schemaResp.Schema, Raw: nullObject}
	for attribute, value := range map[string]any{"service_id": inst.UUID, "notes": "nightly"} {
		if diags := plan.SetAttribute(ctx, path.Root(attribute), value); diags.HasError() {
			t.Fatal(diags)
		}
	}
	for _, attribute := range []string{"id", "delete_at", "environment_id", "service_instance_backup_id", "state", "success", "created_at"} {
		if diags := plan.SetAttribute(ctx, path.Root(attribute), types.StringUnknown()); diags.HasError() {
			t.Fatal(diags)
		}
	}
	if diags := plan.SetAttribute(ctx, path.Root("size"), types.Int64Unknown()); diags.HasError() {
		t.Fatal(diags)
	}

	interrupted, interrupt := context.WithCancel(ctx)
	go func() { // Ctrl-C once the backup exists and is being waited for
		for len(sim.Backups()) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond)
		interrupt()
	}()
	resp := fwresource.CreateResponse{State: tfsdk.State{Schema: schemaResp.Schema, Raw: nullObject}}
	r.Create(interrupted, fwresource.CreateRequest{Plan: plan}, &resp)
	if resp.Diagnostics.HasError() || resp.Diagnostics.WarningsCount() != 1 || resp.Diagnostics.Warnings()[0].Summary() != "Backup still running" {
		t.Fatalf("want one warning that the backup is still running, and no error, got %v", resp.Diagnostics)
	}
	backups := sim.Backups()
	var saved serviceBackupModel
	resp.Diagnostics.Append(resp.State.Get(ctx, &saved)...)
	if len(backups) != 1 || saved.ID.ValueString() != backups[0].UUID || saved.State.ValueString() == divio.BackupStateCompleted || !saved.Size.IsNull() {
		t.Fatalf("state %+v (%v), want backup %+v, unfinished", saved, resp.Diagnostics, backups)
	}

	// The next plan: an update that waits, with what the wait will see unknown.
	modify := fwresource.ModifyPlanResponse{Plan: tfsdk.Plan{Schema: schemaResp.Schema, Raw: resp.State.Raw}}
	r.ModifyPlan(ctx, fwresource.ModifyPlanRequest{State: resp.State, Plan: modify.Plan}, &modify)
	var planned serviceBackupModel
	modify.Diagnostics.Append(modify.Plan.Get(ctx, &planned)...)
	if modify.Diagnostics.HasError() || !planned.State.IsUnknown() || !planned.Size.IsUnknown() || len(modify.RequiresReplace) > 0 {
		t.Fatalf("next plan: %+v, requires replace %v, %v; want an update", planned, modify.RequiresReplace, modify.Diagnostics)
	}
	update := fwresource.UpdateResponse{State: resp.State}
	r.Update(ctx, fwresource.UpdateRequest{Plan: modify.Plan, State: resp.State}, &update)
	var done serviceBackupModel
	update.Diagnostics.Append(update.State.Get(ctx, &done)...)
	if update.Diagnostics.HasError() || done.State.ValueString() != divio.BackupStateCompleted || done.Success.ValueString() != divio.BackupSuccess || done.Size.IsNull() {
		t.Fatalf("after the update: %+v, %v; want the backup completed, with its size", done, update.Diagnostics)
	}
	if n := len(sim.Backups()); n != 1 {
		t.Errorf("%d backups, want the one", n)
	}
}

// A backup of an instance whose create timed out while it was still provisioning, in the same
// configuration (issue 12: the API refuses a backup of an instance that is not provisioned, and the
// apply failed): the backup waits for the provisioning to finish within its create timeout, and
// says so if that runs out, taking no backup; the next apply takes it.
func TestAccServiceBackupResource_waitsForProvisioning(t *testing.T) {
	// The service's create stops waiting after 1s, while its instance provisions for longer.
	configWithBackup := func(env *testEnv, backupExtra string) string {
		return serviceConfig(env, "postgres-15", createTimeout("1s")) +
			fmt.Sprintf("\nresource \"divio_service_backup\" \"db\" {\n  service_id = divio_service.db.id\n%s\n}\n", backupExtra)
	}
	t.Run("in time", func(t *testing.T) {
		env := newTestEnv(t, func(o *simulator.Options) { o.ProvisionDelay = 3 * time.Second })
		sim := env.requireSim(t)
		cli := newTerraformCLI(t)
		config := configWithBackup(env, "")
		diags := cli.apply(config)
		if len(withSummary(diags, "Service instance still provisioning")) != 1 {
			t.Fatalf("want the service's create cut short by its timeout, got %v", diags)
		}
		if err := expectBackupOfOnlyInstance(cli, sim); err != nil {
			t.Fatal(err)
		}
		if empty, plan := cli.planIsEmpty(); !empty {
			t.Errorf("the plan after the apply is not empty:\n%s", plan)
		}
	})
	t.Run("out of time", func(t *testing.T) {
		env := newTestEnv(t, func(o *simulator.Options) { o.ProvisionDelay = 4 * time.Second })
		sim := env.requireSim(t)
		cli := newTerraformCLI(t)
		config := configWithBackup(env, createTimeout("1s"))
		cli.write(config)
		cli.init()
		out, failed := cli.run("apply", "-auto-approve", "-no-color", "-input=false")
		if !failed || !errorText("Error: Service instance not provisioned yet", "The timeout ran out before service instance", "had finished provisioning (create timeout 1s), so no backup was taken",
			"The next apply takes the backup, once the instance is provisioned.").MatchString(out) {
			t.Fatalf("want the backup's create to fail, saying why and what comes next, got:\n%s", out)
		}
		if backups := backupsOtherThanFinal(sim); len(backups) != 0 {
			t.Fatalf("backups were taken: %+v", backups)
		}
		if state, _ := cli.run("state", "list"); strings.Contains(state, backupAddr) {
			t.Fatalf("the backup is in the state:\n%s", state)
		}
		waitUntil(t, "the instance is provisioned", func() bool {
			in, err := onlySimInstance(sim)
			return err == nil && in.Status == simulator.StatusPendingAttachment
		})
		cli.apply(config)
		if err := expectBackupOfOnlyInstance(cli, sim); err != nil {
			t.Fatal(err)
		}
	})
}

// expectBackupOfOnlyInstance checks that the simulator holds one completed, successful backup of its
// one instance, and the state that backup.
func expectBackupOfOnlyInstance(cli *terraformCLI, sim *simulator.Simulator) error {
	b, _, _, err := onlySuccessfulBackup(sim)
	if err != nil {
		return err
	}
	if state := cli.mustRun("state", "show", "-no-color", backupAddr); !strings.Contains(state, b.UUID) {
		return fmt.Errorf("the state does not hold backup %s:\n%s", b.UUID, state)
	}
	return nil
}
