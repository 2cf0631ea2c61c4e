package provider

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/divio/terraform-provider-divio/internal/divio"
	"github.com/divio/terraform-provider-divio/internal/simulator"
)

// The data source finds the final backup of an instance that the configuration removed, among
// the environment's other backups, newest first, one entry per backed-up instance.
func TestAccServiceBackupsDataSource(t *testing.T) {
	// Parallel before it adds instances, not in ParallelTest: a test paused there would hold them
	// (and the subscription's room) while the others run.
	t.Parallel()
	env := newTestEnv(t)
	client := env.client(t)
	envID := env.demoTest()
	ctx := context.Background()
	var removedID string
	var media, other *divio.ServiceInstance
	backUp := func(notes string, instances ...*divio.ServiceInstance) {
		var ids []string
		for _, in := range instances {
			ids = append(ids, in.UUID)
		}
		b, err := client.CreateBackup(ctx, divio.CreateBackupRequest{Environment: envID, Services: ids, Notes: env.notes(notes)})
		if err == nil {
			_, err = client.WaitForBackup(ctx, b.UUID)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	entry := func(id *string, typ, prefix string, notes func() string, final bool) knownvalue.Check {
		return knownvalue.ObjectPartial(map[string]knownvalue.Check{
			"service_id": knownvalue.StringFunc(func(v string) error {
				if v != *id {
					return fmt.Errorf("service_id %s, want %s", v, *id)
				}
				return nil
			}),
			"type": knownvalue.StringExact(typ), "prefix": knownvalue.StringExact(prefix),
			"notes": knownvalue.StringFunc(func(v string) error {
				if want := notes(); v != want {
					return fmt.Errorf("notes %q, want %q", v, want)
				}
				return nil
			}),
			"final": knownvalue.Bool(final), "state": knownvalue.StringExact(divio.BackupStateCompleted), "success": knownvalue.StringExact(divio.BackupSuccess),
			"trigger": knownvalue.StringExact(divio.BackupTriggerManual),
		})
	}
	var otherID string
	// Known before the test case is built, for the configuration that names it.
	media = env.addInstance(envID, simulator.ServiceS3, "MEDIA", true)
	mediaID := media.UUID
	backUp("older", media)
	notes := func(text string) func() string { return func() string { return env.notes(text) } }
	finalNotes := func() string {
		return finalBackupNotes(&divio.ServiceInstance{UUID: removedID, Type: divio.TypeDatabase, Prefix: env.prefix("DEFAULT")})
	}
	lookups := `
data "divio_service_backups" "all" {
  environment_id = "` + envID + `"
}

data "divio_service_backups" "database" {
  environment_id = "` + envID + `"
  type           = "DATABASE"
  prefix         = "` + env.prefix("DEFAULT") + `"
}

data "divio_service_backups" "media" {
  environment_id = "` + envID + `"
  service_id     = "` + "%s" + `"
}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: serviceConfig(env, "postgres-15", ""),
				Check: func(s *terraform.State) error {
					removedID = s.RootModule().Resources[serviceAddr].Primary.ID
					return nil
				},
			},
			{
				Config: env.config(""), // removed: its final backup is taken
			},
			{
				PreConfig: func() {
					other = env.addInstance(envID, simulator.ServicePostgres15, "OTHER", true)
					otherID = other.UUID
					backUp("both", media, other)
				},
				Config: env.config(fmt.Sprintf(lookups, mediaID)),
				ConfigStateChecks: []statecheck.StateCheck{
					// Against the real API the environment holds others' backups too: there the test's are
					// among them; the lookups by instance below show the order.
					statecheck.ExpectKnownValue("data.divio_service_backups.all", tfjsonpath.New("backups"), env.listOf(
						entry(&mediaID, divio.TypeStorage, env.prefix("MEDIA"), notes("both"), false),
						entry(&otherID, divio.TypeDatabase, env.prefix("OTHER"), notes("both"), false),
						entry(&removedID, divio.TypeDatabase, env.prefix("DEFAULT"), finalNotes, true),
						entry(&mediaID, divio.TypeStorage, env.prefix("MEDIA"), notes("older"), false),
					)),
					statecheck.ExpectKnownValue("data.divio_service_backups.database", tfjsonpath.New("backups"), knownvalue.ListExact([]knownvalue.Check{
						entry(&removedID, divio.TypeDatabase, env.prefix("DEFAULT"), finalNotes, true),
					})),
					statecheck.ExpectKnownValue("data.divio_service_backups.media", tfjsonpath.New("backups"), knownvalue.ListExact([]knownvalue.Check{
						entry(&mediaID, divio.TypeStorage, env.prefix("MEDIA"), notes("both"), false),
						entry(&mediaID, divio.TypeStorage, env.prefix("MEDIA"), notes("older"), false),
					})),
				},
				Check: func(s *terraform.State) error {
					// The final backup's entry is what the API says of it, and names its part for a restore.
					b, err := finalBackupOf(ctx, client, envID, removedID)
					if err != nil {
						return err
					}
					part, err := client.GetServiceInstanceBackup(ctx, b.ServiceInstanceBackups[0])
					if err != nil {
						return err
					}
					const final = "data.divio_service_backups.database"
					return resource.ComposeAggregateTestCheckFunc(
						resource.TestCheckResourceAttr(final, "id", envID),
						resource.TestCheckResourceAttr(final, "backups.0.id", b.UUID),
						resource.TestCheckResourceAttr(final, "backups.0.service_instance_backup_id", part.UUID),
						resource.TestCheckResourceAttr(final, "backups.0.size", fmt.Sprint(*part.Size)),
						resource.TestCheckResourceAttr(final, "backups.0.delete_at", b.ScheduledForDeletionAt.UTC().Format("2006-01-02T15:04:05.999999999Z07:00")),
						resource.TestCheckNoResourceAttr(final, "backups.0.errors"),
						func(*terraform.State) error {
							live, err := env.ownInstances(envID)
							if err != nil {
								return err
							}
							if len(live) != 2 {
								return fmt.Errorf("want the two instances added through the API, got %+v", live)
							}
							return nil
						},
					)(s)
				},
			},
		},
	})
}

// The platform's scheduled backups are listed too, with their trigger; and a backup that Divio's
// retention deletes (an on-demand one older than 30 days, beyond the three newest) is gone from the
// list, as from the API.
func TestAccServiceBackupsDataSource_scheduledAndRetention(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	client := env.client(t)
	ctx := context.Background()
	media := env.addInstance(demoTestEnvID, simulator.ServiceS3, "MEDIA", true)
	for range 4 {
		b, err := client.CreateBackup(ctx, divio.CreateBackupRequest{Environment: demoTestEnvID, Services: []string{media.UUID}})
		if err == nil {
			_, err = client.WaitForBackup(ctx, b.UUID)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	lookup := env.config(`
data "divio_service_backups" "media" {
  environment_id = "` + demoTestEnvID + `"
}
`)
	triggers := func(want ...string) knownvalue.Check {
		checks := make([]knownvalue.Check, len(want))
		for i, trigger := range want {
			checks[i] = knownvalue.ObjectPartial(map[string]knownvalue.Check{"trigger": knownvalue.StringExact(trigger)})
		}
		return knownvalue.ListExact(checks)
	}
	manual, scheduled := divio.BackupTriggerManual, divio.BackupTriggerScheduled
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				PreConfig: func() {
					if _, err := sim.TakeScheduledBackup(demoTestEnvID); err != nil {
						t.Fatal(err)
					}
				},
				Config: lookup,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.divio_service_backups.media", tfjsonpath.New("backups"), triggers(scheduled, manual, manual, manual, manual)),
				},
			},
			{
				// 31 days on: the oldest on-demand backup goes, the three newest and the scheduled one stay.
				PreConfig: func() {
					if _, err := sim.AdvanceClock(31 * 24 * time.Hour); err != nil {
						t.Fatal(err)
					}
				},
				Config: lookup,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.divio_service_backups.media", tfjsonpath.New("backups"), triggers(scheduled, manual, manual, manual)),
				},
			},
		},
	})
}
