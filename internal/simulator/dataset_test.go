package simulator

import (
	"fmt"
	"testing"
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
	}
	for got, want := range tests {
		if got != want {
			t.Errorf("id %s, want %s", got, want)
		}
	}
}

func TestDemoSubscription(t *testing.T) {
	tests := []struct {
		identifier string
		env        string
		included   int
	}{
		{ServicePostgres15, demoTest, 6},
		{ServiceMySQL8, demoTest, 2},
		{ServiceS3, demoTest, 2},
		{ServiceMSBlob, azureTest, 2},
		{ServiceRabbitMQ3, demoTest, 1},
		{ServiceElasticsearch8, demoTest, 0},
	}
	for _, tt := range tests {
		t.Run(tt.identifier, func(t *testing.T) {
			st := demoState(t)
			for i := 0; i <= tt.included; i++ {
				_, err := st.createInstance(createInstanceRequest{Environment: tt.env, Service: ServiceID(tt.identifier), Prefix: fmt.Sprintf("P%d", i)}, t0)
				if (err == nil) != (i < tt.included) {
					t.Fatalf("instance %d of %d included: %v", i+1, tt.included, err)
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
	if len(ds.applications) != 4 || len(ds.environments) != 8 || len(ds.regions) != 4 || len(ds.catalog) != 7 {
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
