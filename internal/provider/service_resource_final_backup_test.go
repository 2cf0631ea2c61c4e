package provider

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	fwresource "github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/divio/terraform-provider-divio/internal/divio"
	"github.com/divio/terraform-provider-divio/internal/simulator"
)

// deleteService runs ServiceResource.Delete on a state of inst with the given attributes, as
// Terraform's apply does for a removal or the removal half of a replacement.
func deleteService(ctx context.Context, t *testing.T, r *ServiceResource, inst *divio.ServiceInstance, attributes map[string]any) diag.Diagnostics {
	t.Helper()
	var schemaResp fwresource.SchemaResponse
	r.Schema(ctx, fwresource.SchemaRequest{}, &schemaResp)
	state := tfsdk.State{Schema: schemaResp.Schema, Raw: tftypes.NewValue(schemaResp.Schema.Type().TerraformType(ctx), nil)}
	values := map[string]any{
		"id": inst.UUID, "environment_id": inst.Environment, "service": "postgres-15", "prefix": inst.Prefix, "type": inst.Type,
		"deletion_protection": false, "final_backup": true, "final_backup_retention": "30d",
	}
	for name, value := range attributes {
		values[name] = value
	}
	for name, value := range values {
		p := path.Root(name)
		if name == "delete_timeout" {
			p = path.Root("timeouts").AtName("delete")
		}
		if diags := state.SetAttribute(ctx, p, value); diags.HasError() {
			t.Fatal(diags)
		}
	}
	resp := fwresource.DeleteResponse{State: state}
	r.Delete(ctx, fwresource.DeleteRequest{State: state}, &resp)
	return resp.Diagnostics
}

func onlyDiagnostic(t *testing.T, diags diag.Diagnostics, severity diag.Severity, summary string) string {
	t.Helper()
	if len(diags) != 1 || diags[0].Severity() != severity || diags[0].Summary() != summary {
		t.Fatalf("want one %s %q, got %v", severity, summary, diags)
	}
	return diags[0].Detail()
}

// Delete's own deletion_protection check is the only guard when a replacement is known only at
// apply (the plan's checks need known values): it must refuse, and take no backup.
func TestServiceResource_deleteRefusesProtectedInstance(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	client := env.client(t)
	inst := addTestInstance(t, client, demoTestEnvID, simulator.ServicePostgres15, "DEFAULT", true)
	r := &ServiceResource{resourceWithConfigure{data: newProviderData(client, 0)}}

	detail := onlyDiagnostic(t, deleteService(context.Background(), t, r, inst, map[string]any{"deletion_protection": true}),
		diag.SeverityError, "Service instance is protected from deletion")
	if !strings.Contains(detail, "Service instance "+inst.UUID+" (postgres-15) in environment demo-app/test ("+demoTestEnvID+") has deletion_protection = true") {
		t.Errorf("detail: %s", detail)
	}
	if !liveInstance(sim, inst.UUID) || len(sim.Backups()) != 0 {
		t.Errorf("want the instance kept and no backup; instances %+v, backups %+v", sim.Instances(), sim.Backups())
	}
}

// A removal whose final backup outlasts the delete timeout removes nothing; the retried removal
// waits for the same backup instead of taking a second one, then removes the instance and says
// which backup holds its data until when.
func TestServiceResource_deleteWaitsForItsFinalBackupOnce(t *testing.T) {
	env := newTestEnv(t, func(o *simulator.Options) { o.BackupDelay = 2 * time.Second })
	sim := env.requireSim(t)
	client := env.client(t)
	inst := addTestInstance(t, client, demoTestEnvID, simulator.ServicePostgres15, "DEFAULT", true)
	r := &ServiceResource{resourceWithConfigure{data: newProviderData(client, 0)}}
	ctx := context.Background()

	detail := onlyDiagnostic(t, deleteService(ctx, t, r, inst, map[string]any{"delete_timeout": "300ms"}), diag.SeverityError, "Final backup did not complete")
	backups := sim.Backups()
	if len(backups) != 1 {
		t.Fatalf("want one backup, got %+v", backups)
	}
	first := backups[0]
	for _, want := range []string{
		"The final backup " + first.UUID + " of service instance " + inst.UUID + " (postgres-15, prefix DEFAULT) in environment demo-app/test",
		"It had not completed when the delete timeout (300ms) ran out",
		"Nothing was removed, and the instance stays in the state. The next apply waits for this same backup (it takes no second one)",
	} {
		if !strings.Contains(detail, want) {
			t.Errorf("the error lacks %q:\n%s", want, detail)
		}
	}
	if !liveInstance(sim, inst.UUID) {
		t.Fatal("the instance was removed although its final backup had not completed")
	}
	wantNotes := "Final backup of service instance " + inst.UUID + " (DATABASE DEFAULT), taken by Terraform before removing it."
	if first.Notes != wantNotes || first.Trigger != simulator.TriggerManual || first.ScheduledForDeletionAt == nil ||
		first.ScheduledForDeletionAt.Sub(first.CreatedAt).Round(time.Hour) != 30*24*time.Hour {
		t.Errorf("backup %+v: want notes %q, trigger MANUAL, deleted 30 days after it was taken", first, wantNotes)
	}

	detail = onlyDiagnostic(t, deleteService(ctx, t, r, inst, nil), diag.SeverityWarning, "Final backup kept")
	if backups := sim.Backups(); len(backups) != 1 || backups[0].UUID != first.UUID || backups[0].Success == nil || *backups[0].Success != simulator.BackupSuccess {
		t.Fatalf("want only backup %s, completed with SUCCESS; got %+v", first.UUID, backups)
	}
	if liveInstance(sim, inst.UUID) {
		t.Fatal("the instance was not removed")
	}
	wantDetail := fmt.Sprintf("Terraform backed up service instance %s (postgres-15, prefix DEFAULT) in environment demo-app/test (%s): backup %s, "+
		"kept until %s (final_backup_retention 30d); divio_service_backups with environment_id = %q and service_id = %q finds it, with the id of its part for a restore.",
		inst.UUID, demoTestEnvID, first.UUID, first.ScheduledForDeletionAt.UTC().Format(time.RFC3339), demoTestEnvID, inst.UUID)
	if detail != wantDetail {
		t.Errorf("warning:\n%s\nwant it to start with\n%s", detail, wantDetail)
	}
}

// A completed final backup that an earlier removal took (the removal itself then failed) is the
// one a retried removal uses; one that failed is not, and neither is another instance's.
func TestServiceResource_findFinalBackup(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	client := env.client(t)
	ctx := context.Background()
	inst := addTestInstance(t, client, demoTestEnvID, simulator.ServicePostgres15, "DEFAULT", true)
	other := addTestInstance(t, client, demoTestEnvID, simulator.ServiceS3, "DEFAULT", true)
	r := &ServiceResource{resourceWithConfigure{data: newProviderData(client, 0)}}
	take := func(of *divio.ServiceInstance, notes string) *divio.Backup {
		b, err := client.CreateBackup(ctx, divio.CreateBackupRequest{Environment: demoTestEnvID, Services: []string{of.UUID}, Notes: notes})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	find := func() *divio.Backup {
		b, err := r.findFinalBackup(ctx, inst)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	take(inst, "taken by hand")
	take(other, finalBackupNotes(other))
	if b := find(); b != nil {
		t.Fatalf("found %+v, want none: neither is this instance's final backup", b)
	}
	completed := take(inst, finalBackupNotes(inst))
	if b := find(); b == nil || b.UUID != completed.UUID {
		t.Fatalf("found %+v, want %s", b, completed.UUID)
	}
	sim.FailNextBackup()
	take(inst, finalBackupNotes(inst))
	if b := find(); b != nil {
		t.Fatalf("found %+v, want none: the newest final backup failed, so a new one is due", b)
	}
}

// A final backup that fails removes nothing and says why, with the backup's id and errors.
func TestServiceResource_deleteWithFailedFinalBackup(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	client := env.client(t)
	inst := addTestInstance(t, client, demoTestEnvID, simulator.ServiceS3, "MEDIA", true)
	r := &ServiceResource{resourceWithConfigure{data: newProviderData(client, 0)}}
	sim.FailNextBackup()

	detail := onlyDiagnostic(t, deleteService(context.Background(), t, r, inst, map[string]any{"service": "s3"}), diag.SeverityError, "Final backup failed")
	backups := sim.Backups()
	if len(backups) != 1 || !liveInstance(sim, inst.UUID) {
		t.Fatalf("want the instance kept and one backup; backups %+v", backups)
	}
	want := fmt.Sprintf("The final backup of service instance %s (s3, prefix MEDIA) in environment demo-app/test (%s) failed, so the instance was not removed and keeps its data: "+
		"backup %s of environment %s completed with success FAILURE: STORAGE MEDIA (instance %s): Injected failure (fail-next-backup)",
		inst.UUID, demoTestEnvID, backups[0].UUID, demoTestEnvID, inst.UUID)
	if !strings.HasPrefix(detail, want) || !strings.Contains(detail, "It stays in the state.") {
		t.Errorf("detail:\n%s\nwant it to start with\n%s", detail, want)
	}
}

// No final backup: final_backup = false, a type that cannot be backed up, an instance that never
// held data.
func TestServiceResource_deleteWithoutFinalBackup(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	client := env.client(t)
	r := &ServiceResource{resourceWithConfigure{data: newProviderData(client, 0)}}
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		service    string
		provision  bool
		attributes map[string]any
	}{
		{"final_backup = false", simulator.ServicePostgres15, true, map[string]any{"final_backup": false}},
		{"message queue", simulator.ServiceRabbitMQ3, true, map[string]any{"service": "rabbitmq-3"}},
		{"never provisioned", simulator.ServiceMySQL8, false, map[string]any{"service": "mysql-8"}},
	} {
		inst := addTestInstance(t, client, demoTestEnvID, tc.service, "DEFAULT", tc.provision)
		if diags := deleteService(ctx, t, r, inst, tc.attributes); len(diags) > 0 {
			t.Errorf("%s: %v", tc.name, diags)
		}
		if liveInstance(sim, inst.UUID) || len(sim.Backups()) != 0 {
			t.Errorf("%s: want the instance removed without a backup; backups %+v", tc.name, sim.Backups())
		}
	}
}

// expectFinalBackup checks, through the API, that instance *id is gone and its final backup is kept.
func expectFinalBackup(t *testing.T, env *testEnv, id *string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		client := env.client(t)
		ctx := context.Background()
		if _, err := client.GetServiceInstance(ctx, *id); err == nil {
			return fmt.Errorf("service instance %s still exists", *id)
		}
		_, err := finalBackupOf(ctx, client, env.demoTest(), *id)
		return err
	}
}

// Destroying a database and its attachment in one run: the attachment detaches it, the removal
// backs it up, and the backup outlives the instance.
func TestAccServiceResource_finalBackupOnDestroy(t *testing.T) {
	env := newTestEnv(t)
	var id string
	config := serviceConfig(env, "postgres-15", "") + `
resource "divio_service_attachment" "db" {
  service_id = divio_service.db.id
}
`
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             resource.ComposeAggregateTestCheckFunc(env.checkNoInstanceLeft(), expectFinalBackup(t, env, &id)),
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: resource.ComposeAggregateTestCheckFunc(
					env.expectLiveInstance(simulator.ServicePostgres15, "DEFAULT", simulator.StatusAttached),
					env.rememberLiveInstance(&id),
					resource.TestCheckResourceAttr(serviceAddr, "final_backup", "true"),
					resource.TestCheckResourceAttr(serviceAddr, "final_backup_retention", "30d"),
				),
			},
		},
	})
}

// A failed final backup leaves the instance in place and in the state; the next apply takes a
// new one and removes it.
func TestAccServiceResource_failedFinalBackup(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	var id string
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             env.checkNoInstanceLeft(),
		Steps: []resource.TestStep{
			{
				Config: serviceConfig(env, "postgres-15", ""),
				Check:  env.rememberLiveInstance(&id),
			},
			{
				PreConfig:   sim.FailNextBackup,
				Config:      env.config(""),
				ExpectError: errorText("Final backup failed", "failed, so the instance was not removed and keeps its data", "completed with success FAILURE", "Injected failure (fail-next-backup)"),
			},
			{
				// Still in the state: this plan removes it again.
				Config: env.config(""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(serviceAddr, plancheck.ResourceActionDestroy)},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					env.checkNoInstanceLeft(),
					expectFinalBackup(t, env, &id),
					func(*terraform.State) error {
						if n := len(sim.Backups()); n != 2 {
							return fmt.Errorf("want 2 backups (the failed one and the final one), got %d", n)
						}
						return nil
					},
				),
			},
		},
	})
}

func TestAccServiceResource_noFinalBackup(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: resource.ComposeAggregateTestCheckFunc(env.checkNoInstanceLeft(), func(*terraform.State) error {
			if backups := sim.Backups(); len(backups) != 0 {
				return fmt.Errorf("want no backup, got %+v", backups)
			}
			return nil
		}),
		Steps: []resource.TestStep{
			{Config: serviceConfig(env, "postgres-15", "  final_backup = false")},
		},
	})
}

// A replacement removes the old instance: that takes its final backup.
func TestAccServiceResource_finalBackupOnReplace(t *testing.T) {
	env := newTestEnv(t)
	env.requireSim(t)
	var firstID string
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             env.checkNoInstanceLeft(),
		Steps: []resource.TestStep{
			{
				Config: serviceConfig(env, "postgres-15", `  final_backup_retention = "2d"`),
				Check:  env.rememberLiveInstance(&firstID),
			},
			{
				Config: serviceConfig(env, "postgres-15", "  final_backup_retention = \"2d\"\n  prefix = \"REPORTS\""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(serviceAddr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					env.expectLiveInstance(simulator.ServicePostgres15, "REPORTS", simulator.StatusPendingAttachment),
					expectFinalBackup(t, env, &firstID),
					func(*terraform.State) error {
						b, err := finalBackupOf(context.Background(), env.client(t), demoTestEnvID, firstID)
						if err == nil && b.ScheduledForDeletionAt.Sub(*b.CreatedAt).Round(time.Hour) != 48*time.Hour {
							err = fmt.Errorf("final backup %s is deleted at %s, want 2 days after %s", b.UUID, b.ScheduledForDeletionAt, b.CreatedAt)
						}
						return err
					},
				),
			},
		},
	})
}

// unknownEnvironmentConfig is the test's divio_service, with deletion_protection as given, in the
// environment that terraform_data hands on. A new generation replaces terraform_data, whose output
// is then unknown until it is created: so the plan sees a replacement of the instance but not
// whether its environment really changes, and none of its plan-time checks can run.
func unknownEnvironmentConfig(env *testEnv, generation int, protected bool) string {
	return env.config(fmt.Sprintf(`
resource "terraform_data" "environment" {
  input            = %q
  triggers_replace = [%d]
}

resource "divio_service" "db" {
  environment_id      = terraform_data.environment.output
  service             = "postgres-15"
  deletion_protection = %t
}
`, demoTestEnvID, generation, protected))
}

// With the environment known only at apply, the plan cannot see that it replaces the instance:
// Delete refuses a protected one, and backs up an unprotected one before removing it.
func TestAccServiceResource_replacementKnownOnlyAtApply(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	var firstID string
	replaced := resource.ConfigPlanChecks{
		PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(serviceAddr, plancheck.ResourceActionDestroyBeforeCreate)},
	}
	noBackup := func(*terraform.State) error {
		if len(sim.Backups()) != 0 {
			return fmt.Errorf("backups were taken: %+v", sim.Backups())
		}
		return nil
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             env.checkNoInstanceLeft(),
		Steps: []resource.TestStep{
			{
				Config: unknownEnvironmentConfig(env, 1, true),
				Check:  env.rememberLiveInstance(&firstID),
			},
			{
				Config:           unknownEnvironmentConfig(env, 2, true),
				ConfigPlanChecks: replaced,
				ExpectError:      errorText("Service instance is protected from deletion", "has deletion_protection = true, so Terraform refuses to remove or replace it"),
			},
			{
				// The replacement never happened (terraform_data is replaced after the service it
				// feeds is removed): back to the first generation, to unprotect the instance first.
				Config: unknownEnvironmentConfig(env, 1, false),
				Check:  resource.ComposeAggregateTestCheckFunc(env.expectStateIDIsLiveInstance(), resource.TestCheckResourceAttrPtr(serviceAddr, "id", &firstID), noBackup),
			},
			{
				Config:           unknownEnvironmentConfig(env, 2, false),
				ConfigPlanChecks: replaced,
				Check: resource.ComposeAggregateTestCheckFunc(
					env.expectLiveInstance(simulator.ServicePostgres15, "DEFAULT", simulator.StatusPendingAttachment),
					expectFinalBackup(t, env, &firstID),
				),
			},
		},
	})
}

// What terraform prints: the plan of a removal warns that a final backup is taken; the apply
// names it and says until when it is kept. The service is named by its catalog identifier also
// where the configuration gives its uuid.
func TestAccServiceResource_finalBackupWarnings(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	cli := newTerraformCLI(t)
	cli.apply(serviceConfig(env, simulator.ServiceID(simulator.ServicePostgres15), `  final_backup_retention = "7d"`))
	inst, err := onlySimInstance(sim)
	if err != nil {
		t.Fatal(err)
	}

	diags, failed := cli.plan(env.config(""))
	planned := withSummary(diags, "Final backup before removal")
	if failed || len(planned) != 1 || !strings.HasPrefix(planned[0].Detail, "Service instance "+inst.UUID+" (postgres-15, prefix DEFAULT)") ||
		!strings.Contains(planned[0].Detail, "The backup is kept for 7d (final_backup_retention)") {
		t.Fatalf("want the plan's final backup warning, got %v", diags)
	}

	kept := withSummary(cli.apply(env.config("")), "Final backup kept")
	backup, err := finalBackupOf(context.Background(), env.client(t), demoTestEnvID, inst.UUID)
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != 1 || !strings.Contains(kept[0].Detail, ": backup "+backup.UUID+", kept until "+backup.ScheduledForDeletionAt.UTC().Format(time.RFC3339)) {
		t.Fatalf("want the apply to name backup %s, got %v", backup.UUID, kept)
	}

	// final_backup = true on a type that cannot be backed up: a warning on the attribute.
	diags, failed = cli.plan(env.config(fmt.Sprintf(`
resource "divio_service" "queue" {
  environment_id = %q
  service        = "rabbitmq-3"
  final_backup   = true
}
`, demoTestEnvID)))
	if ignored := withSummary(diags, "final_backup is ignored for this service"); failed || len(ignored) != 1 ||
		!strings.Contains(ignored[0].Detail, "this one is a MESSAGE_QUEUE instance: removing or replacing it deletes its data without a backup") {
		t.Fatalf("want the warning that final_backup is ignored, got %v", diags)
	}
}

func TestParseRetention(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		in   string
		want time.Duration // 0: invalid
	}{
		{"30d", 30 * day},
		{"1d12h", day + 12*time.Hour},
		{"36h", 36 * time.Hour},
		{"90m", 90 * time.Minute},
		{"1.5h", 90 * time.Minute},
		{"2d30m15s", 2*day + 30*time.Minute + 15*time.Second},
		{"", 0},
		{"d", 0},
		{"30", 0},
		{"0d", 0},
		{"0s", 0},
		{"-1h", 0},
		{"1w", 0},
		{"12h1d", 0},
		{"100000d", 0}, // more days than the pattern takes: never overflows
		{" 30d", 0},
	} {
		got, err := parseRetention(tc.in)
		if tc.want == 0 && err == nil || tc.want != 0 && (err != nil || got != tc.want) {
			t.Errorf("parseRetention(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestFinalBackupNotes(t *testing.T) {
	inst := &divio.ServiceInstance{UUID: "0b5d3a2e-8f1c-4f7a-9a43-2c6f0e8d1b77", Type: divio.TypeStorage, Prefix: "MEDIA_2"}
	notes := finalBackupNotes(inst)
	if want := "Final backup of service instance 0b5d3a2e-8f1c-4f7a-9a43-2c6f0e8d1b77 (STORAGE MEDIA_2), taken by Terraform before removing it."; notes != want {
		t.Errorf("notes %q, want %q", notes, want)
	}
	if got := finalBackupInstance(notes); got == nil || *got != *inst {
		t.Errorf("read back %+v, want %+v", got, inst)
	}
	for _, other := range []string{"", "before the upgrade", notes + " ", "TFACC_ " + notes, strings.Replace(notes, "Final", "Last", 1)} {
		if got := finalBackupInstance(other); got != nil {
			t.Errorf("finalBackupInstance(%q) = %+v, want nil", other, got)
		}
	}
}

// A destroy of the quickstart's two services and their attachments warns once per instance in its
// plan (the final backup each removal takes) and once in all in its apply (the backups kept, in one
// summary), and says nothing else: 3 warnings, where each instance had two before.
func TestAccServiceResource_destroyWarningsCount(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	cli := newTerraformCLI(t)
	config := env.config(fmt.Sprintf(`
resource "divio_service" "database" {
  environment_id = %[1]q
  service        = "postgres-15"
}

resource "divio_service" "storage" {
  environment_id = %[1]q
  service        = "s3"
}

resource "divio_service_attachment" "database" {
  service_id = divio_service.database.id
}

resource "divio_service_attachment" "storage" {
  service_id = divio_service.storage.id
}
`, demoTestEnvID))
	cli.apply(config)
	cli.write(config)
	out := cli.mustRun("destroy", "-auto-approve", "-json", "-input=false")
	counts := map[string]int{}
	var kept diagnostic
	for _, d := range diagnostics(out) {
		counts[d.Severity+": "+d.Summary]++
		if d.Summary == "Final backups kept" {
			kept = d
		}
	}
	want := map[string]int{"warning: Final backup before removal": 2, "warning: Final backups kept": 1}
	if !maps.Equal(counts, want) {
		t.Errorf("diagnostics of the destroy: %v, want %v", counts, want)
	}
	backups := sim.Backups()
	if len(backups) != 2 {
		t.Fatalf("want two final backups, got %+v", backups)
	}
	for _, b := range backups {
		if !strings.Contains(kept.Detail, "backup "+b.UUID+", kept until") {
			t.Errorf("the summary does not name backup %s:\n%s", b.UUID, kept.Detail)
		}
	}
}

// An instance that awaits attachment is attached by a deployment that runs while its final backup is
// taken (one of the same apply, say, detaching another instance): the removal, refused as in use,
// detaches it with a deployment, backs it up anew (the application may have written to it), and
// removes it. The report names the second backup.
func TestServiceResource_deleteAfterADeploymentAttachedIt(t *testing.T) {
	env := newTestEnv(t, func(o *simulator.Options) { o.BackupDelay = 500 * time.Millisecond })
	sim := env.requireSim(t)
	client := env.client(t)
	inst := addTestInstance(t, client, demoTestEnvID, simulator.ServicePostgres15, "DEFAULT", true)
	r := &ServiceResource{resourceWithConfigure{data: newProviderData(client, 0)}}
	ctx := context.Background()
	go func() {
		waitUntil(t, "the final backup runs", func() bool { return len(sim.Backups()) == 1 })
		if _, err := client.CreateDeployment(ctx, demoTestEnvID); err != nil {
			t.Error(err)
		}
	}()

	detail := onlyDiagnostic(t, deleteService(ctx, t, r, inst, nil), diag.SeverityWarning, "Final backup kept")
	if liveInstance(sim, inst.UUID) {
		t.Fatal("the instance was not removed")
	}
	backups, deps := sim.Backups(), testDeployments(sim)
	if len(backups) != 2 || len(deps) != 2 {
		t.Fatalf("want two backups (before and after the attachment) and two deployments (the one that attached it, the one that detached it); got %+v and %+v", backups, deps)
	}
	newest := backups[0]
	if backups[1].CreatedAt.After(newest.CreatedAt) {
		newest = backups[1]
	}
	if !strings.Contains(detail, "backup "+newest.UUID+",") {
		t.Errorf("the report should name the newest backup, %s:\n%s", newest.UUID, detail)
	}
}
