package simulator

import (
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestAdminClock moves the simulator's clock over the admin API: forward
// only, and what falls due on the way happens.
func TestAdminClock(t *testing.T) {
	_, c, _ := testSim(t, Options{ProvisionDelay: time.Hour})
	if got := c.get("/_sim/clock"); got["now"] != t0.Format(time.RFC3339) || got["offset"] != "0s" {
		t.Errorf("GET /_sim/clock = %v", got)
	}
	in := c.createInstance(demoTest, ServicePostgres15, "DEFAULT")
	c.action(in.UUID, "provision")

	tests := []struct {
		body    any
		want    int
		now     time.Time
		offset  string
		message string
	}{
		{map[string]any{"advance": "59m"}, 200, t0.Add(59 * time.Minute), "59m0s", ""},
		{map[string]any{"advance": int64(time.Minute)}, 200, t0.Add(time.Hour), "1h0m0s", ""},
		{map[string]any{"advance": "0s"}, 200, t0.Add(time.Hour), "1h0m0s", ""},
		{map[string]any{"advance": "-1s"}, 400, t0.Add(time.Hour), "1h0m0s", "The clock only moves forward."},
		{map[string]any{"advance": "soon"}, 400, t0.Add(time.Hour), "1h0m0s", "duration"},
		{map[string]any{}, 400, t0.Add(time.Hour), "1h0m0s", "This field is required."},
	}
	for _, tt := range tests {
		r := c.expect(tt.want, http.MethodPost, "/_sim/clock", tt.body)
		if tt.want == http.StatusBadRequest && !strings.Contains(fieldMessage(t, r, "advance"), tt.message) {
			t.Errorf("%v: %s, want %q", tt.body, r.body, tt.message)
		}
		if got := c.get("/_sim/clock"); got["now"] != tt.now.Format(time.RFC3339) || got["offset"] != tt.offset {
			t.Errorf("after %v: %v, want %v and %s", tt.body, got, tt.now, tt.offset)
		}
	}
	if got := c.instance(in.UUID); got.Status != StatusPendingAttachment {
		t.Errorf("an hour later the instance is %s, want PENDING_ATTACHMENT", got.Status)
	}
	if created := c.createInstance(demoTest, ServiceS3, "MEDIA"); !created.CreatedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("created at %v, want the simulator's time", created.CreatedAt)
	}
}

// TestClockSurvivesRestartAndReset: a data file keeps the clock where it was
// moved to, and a reset does not move it back.
func TestClockSurvivesRestartAndReset(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	sim, _, _ := startAt(t, Options{DataFile: file}, t0)
	if _, err := sim.AdvanceClock(48 * time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := sim.Close(); err != nil {
		t.Fatal(err)
	}
	sim2, _, _ := startAt(t, Options{DataFile: file}, t0.Add(time.Minute))
	if got := sim2.Now(); !got.Equal(t0.Add(48*time.Hour + time.Minute)) {
		t.Errorf("after the restart: %v", got)
	}
	sim2.Reset()
	if got := sim2.Now(); !got.Equal(t0.Add(48*time.Hour + time.Minute)) {
		t.Errorf("after a reset: %v", got)
	}
}

// TestManualRetention keeps on-demand backups 30 days on the moved clock,
// then only the three newest of those older, environment by environment; a
// deletion time deletes a backup whatever its age.
func TestManualRetention(t *testing.T) {
	sim, c, _ := testSim(t, Options{})
	db := c.provisioned(demoTest, ServicePostgres15, "DEFAULT")
	live := c.provisioned(demoLive, ServicePostgres15, "DEFAULT")
	day := 24 * time.Hour
	var ids []string // demo test's, oldest first
	for range 5 {
		ids = append(ids, c.createBackup(backupBody(demoTest, db.UUID)).UUID)
		c.expect(http.StatusOK, http.MethodPost, "/_sim/clock", map[string]string{"advance": "1s"})
	}
	liveBackup := c.createBackup(backupBody(demoLive, live.UUID)).UUID
	expiring := backupBody(demoTest, db.UUID)
	expiring["scheduled_for_deletion_at"] = t0.Add(10 * day).Format(time.RFC3339)
	expiringID := c.createBackup(expiring).UUID
	if _, err := sim.AdvanceClock(20 * day); err != nil {
		t.Fatal(err)
	}
	ids = append(ids, c.createBackup(backupBody(demoTest, db.UUID)).UUID) // made on day 20

	tests := []struct {
		at   time.Duration // since t0
		want []string      // demo test's backups, oldest first
	}{
		{29 * day, ids},
		{30 * day, ids}, // the first is 30 days old: one old one, kept
		{30*day + 4*time.Second, append(slices.Clone(ids[2:5]), ids[5])}, // five old ones: the three newest stay
		{50 * day, append(slices.Clone(ids[2:5]), ids[5])},
		{50*day + 5*time.Second, append(slices.Clone(ids[3:5]), ids[5])}, // the sixth is 30 days old too
		{400 * day, append(slices.Clone(ids[3:5]), ids[5])},
	}
	for _, tt := range tests {
		if _, err := sim.AdvanceClock(t0.Add(tt.at).Sub(sim.Now())); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, b := range sim.Backups() {
			if b.Environment == demoTest {
				got = append(got, b.UUID)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("at +%v: %v, want %v", tt.at, got, tt.want)
		}
		// The live environment's only backup is one of three, kept for good.
		c.expect(http.StatusOK, http.MethodGet, backupsPath+liveBackup+"/", nil)
		if slices.Contains(got, expiringID) {
			t.Errorf("at +%v: the backup due for deletion on day 10 is still there", tt.at)
		}
	}
}

// TestScheduledRetention keeps 7 daily, 4 weekly and 12 monthly scheduled
// backups: the newest of each of the newest days, ISO weeks and months.
func TestScheduledRetention(t *testing.T) {
	st := demoState(t)
	first := time.Date(2025, 1, 1, scheduledBackupHour, 0, 0, 0, time.UTC)
	last := time.Date(2026, 1, 31, scheduledBackupHour, 0, 0, 0, time.UTC)
	db := SeedInstanceID(LegacyApp, EnvTest, ServicePostgres15, "DEFAULT")
	for at := first; !at.After(last); at = at.AddDate(0, 0, 1) {
		if _, err := st.scheduledBackup(legacyTest, at); err != nil {
			t.Fatal(err)
		}
	}
	manual, err := st.createBackup(createBackupRequest{Environment: legacyTest, Services: []string{db}, Trigger: TriggerManual}, last)
	if err != nil {
		t.Fatal(err)
	}
	st.applyRetention(last.Add(time.Hour))

	want := []string{
		// monthly: the last of each month but the oldest
		"2025-02-28", "2025-03-31", "2025-04-30", "2025-05-31", "2025-06-30", "2025-07-31", "2025-08-31",
		"2025-09-30", "2025-10-31", "2025-11-30", "2025-12-31",
		"2026-01-11", "2026-01-18", // weekly: the newest of ISO weeks 2 and 3 (weeks 4 and 5 end in daily ones)
		"2026-01-25", "2026-01-26", "2026-01-27", "2026-01-28", "2026-01-29", "2026-01-30", "2026-01-31", // daily
	}
	var got []string
	for _, b := range st.Backups {
		switch b.Trigger {
		case TriggerScheduled:
			got = append(got, dayOf(b.CreatedAt))
		case TriggerManual:
			if b != manual {
				t.Errorf("an unknown manual backup %+v", b.Backup)
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("kept\n%v\nwant\n%v", got, want)
	}
	if _, err := st.backup(manual.UUID); err != nil {
		t.Error("retention of scheduled backups deleted an on-demand one")
	}
}

// TestScheduledBackupsOnTheClock: with ScheduledBackups on, the platform
// takes a backup of each environment with a functional database or storage
// instance every day at 02:00 on the simulator's clock, capturing its data,
// and retention prunes them; off (the default), it takes none.
func TestScheduledBackupsOnTheClock(t *testing.T) {
	tests := []struct {
		on   bool
		want []string // days of demo test's scheduled backups after 40 days
	}{
		{false, nil},
		{true, []string{"2026-01-25", "2026-01-31", "2026-02-01", // weekly, monthly, weekly
			"2026-02-05", "2026-02-06", "2026-02-07", "2026-02-08", "2026-02-09", "2026-02-10", "2026-02-11"}},
	}
	for _, tt := range tests {
		sim, c, _ := testSim(t, Options{ScheduledBackups: tt.on, BackupDelay: time.Minute})
		db := c.provisioned(demoTest, ServicePostgres15, "DEFAULT")
		c.putData(db.UUID, "orders")
		c.provisioned(demoLive, ServiceRabbitMQ3, "DEFAULT") // nothing to back up there
		c.expect(http.StatusOK, http.MethodPost, "/_sim/clock", map[string]string{"advance": "960h"})
		var got []string
		envs := map[string]bool{}
		for _, b := range c.listAll(backupsPath) {
			envs[b["environment"].(string)] = true
			if b["environment"] != demoTest {
				continue
			}
			created, _ := time.Parse(time.RFC3339Nano, b["created_at"].(string))
			if b["trigger"] != TriggerScheduled || b["state"] != BackupCompleted || !strings.HasSuffix(b["created_at"].(string), "T02:00:00Z") {
				t.Errorf("on=%v: backup %v", tt.on, b)
			}
			got = append([]string{dayOf(created)}, got...) // listed newest first
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("on=%v: %v, want %v", tt.on, got, tt.want)
		}
		if tt.on && (len(envs) != 3 || envs[demoLive] || !envs[legacyTest] || !envs[legacyLive]) {
			t.Errorf("on=%v: backed up environments %v, want demo test and legacy-app's", tt.on, envs)
		}
		if tt.on {
			var newest Backup
			for _, b := range sim.Backups() {
				if b.Environment == demoTest {
					newest = b
				}
			}
			c.createRestore(map[string]any{"backup": newest.UUID, "service_instance_restores": []map[string]string{
				{"service_instance_backup": newest.ServiceInstanceBackups[0]}}})
			c.putData(db.UUID, "lost")
			c.expect(http.StatusOK, http.MethodPost, "/_sim/clock", map[string]string{"advance": "1m"})
			if got := c.dataOf(db.UUID); got != "orders" {
				t.Errorf("restored a scheduled backup: %q", got)
			}
		}
	}
}

// TestAdminScheduledBackup plays the platform taking a scheduled backup of an
// environment now.
func TestAdminScheduledBackup(t *testing.T) {
	sim, c, _ := testSim(t, Options{})
	db := c.provisioned(demoTest, ServicePostgres15, "DEFAULT")
	media := c.provisioned(demoTest, ServiceS3, "MEDIA")
	c.provisioned(demoTest, ServiceRabbitMQ3, "DEFAULT")
	c.createInstance(demoTest, ServiceMySQL8, "NEW")
	c.putData(db.UUID, "orders")

	var b Backup
	c.expect(http.StatusCreated, http.MethodPost, "/_sim/environments/"+demoTest+"/scheduled-backup", nil).decode(t, &b)
	if b.Trigger != TriggerScheduled || b.Environment != demoTest || b.State != BackupCompleted || deref(b.Success) != BackupSuccess ||
		len(b.ServiceInstanceBackups) != 2 || !b.CreatedAt.Equal(t0) {
		t.Fatalf("scheduled backup %+v", b)
	}
	var instances []string
	for _, id := range b.ServiceInstanceBackups {
		instances = append(instances, c.part(id).ServiceInstance)
	}
	if !slices.Equal(instances, []string{db.UUID, media.UUID}) {
		t.Errorf("backed up %v, want the database and the bucket", instances)
	}
	if r := c.expect(http.StatusConflict, http.MethodPost, "/_sim/environments/"+demoLive+"/scheduled-backup", nil); !strings.Contains(string(r.body), "would hold nothing") {
		t.Errorf("an environment with nothing to back up: %s", r.body)
	}
	c.expect(http.StatusNotFound, http.MethodPost, "/_sim/environments/unknown/scheduled-backup", nil)
	if got, err := sim.TakeScheduledBackup(legacyLive); err != nil || got.Trigger != TriggerScheduled || len(got.ServiceInstanceBackups) != 2 {
		t.Errorf("TakeScheduledBackup: %+v %v", got, err)
	}
	// A client cannot ask for one.
	body := backupBody(demoTest, db.UUID)
	body["trigger"] = TriggerScheduled
	c.expect(http.StatusBadRequest, http.MethodPost, backupsPath, body)
}
