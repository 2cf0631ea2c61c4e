package simulator

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestStableIDs pins the ids that docs and examples name: changing the
// namespace or the naming scheme must be a deliberate act.
func TestStableIDs(t *testing.T) {
	tests := map[string]string{
		RegionID(RegionAWSEUCentral1):    "fb154d9a-d7ab-5ef0-b764-5cba85412a6d",
		ApplicationID(DemoApp):           "6133417b-b2a8-5045-97dc-aeacd4459b2f",
		EnvironmentID(DemoApp, EnvTest):  "c30b2178-0ead-5448-9af4-9089b96a9fd5",
		ServiceID(ServicePostgres15):     "21a7b6ed-9b2e-55d8-8d13-78476cfda0c9",
		OrganisationID(DemoOrganisation): "4cb8239a-23a0-5129-b14f-09cd98679231",
		// legacy-app and its seeded instances, named by docs and tests
		ApplicationID(LegacyApp):                                         "79751468-c8f7-551b-80dc-26beedb0dc34",
		OrganisationID(LegacyOrganisation):                               "1e06abed-8f44-5833-8caf-6c53cf219be5",
		EnvironmentID(LegacyApp, EnvTest):                                "aea0042a-a7c6-556a-8216-defe2dd8dc8d",
		SeedInstanceID(LegacyApp, EnvTest, ServicePostgres15, "DEFAULT"): "0d15f6f6-c2d7-505f-a038-61600df2a0c1",
		SeedDeploymentID(LegacyApp, EnvTest):                             "a34c61c4-7fae-56bd-8536-ecd6d90b263e",
		UserID(DemoUser):                                                 "ad793d32-5afd-5d6e-8e80-6d789e6b3677",
	}
	for got, want := range tests {
		if got != want {
			t.Errorf("id %s, want %s", got, want)
		}
	}
}

// TestDemoSubscription fills each application's subscription as the contract
// gives it, alternating between its two environments (they share its slots):
// the last one included is accepted, the next refused. legacy-app's seeded
// instances take two of its postgres-15 and s3 slots.
func TestDemoSubscription(t *testing.T) {
	tests := []struct {
		app, identifier string
		free            int
	}{
		{DemoApp, ServicePostgres15, 4},
		{DemoApp, ServicePostgres16, 2},
		{DemoApp, ServiceMySQL8, 2},
		{DemoApp, ServiceS3, 2},
		{DemoApp, ServiceRabbitMQ3, 1},
		{DemoApp, ServiceElasticsearch8, 0},
		{AzureApp, ServicePostgres15, 2},
		{AzureApp, ServicePostgres16, 1},
		{AzureApp, ServiceMySQL8, 1},
		{AzureApp, ServiceMSBlob, 2},
		{LegacyApp, ServicePostgres15, 0},
		{LegacyApp, ServicePostgres16, 2},
		{LegacyApp, ServiceS3, 0},
	}
	for _, tt := range tests {
		t.Run(tt.app+"/"+tt.identifier, func(t *testing.T) {
			st := demoState(t)
			for i := 0; i <= tt.free; i++ {
				env := EnvironmentID(tt.app, []string{EnvTest, EnvLive}[i%2])
				_, err := st.createInstance(createInstanceRequest{Environment: env, Service: ServiceID(tt.identifier), Prefix: fmt.Sprintf("P%d", i)}, t0)
				if (err == nil) != (i < tt.free) {
					t.Fatalf("instance %d with %d free: %v", i+1, tt.free, err)
				}
				if err != nil && !strings.Contains(err.Error(), "application "+tt.app) {
					t.Errorf("the refusal does not name the application: %v", err)
				}
			}
		})
	}
}

func TestBenchDataset(t *testing.T) {
	ds, err := loadDataset(DatasetBench)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.applications) != 4 || len(ds.environments) != 8 || len(ds.regions) != 4 || len(ds.catalog) != 8 {
		t.Fatalf("bench has %d applications, %d environments, %d regions, %d services",
			len(ds.applications), len(ds.environments), len(ds.regions), len(ds.catalog))
	}
	for _, app := range ds.applications {
		if app.Region != RegionID(RegionAWSEUCentral1) {
			t.Errorf("%s in region %s", app.Slug, app.Region)
		}
	}
	st := newState(ds)
	env := EnvironmentID("bench-app-4", EnvLive)
	for i := range 10 { // unlimited, even where the demo has no slot
		if _, err := st.createInstance(createInstanceRequest{Environment: env, Service: ServiceID(ServiceElasticsearch8), Prefix: fmt.Sprintf("S%d", i)}, t0); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLegacyApp checks legacy-app as the demo data set starts: a project made
// before Terraform, each environment with a DEFAULT postgres-15 and a DEFAULT
// s3 attached by a finished deployment.
func TestLegacyApp(t *testing.T) {
	sim, c, _ := testSim(t, Options{DeployDelay: time.Second})
	app := c.get("/apps/v3/applications/" + ApplicationID(LegacyApp) + "/")
	if app["organisation"] != OrganisationID(LegacyOrganisation) || app["region"] != RegionID(RegionAWSEUCentral1) {
		t.Errorf("legacy-app %v", app)
	}
	for _, env := range []string{EnvTest, EnvLive} {
		envID := EnvironmentID(LegacyApp, env)
		var got []Instance
		for _, in := range c.listAll("/apps/v3/service-instances/?environment=" + envID) {
			var i Instance
			apiResponse{body: mustJSON(t, in)}.decode(t, &i)
			got = append(got, i)
		}
		want := []Instance{
			{UUID: SeedInstanceID(LegacyApp, env, ServicePostgres15, "DEFAULT"), Environment: envID, Region: RegionID(RegionAWSEUCentral1),
				Service: ServiceID(ServicePostgres15), Prefix: "DEFAULT", Type: TypeDatabase, Status: StatusAttached, CreatedAt: seedTime},
			{UUID: SeedInstanceID(LegacyApp, env, ServiceS3, "DEFAULT"), Environment: envID, Region: RegionID(RegionAWSEUCentral1),
				Service: ServiceID(ServiceS3), Prefix: "DEFAULT", Type: TypeStorage, Status: StatusAttached, CreatedAt: seedTime},
		}
		if !slices.EqualFunc(got, want, func(a, b Instance) bool { return a == b }) {
			t.Errorf("%s instances\n%+v\nwant\n%+v", env, got, want)
		}
		d := c.deployment(SeedDeploymentID(LegacyApp, env))
		if d.Environment != envID || d.Status != DeploymentSuccess || !d.StartedAt.Equal(seedTime.Add(time.Minute)) ||
			!d.EndedAt.Equal(seedTime.Add(4*time.Minute)) || d.Percent != 100 || d.Author != UserID(DemoUser) ||
			!slices.Equal(d.EnvironmentVariables, []string{"DATABASE_URL", "DEFAULT_DATABASE_DSN", "DEFAULT_STORAGE_DSN"}) {
			t.Errorf("%s deployment %+v", env, d)
		}
		last, _ := c.get("/apps/v3/environments/" + envID + "/")["last_finished_deployment"].(map[string]any)
		if last["uuid"] != d.UUID {
			t.Errorf("%s last_finished_deployment %v", env, last)
		}
	}

	// The prefix guard comes first; the subscription is used up anyway.
	r := c.expect(http.StatusBadRequest, http.MethodPost, "/apps/v3/service-instances/", map[string]string{
		"environment": legacyTest, "service": ServiceID(ServicePostgres15), "prefix": "DEFAULT"})
	if msg := fieldMessage(t, r, "prefix"); msg != "An instance of type DATABASE with prefix DEFAULT already exists in this environment." {
		t.Errorf("DEFAULT database: %s", msg)
	}
	r = c.expect(http.StatusBadRequest, http.MethodPost, "/apps/v3/service-instances/", map[string]string{
		"environment": legacyTest, "service": ServiceID(ServicePostgres15), "prefix": "OTHER"})
	if msg := fieldMessage(t, r, "service"); msg != "The subscription of application legacy-app does not include another instance of PostgreSQL 15 (postgres-15): 2 included, all in use." {
		t.Errorf("another database: %s", msg)
	}

	// Reset brings it back after a client took it apart.
	db := SeedInstanceID(LegacyApp, EnvTest, ServicePostgres15, "DEFAULT")
	c.action(db, "detach")
	c.deploy(legacyTest)
	sim.Reset()
	if got := c.instance(db); got.Status != StatusAttached {
		t.Errorf("after Reset: %s", got.Status)
	}
	if n := len(c.deployments("?environment=" + legacyTest)); n != 1 {
		t.Errorf("after Reset: %d deployments of legacy-app test", n)
	}
}
