package simulator

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDeploymentPlanFixedAtStart changes an instance while a deployment
// runs: the deployment builds from the instances as they stood when it
// started, so the change waits for the next deployment.
func TestDeploymentPlanFixedAtStart(t *testing.T) {
	type change func(st *state, in *instanceRecord) error
	provision := func(st *state, in *instanceRecord) error { _, err := st.provision(in.UUID, t0); return err }
	attach := func(st *state, in *instanceRecord) error { _, err := st.attach(in.UUID); return err }
	detach := func(st *state, in *instanceRecord) error { _, err := st.detach(in.UUID); return err }
	remove := func(st *state, in *instanceRecord) error { return st.remove(in.UUID) }
	refused := func(c change) change {
		return func(st *state, in *instanceRecord) error {
			if err := c(st, in); !errors.As(err, new(conflictError)) {
				return fmt.Errorf("got %w, want a conflict", err)
			}
			return nil
		}
	}

	tests := []struct {
		name          string
		status        string // "" = added after the first deployment started
		whileRunning  []change
		afterFirst    string // status after the deployment that ran during the change
		afterNext     string // status after one more deployment
		firstLogLines []string
	}{
		{name: "added while running: attached by the next", whileRunning: nil,
			afterFirst: StatusNew, afterNext: StatusAttached,
			firstLogLines: []string{"No service instance to attach or detach."}},
		{name: "attached again while running: attached by the next", status: StatusDetached, whileRunning: []change{attach},
			afterFirst: StatusPendingAttachment, afterNext: StatusAttached,
			firstLogLines: []string{"No service instance to attach or detach."}},
		{name: "detached while running: still used, detached by the next", status: StatusAttached, whileRunning: []change{detach},
			afterFirst: StatusPendingDetachment, afterNext: StatusDetached},
		{name: "detachment under way: attach refused, detached", status: StatusPendingDetachment, whileRunning: []change{refused(attach)},
			afterFirst: StatusDetached, afterNext: StatusDetached,
			firstLogLines: []string{"To detach: DEFAULT postgres-15", "Detached DEFAULT postgres-15"}},
		{name: "NEW provisioned while running: attached", status: StatusNew, whileRunning: []change{provision},
			afterFirst: StatusAttached, afterNext: StatusAttached,
			firstLogLines: []string{"To attach: DEFAULT postgres-15", "Attached DEFAULT postgres-15"}},
		{name: "pending attachment: detach refused, attached", status: StatusPendingAttachment, whileRunning: []change{refused(detach)},
			afterFirst: StatusAttached, afterNext: StatusAttached},
		{name: "NEW removed while running: not attached", status: StatusNew, whileRunning: []change{remove},
			afterFirst: StatusRemoved, afterNext: StatusRemoved,
			firstLogLines: []string{"Could not attach DEFAULT postgres-15", "it was removed while the deployment ran."}},
		{name: "detached instance stays detached", status: StatusDetached,
			afterFirst: StatusDetached, afterNext: StatusDetached},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := demoState(t)
			st.deployDelay = 10 * time.Second
			var in *instanceRecord
			if tt.status != "" {
				in = instanceIn(t, st, tt.status)
			}
			first, err := st.createDeployment(createDeploymentRequest{Environment: demoTest}, t0)
			if err != nil {
				t.Fatal(err)
			}
			if in == nil {
				in = instanceIn(t, st, StatusNew)
			}
			for _, change := range tt.whileRunning {
				if err := change(st, in); err != nil {
					t.Fatal(err)
				}
			}
			st.advance(t0.Add(10 * time.Second))
			if first.Status != DeploymentSuccess || in.Status != tt.afterFirst {
				t.Fatalf("after the first deployment (%s): %s, want %s", first.Status, in.Status, tt.afterFirst)
			}
			for _, line := range tt.firstLogLines {
				if log := first.logText(t0.Add(10 * time.Second)); !strings.Contains(log, line) {
					t.Errorf("log lacks %q:\n%s", line, log)
				}
			}
			if _, err := st.createDeployment(createDeploymentRequest{Environment: demoTest}, t0.Add(20*time.Second)); err != nil {
				t.Fatal(err)
			}
			st.advance(t0.Add(30 * time.Second))
			if in.Status != tt.afterNext {
				t.Errorf("after the next deployment: %s, want %s", in.Status, tt.afterNext)
			}
		})
	}
}

// TestDeploymentVariables follows rule 8: an attached instance's variables
// appear in the deployment that attached it and in later ones, a detached
// one's are gone from the next; a running or failed deployment gave none.
func TestDeploymentVariables(t *testing.T) {
	sim, c, clock := testSim(t, Options{DeployDelay: 4 * time.Second})
	db := c.createInstance(demoTest, ServicePostgres15, "DEFAULT")
	media := c.createInstance(demoTest, ServiceS3, "MEDIA")

	type step struct {
		name    string
		before  func()
		success bool
		want    []string // environment_variables once ended
	}
	steps := []step{
		{"attach both", nil, true, []string{"DATABASE_URL", "DEFAULT_DATABASE_DSN", "MEDIA_STORAGE_DSN"}},
		{"nothing changed", nil, true, []string{"DATABASE_URL", "DEFAULT_DATABASE_DSN", "MEDIA_STORAGE_DSN"}},
		{"detach the database, failed", func() { c.action(db.UUID, "detach"); sim.FailNextDeploy() }, false, []string{}},
		// Still attached (rule 3): the detachment is asked for again.
		{"detach the database", func() { c.action(db.UUID, "detach") }, true, []string{"MEDIA_STORAGE_DSN"}},
		{"detach the storage", func() { c.action(media.UUID, "detach") }, true, []string{}},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		d := c.deploy(demoTest)
		if got := c.expect(http.StatusOK, http.MethodGet, "/apps/v3/deployments/"+d.UUID+"/", nil).object(t)["environment_variables"]; got == nil || len(got.([]any)) != 0 {
			t.Errorf("%s: a running deployment lists %v, want []", s.name, got)
		}
		clock.Advance(4 * time.Second)
		var got deploymentView
		c.expect(http.StatusOK, http.MethodGet, "/apps/v3/deployments/"+d.UUID+"/", nil).decode(t, &got)
		if *got.Success != s.success || !slices.Equal(got.EnvironmentVariables, s.want) {
			t.Errorf("%s: success %v, variables %v; want %v, %v", s.name, *got.Success, got.EnvironmentVariables, s.success, s.want)
		}

		// deployments/<uuid>/environment-variables gives the same names with
		// the values the application got, which the variables list shows.
		var given struct {
			Environment          string            `json:"environment"`
			EnvironmentVariables map[string]string `json:"environment_variables"`
		}
		c.expect(http.StatusOK, http.MethodGet, "/apps/v3/deployments/"+d.UUID+"/environment-variables", nil).decode(t, &given)
		if given.Environment != demoTest || len(given.EnvironmentVariables) != len(s.want) {
			t.Errorf("%s: environment-variables %+v", s.name, given)
		}
		for _, name := range s.want {
			listed := c.listAll("/apps/v3/environment-variables/?environment=" + demoTest + "&name=" + name)
			if len(listed) != 1 || listed[0]["value"] != given.EnvironmentVariables[name] {
				t.Errorf("%s: %s given as %q, listed as %v", s.name, name, given.EnvironmentVariables[name], listed)
			}
		}
	}
}

func TestDropVariablesNextDeploy(t *testing.T) {
	sim, c, _ := testSim(t, Options{})
	c.createInstance(demoTest, ServiceS3, "DEFAULT")
	c.deploy(demoTest)
	db := c.createInstance(demoTest, ServicePostgres15, "DEFAULT")

	// The instance it attaches loses its variables; the one attached before keeps them.
	sim.DropVariablesNextDeploy()
	dropped := c.deploy(demoTest)
	if dropped.Status != DeploymentSuccess || c.instance(db.UUID).Status != StatusAttached {
		t.Fatalf("deployment %s, instance %s: want SUCCESS and ATTACHED", dropped.Status, c.instance(db.UUID).Status)
	}
	if got := c.deployment(dropped.UUID); !slices.Equal(got.EnvironmentVariables, []string{"DEFAULT_STORAGE_DSN"}) {
		t.Errorf("variables of the deployment with the fault: %v, want [DEFAULT_STORAGE_DSN]", got.EnvironmentVariables)
	}

	// Over the admin API; the next deployment of any environment takes it.
	c.expect(http.StatusNoContent, http.MethodPost, "/_sim/drop-variables-next-deploy", nil)
	c.deploy(demoLive)
	if got := c.deployment(c.deploy(demoTest).UUID); len(got.EnvironmentVariables) != 3 {
		t.Errorf("the fault outlived the live deployment: %v", got.EnvironmentVariables)
	}
	c.action(db.UUID, "detach")
	c.deploy(demoTest)
	c.action(db.UUID, "attach")
	c.expect(http.StatusNoContent, http.MethodPost, "/_sim/drop-variables-next-deploy", nil)
	dropped = c.deploy(demoTest)
	if got := c.deployment(dropped.UUID); !slices.Equal(got.EnvironmentVariables, []string{"DEFAULT_STORAGE_DSN"}) {
		t.Errorf("after POST /_sim/drop-variables-next-deploy: %v", got.EnvironmentVariables)
	}
	logs := c.logs(dropped.UUID)
	if !strings.Contains(logs, "Attached DEFAULT postgres-15 (DATABASE, instance "+db.UUID+"); gave the application none of its variables.") {
		t.Errorf("logs:\n%s", logs)
	}
	if got := c.deployment(c.deploy(demoTest).UUID); !slices.Equal(got.EnvironmentVariables, []string{"DATABASE_URL", "DEFAULT_DATABASE_DSN", "DEFAULT_STORAGE_DSN"}) {
		t.Errorf("the deployment after: %v", got.EnvironmentVariables)
	}
}

func TestDeploymentPercent(t *testing.T) {
	sim, c, clock := testSim(t, Options{DeployDelay: 4 * time.Second})
	tests := []struct {
		fail    bool
		elapsed time.Duration
		want    int
		ended   bool
	}{
		{false, 0, 0, false},
		{false, time.Second, 25, false},
		{false, 2 * time.Second, 50, false},
		{false, 3999 * time.Millisecond, 99, false},
		{false, 4 * time.Second, 100, true},
		{true, 3 * time.Second, 75, false},
		{true, 4 * time.Second, 100, true},
	}
	var d deploymentView
	var elapsed time.Duration
	for i, tt := range tests {
		if i == 0 || tests[i-1].ended {
			if tt.fail {
				sim.FailNextDeploy()
			}
			d, elapsed = c.deploy(demoTest), 0
		}
		clock.Advance(tt.elapsed - elapsed)
		elapsed = tt.elapsed
		got := c.deployment(d.UUID)
		if got.Percent != tt.want || (got.EndedAt != nil) != tt.ended {
			t.Errorf("after %v (fail=%v): percent %d, ended_at %v; want %d, ended %v", tt.elapsed, tt.fail, got.Percent, got.EndedAt, tt.want, tt.ended)
		}
	}
}

// TestDeploymentLogs reads the log while the deployment runs and once it
// ended: lines appear as it progresses, and say what it did or why it failed.
func TestDeploymentLogs(t *testing.T) {
	sim, c, clock := testSim(t, Options{DeployDelay: 4 * time.Second})
	db := c.createInstance(demoTest, ServicePostgres15, "DEFAULT")
	desc := "DEFAULT postgres-15 (DATABASE, instance " + db.UUID + ")"
	stamp := func(d time.Duration) string { return t0.Add(d).Format(time.RFC3339) + " " }

	tests := []struct {
		name  string
		fail  bool
		at    time.Duration
		lines []string
	}{
		{"attach, at start", false, 0, []string{
			stamp(0) + "Deployment of environment test of demo-app started.",
			stamp(0) + "To attach: " + desc + ".",
		}},
		{"attach, half way", false, 2 * time.Second, []string{
			stamp(0) + "Deployment of environment test of demo-app started.",
			stamp(0) + "To attach: " + desc + ".",
			stamp(2*time.Second) + "Building the application from branch main.",
		}},
		{"attach, ended", false, 4 * time.Second, []string{
			stamp(0) + "Deployment of environment test of demo-app started.",
			stamp(0) + "To attach: " + desc + ".",
			stamp(2*time.Second) + "Building the application from branch main.",
			stamp(4*time.Second) + "Provisioned " + desc + ".",
			stamp(4*time.Second) + "Attached " + desc + "; gave the application DEFAULT_DATABASE_DSN, DATABASE_URL.",
			stamp(4*time.Second) + "Deployment succeeded; the application has 2 variables from service instances.",
		}},
		{"failed detach, ended", true, 8 * time.Second, []string{
			stamp(4*time.Second) + "Deployment of environment test of demo-app started.",
			stamp(4*time.Second) + "To detach: " + desc + ".",
			stamp(6*time.Second) + "Building the application from branch main.",
			stamp(8*time.Second) + "Deployment failed: the build failed (injected with fail-next-deploy). " +
				"Nothing was provisioned, attached or detached; the application keeps running its previous configuration.",
			stamp(8*time.Second) + desc + " stays attached.",
		}},
		{"detach, ended", false, 12 * time.Second, []string{
			stamp(8*time.Second) + "Deployment of environment test of demo-app started.",
			stamp(8*time.Second) + "To detach: " + desc + ".",
			stamp(10*time.Second) + "Building the application from branch main.",
			stamp(12*time.Second) + "Detached " + desc + "; the application no longer gets DEFAULT_DATABASE_DSN, DATABASE_URL.",
			stamp(12*time.Second) + "Deployment succeeded; the application has 0 variables from service instances.",
		}},
	}
	var d deploymentView
	elapsed := time.Duration(0)
	for _, tt := range tests {
		if d.UUID == "" || c.deployment(d.UUID).EndedAt != nil {
			if d.UUID != "" {
				c.action(db.UUID, "detach") // asked again after a failed detachment: it stays attached
			}
			if tt.fail {
				sim.FailNextDeploy()
			}
			d = c.deploy(demoTest)
		}
		clock.Advance(tt.at - elapsed)
		elapsed = tt.at
		got := c.expect(http.StatusOK, http.MethodGet, "/apps/v3/deployments/"+d.UUID+"/logs", nil).object(t)
		if want := strings.Join(tt.lines, "\n") + "\n"; got["uuid"] != d.UUID || got["logs"] != want {
			t.Errorf("%s: logs\n%v\nwant\n%s", tt.name, got["logs"], want)
		}
	}
	c.expect(http.StatusNotFound, http.MethodGet, "/apps/v3/deployments/unknown/logs", nil)
	c.expect(http.StatusNotFound, http.MethodGet, "/apps/v3/deployments/unknown/environment-variables", nil)
}

// TestListDeployments asks as the Divio CLI does: application and
// environment, either of which may be blank, newest first.
func TestListDeployments(t *testing.T) {
	_, c, clock := testSim(t, Options{})
	var ids []string // oldest first
	for _, env := range []string{demoTest, demoLive, demoTest, azureTest} {
		ids = append(ids, c.deploy(env).UUID)
		clock.Advance(time.Second)
	}
	demoApp, azureApp := ApplicationID(DemoApp), ApplicationID(AzureApp)
	tests := []struct {
		query string
		want  []string
	}{
		{"?application=" + demoApp + "&environment=" + demoTest, []string{ids[2], ids[0]}},
		{"?application=" + demoApp + "&environment=", []string{ids[2], ids[1], ids[0]}},
		{"?application=" + demoApp, []string{ids[2], ids[1], ids[0]}},
		{"?environment=" + demoLive, []string{ids[1]}},
		{"?application=" + azureApp + "&environment=" + demoTest, []string{}}, // never another application's
		{"?application=" + azureApp + "&page_size=1", []string{ids[3]}},
		{"?application=" + ApplicationID(LegacyApp), []string{SeedDeploymentID(LegacyApp, EnvLive), SeedDeploymentID(LegacyApp, EnvTest)}},
		{"?application=unknown", []string{}},
		{"", []string{ids[3], ids[2], ids[1], ids[0], SeedDeploymentID(LegacyApp, EnvLive), SeedDeploymentID(LegacyApp, EnvTest)}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got := []string{}
			for _, d := range c.deployments(tt.query) {
				got = append(got, d.UUID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func (c *apiClient) deployments(query string) []deploymentView {
	c.t.Helper()
	var all []deploymentView
	for _, m := range c.listAll("/apps/v3/deployments/" + query) {
		var d deploymentView
		apiResponse{status: http.StatusOK, body: mustJSON(c.t, m)}.decode(c.t, &d)
		all = append(all, d)
	}
	return all
}

func (c *apiClient) logs(deploymentID string) string {
	c.t.Helper()
	logs, _ := c.expect(http.StatusOK, http.MethodGet, "/apps/v3/deployments/"+deploymentID+"/logs", nil).object(c.t)["logs"].(string)
	return logs
}

// TestDeploymentAttachesEveryPendingInstance starts a deployment as any
// client would, without asking to attach anything: it provisions and attaches
// every instance not yet attached (rule 1), detaches what is pending
// detachment, and leaves a detached instance and other environments alone.
func TestDeploymentAttachesEveryPendingInstance(t *testing.T) {
	_, c, _ := testSim(t, Options{ProvisionDelay: time.Hour})
	fresh := c.createInstance(demoTest, ServicePostgres15, "DEFAULT")
	provisioning := c.action(c.createInstance(demoTest, ServiceS3, "MEDIA").UUID, "provision")
	pending := c.createInstance(demoTest, ServiceRabbitMQ3, "DEFAULT")
	c.expect(http.StatusOK, http.MethodPatch, "/_sim/service-instances/"+pending.UUID, map[string]string{"service_status": StatusPendingAttachment})
	leaving := c.createInstance(demoTest, ServiceMySQL8, "LEAVING")
	c.expect(http.StatusOK, http.MethodPatch, "/_sim/service-instances/"+leaving.UUID, map[string]string{"service_status": StatusPendingDetachment})
	detached := c.createInstance(demoTest, ServicePostgres16, "OLD")
	c.expect(http.StatusOK, http.MethodPatch, "/_sim/service-instances/"+detached.UUID, map[string]string{"service_status": StatusDetached})
	elsewhere := c.createInstance(demoLive, ServicePostgres15, "DEFAULT")
	if provisioning.Status != StatusProvisioning {
		t.Fatalf("set-up: %s", provisioning.Status)
	}

	created := c.expect(http.StatusCreated, http.MethodPost, "/apps/v3/deployments/", map[string]string{"environment": demoTest}).object(t)
	d := c.deployment(created["uuid"].(string))
	if d.Status != DeploymentSuccess {
		t.Fatalf("deployment %+v", d)
	}
	for _, tt := range []struct {
		in   Instance
		want string
	}{
		{fresh, StatusAttached}, {provisioning, StatusAttached}, {pending, StatusAttached},
		{leaving, StatusDetached}, {detached, StatusDetached}, {elsewhere, StatusNew},
	} {
		if got := c.instance(tt.in.UUID); got.Status != tt.want {
			t.Errorf("%s %s: %s, want %s", tt.in.Type, tt.in.Prefix, got.Status, tt.want)
		}
	}
	want := []string{"BROKER_URL", "DATABASE_URL", "DEFAULT_AMQP_BROKER_URL", "DEFAULT_DATABASE_DSN", "MEDIA_STORAGE_DSN"}
	if !slices.Equal(d.EnvironmentVariables, want) {
		t.Errorf("variables %v, want %v", d.EnvironmentVariables, want)
	}
	logs := c.logs(d.UUID)
	for _, line := range []string{
		"To attach: DEFAULT postgres-15", "To attach: MEDIA s3", "To attach: DEFAULT rabbitmq-3", "To detach: LEAVING mysql-8",
		"Provisioned DEFAULT postgres-15", "Provisioned MEDIA s3", "Attached DEFAULT rabbitmq-3", "Detached LEAVING mysql-8",
	} {
		if !strings.Contains(logs, line) {
			t.Errorf("log lacks %q:\n%s", line, logs)
		}
	}
	if strings.Contains(logs, "OLD") {
		t.Errorf("the log names the detached instance:\n%s", logs)
	}
}

// TestDeploymentAnswers checks what a client reads of a deployment: POST
// answers only uuid, environment and build_mode; GET spells the status as the
// API does (working, done, failed), success is null until it ends, and it
// carries the region and whether it is usable.
func TestDeploymentAnswers(t *testing.T) {
	sim, c, clock := testSim(t, Options{DeployDelay: 2 * time.Second})
	tests := []struct {
		name      string
		body      map[string]string
		fail      bool
		wantMode  string
		wantState string
		success   any
	}{
		{"no build mode", map[string]string{"environment": demoTest}, false, BuildModeAuto, "done", true},
		{"a build mode", map[string]string{"environment": demoTest, "build_mode": "FORCE"}, false, "FORCE", "done", true},
		{"failed", map[string]string{"environment": demoTest}, true, BuildModeAuto, "failed", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := c.in(t)
			if tt.fail {
				sim.FailNextDeploy()
			}
			created := c.expect(http.StatusCreated, http.MethodPost, "/apps/v3/deployments/", tt.body).object(t)
			id, _ := created["uuid"].(string)
			if want := map[string]any{"uuid": id, "environment": demoTest, "build_mode": tt.wantMode}; id == "" || !maps.Equal(created, want) {
				t.Errorf("POST answered %v, want %v", created, want)
			}
			running := c.get("/apps/v3/deployments/" + id + "/")
			if running["status"] != "working" || running["success"] != nil || running["ended_at"] != nil || running["is_usable"] != false ||
				running["region"] != RegionID(RegionAWSEUCentral1) {
				t.Errorf("running: %v", running)
			}
			clock.Advance(2 * time.Second)
			ended := c.get("/apps/v3/deployments/" + id + "/")
			if ended["status"] != tt.wantState || ended["success"] != tt.success || ended["ended_at"] == nil || ended["is_usable"] != tt.success ||
				ended["region"] != RegionID(RegionAWSEUCentral1) {
				t.Errorf("ended: %v", ended)
			}
		})
	}
}

// TestDeploymentBuildsWithItsStart: the application gets the credentials the
// deployment built with, even when a client provisions the instance while it
// runs; an instance removed meanwhile gives nothing.
func TestDeploymentBuildsWithItsStart(t *testing.T) {
	_, c, clock := testSim(t, Options{DeployDelay: 2 * time.Second})
	db := c.createInstance(demoTest, ServicePostgres15, "DEFAULT")
	gone := c.createInstance(demoTest, ServiceS3, "GONE")
	d := c.deploy(demoTest)
	c.action(db.UUID, "provision")
	c.expect(http.StatusNoContent, http.MethodDelete, "/apps/v3/service-instances/"+gone.UUID+"/", nil)
	clock.Advance(2 * time.Second)
	given := c.get("/apps/v3/deployments/" + d.UUID + "/environment-variables")["environment_variables"].(map[string]any)
	published := c.listAll("/apps/v3/environment-variables/?environment=" + demoTest + "&name=DEFAULT_DATABASE_DSN")
	if len(given) != 2 || len(published) != 1 || given["DEFAULT_DATABASE_DSN"] != published[0]["value"] {
		t.Errorf("the deployment gave %v; the instance publishes %v", given, published)
	}
	if logs := c.logs(d.UUID); !strings.Contains(logs, "Could not attach GONE s3") {
		t.Errorf("logs:\n%s", logs)
	}
}
