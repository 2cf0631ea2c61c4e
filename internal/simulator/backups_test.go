package simulator

import (
	"cmp"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	backupsPath  = "/apps/v3/backups/"
	partsPath    = "/apps/v3/service-instance-backups/"
	restoresPath = "/apps/v3/backup-restores/"
)

// provisioned adds an instance and provisions it (at once: the tests'
// simulators have no provision delay).
func (c *apiClient) provisioned(envID, identifier, prefix string) Instance {
	c.t.Helper()
	in := c.createInstance(envID, identifier, prefix)
	if got := c.action(in.UUID, "provision"); got.Status != StatusPendingAttachment {
		c.t.Fatalf("provisioned instance is %s", got.Status)
	}
	return c.instance(in.UUID)
}

// in returns a copy of the client that fails t, for use in a subtest.
func (c *apiClient) in(t *testing.T) *apiClient {
	sub := *c
	sub.t = t
	return &sub
}

func backupBody(envID string, services ...string) map[string]any {
	return map[string]any{"environment": envID, "services": services, "trigger": TriggerManual}
}

// sendAs sends a request that must answer want, and decodes the answer as a T.
func sendAs[T any](c *apiClient, want int, method, path string, body any) T {
	c.t.Helper()
	var v T
	c.expect(want, method, path, body).decode(c.t, &v)
	return v
}

func (c *apiClient) createBackup(body map[string]any) Backup {
	c.t.Helper()
	return sendAs[Backup](c, http.StatusCreated, http.MethodPost, backupsPath, body)
}

func (c *apiClient) backup(id string) Backup {
	c.t.Helper()
	return sendAs[Backup](c, http.StatusOK, http.MethodGet, backupsPath+id+"/", nil)
}

func (c *apiClient) part(id string) ServiceInstanceBackup {
	c.t.Helper()
	return sendAs[ServiceInstanceBackup](c, http.StatusOK, http.MethodGet, partsPath+id+"/", nil)
}

func restoreBody(b Backup) map[string]any {
	var sirs []map[string]string
	for _, id := range b.ServiceInstanceBackups {
		sirs = append(sirs, map[string]string{"service_instance_backup": id})
	}
	return map[string]any{"backup": b.UUID, "service_instance_restores": sirs}
}

func (c *apiClient) createRestore(body map[string]any) Restore {
	c.t.Helper()
	return sendAs[Restore](c, http.StatusCreated, http.MethodPost, restoresPath, body)
}

func (c *apiClient) restore(id string) Restore {
	c.t.Helper()
	return sendAs[Restore](c, http.StatusOK, http.MethodGet, restoresPath+id+"/", nil)
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestBackupStatesOverTime(t *testing.T) {
	_, c, clock := testSim(t, Options{BackupDelay: 8 * time.Second})
	db := c.provisioned(demoTest, ServicePostgres15, "DEFAULT")
	files := c.provisioned(demoTest, ServiceS3, "DEFAULT")
	b := c.createBackup(backupBody(demoTest, db.UUID, files.UUID))
	if len(b.ServiceInstanceBackups) != 2 || !b.CreatedAt.Equal(t0) || b.Trigger != TriggerManual || b.Environment != demoTest {
		t.Fatalf("created %+v", b)
	}

	tests := []struct {
		at          time.Duration
		state       string
		success     any
		started     bool
		ended       bool
		wantSizeSet bool
	}{
		{0, BackupPending, nil, false, false, false},
		{1 * time.Second, BackupPending, nil, false, false, false},
		{2 * time.Second, BackupWorking, nil, true, false, false},
		{7 * time.Second, BackupWorking, nil, true, false, false},
		{8 * time.Second, BackupCompleted, BackupSuccess, true, true, true},
		{time.Hour, BackupCompleted, BackupSuccess, true, true, true},
	}
	for _, tt := range tests {
		clock.Advance(t0.Add(tt.at).Sub(clock.Now()))
		got := c.backup(b.UUID)
		if got.State != tt.state || deref(got.Success) != tt.success {
			t.Errorf("at +%v: state %s success %v, want %s %v", tt.at, got.State, deref(got.Success), tt.state, tt.success)
		}
		for _, id := range got.ServiceInstanceBackups {
			p := c.part(id)
			if (p.StartedAt != nil) != tt.started || (p.TakenAt != nil) != tt.started || (p.EndedAt != nil) != tt.ended ||
				(p.Size != nil) != tt.wantSizeSet || p.Errors == nil || len(p.Errors) != 0 || !p.QueuedAt.Equal(t0) {
				t.Errorf("at +%v: part %+v", tt.at, p)
			}
			if tt.started && (!p.StartedAt.Equal(t0.Add(2*time.Second)) || !p.TakenAt.Equal(t0.Add(2*time.Second))) {
				t.Errorf("at +%v: part started %v, taken %v, want +2s", tt.at, p.StartedAt, p.TakenAt)
			}
			if tt.ended && !p.EndedAt.Equal(t0.Add(8*time.Second)) {
				t.Errorf("at +%v: part ended %v, want +8s", tt.at, p.EndedAt)
			}
		}
	}
}

func TestZeroBackupDelayCompletesInTheAnswer(t *testing.T) {
	_, c, _ := testSim(t, Options{})
	db := c.provisioned(demoTest, ServicePostgres15, "DEFAULT")
	b := c.createBackup(backupBody(demoTest, db.UUID))
	if b.State != BackupCompleted || deref(b.Success) != BackupSuccess {
		t.Errorf("created %+v, want COMPLETED/SUCCESS at once", b)
	}
	r := c.createRestore(restoreBody(b))
	if !r.Finished || deref(r.Success) != BackupSuccess || r.Errors != nil {
		t.Errorf("restore %+v, want finished/SUCCESS at once", r)
	}
}

func TestPartsDescribeTheirInstances(t *testing.T) {
	_, c, clock := testSim(t, Options{})
	db := c.provisioned(demoTest, ServicePostgres15, "DEFAULT")
	files := c.provisioned(demoTest, ServiceS3, "MEDIA")
	clock.Advance(time.Hour)
	first := c.createBackup(backupBody(demoTest, db.UUID, files.UUID))
	clock.Advance(time.Hour)
	second := c.createBackup(backupBody(demoTest, db.UUID))

	dbPart, filesPart, later := c.part(first.ServiceInstanceBackups[0]), c.part(first.ServiceInstanceBackups[1]), c.part(second.ServiceInstanceBackups[0])
	if dbPart.Backup != first.UUID || dbPart.ServiceInstance != db.UUID || dbPart.ServiceType != TypeDatabase || dbPart.Prefix != "DEFAULT" {
		t.Errorf("database part %+v", dbPart)
	}
	if filesPart.ServiceInstance != files.UUID || filesPart.ServiceType != TypeStorage || filesPart.Prefix != "MEDIA" {
		t.Errorf("storage part %+v", filesPart)
	}
	// Sizes: bytes, larger for a later backup of the same instance, stable when read again.
	if *dbPart.Size <= 0 || *later.Size <= *dbPart.Size {
		t.Errorf("sizes %d then %d, want positive and growing", *dbPart.Size, *later.Size)
	}
	if again := c.part(dbPart.UUID); *again.Size != *dbPart.Size {
		t.Errorf("size changed from %d to %d", *dbPart.Size, *again.Size)
	}
}

func TestFailNextBackup(t *testing.T) {
	for name, arm := range map[string]func(*Simulator, *apiClient){
		"Go method": func(sim *Simulator, _ *apiClient) { sim.FailNextBackup() },
		"admin route": func(_ *Simulator, c *apiClient) {
			c.expect(http.StatusNoContent, http.MethodPost, "/_sim/fail-next-backup", nil)
		},
	} {
		t.Run(name, func(t *testing.T) {
			sim, c, clock := testSim(t, Options{BackupDelay: time.Second})
			db := c.provisioned(demoTest, ServicePostgres15, "DEFAULT")
			files := c.provisioned(demoTest, ServiceS3, "DEFAULT")
			arm(sim, c)
			failed := c.createBackup(backupBody(demoTest, db.UUID, files.UUID))
			next := c.createBackup(backupBody(demoTest, db.UUID))
			clock.Advance(time.Second)

			if got := c.backup(failed.UUID); got.State != BackupCompleted || deref(got.Success) != BackupFailure {
				t.Errorf("armed backup %+v, want COMPLETED/FAILURE", got)
			}
			for _, id := range failed.ServiceInstanceBackups {
				p := c.part(id)
				if len(p.Errors) != 1 || !strings.Contains(p.Errors[0], "fail-next-backup") || !strings.Contains(p.Errors[0], p.ServiceInstance) ||
					p.Size != nil || p.EndedAt == nil || p.TakenAt != nil {
					t.Errorf("part of the failed backup %+v", p)
				}
			}
			if got := c.backup(next.UUID); deref(got.Success) != BackupSuccess {
				t.Errorf("the backup after it %+v, want SUCCESS: only the next one fails", got)
			}
		})
	}
}

func TestCreateBackupRules(t *testing.T) {
	sim, c, _ := testSim(t, Options{})
	db := c.provisioned(demoTest, ServicePostgres15, "DEFAULT")
	newDB := c.createInstance(demoTest, ServicePostgres15, "FRESH")
	broker := c.provisioned(demoTest, ServiceRabbitMQ3, "DEFAULT")
	liveDB := c.provisioned(demoLive, ServicePostgres15, "DEFAULT")
	removed := c.provisioned(demoTest, ServiceMySQL8, "GONE")
	c.expect(http.StatusNoContent, http.MethodDelete, "/apps/v3/service-instances/"+removed.UUID+"/", nil)
	forced := func(identifier, status string) string {
		in := c.createInstance(demoTest, identifier, "DB_"+status)
		c.expect(http.StatusOK, http.MethodPatch, "/_sim/service-instances/"+in.UUID, map[string]string{"service_status": status})
		return in.UUID
	}
	sim.StallNextProvision()
	provisioning := c.action(c.createInstance(demoTest, ServicePostgres15, "STALLED").UUID, "provision").UUID
	attached := forced(ServicePostgres16, StatusAttached)
	pendingDetachment, detached := forced(ServiceMySQL8, StatusPendingDetachment), forced(ServiceMySQL8, StatusDetached)
	with := func(change func(map[string]any)) map[string]any {
		body := backupBody(demoTest, db.UUID)
		change(body)
		return body
	}

	tests := []struct {
		name   string
		body   any
		status int
		field  string // the 400's field, or "detail"
		want   string
	}{
		{"no environment", with(func(b map[string]any) { delete(b, "environment") }), 400, "environment", "This field is required."},
		{"unknown environment", with(func(b map[string]any) { b["environment"] = "nope" }), 400, "environment", `Invalid pk "nope"`},
		{"no trigger", with(func(b map[string]any) { delete(b, "trigger") }), 400, "trigger", "This field is required."},
		{"other trigger", with(func(b map[string]any) { b["trigger"] = "SCHEDULED" }), 400, "trigger", `"SCHEDULED" is not a valid choice.`},
		{"no services", with(func(b map[string]any) { delete(b, "services") }), 400, "services", "This field is required."},
		{"no instances", with(func(b map[string]any) { b["services"] = []string{} }), 400, "services", "This list may not be empty."},
		{"not a list", with(func(b map[string]any) { b["services"] = db.UUID }), 400, "services", "Expected a"},
		{"unknown instance", backupBody(demoTest, "nope"), 400, "services", `Invalid pk "nope"`},
		{"removed instance", backupBody(demoTest, removed.UUID), 400, "services", "object does not exist"},
		{"instance of another environment", backupBody(demoTest, liveDB.UUID), 400, "services", "does not belong to environment " + demoTest},
		{"message queue", backupBody(demoTest, broker.UUID), 400, "services", "is of type MESSAGE_QUEUE: only DATABASE and STORAGE instances can be backed up."},
		{"listed twice", backupBody(demoTest, db.UUID, db.UUID), 400, "services", "listed more than once"},
		{"deletion time not a time", with(func(b map[string]any) { b["scheduled_for_deletion_at"] = "tomorrow" }), 400, "scheduled_for_deletion_at", "Datetime has wrong format."},
		{"deletion time passed", with(func(b map[string]any) { b["scheduled_for_deletion_at"] = "2026-01-02T03:04:05Z" }), 400, "scheduled_for_deletion_at", "must be in the future"},
		{"NEW", backupBody(demoTest, newDB.UUID), 409, "detail", "is NEW: only a provisioned instance (PENDING_ATTACHMENT through DETACHED) holds data to back up."},
		{"PROVISIONING", backupBody(demoTest, provisioning), 409, "detail", "is PROVISIONING"},
		{"one of two NEW", backupBody(demoTest, db.UUID, newDB.UUID), 409, "detail", newDB.UUID},
		{"PENDING_ATTACHMENT", backupBody(demoTest, db.UUID), 201, "", ""},
		{"ATTACHED", backupBody(demoTest, attached), 201, "", ""},
		{"PENDING_DETACHMENT", backupBody(demoTest, pendingDetachment), 201, "", ""},
		{"DETACHED", backupBody(demoTest, detached), 201, "", ""},
		{"notes and a deletion time as the CLI sends it", with(func(b map[string]any) {
			b["notes"], b["scheduled_for_deletion_at"] = "Divio CLI pull", "2026-01-02T04:04:05.123456Z"
		}), 201, "", ""},
		{"a deletion time without a zone is UTC", with(func(b map[string]any) { b["scheduled_for_deletion_at"] = "2026-01-02T04:04:05" }), 201, "", ""},
		{"not an object", "[1]", 400, "non_field_errors", "Expected a dictionary."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := c.in(t)
			before := len(c.listAll(backupsPath))
			r := c.expect(tt.status, http.MethodPost, backupsPath, tt.body)
			switch {
			case tt.status == http.StatusCreated:
				if n := len(c.listAll(backupsPath)); n != before+1 {
					t.Errorf("%d backups after a create, want %d", n, before+1)
				}
				return
			case tt.field == "detail":
				if got := r.object(t)["detail"]; !strings.Contains(got.(string), tt.want) {
					t.Errorf("detail %q, want it to contain %q", got, tt.want)
				}
			default:
				if got := fieldMessage(t, r, tt.field); !strings.Contains(got, tt.want) {
					t.Errorf("%s: %q, want it to contain %q (%s)", tt.field, got, tt.want, r.body)
				}
			}
			if n := len(c.listAll(backupsPath)); n != before {
				t.Errorf("a refused create left %d backups, want %d", n, before)
			}
		})
	}
}

func TestDeletionTimes(t *testing.T) {
	_, c, clock := testSim(t, Options{})
	db := c.provisioned(demoTest, ServicePostgres15, "DEFAULT")
	body := backupBody(demoTest, db.UUID)
	body["scheduled_for_deletion_at"] = "2026-01-02T05:04:05.1234567+01:00" // t0 + 1h, finer than microseconds
	expiring := c.createBackup(body)
	if want := t0.Add(time.Hour + 123456*time.Microsecond); expiring.ScheduledForDeletionAt == nil || !expiring.ScheduledForDeletionAt.Equal(want) ||
		expiring.ScheduledForDeletionAt.Location() != time.UTC {
		t.Fatalf("scheduled_for_deletion_at %v, want %v in UTC", expiring.ScheduledForDeletionAt, want)
	}
	naive := backupBody(demoTest, db.UUID)
	naive["scheduled_for_deletion_at"] = "2026-01-02T05:04:05"
	if got := c.createBackup(naive); !got.ScheduledForDeletionAt.Equal(t0.Add(2 * time.Hour)) {
		t.Errorf("a time without a zone read as %v, want UTC", got.ScheduledForDeletionAt)
	}
	kept := c.createBackup(backupBody(demoTest, db.UUID))
	if kept.ScheduledForDeletionAt != nil {
		t.Errorf("no deletion time given: %v", kept.ScheduledForDeletionAt)
	}

	clock.Advance(time.Hour)
	c.backup(expiring.UUID) // due 123456µs later
	clock.Advance(time.Second)
	c.expect(http.StatusNotFound, http.MethodGet, backupsPath+expiring.UUID+"/", nil)
	c.expect(http.StatusNotFound, http.MethodGet, partsPath+expiring.ServiceInstanceBackups[0]+"/", nil)
	c.expect(http.StatusNotFound, http.MethodDelete, backupsPath+expiring.UUID+"/", nil)
	if n := len(c.listAll(backupsPath)); n != 2 {
		t.Errorf("%d backups listed after the first expired, want 2", n)
	}
	clock.Advance(time.Hour)
	for _, b := range c.listAll(backupsPath) {
		if b["uuid"] != kept.UUID {
			t.Errorf("listed %v after both deletion times, want only %s", b["uuid"], kept.UUID)
		}
	}
}

func TestDeleteBackup(t *testing.T) {
	_, c, _ := testSim(t, Options{BackupDelay: time.Minute})
	db := c.provisioned(demoTest, ServicePostgres15, "DEFAULT")
	running := c.createBackup(backupBody(demoTest, db.UUID))
	other := c.createBackup(backupBody(demoTest, db.UUID))

	c.expect(http.StatusNoContent, http.MethodDelete, backupsPath+running.UUID+"/", nil)
	c.expect(http.StatusNotFound, http.MethodGet, backupsPath+running.UUID+"/", nil)
	c.expect(http.StatusNotFound, http.MethodGet, partsPath+running.ServiceInstanceBackups[0]+"/", nil)
	c.expect(http.StatusNotFound, http.MethodDelete, backupsPath+running.UUID+"/", nil)
	if got := c.backup(other.UUID); got.State != BackupPending {
		t.Errorf("the other backup: %+v", got)
	}
}

func TestBackupOutlivesItsInstance(t *testing.T) {
	_, c, clock := testSim(t, Options{BackupDelay: time.Second})
	db := c.provisioned(demoTest, ServicePostgres15, "DEFAULT")
	done := c.createBackup(backupBody(demoTest, db.UUID))
	clock.Advance(time.Second)
	running := c.createBackup(backupBody(demoTest, db.UUID))
	c.expect(http.StatusNoContent, http.MethodDelete, "/apps/v3/service-instances/"+db.UUID+"/", nil)
	clock.Advance(time.Second)

	if got := c.backup(done.UUID); deref(got.Success) != BackupSuccess {
		t.Errorf("backup taken before the removal: %+v", got)
	}
	if p := c.part(done.ServiceInstanceBackups[0]); p.ServiceInstance != db.UUID || p.Prefix != "DEFAULT" || p.ServiceType != TypeDatabase || p.Size == nil {
		t.Errorf("its part after the removal: %+v", p)
	}
	if got := c.backup(running.UUID); deref(got.Success) != BackupFailure {
		t.Errorf("backup running during the removal: %+v, want FAILURE", got)
	}
	if p := c.part(running.ServiceInstanceBackups[0]); len(p.Errors) != 1 || !strings.Contains(p.Errors[0], "was removed before its backup finished") {
		t.Errorf("its part: %+v", p)
	}
}

func TestRestoreRules(t *testing.T) {
	sim, c, clock := testSim(t, Options{BackupDelay: time.Second})
	db := c.provisioned(demoTest, ServicePostgres15, "DEFAULT")
	files := c.provisioned(demoTest, ServiceS3, "DEFAULT")
	gone := c.provisioned(demoTest, ServiceMySQL8, "GONE")
	reset := c.provisioned(demoTest, ServicePostgres15, "RESET")
	good := c.createBackup(backupBody(demoTest, db.UUID, files.UUID))
	ofGone := c.createBackup(backupBody(demoTest, gone.UUID))
	ofReset := c.createBackup(backupBody(demoTest, reset.UUID))
	sim.FailNextBackup()
	failed := c.createBackup(backupBody(demoTest, db.UUID))
	clock.Advance(time.Second)
	running := c.createBackup(backupBody(demoTest, db.UUID))
	c.expect(http.StatusNoContent, http.MethodDelete, "/apps/v3/service-instances/"+gone.UUID+"/", nil)
	c.expect(http.StatusOK, http.MethodPatch, "/_sim/service-instances/"+reset.UUID, map[string]string{"service_status": StatusNew})
	c.expect(http.StatusOK, http.MethodPatch, "/_sim/service-instances/"+files.UUID, map[string]string{"service_status": StatusAttached})
	sir := func(id string) []map[string]string { return []map[string]string{{"service_instance_backup": id}} }

	tests := []struct {
		name   string
		body   any
		status int
		field  string
		want   string
	}{
		{"no backup", map[string]any{"service_instance_restores": sir(good.ServiceInstanceBackups[0])}, 400, "backup", "This field is required."},
		{"unknown backup", map[string]any{"backup": "nope", "service_instance_restores": sir(good.ServiceInstanceBackups[0])}, 400, "backup", `Invalid pk "nope"`},
		{"no restores", map[string]any{"backup": good.UUID}, 400, "service_instance_restores", "This field is required."},
		{"empty restores", map[string]any{"backup": good.UUID, "service_instance_restores": []string{}}, 400, "service_instance_restores", "This list may not be empty."},
		{"unknown part", map[string]any{"backup": good.UUID, "service_instance_restores": sir("nope")}, 400, "service_instance_restores", `Item 1: Invalid pk "nope"`},
		{"part of another backup", map[string]any{"backup": good.UUID, "service_instance_restores": sir(ofGone.ServiceInstanceBackups[0])}, 400, "service_instance_restores", "is not part of backup " + good.UUID},
		{"a part without its id", map[string]any{"backup": good.UUID, "service_instance_restores": []map[string]string{{}}}, 400, "service_instance_restores", "This field is required."},
		{"backup still running", restoreBody(running), 409, "detail", "is PENDING: wait for it to complete"},
		{"failed backup", restoreBody(failed), 409, "detail", "holds nothing to restore"},
		{"instance removed", restoreBody(ofGone), 409, "detail", "has been removed: name another instance of its type in service_instance to restore into."},
		{"instance not provisioned", restoreBody(ofReset), 409, "detail", "is NEW: it must be provisioned"},
		{"the whole backup", restoreBody(good), 201, "", ""},
		{"one part of it", map[string]any{"backup": good.UUID, "service_instance_restores": sir(good.ServiceInstanceBackups[1]), "notes": "media only"}, 201, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := c.in(t)
			before := len(sim.Restores())
			r := c.expect(tt.status, http.MethodPost, restoresPath, tt.body)
			switch {
			case tt.status == http.StatusCreated:
				if got := r.object(t); got["uuid"] == "" || got["finished"] != false || got["success"] != nil || got["backup"] != good.UUID {
					t.Errorf("created %v", got)
				}
				return
			case tt.field == "detail":
				if got := r.object(t)["detail"]; !strings.Contains(got.(string), tt.want) {
					t.Errorf("detail %q, want it to contain %q", got, tt.want)
				}
			default:
				if got := fieldMessage(t, r, tt.field); !strings.Contains(got, tt.want) {
					t.Errorf("%s: %q, want it to contain %q (%s)", tt.field, got, tt.want, r.body)
				}
			}
			if n := len(sim.Restores()); n != before {
				t.Errorf("a refused restore left %d restores, want %d", n, before)
			}
		})
	}
}

func TestRestoreOverTime(t *testing.T) {
	tests := []struct {
		name        string
		arm         func(*Simulator, *apiClient)
		meanwhile   func(c *apiClient, db Instance)
		wantSuccess string
		wantErrors  string
	}{
		{"works", nil, nil, BackupSuccess, ""},
		{"fails on demand (Go method)", func(sim *Simulator, _ *apiClient) { sim.FailNextRestore() }, nil, BackupFailure, "fail-next-restore"},
		{"fails on demand (admin route)", func(_ *Simulator, c *apiClient) {
			c.expect(http.StatusNoContent, http.MethodPost, "/_sim/fail-next-restore", nil)
		}, nil, BackupFailure, "fail-next-restore"},
		{"fails when its instance is removed meanwhile", nil, func(c *apiClient, db Instance) {
			c.expect(http.StatusNoContent, http.MethodDelete, "/_sim/service-instances/"+db.UUID, nil)
		}, BackupFailure, "was removed before the restore finished"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, c, clock := testSim(t, Options{BackupDelay: 4 * time.Second})
			db := c.provisioned(demoTest, ServicePostgres15, "DEFAULT")
			c.deploy(demoTest)
			b := c.createBackup(backupBody(demoTest, db.UUID))
			clock.Advance(4 * time.Second)
			if tt.arm != nil {
				tt.arm(sim, c)
			}
			r := c.createRestore(restoreBody(b))
			clock.Advance(3 * time.Second)
			if got := c.restore(r.UUID); got.Finished || got.Success != nil {
				t.Errorf("before its time: %+v", got)
			}
			if tt.meanwhile != nil {
				tt.meanwhile(c, db)
			}
			clock.Advance(time.Second)
			got := c.restore(r.UUID)
			if !got.Finished || deref(got.Success) != tt.wantSuccess || got.Backup != b.UUID {
				t.Errorf("at its time: %+v, want finished with %s", got, tt.wantSuccess)
			}
			if (got.Errors == nil) != (tt.wantErrors == "") || (got.Errors != nil && !strings.Contains(*got.Errors, tt.wantErrors)) {
				t.Errorf("errors %v, want %q", deref(got.Errors), tt.wantErrors)
			}
			if tt.meanwhile == nil && c.instance(db.UUID).Status != StatusAttached {
				t.Errorf("the instance is %s after the restore, want it ATTACHED as before", c.instance(db.UUID).Status)
			}
		})
	}
}

func TestListBackups(t *testing.T) {
	_, c, clock := testSim(t, Options{})
	testDB := c.provisioned(demoTest, ServicePostgres15, "DEFAULT")
	liveDB := c.provisioned(demoLive, ServicePostgres15, "DEFAULT")
	var testIDs, allIDs []string
	for i := range 5 {
		env, in := demoTest, testDB
		if i%2 == 1 {
			env, in = demoLive, liveDB
		}
		b := c.createBackup(backupBody(env, in.UUID))
		allIDs = append([]string{b.UUID}, allIDs...)
		if env == demoTest {
			testIDs = append([]string{b.UUID}, testIDs...)
		}
		if i != 2 {
			clock.Advance(time.Second) // two made in the same instant keep their order too
		}
	}
	ids := func(list []map[string]any) string {
		var out []string
		for _, b := range list {
			out = append(out, b["uuid"].(string))
		}
		return strings.Join(out, ",")
	}
	for _, tt := range []struct{ path, want string }{
		{backupsPath + "?environment=" + demoTest, strings.Join(testIDs, ",")},
		{backupsPath + "?environment=" + demoTest + "&page_size=1", strings.Join(testIDs, ",")},
		{backupsPath, strings.Join(allIDs, ",")},
		{backupsPath + "?environment=" + EnvironmentID(AzureApp, EnvTest), ""},
	} {
		if got := ids(c.listAll(tt.path)); got != tt.want {
			t.Errorf("%s: %s, want newest first %s", tt.path, got, tt.want)
		}
	}
}

func TestBackupsAcrossRestart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	opts := Options{DataFile: file, BackupDelay: 8 * time.Second}
	sim, c, _ := startAt(t, opts, t0)
	db := c.provisioned(demoTest, ServicePostgres15, "DEFAULT")
	done := c.createBackup(backupBody(demoTest, db.UUID))
	if err := sim.Close(); err != nil {
		t.Fatal(err)
	}

	sim2, c2, _ := startAt(t, opts, t0.Add(8*time.Second))
	restore := c2.createRestore(restoreBody(c2.backup(done.UUID)))
	expiring := backupBody(demoTest, db.UUID)
	expiring["scheduled_for_deletion_at"] = t0.Add(30 * time.Second).Format(time.RFC3339)
	sim2.FailNextBackup()
	inFlight := c2.createBackup(expiring)
	if err := sim2.Close(); err != nil {
		t.Fatal(err)
	}

	// Restarted mid-run: still working, nothing lost.
	sim3, c3, _ := startAt(t, opts, t0.Add(12*time.Second))
	if got := c3.backup(inFlight.UUID); got.State != BackupWorking || got.Success != nil {
		t.Errorf("after restart mid-run: %+v", got)
	}
	if got := c3.restore(restore.UUID); got.Finished {
		t.Errorf("restore after restart mid-run: %+v", got)
	}
	if err := sim3.Close(); err != nil {
		t.Fatal(err)
	}

	// Restarted after the end: it ended on time, with the failure it was armed with.
	sim4, c4, _ := startAt(t, opts, t0.Add(20*time.Second))
	got := c4.backup(inFlight.UUID)
	if got.State != BackupCompleted || deref(got.Success) != BackupFailure {
		t.Errorf("after restart past the end: %+v", got)
	}
	if p := c4.part(inFlight.ServiceInstanceBackups[0]); p.EndedAt == nil || !p.EndedAt.Equal(t0.Add(16*time.Second)) || len(p.Errors) != 1 {
		t.Errorf("its part: %+v", p)
	}
	if r := c4.restore(restore.UUID); !r.Finished || deref(r.Success) != BackupSuccess {
		t.Errorf("restore after restart past its end: %+v", r)
	}
	if err := sim4.Close(); err != nil {
		t.Fatal(err)
	}

	// Restarted after its deletion time: deleted while the simulator was down.
	_, c5, _ := startAt(t, opts, t0.Add(time.Minute))
	c5.expect(http.StatusNotFound, http.MethodGet, backupsPath+inFlight.UUID+"/", nil)
	c5.backup(done.UUID)
	assertNoTempFiles(t, filepath.Dir(file))
}

func TestBackupsInAdminStateAndReset(t *testing.T) {
	sim, c, _ := testSim(t, Options{})
	db := c.provisioned(demoTest, ServicePostgres15, "DEFAULT")
	b := c.createBackup(backupBody(demoTest, db.UUID))
	r := c.createRestore(restoreBody(b))

	var got stateView
	c.expect(http.StatusOK, http.MethodGet, "/_sim/state", nil).decode(t, &got)
	if len(got.Backups) != 1 || got.Backups[0].UUID != b.UUID || len(got.ServiceInstanceBackups) != 1 ||
		got.ServiceInstanceBackups[0].Backup != b.UUID || len(got.Restores) != 1 || got.Restores[0].UUID != r.UUID {
		t.Errorf("state %+v", got)
	}

	sim.FailNextBackup()
	sim.FailNextRestore()
	sim.Reset()
	if len(sim.Backups()) != 0 || len(sim.ServiceInstanceBackups()) != 0 || len(sim.Restores()) != 0 {
		t.Errorf("after reset: %v %v %v", sim.Backups(), sim.ServiceInstanceBackups(), sim.Restores())
	}
	c.expect(http.StatusOK, http.MethodGet, "/_sim/state", nil).decode(t, &got)
	if got.Backups == nil || got.Restores == nil || got.ServiceInstanceBackups == nil {
		t.Errorf("empty lists must be [], not null: %+v", got)
	}
	db = c.provisioned(demoTest, ServicePostgres15, "DEFAULT")
	b = c.createBackup(backupBody(demoTest, db.UUID))
	if r := c.createRestore(restoreBody(b)); deref(b.Success) != BackupSuccess || deref(r.Success) != BackupSuccess {
		t.Errorf("reset kept a failure on demand: %+v %+v", b, r)
	}
}

func TestFaultsAndCountersCoverBackups(t *testing.T) {
	sim, c, _ := testSim(t, Options{})
	db := c.provisioned(demoTest, ServicePostgres15, "DEFAULT")
	sim.SetFaults(Faults{FailRate: 1})
	if r := c.do(http.MethodPost, backupsPath, backupBody(demoTest, db.UUID)); r.status < 500 {
		t.Errorf("with every request failing, a backup create got %d", r.status)
	}
	if n := len(sim.Backups()); n != 0 {
		t.Errorf("an injected 5xx applied the create: %d backups", n)
	}
	sim.SetFaults(Faults{DropResponseRate: 1})
	req, _ := http.NewRequest(http.MethodPost, c.base+backupsPath, strings.NewReader(`{"environment": "`+demoTest+`", "services": ["`+db.UUID+`"], "trigger": "MANUAL"}`))
	req.Header.Set("Authorization", "Token "+DemoToken)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("with every answer dropped, a create was answered %d", resp.StatusCode)
	}
	if n := len(sim.Backups()); n != 1 {
		t.Errorf("a create whose answer was dropped left %d backups, want it applied", n)
	}
	sim.SetFaults(Faults{})
	c.createBackup(backupBody(demoTest, db.UUID))
	for _, path := range []string{"GET /apps/v3/backups/{id}/", "GET /apps/v3/service-instance-backups/{id}/", "GET /apps/v3/backup-restores/{id}/"} {
		method, pattern, _ := strings.Cut(path, " ")
		c.do(method, strings.Replace(pattern, "{id}", "nope", 1), nil)
	}
	got := sim.Counters()
	for key, want := range map[string]int{
		"POST /apps/v3/backups/": 3, "GET /apps/v3/backups/{id}/": 1,
		"GET /apps/v3/service-instance-backups/{id}/": 1, "GET /apps/v3/backup-restores/{id}/": 1,
	} {
		if got.Requests[key] != want {
			t.Errorf("counted %d %s, want %d", got.Requests[key], key, want)
		}
	}
	if got.Injected5xx != 1 || got.DroppedResponses != 1 {
		t.Errorf("counters %+v", got)
	}
}

// restoreFixture holds two backups with data: one of a postgres-15 database
// and an s3 bucket of demo-app's test environment, one of a postgres-16
// database of its live environment.
type restoreFixture struct {
	c                *apiClient
	db, media, db16  Instance
	backup, backup16 Backup
}

func newRestoreFixture(t *testing.T) restoreFixture {
	t.Helper()
	_, c, _ := testSim(t, Options{})
	f := restoreFixture{c: c}
	f.db = c.provisioned(demoTest, ServicePostgres15, "DEFAULT")
	f.media = c.provisioned(demoTest, ServiceS3, "MEDIA")
	f.db16 = c.provisioned(demoLive, ServicePostgres16, "DEFAULT")
	c.putData(f.db.UUID, "orders on 15")
	c.putData(f.media.UUID, "photos")
	c.putData(f.db16.UUID, "orders on 16")
	f.backup = c.createBackup(backupBody(demoTest, f.db.UUID, f.media.UUID))
	f.backup16 = c.createBackup(backupBody(demoLive, f.db16.UUID))
	// What was backed up is what a restore writes, whatever the instances hold since.
	c.putData(f.db.UUID, "orders, later")
	c.putData(f.db16.UUID, "orders on 16, later")
	return f
}

func (f restoreFixture) dbPart() string    { return f.backup.ServiceInstanceBackups[0] }
func (f restoreFixture) mediaPart() string { return f.backup.ServiceInstanceBackups[1] }
func (f restoreFixture) db16Part() string  { return f.backup16.ServiceInstanceBackups[0] }

// TestRestoreIntoAnotherInstance restores a part into the instance a request
// names: one of the same type running the same engine in the same or a newer
// version, in any environment of an application of the backup's organisation.
// The target keeps its status, and its data becomes the part's.
func TestRestoreIntoAnotherInstance(t *testing.T) {
	tests := []struct {
		name     string
		target   func(f restoreFixture) string // "" = the default, the instance it was taken from
		backup   func(f restoreFixture) (Backup, string)
		want     int
		message  string // part of the 400's or the 409's message
		wantData string
	}{
		{"by default into its own instance", nil, restoreOf15, 201, "", "orders on 15"},
		{"postgres-15 into postgres-16 of the same environment", func(f restoreFixture) string {
			return f.c.provisioned(demoTest, ServicePostgres16, "NEW").UUID
		}, restoreOf15, 201, "", "orders on 15"},
		{"into an attached instance of another environment", func(f restoreFixture) string { return f.db16.UUID }, restoreOf15, 201, "", "orders on 15"},
		{"into a detached instance", func(f restoreFixture) string {
			return forcedInstance(f.c, demoTest, ServicePostgres15, "OLD", StatusDetached)
		}, restoreOf15, 201, "", "orders on 15"},
		{"into another application of the organisation", func(f restoreFixture) string {
			return f.c.provisioned(azureTest, ServicePostgres15, "DEFAULT").UUID
		}, restoreOf15, 201, "", "orders on 15"},
		{"postgres-16 into postgres-16", func(f restoreFixture) string {
			return f.c.provisioned(demoTest, ServicePostgres16, "NEW").UUID
		}, restoreOf16, 201, "", "orders on 16"},
		{"postgres-16 into the older postgres-15", func(f restoreFixture) string { return f.db.UUID }, restoreOf16, 400,
			"runs postgres-15: a backup of postgres-16 restores into the same engine, in the same or a newer version.", ""},
		{"postgres into mysql", func(f restoreFixture) string {
			return f.c.provisioned(demoTest, ServiceMySQL8, "MYSQL").UUID
		}, restoreOf15, 400, "runs mysql-8: a backup of postgres-15 restores into the same engine", ""},
		{"a database into storage", func(f restoreFixture) string { return f.media.UUID }, restoreOf15, 400,
			"is a STORAGE instance: a DATABASE backup restores into a DATABASE instance.", ""},
		{"s3 into azure blob storage", func(f restoreFixture) string {
			return f.c.provisioned(azureTest, ServiceMSBlob, "MEDIA").UUID
		}, func(f restoreFixture) (Backup, string) { return f.backup, f.mediaPart() }, 400, "runs ms-blob: a backup of s3", ""},
		{"into another organisation", func(f restoreFixture) string {
			return SeedInstanceID(LegacyApp, EnvTest, ServicePostgres15, "DEFAULT")
		}, restoreOf15, 400, "belongs to an application of another organisation", ""},
		{"into a NEW instance", func(f restoreFixture) string {
			return f.c.createInstance(demoTest, ServicePostgres16, "NEW").UUID
		}, restoreOf15, 409, "is NEW: it must be provisioned", ""},
		{"into an unknown instance", func(restoreFixture) string { return "unknown" }, restoreOf15, 409,
			"The service instance unknown does not exist or has been removed", ""},
		{"into a removed instance", func(f restoreFixture) string {
			in := f.c.provisioned(demoTest, ServicePostgres16, "GONE")
			f.c.expect(http.StatusNoContent, http.MethodDelete, "/apps/v3/service-instances/"+in.UUID+"/", nil)
			return in.UUID
		}, restoreOf15, 409, "does not exist or has been removed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRestoreFixture(t)
			b, part := tt.backup(f)
			target, source := "", f.db.UUID
			item := map[string]string{"service_instance_backup": part}
			if tt.target != nil {
				target = tt.target(f)
				item["service_instance"] = target
			}
			if part == f.db16Part() {
				source = f.db16.UUID
			} else if part == f.mediaPart() {
				source = f.media.UUID
			}
			written := cmp.Or(target, source)
			statusBefore := f.c.instanceStatus(written)
			before := ""
			if statusBefore != StatusRemoved { // unknown or removed: no data to compare
				before = f.c.dataOf(written)
			}
			r := f.c.expect(tt.want, http.MethodPost, restoresPath, map[string]any{"backup": b.UUID, "service_instance_restores": []map[string]string{item}})
			switch tt.want {
			case http.StatusBadRequest:
				if got := fieldMessage(t, r, "service_instance_restores"); !strings.Contains(got, tt.message) {
					t.Errorf("message %q, want %q", got, tt.message)
				}
			case http.StatusConflict:
				if got, _ := r.object(t)["detail"].(string); !strings.Contains(got, tt.message) {
					t.Errorf("detail %q, want %q", got, tt.message)
				}
			}
			want := tt.wantData
			if tt.want != http.StatusCreated {
				want = before
			}
			if statusBefore == StatusRemoved {
				return
			}
			if got := f.c.dataOf(written); got != want {
				t.Errorf("data of %s: %q, want %q", written, got, want)
			}
			if got := f.c.instanceStatus(written); got != statusBefore {
				t.Errorf("status %s, was %s", got, statusBefore)
			}
			if target != "" && target != source && f.c.dataOf(source) != map[string]string{f.db.UUID: "orders, later", f.db16.UUID: "orders on 16, later", f.media.UUID: "photos"}[source] {
				t.Errorf("the source's data changed: %q", f.c.dataOf(source))
			}
		})
	}
}

func restoreOf15(f restoreFixture) (Backup, string) { return f.backup, f.dbPart() }
func restoreOf16(f restoreFixture) (Backup, string) { return f.backup16, f.db16Part() }

// TestRestoreOfSeveralParts writes each part where its item says, all or
// nothing, and refuses two items with one target.
func TestRestoreOfSeveralParts(t *testing.T) {
	f := newRestoreFixture(t)
	c := f.c
	newDB := c.provisioned(demoTest, ServicePostgres16, "NEW")
	body := map[string]any{"backup": f.backup.UUID, "service_instance_restores": []map[string]string{
		{"service_instance_backup": f.dbPart(), "service_instance": newDB.UUID},
		{"service_instance_backup": f.mediaPart()},
	}}
	c.putData(f.media.UUID, "photos, later")
	r := c.createRestore(body)
	if !r.Finished || deref(r.Success) != BackupSuccess || len(r.ServiceInstanceRestores) != 2 || r.ServiceInstanceRestores[0].ServiceInstance != newDB.UUID {
		t.Fatalf("restore %+v", r)
	}
	if c.dataOf(newDB.UUID) != "orders on 15" || c.dataOf(f.media.UUID) != "photos" || c.dataOf(f.db.UUID) != "orders, later" {
		t.Errorf("data %q %q %q", c.dataOf(newDB.UUID), c.dataOf(f.media.UUID), c.dataOf(f.db.UUID))
	}

	c.putData(newDB.UUID, "fresh")
	c.expect(http.StatusNoContent, http.MethodPost, "/_sim/fail-next-restore", nil)
	if r := c.createRestore(body); deref(r.Success) != BackupFailure || c.dataOf(newDB.UUID) != "fresh" {
		t.Errorf("a failed restore: %+v, and it wrote %q", r, c.dataOf(newDB.UUID))
	}
	twice := map[string]any{"backup": f.backup.UUID, "service_instance_restores": []map[string]string{
		{"service_instance_backup": f.dbPart(), "service_instance": newDB.UUID},
		{"service_instance_backup": f.dbPart(), "service_instance": newDB.UUID},
	}}
	if msg := fieldMessage(t, c.expect(http.StatusBadRequest, http.MethodPost, restoresPath, twice), "service_instance_restores"); !strings.Contains(msg, "Item 2: service instance "+newDB.UUID+" is the target of another item.") {
		t.Errorf("message %q", msg)
	}
}

func forcedInstance(c *apiClient, env, identifier, prefix, status string) string {
	c.t.Helper()
	in := c.createInstance(env, identifier, prefix)
	c.expect(http.StatusOK, http.MethodPatch, "/_sim/service-instances/"+in.UUID, map[string]string{"service_status": status})
	return in.UUID
}

func (c *apiClient) instanceStatus(id string) string {
	c.t.Helper()
	r := c.do(http.MethodGet, "/apps/v3/service-instances/"+id+"/", nil)
	if r.status == http.StatusNotFound {
		return StatusRemoved
	}
	var in Instance
	r.decode(c.t, &in)
	return in.Status
}

// TestBackupTakesDataAsItStarts: a part captures its instance's data when the
// backup starts working; what is written later is not in it. Its answer has
// exactly the contract's fields, errors a list.
func TestBackupTakesDataAsItStarts(t *testing.T) {
	_, c, clock := testSim(t, Options{BackupDelay: 8 * time.Second})
	db := c.provisioned(demoTest, ServicePostgres15, "DEFAULT")
	c.putData(db.UUID, "queued")
	b := c.createBackup(backupBody(demoTest, db.UUID))
	clock.Advance(time.Second)
	c.putData(db.UUID, "as it starts")
	clock.Advance(time.Second) // WORKING: taken
	c.putData(db.UUID, "while it runs")
	clock.Advance(6 * time.Second)

	raw := c.get(partsPath + b.ServiceInstanceBackups[0] + "/")
	keys := slices.Sorted(maps.Keys(raw))
	want := []string{"backup", "ended_at", "errors", "prefix", "queued_at", "service_instance", "service_type", "size", "started_at", "taken_at", "uuid"}
	if !slices.Equal(keys, want) {
		t.Errorf("fields %v, want %v", keys, want)
	}
	if errs, isList := raw["errors"].([]any); !isList || len(errs) != 0 {
		t.Errorf("errors %#v, want []", raw["errors"])
	}
	backupKeys := slices.Sorted(maps.Keys(c.get(backupsPath + b.UUID + "/")))
	if want := []string{"created_at", "environment", "notes", "scheduled_for_deletion_at", "service_instance_backups", "state", "success", "trigger", "uuid"}; !slices.Equal(backupKeys, want) {
		t.Errorf("backup fields %v, want %v", backupKeys, want)
	}

	c.createRestore(restoreBody(b))
	clock.Advance(8 * time.Second)
	if got := c.dataOf(db.UUID); got != "as it starts" {
		t.Errorf("restored %q, want the data as the backup started", got)
	}
}
