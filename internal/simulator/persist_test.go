package simulator

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// startAt runs a simulator on a fake clock set to at, for restart tests.
func startAt(t *testing.T, opts Options, at time.Time) (*Simulator, *apiClient, *fakeClock) {
	t.Helper()
	clock := &fakeClock{t: at}
	sim, err := newSimulator(opts, clock.Now)
	if err != nil {
		t.Fatalf("newSimulator: %v", err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = sim.Close() })
	return sim, &apiClient{t: t, base: srv.URL, token: DemoToken}, clock
}

func TestRestartKeepsStateAndWorkInFlight(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	opts := Options{DataFile: file, ProvisionDelay: 10 * time.Second, DeployDelay: 10 * time.Second}

	sim, c, clock := startAt(t, opts, t0)
	provisioning := c.createInstance(demoTest, ServicePostgres15, "DEFAULT")
	c.action(provisioning.UUID, "provision")
	attaching := c.createInstance(demoTest, ServiceS3, "DEFAULT")
	deploy := c.deploy(demoTest)
	clock.Advance(time.Second)
	if err := sim.Close(); err != nil {
		t.Fatal(err)
	}

	// Restarted before anything is due: nothing moved, nothing lost.
	sim2, c2, _ := startAt(t, opts, t0.Add(5*time.Second))
	if got := c2.instance(provisioning.UUID); got.Status != StatusProvisioning {
		t.Fatalf("after restart: %s, want PROVISIONING", got.Status)
	}
	if got := c2.deployment(deploy.UUID); got.Status != DeploymentWorking {
		t.Fatalf("after restart: %s, want WORKING", got.Status)
	}
	c2.expect(http.StatusConflict, http.MethodPost, "/apps/v3/deployments/", map[string]string{"environment": demoTest})
	if err := sim2.Close(); err != nil {
		t.Fatal(err)
	}

	// Restarted after both were due: they happened on schedule while down,
	// and the deployment attached both instances, pending when it started.
	_, c3, _ := startAt(t, opts, t0.Add(time.Minute))
	if got := c3.instance(provisioning.UUID); got.Status != StatusAttached || !got.CreatedAt.Equal(provisioning.CreatedAt) {
		t.Errorf("after restart: %+v", got)
	}
	if got := c3.instance(attaching.UUID); got.Status != StatusAttached {
		t.Errorf("after restart: %+v", got)
	}
	got := c3.deployment(deploy.UUID)
	if got.Status != DeploymentSuccess || got.EndedAt == nil || !got.EndedAt.Equal(t0.Add(10*time.Second)) {
		t.Errorf("deployment after restart: %+v", got)
	}
	env := c3.expect(http.StatusOK, http.MethodGet, "/apps/v3/environments/"+demoTest+"/", nil).object(t)
	if last, _ := env["last_finished_deployment"].(map[string]any); last["uuid"] != deploy.UUID {
		t.Errorf("environment %v", env)
	}
	if n := len(c3.listAll("/apps/v3/environment-variables/?environment=" + demoTest)); n != 3 {
		t.Errorf("%d variables, want 3", n)
	}
	assertNoTempFiles(t, filepath.Dir(file))
}

func TestPasswordsSurviveRestart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	sim, c, _ := startAt(t, Options{DataFile: file}, t0)
	in := c.createInstance(demoTest, ServicePostgres15, "DEFAULT")
	c.action(in.UUID, "provision")
	before := c.listAll("/apps/v3/environment-variables/")
	_ = sim.Close()
	_, c2, _ := startAt(t, Options{DataFile: file}, t0)
	if after := c2.listAll("/apps/v3/environment-variables/"); after[0]["value"] != before[0]["value"] {
		t.Errorf("DSN changed across restart: %v -> %v", before[0]["value"], after[0]["value"])
	}
}

func TestTickerCatchesUpTheFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	_, c, clock := startAt(t, Options{DataFile: file, ProvisionDelay: time.Second}, t0)
	in := c.createInstance(demoTest, ServicePostgres15, "DEFAULT")
	c.action(in.UUID, "provision")
	clock.Advance(time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		st, err := loadState(file)
		if err != nil {
			t.Fatal(err)
		}
		if st.Instances[len(st.Instances)-1].Status == StatusPendingAttachment {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Error("the data file never caught up without requests")
}

func TestDataFileSetUp(t *testing.T) {
	dir := t.TempDir()
	t.Run("missing file is seeded and written", func(t *testing.T) {
		file := filepath.Join(dir, "new.json")
		_, c, _ := startAt(t, Options{DataFile: file, Dataset: DatasetBench}, t0)
		if _, err := os.Stat(file); err != nil {
			t.Fatalf("no data file after start: %v", err)
		}
		if n := len(c.listAll("/apps/v3/applications/")); n != 4 {
			t.Errorf("%d applications", n)
		}
	})
	t.Run("the file's dataset is used when none is asked for", func(t *testing.T) {
		_, c, _ := startAt(t, Options{DataFile: filepath.Join(dir, "new.json")}, t0)
		if n := len(c.listAll("/apps/v3/applications/")); n != 4 {
			t.Errorf("%d applications, want bench's 4", n)
		}
	})
	t.Run("another dataset is refused", func(t *testing.T) {
		_, err := New(Options{DataFile: filepath.Join(dir, "new.json"), Dataset: DatasetDemo})
		if err == nil || !strings.Contains(err.Error(), "bench") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("a corrupt file is refused", func(t *testing.T) {
		file := filepath.Join(dir, "corrupt.json")
		if err := os.WriteFile(file, []byte("{not json"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := New(Options{DataFile: file}); err == nil {
			t.Error("accepted a corrupt data file")
		}
	})
	t.Run("an unknown dataset is refused", func(t *testing.T) {
		if _, err := New(Options{Dataset: "huge"}); err == nil {
			t.Error("accepted dataset huge")
		}
	})
	t.Run("impossible faults are refused", func(t *testing.T) {
		if _, err := New(Options{Faults: Faults{FailRate: 2}}); err == nil {
			t.Error("accepted fail rate 2")
		}
	})
	t.Run("an unwritable directory is refused", func(t *testing.T) {
		if _, err := New(Options{DataFile: filepath.Join(dir, "missing-dir", "state.json")}); err == nil {
			t.Error("accepted a data file that cannot be written")
		}
	})
	assertNoTempFiles(t, dir)
}

func TestResetIsPersisted(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	sim, c, _ := startAt(t, Options{DataFile: file}, t0)
	c.createInstance(demoTest, ServicePostgres15, "DEFAULT")
	sim.Reset()
	st, err := loadState(file)
	if err != nil || len(st.Instances) != seededInstances {
		t.Errorf("after reset the file holds %v (%v)", st, err)
	}
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

// TestRestartKeepsDeploymentInFlight restarts while a deployment runs: its
// plan, progress, log and the variables it gives survive, and an instance
// added while it ran still waits for the next deployment.
func TestRestartKeepsDeploymentInFlight(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	opts := Options{DataFile: file, DeployDelay: 10 * time.Second}
	sim, c, _ := startAt(t, opts, t0)
	planned := c.createInstance(demoTest, ServicePostgres15, "DEFAULT")
	d := c.deploy(demoTest)
	late := c.createInstance(demoTest, ServiceS3, "DEFAULT") // after the start: waits for the next deployment
	sim.DropVariablesNextDeploy()
	if err := sim.Close(); err != nil {
		t.Fatal(err)
	}

	sim2, c2, clock := startAt(t, opts, t0.Add(5*time.Second))
	if got := c2.deployment(d.UUID); got.Status != DeploymentWorking || got.Percent != 50 {
		t.Fatalf("after restart: %+v", got)
	}
	halfway := c2.logs(d.UUID)
	if !strings.Contains(halfway, "To attach: DEFAULT postgres-15") || !strings.Contains(halfway, "Building") || strings.Contains(halfway, "s3") {
		t.Errorf("log half way:\n%s", halfway)
	}
	clock.Advance(5 * time.Second)
	if got := c2.instance(planned.UUID); got.Status != StatusAttached {
		t.Errorf("planned instance %s", got.Status)
	}
	if got := c2.instance(late.UUID); got.Status != StatusNew {
		t.Errorf("instance added while it ran: %+v, want NEW", got)
	}
	ended := c2.deployment(d.UUID)
	vars := c2.get("/apps/v3/deployments/" + d.UUID + "/environment-variables")
	logs := c2.logs(d.UUID)
	dropped := c2.deploy(demoTest) // the fault was persisted too
	clock.Advance(10 * time.Second)
	if err := sim2.Close(); err != nil {
		t.Fatal(err)
	}

	_, c3, _ := startAt(t, opts, t0.Add(time.Minute))
	if got := c3.deployment(d.UUID); !slices.Equal(got.EnvironmentVariables, []string{"DATABASE_URL", "DEFAULT_DATABASE_DSN"}) ||
		!got.EndedAt.Equal(*ended.EndedAt) {
		t.Errorf("deployment after the second restart: %+v", got)
	}
	if got := c3.get("/apps/v3/deployments/" + d.UUID + "/environment-variables"); fmt.Sprint(got) != fmt.Sprint(vars) {
		t.Errorf("variables %v, were %v", got, vars)
	}
	if got := c3.logs(d.UUID); got != logs {
		t.Errorf("log\n%s\nwas\n%s", got, logs)
	}
	if got := c3.deployment(dropped.UUID); !slices.Equal(got.EnvironmentVariables, []string{"DATABASE_URL", "DEFAULT_DATABASE_DSN"}) {
		t.Errorf("the deployment after the restart attached s3 without its variables; listed %v", got.EnvironmentVariables)
	}
}

// TestLoadsDataFileWithoutPlans loads a data file written before deployments
// kept their plan, and before attach marks were dropped: a deployment it holds
// still runs, acting at its end on the instances as they stand then; the old
// attach_requested field is ignored.
func TestLoadsDataFileWithoutPlans(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	old := `{"dataset": "demo", "instances": [{"uuid": "old-instance", "environment": "` + demoTest + `", "region": "` + RegionID(RegionAWSEUCentral1) +
		`", "service": "` + ServiceID(ServicePostgres15) + `", "prefix": "DEFAULT", "type": "DATABASE", "service_status": "PENDING_ATTACHMENT",
		"attach_requested": true, "created_at": "2026-01-02T03:00:00Z", "password": "secret"}],
		"deployments": [{"uuid": "old-deployment", "environment": "` + demoTest + `", "status": "WORKING", "success": null,
		"started_at": "2026-01-02T03:04:00Z", "ended_at": null, "ends_at": "2026-01-02T03:05:00Z"}]}`
	if err := os.WriteFile(file, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	_, c, clock := startAt(t, Options{DataFile: file}, t0)
	if got := c.deployment("old-deployment"); got.Status != DeploymentWorking || len(got.EnvironmentVariables) != 0 {
		t.Fatalf("old deployment %+v", got)
	}
	clock.Advance(time.Minute)
	if got := c.deployment("old-deployment"); got.Status != DeploymentSuccess || !slices.Equal(got.EnvironmentVariables, []string{"DATABASE_URL", "DEFAULT_DATABASE_DSN"}) {
		t.Errorf("old deployment once ended: %+v", got)
	}
	if got := c.instance("old-instance"); got.Status != StatusAttached {
		t.Errorf("old instance %s", got.Status)
	}
	if n := len(c.listAll("/apps/v3/service-instances/?environment=" + legacyTest)); n != 0 {
		t.Errorf("the data file's state is the state: %d seeded instances added", n)
	}
}

// TestRestartKeepsWhatIsNew restarts in the middle of everything the contract
// added: the data of instances and backups, a restore into another instance,
// what a running deployment built with across a rename, the moved clock and
// the next scheduled backup.
func TestRestartKeepsWhatIsNew(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	opts := Options{DataFile: file, DeployDelay: 10 * time.Second, BackupDelay: 10 * time.Second, ScheduledBackups: true}
	sim, c, clock := startAt(t, opts, t0)
	db := c.provisioned(demoTest, ServicePostgres15, "DEFAULT")
	db16 := c.provisioned(demoTest, ServicePostgres16, "NEW")
	c.putData(db.UUID, "orders")
	b := c.createBackup(backupBody(demoTest, db.UUID))
	clock.Advance(10 * time.Second)
	r := c.createRestore(map[string]any{"backup": b.UUID, "service_instance_restores": []map[string]string{
		{"service_instance_backup": b.ServiceInstanceBackups[0], "service_instance": db16.UUID}}})
	d := c.deploy(demoTest)
	c.expect(http.StatusOK, http.MethodPatch, "/apps/v3/service-instances/"+db.UUID+"/", map[string]string{"prefix": "OLD"})
	dsn := c.listAll("/apps/v3/environment-variables/?name=OLD_DATABASE_DSN")[0]["value"]
	if _, err := sim.AdvanceClock(5 * time.Second); err != nil { // half way through the restore and the deployment
		t.Fatal(err)
	}
	if err := sim.Close(); err != nil {
		t.Fatal(err)
	}

	// Restarted: the clock is 5s ahead of the machine's, as it was; both are
	// still running, and end on time.
	_, c2, _ := startAt(t, opts, t0.Add(10*time.Second))
	if got := c2.get("/_sim/clock"); got["now"] != t0.Add(15*time.Second).Format(time.RFC3339) || got["offset"] != "5s" {
		t.Errorf("clock after the restart: %v", got)
	}
	if got := c2.deployment(d.UUID); got.Status != DeploymentWorking || c2.restore(r.UUID).Finished || c2.dataOf(db16.UUID) != "" {
		t.Errorf("after the restart: %+v, %+v", got, c2.restore(r.UUID))
	}
	c2.expect(http.StatusOK, http.MethodPost, "/_sim/clock", map[string]string{"advance": "5s"})
	if c2.dataOf(db.UUID) != "orders" || c2.dataOf(db16.UUID) != "orders" || deref(c2.restore(r.UUID).Success) != BackupSuccess {
		t.Errorf("data after the restart: %q, %q", c2.dataOf(db.UUID), c2.dataOf(db16.UUID))
	}
	given := c2.get("/apps/v3/deployments/" + d.UUID + "/environment-variables")["environment_variables"].(map[string]any)
	if given["DEFAULT_DATABASE_DSN"] != dsn || given["NEW_DATABASE_DSN"] == nil || given["OLD_DATABASE_DSN"] != nil {
		t.Errorf("the deployment gave %v; it was built with DEFAULT = %v", given, dsn)
	}
	if got := c2.listAll("/apps/v3/environment-variables/?name=OLD_DATABASE_DSN"); len(got) != 1 || got[0]["value"] != dsn {
		t.Errorf("the renamed instance publishes %v", got)
	}
	st, err := loadState(file)
	if err != nil || !st.NextScheduledBackupAt.Equal(time.Date(2026, 1, 3, scheduledBackupHour, 0, 0, 0, time.UTC)) {
		t.Errorf("next scheduled backup %v (%v)", st.NextScheduledBackupAt, err)
	}
	c2.expect(http.StatusOK, http.MethodPost, "/_sim/clock", map[string]string{"advance": "24h"})
	if n := len(c2.listAll(backupsPath + "?environment=" + demoTest)); n != 2 {
		t.Errorf("%d backups of demo test a day later, want the manual one and a scheduled one", n)
	}
}

// TestLoadsDataFileFromBeforeIssue19 loads what the simulator wrote before the
// contract was rewritten: instances with attach_requested, a failed part whose
// errors was a string, parts without queued_at and taken_at, a restore that
// named its targets, deployments spelt in capitals. All of it carries on.
func TestLoadsDataFileFromBeforeIssue19(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	region, pg := RegionID(RegionAWSEUCentral1), ServiceID(ServicePostgres15)
	old := `{"dataset": "demo",
		"instances": [{"uuid": "old-db", "environment": "` + demoTest + `", "region": "` + region + `", "service": "` + pg + `",
			"prefix": "DEFAULT", "type": "DATABASE", "service_status": "ATTACHED", "attach_requested": false,
			"created_at": "2026-01-02T03:00:00Z", "password": "secret"}],
		"deployments": [{"uuid": "old-deployment", "environment": "` + demoTest + `", "status": "SUCCESS", "success": true,
			"started_at": "2026-01-02T03:01:00Z", "ended_at": "2026-01-02T03:02:00Z", "ends_at": "2026-01-02T03:02:00Z",
			"plan": {"attach": ["old-db"], "detach": []}, "variables": {"DEFAULT_DATABASE_DSN": "x", "DATABASE_URL": "x"}}],
		"backups": [{"uuid": "old-backup", "environment": "` + demoTest + `", "state": "COMPLETED", "success": "FAILURE",
			"service_instance_backups": ["old-failed", "old-taken"], "notes": "", "scheduled_for_deletion_at": null,
			"trigger": "MANUAL", "created_at": "2026-01-02T03:03:00Z", "starts_at": "2026-01-02T03:03:00Z", "ends_at": "2026-01-02T03:03:01Z",
			"parts": [
				{"uuid": "old-failed", "backup": "old-backup", "service_instance": "old-db", "service_type": "DATABASE", "prefix": "DEFAULT",
				 "started_at": "2026-01-02T03:03:00Z", "ended_at": "2026-01-02T03:03:01Z", "errors": "it broke", "size": null},
				{"uuid": "old-taken", "backup": "old-backup", "service_instance": "old-db", "service_type": "DATABASE", "prefix": "DEFAULT",
				 "started_at": "2026-01-02T03:03:00Z", "ended_at": "2026-01-02T03:03:01Z", "errors": null, "size": 1048576}]}],
		"restores": [{"uuid": "old-restore", "backup": "old-backup", "service_instance_restores": [{"service_instance_backup": "old-taken"}],
			"notes": "", "finished": false, "success": null, "errors": null, "created_at": "2026-01-02T03:04:00Z",
			"targets": ["old-db"], "ends_at": "2026-01-02T03:04:30Z"}]}`
	if err := os.WriteFile(file, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	_, c, clock := startAt(t, Options{DataFile: file}, t0)
	failed, taken := c.part("old-failed"), c.part("old-taken")
	if !slices.Equal(failed.Errors, []string{"it broke"}) || failed.TakenAt != nil || !failed.QueuedAt.Equal(t0.Add(-time.Minute-5*time.Second)) {
		t.Errorf("failed part %+v", failed)
	}
	if taken.Errors == nil || len(taken.Errors) != 0 || taken.TakenAt == nil || !taken.TakenAt.Equal(*taken.StartedAt) {
		t.Errorf("taken part %+v", taken)
	}
	if d := c.deployment("old-deployment"); d.Status != DeploymentSuccess || d.Region != region || !d.IsUsable {
		t.Errorf("deployment %+v", d)
	}
	before := c.listAll("/apps/v3/environment-variables/?environment=" + demoTest + "&name=DEFAULT_DATABASE_DSN")[0]["value"]
	c.expect(http.StatusOK, http.MethodPatch, "/apps/v3/service-instances/old-db/", map[string]string{"prefix": "MAIN"})
	if after := c.listAll("/apps/v3/environment-variables/?environment=" + demoTest + "&name=MAIN_DATABASE_DSN"); len(after) != 1 || after[0]["value"] != before {
		t.Errorf("renamed: %v, was %v", after, before)
	}
	clock.Advance(time.Minute)
	if r := c.restore("old-restore"); !r.Finished || deref(r.Success) != BackupSuccess {
		t.Errorf("restore %+v", r)
	}
	if got := c.instance("old-db"); got.Status != StatusAttached {
		t.Errorf("instance %+v", got)
	}
}
