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
