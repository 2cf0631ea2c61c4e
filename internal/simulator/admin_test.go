package simulator

import (
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAdminReset(t *testing.T) {
	sim, c, _ := testSim(t, Options{})
	in := c.createInstance(demoTest, ServicePostgres15, "DEFAULT")
	c.deploy(demoTest)
	sim.SetFaults(Faults{RateLimit: 100})
	sim.FailNextDeploy()

	c.expect(http.StatusNoContent, http.MethodPost, "/_sim/reset", nil)
	if len(sim.Instances()) != seededInstances || len(sim.Deployments()) != seededDeployments {
		t.Errorf("state after reset: %v %v", sim.Instances(), sim.Deployments())
	}
	if sim.Faults() != (Faults{}) {
		t.Errorf("faults after reset: %+v", sim.Faults())
	}
	if got := sim.Counters(); got.Total != 0 || len(got.Requests) != 0 {
		t.Errorf("counters after reset: %+v", got)
	}
	c.expect(http.StatusNotFound, http.MethodGet, "/apps/v3/service-instances/"+in.UUID+"/", nil)
	if d := c.deploy(demoTest); d.Status != DeploymentSuccess {
		t.Errorf("reset kept fail-next-deploy: %s", d.Status)
	}
	if env := c.expect(http.StatusOK, http.MethodGet, "/apps/v3/environments/"+demoLive+"/", nil).object(t); env["uuid"] != demoLive {
		t.Errorf("ids changed by reset: %v", env)
	}
}

func TestAdminState(t *testing.T) {
	_, c, _ := testSim(t, Options{})
	d := c.deploy(demoTest)
	in := c.createInstance(demoTest, ServicePostgres15, "DEFAULT")
	c.expect(http.StatusNoContent, http.MethodDelete, "/apps/v3/service-instances/"+in.UUID+"/", nil)
	var got stateView
	c.expect(http.StatusOK, http.MethodGet, "/_sim/state", nil).decode(t, &got)
	last := func(n int) int { return n - 1 }
	if len(got.Instances) != seededInstances+1 || got.Instances[last(len(got.Instances))].Status != StatusRemoved ||
		len(got.Deployments) != seededDeployments+1 || got.Deployments[last(len(got.Deployments))].UUID != d.UUID {
		t.Errorf("state %+v", got)
	}
}

func TestAdminPatchInstance(t *testing.T) {
	sim, c, _ := testSim(t, Options{})
	in := c.createInstance(demoTest, ServicePostgres15, "DEFAULT")
	path := "/_sim/service-instances/" + in.UUID

	var got Instance
	c.expect(http.StatusOK, http.MethodPatch, path, `{"service_status": "ATTACHED"}`).decode(t, &got)
	if got.Status != StatusAttached || c.instance(in.UUID).Status != StatusAttached {
		t.Fatalf("patched %+v", got)
	}
	if n := len(c.listAll("/apps/v3/environment-variables/?environment=" + demoTest)); n != 2 {
		t.Errorf("an instance forced to ATTACHED publishes %d variables", n)
	}
	c.expect(http.StatusConflict, http.MethodDelete, "/apps/v3/service-instances/"+in.UUID+"/", nil)

	// attach_requested is gone: like any unknown field, it is ignored.
	c.expect(http.StatusOK, http.MethodPatch, path, `{"service_status": "DETACHED", "attach_requested": true}`).decode(t, &got)
	if got.Status != StatusDetached || strings.Contains(string(c.expect(http.StatusOK, http.MethodGet, "/_sim/state", nil).body), "attach_requested") {
		t.Errorf("patched %+v", got)
	}
	r := c.expect(http.StatusBadRequest, http.MethodPatch, path, `{"service_status": "GONE"}`)
	if fieldMessage(t, r, "service_status") == "" {
		t.Errorf("400 %s", r.body)
	}
	c.expect(http.StatusNotFound, http.MethodPatch, "/_sim/service-instances/unknown", `{}`)

	status := StatusPendingAttachment
	if err := sim.SetInstance(in.UUID, InstancePatch{Status: &status}); err != nil || c.instance(in.UUID).Status != status {
		t.Errorf("SetInstance: %v", err)
	}
	if err := sim.SetInstance("unknown", InstancePatch{}); err == nil {
		t.Error("SetInstance of an unknown instance succeeded")
	}
}

func TestAdminDeleteInstance(t *testing.T) {
	sim, c, _ := testSim(t, Options{})
	in := c.createInstance(demoTest, ServiceRabbitMQ3, "DEFAULT")
	c.deploy(demoTest)

	c.expect(http.StatusNoContent, http.MethodDelete, "/_sim/service-instances/"+in.UUID, nil)
	c.expect(http.StatusNotFound, http.MethodGet, "/apps/v3/service-instances/"+in.UUID+"/", nil)
	if n := len(c.listAll("/apps/v3/environment-variables/?environment=" + demoTest)); n != 0 {
		t.Errorf("%d variables left", n)
	}
	c.createInstance(demoTest, ServiceRabbitMQ3, "DEFAULT") // slot and prefix are free again
	c.expect(http.StatusNoContent, http.MethodDelete, "/_sim/service-instances/"+in.UUID, nil)
	c.expect(http.StatusNotFound, http.MethodDelete, "/_sim/service-instances/unknown", nil)
	if err := sim.DeleteInstanceOutOfBand("unknown"); err == nil {
		t.Error("DeleteInstanceOutOfBand of an unknown instance succeeded")
	}
}

func TestAdminFailNextDeploy(t *testing.T) {
	_, c, _ := testSim(t, Options{})
	in := c.createInstance(demoTest, ServicePostgres15, "DEFAULT")
	c.expect(http.StatusNoContent, http.MethodPost, "/_sim/fail-next-deploy", nil)
	if d := c.deploy(demoLive); d.Status != DeploymentFailure || *d.Success {
		t.Errorf("first deployment (any environment): %+v", d)
	}
	if d := c.deploy(demoTest); d.Status != DeploymentSuccess {
		t.Errorf("second deployment: %+v", d)
	}
	if got := c.instance(in.UUID); got.Status != StatusAttached {
		t.Errorf("instance %s", got.Status)
	}
}

func TestAdminStallNextProvision(t *testing.T) {
	_, c, clock := testSim(t, Options{ProvisionDelay: time.Second})
	stalled := c.createInstance(demoTest, ServicePostgres15, "DEFAULT")
	normal := c.createInstance(demoTest, ServicePostgres15, "OTHER")
	c.expect(http.StatusNoContent, http.MethodPost, "/_sim/stall-next-provision", nil)
	c.action(stalled.UUID, "provision")
	c.action(normal.UUID, "provision")
	clock.Advance(time.Hour)
	if got := c.instance(stalled.UUID); got.Status != StatusProvisioning {
		t.Errorf("stalled instance %s", got.Status)
	}
	if got := c.instance(normal.UUID); got.Status != StatusPendingAttachment {
		t.Errorf("next instance %s", got.Status)
	}
}

func TestAdminCounters(t *testing.T) {
	_, c, _ := testSim(t, Options{})
	in := c.createInstance(demoTest, ServicePostgres15, "DEFAULT")
	c.instance(in.UUID)
	c.instance(in.UUID)
	c.action(in.UUID, "provision")
	c.do(http.MethodGet, "/apps/v3/unknown/", nil)
	c.do(http.MethodPut, "/apps/v3/regions/", nil)
	c.expect(http.StatusOK, http.MethodGet, "/_sim/state", nil)

	var got Counters
	c.expect(http.StatusOK, http.MethodGet, "/_sim/counters", nil).decode(t, &got)
	want := map[string]int{
		"POST /apps/v3/service-instances/":                1,
		"GET /apps/v3/service-instances/{id}/":            2,
		"POST /apps/v3/service-instances/{id}/provision/": 1,
		"PUT /apps/v3/regions/":                           1,
	}
	if got.Total != 6 || len(got.Requests) != len(want) {
		t.Errorf("counters %+v, want total 6 and %v", got, want)
	}
	for k, v := range want {
		if got.Requests[k] != v {
			t.Errorf("%s: %d, want %d", k, got.Requests[k], v)
		}
	}
	c.expect(http.StatusNoContent, http.MethodDelete, "/_sim/counters", nil)
	got = Counters{}
	c.expect(http.StatusOK, http.MethodGet, "/_sim/counters", nil).decode(t, &got)
	if got.Total != 0 || len(got.Requests) != 0 {
		t.Errorf("after DELETE: %+v", got)
	}
}

// TestCountersCountNewRoutes: every route is counted under its pattern,
// whichever way the path was spelled.
func TestCountersCountNewRoutes(t *testing.T) {
	sim, c, _ := testSim(t, Options{})
	d := SeedDeploymentID(LegacyApp, EnvTest)
	for _, path := range []string{
		"/apps/v3/deployments/?application=" + ApplicationID(LegacyApp) + "&environment=" + legacyTest,
		"/apps/v3/deployments/" + d + "/logs",
		"/apps/v3/deployments/" + d + "/logs/",
		"/apps/v3/deployments/" + d + "/environment-variables",
		"/iam/v3/organisations",
		"/iam/v3/organisations/" + OrganisationID(LegacyOrganisation) + "/",
		"/iam/v3/me/",
	} {
		c.expect(http.StatusOK, http.MethodGet, path, nil)
	}
	want := map[string]int{
		"GET /apps/v3/deployments/":                            1,
		"GET /apps/v3/deployments/{id}/logs/":                  2,
		"GET /apps/v3/deployments/{id}/environment-variables/": 1,
		"GET /iam/v3/organisations/":                           1,
		"GET /iam/v3/organisations/{id}/":                      1,
		"GET /iam/v3/me/":                                      1,
	}
	if got := sim.Counters(); got.Total != 7 || !maps.Equal(got.Requests, want) {
		t.Errorf("counters %+v, want %v", got, want)
	}
}

func TestAdminDelays(t *testing.T) {
	sim, c, _ := testSim(t, Options{ProvisionDelay: time.Second})
	if got := c.expect(http.StatusOK, http.MethodGet, "/_sim/delays", nil).object(t); got["provision"] != "1s" || got["deploy"] != "0s" {
		t.Errorf("GET /_sim/delays = %v", got)
	}
	c.expect(http.StatusOK, http.MethodPut, "/_sim/delays", map[string]any{"provision": "0s", "deploy": "250ms", "backup": 1000})
	if got := sim.Delays(); got != (Delays{Deploy: 250 * time.Millisecond, Backup: time.Microsecond}) {
		t.Errorf("delays after PUT = %+v", got)
	}
	in := c.createInstance(demoTest, ServicePostgres15, "DEFAULT")
	if got := c.action(in.UUID, "provision"); got.Status != StatusPendingAttachment {
		t.Errorf("provisioning after the delay was set to 0s: %s", got.Status)
	}
	r := c.do(http.MethodPut, "/_sim/delays", map[string]any{"deploy": "-1s"})
	if r.status != http.StatusBadRequest {
		t.Errorf("a negative delay: %d %s", r.status, r.body)
	}
	r = c.do(http.MethodPut, "/_sim/delays", map[string]any{"deploy": "soon"})
	if r.status != http.StatusBadRequest || fieldMessage(t, r, "deploy") == "" {
		t.Errorf("a bad duration: %d %s", r.status, r.body)
	}
}

// dataOf reads an instance's data as a test out of process would: from GET /_sim/state.
func (c *apiClient) dataOf(id string) string {
	c.t.Helper()
	var got stateView
	c.expect(http.StatusOK, http.MethodGet, "/_sim/state", nil).decode(c.t, &got)
	for _, in := range got.Instances {
		if in.UUID == id {
			return in.Data
		}
	}
	c.t.Fatalf("instance %s not in /_sim/state", id)
	return ""
}

func (c *apiClient) putData(id, data string) {
	c.t.Helper()
	c.expect(http.StatusOK, http.MethodPut, "/_sim/service-instances/"+id+"/data", map[string]string{"data": data})
}

// TestAdminInstanceData: every instance carries data, empty when provisioned,
// set with PUT .../data on a functional instance; a rename, an attach, a
// detach and a platform upgrade keep it; a removal loses it.
func TestAdminInstanceData(t *testing.T) {
	sim, c, _ := testSim(t, Options{ProvisionDelay: time.Hour})
	forced := func(c *apiClient, status string) string {
		in := c.createInstance(demoTest, ServicePostgres15, "DB_"+status)
		if status != StatusNew {
			c.expect(http.StatusOK, http.MethodPatch, "/_sim/service-instances/"+in.UUID, map[string]string{"service_status": status})
		}
		return in.UUID
	}
	tests := []struct {
		status string
		want   int
	}{
		{StatusNew, http.StatusConflict},
		{StatusProvisioning, http.StatusConflict},
		{StatusPendingAttachment, http.StatusOK},
		{StatusAttached, http.StatusOK},
		{StatusPendingDetachment, http.StatusOK},
		{StatusDetached, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			c := c.in(t)
			id := forced(c, tt.status)
			defer c.expect(http.StatusNoContent, http.MethodDelete, "/_sim/service-instances/"+id, nil) // frees the slot
			if got := c.dataOf(id); got != "" {
				t.Errorf("data %q before any was written", got)
			}
			r := c.expect(tt.want, http.MethodPut, "/_sim/service-instances/"+id+"/data", map[string]string{"data": "rows of " + tt.status})
			want := ""
			if tt.want == http.StatusOK {
				want = "rows of " + tt.status
				var answered InstanceState
				r.decode(t, &answered)
				if answered.UUID != id || answered.Data != want || answered.Status != tt.status {
					t.Errorf("answered %+v", answered)
				}
			} else if detail, _ := r.object(t)["detail"].(string); !strings.Contains(detail, "only a functional instance") {
				t.Errorf("detail %q", detail)
			}
			if got := c.dataOf(id); got != want {
				t.Errorf("data %q, want %q", got, want)
			}
		})
	}

	// What keeps the data and what loses it.
	db := c.createInstance(demoLive, ServicePostgres15, "DEFAULT")
	c.deploy(demoLive)
	c.putData(db.UUID, "orders")
	steps := []struct {
		name string
		act  func()
		want string
	}{
		{"rename", func() {
			c.expect(http.StatusOK, http.MethodPatch, "/apps/v3/service-instances/"+db.UUID+"/", map[string]string{"prefix": "OLD"})
		}, "orders"},
		{"detach", func() { c.action(db.UUID, "detach"); c.deploy(demoLive) }, "orders"},
		{"attach", func() { c.action(db.UUID, "attach"); c.deploy(demoLive) }, "orders"},
		{"platform upgrade", func() {
			c.expect(http.StatusOK, http.MethodPost, "/_sim/service-instances/"+db.UUID+"/upgrade", map[string]string{"service": ServicePostgres16})
		}, "orders"},
		{"Go method", func() {
			if err := sim.SetInstanceData(db.UUID, "more orders"); err != nil {
				t.Fatal(err)
			}
		}, "more orders"},
		{"removal", func() {
			c.action(db.UUID, "detach")
			c.deploy(demoLive)
			c.expect(http.StatusNoContent, http.MethodDelete, "/apps/v3/service-instances/"+db.UUID+"/", nil)
		}, ""},
	}
	for _, s := range steps {
		s.act()
		if got := c.dataOf(db.UUID); got != s.want {
			t.Errorf("after %s: data %q, want %q", s.name, got, s.want)
		}
	}
	c.expect(http.StatusConflict, http.MethodPut, "/_sim/service-instances/"+db.UUID+"/data", map[string]string{"data": "x"})
	c.expect(http.StatusNotFound, http.MethodPut, "/_sim/service-instances/unknown/data", map[string]string{"data": "x"})
	if r := c.expect(http.StatusBadRequest, http.MethodPut, "/_sim/service-instances/"+forced(c, StatusDetached)+"/data", `{}`); fieldMessage(t, r, "data") == "" {
		t.Errorf("no data: %s", r.body)
	}
	c.expect(http.StatusBadRequest, http.MethodPut, "/_sim/service-instances/"+db.UUID+"/data", `{"data": 7}`)
}

// TestAdminUpgrade plays rule 10: the instance's service becomes a newer
// version of the same engine, in place, keeping uuid, prefix, status, data
// and the values of its variables.
func TestAdminUpgrade(t *testing.T) {
	sim, c, _ := testSim(t, Options{})
	legacyDB := SeedInstanceID(LegacyApp, EnvTest, ServicePostgres15, "DEFAULT")
	c.putData(legacyDB, "customers")
	before := c.listAll("/apps/v3/environment-variables/?environment=" + legacyTest)

	tests := []struct {
		name, id, service string
		want              int
		message           string
	}{
		{"to the same version", legacyDB, ServicePostgres15, 400, "not a newer version"},
		{"to another engine", legacyDB, ServiceMySQL8, 400, "not a newer version of the engine of postgres-15"},
		{"to an unknown identifier", legacyDB, "postgres-99", 400, `No catalog entry has the identifier "postgres-99".`},
		{"to a catalog uuid", legacyDB, ServiceID(ServicePostgres16), 400, "No catalog entry"},
		{"without a service", legacyDB, "", 400, "This field is required."},
		{"storage", SeedInstanceID(LegacyApp, EnvTest, ServiceS3, "DEFAULT"), ServiceS3, 400, "not a newer version"},
		{"to a newer version", legacyDB, ServicePostgres16, 200, ""},
		{"back to an older one", legacyDB, ServicePostgres15, 400, "not a newer version of the engine of postgres-16"},
		{"an unknown instance", "unknown", ServicePostgres16, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.in(t).expect(tt.want, http.MethodPost, "/_sim/service-instances/"+tt.id+"/upgrade", map[string]string{"service": tt.service})
			if tt.want == http.StatusBadRequest && !strings.Contains(fieldMessage(t, r, "service"), tt.message) {
				t.Errorf("message %s, want %q", r.body, tt.message)
			}
		})
	}
	got := c.instance(legacyDB)
	if got.Service != ServiceID(ServicePostgres16) || got.UUID != legacyDB || got.Prefix != "DEFAULT" || got.Status != StatusAttached ||
		got.Type != TypeDatabase || c.dataOf(legacyDB) != "customers" {
		t.Errorf("upgraded instance %+v, data %q", got, c.dataOf(legacyDB))
	}
	if after := c.listAll("/apps/v3/environment-variables/?environment=" + legacyTest); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("variables changed by the upgrade:\n%v\n%v", before, after)
	}
	if err := sim.UpgradeInstance(SeedInstanceID(LegacyApp, EnvLive, ServicePostgres15, "DEFAULT"), ServicePostgres16); err != nil {
		t.Errorf("UpgradeInstance: %v", err)
	}
	if err := sim.UpgradeInstance(legacyDB, ServicePostgres16); err == nil {
		t.Error("UpgradeInstance to the version it runs succeeded")
	}
}
