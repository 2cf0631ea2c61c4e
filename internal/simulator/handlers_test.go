package simulator

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestAuth checks DRF's token authentication, its wording included: a request
// without a token is not told that its token is invalid.
func TestAuth(t *testing.T) {
	_, c, _ := testSim(t, Options{Tokens: []string{"one", "two"}})
	const (
		notProvided = `{"detail":"Authentication credentials were not provided."}`
		invalid     = `{"detail":"Invalid token."}`
	)
	tests := []struct {
		header string
		want   int
		body   string // exact, for refusals
	}{
		{"", http.StatusUnauthorized, notProvided},
		{"Bearer one", http.StatusUnauthorized, notProvided},
		{"one", http.StatusUnauthorized, notProvided},
		{"Token", http.StatusUnauthorized, `{"detail":"Invalid token header. No credentials provided."}`},
		{"Token one two", http.StatusUnauthorized, `{"detail":"Invalid token header. Token string should not contain spaces."}`},
		{"Token nope", http.StatusUnauthorized, invalid},
		{"Token " + DemoToken, http.StatusUnauthorized, invalid}, // not accepted once tokens are given
		{"Token one", http.StatusOK, ""},
		{"Token two", http.StatusOK, ""},
		{"token one", http.StatusOK, ""}, // DRF compares the keyword case-insensitively
	}
	for _, tt := range tests {
		for _, path := range []string{"/apps/v3/regions/", "/iam/v3/me/", "/_sim/counters"} {
			t.Run(tt.header+path, func(t *testing.T) {
				req, _ := http.NewRequest(http.MethodGet, c.base+path, nil)
				if tt.header != "" {
					req.Header.Set("Authorization", tt.header)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != tt.want {
					t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.want, body)
				}
				if tt.body == "" {
					return
				}
				if got := strings.TrimSpace(string(body)); got != tt.body {
					t.Errorf("body %s, want %s", got, tt.body)
				}
				if got := resp.Header.Get("WWW-Authenticate"); got != "Token" {
					t.Errorf("WWW-Authenticate %q, want Token", got)
				}
			})
		}
	}
}

// TestTrailingSlash asks for every kind of path without its trailing slash,
// as the Divio CLI does for some, and with it.
func TestTrailingSlash(t *testing.T) {
	_, c, _ := testSim(t, Options{})
	d := c.deploy(demoTest)
	in := c.createInstance(demoTest, ServicePostgres15, "DEFAULT")
	for _, path := range []string{
		"/apps/v3/regions",
		"/apps/v3/environments/" + demoTest,
		"/apps/v3/deployments/" + d.UUID + "/logs",
		"/apps/v3/deployments/" + d.UUID + "/environment-variables",
		"/apps/v3/service-instances/" + in.UUID,
		"/iam/v3/me",
		"/iam/v3/organisations",
	} {
		t.Run(path, func(t *testing.T) {
			without := c.expect(http.StatusOK, http.MethodGet, path, nil)
			with := c.expect(http.StatusOK, http.MethodGet, path+"/", nil)
			if string(without.body) != string(with.body) {
				t.Errorf("without the slash %s, with it %s", without.body, with.body)
			}
		})
	}
	if got := c.action(in.UUID, "provision"); got.Status != StatusPendingAttachment { // POST with the slash
		t.Errorf("provision: %s", got.Status)
	}
	c.expect(http.StatusAccepted, http.MethodPost, "/apps/v3/service-instances/"+in.UUID+"/attach", nil)
	c.expect(http.StatusCreated, http.MethodPost, "/apps/v3/deployments", map[string]string{"environment": demoLive})
	c.expect(http.StatusNoContent, http.MethodPost, "/_sim/reset/", nil) // admin paths too
	c.expect(http.StatusNotFound, http.MethodGet, "/apps/v3/service-instances//", nil)
}

// TestFormEncodedPosts sends POST bodies as `curl --data` does.
func TestFormEncodedPosts(t *testing.T) {
	sim, c, _ := testSim(t, Options{})
	post := func(path string, form url.Values) apiResponse {
		req, _ := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Authorization", "Token "+DemoToken)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return apiResponse{status: resp.StatusCode, header: resp.Header, body: body}
	}
	r := post("/apps/v3/service-instances/", url.Values{
		"environment": {demoTest}, "service": {ServiceID(ServiceS3)}, "prefix": {"LOWER", "MEDIA"}, // the last value counts
	})
	var in Instance
	r.decode(t, &in)
	if r.status != http.StatusCreated || in.Prefix != "MEDIA" || in.Type != TypeStorage || in.Environment != demoTest {
		t.Fatalf("form-encoded instance: %d %s", r.status, r.body)
	}
	r = post("/apps/v3/deployments/", url.Values{"environment": {demoTest}, "build_mode": {"FORCE"}})
	var created deploymentCreated
	r.decode(t, &created)
	if r.status != http.StatusCreated || created.Environment != demoTest || created.BuildMode != "FORCE" {
		t.Fatalf("form-encoded deployment: %d %s", r.status, r.body)
	}
	if d := c.deployment(created.UUID); d.Status != DeploymentSuccess {
		t.Fatalf("form-encoded deployment: %+v", d)
	}
	d := created
	if got := instancesIn(sim, demoTest); len(got) != 1 || got[0].Status != StatusAttached {
		t.Errorf("instances after the deployment: %+v", got)
	}
	if logs := c.expect(http.StatusOK, http.MethodGet, "/apps/v3/deployments/"+d.UUID+"/logs", nil).object(t)["logs"]; !strings.Contains(logs.(string), "(build mode FORCE)") {
		t.Errorf("logs do not name the build mode: %s", logs)
	}

	// A list field takes every value of its repeated key, as DRF reads a form.
	db := c.createInstance(demoTest, ServicePostgres15, "DEFAULT")
	c.action(db.UUID, "provision")
	r = post("/apps/v3/backups/", url.Values{"environment": {demoTest}, "services": {in.UUID, db.UUID}, "trigger": {"MANUAL"}})
	var b struct {
		Parts []string `json:"service_instance_backups"`
	}
	r.decode(t, &b)
	if r.status != http.StatusCreated || len(b.Parts) != 2 {
		t.Errorf("form-encoded backup of two instances: %d %s", r.status, r.body)
	}

	r = post("/apps/v3/service-instances/", url.Values{"environment": {demoTest}})
	if r.status != http.StatusBadRequest || fieldMessage(t, r, "service") != "This field is required." || fieldMessage(t, r, "prefix") != "This field is required." {
		t.Errorf("incomplete form: %d %s", r.status, r.body)
	}
	r = post("/apps/v3/deployments/", url.Values{"environment": {"nope"}})
	if r.status != http.StatusBadRequest || fieldMessage(t, r, "environment") != `Invalid pk "nope" - object does not exist.` {
		t.Errorf("unknown environment: %d %s", r.status, r.body)
	}
	r = post("/apps/v3/deployments/", nil)
	if r.status != http.StatusBadRequest || fieldMessage(t, r, "environment") != "This field is required." {
		t.Errorf("empty form: %d %s", r.status, r.body)
	}
}

func TestRoutingErrors(t *testing.T) {
	_, c, _ := testSim(t, Options{})
	tests := []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/apps/v3/nothing/", http.StatusNotFound},
		{http.MethodGet, "/apps/v3/service-instances/unknown/", http.StatusNotFound},
		{http.MethodGet, "/apps/v3/deployments/unknown/", http.StatusNotFound},
		{http.MethodGet, "/apps/v3/regions/unknown/", http.StatusNotFound},
		{http.MethodPost, "/apps/v3/service-instances/unknown/provision/", http.StatusNotFound},
		{http.MethodDelete, "/apps/v3/service-instances/unknown/", http.StatusNotFound},
		{http.MethodPost, "/apps/v3/regions/", http.StatusMethodNotAllowed},
		{http.MethodPut, "/apps/v3/service-instances/", http.StatusMethodNotAllowed},
		{http.MethodGet, "/apps/v3/service-instances/x/attach/", http.StatusMethodNotAllowed},
		{http.MethodGet, "/_sim/nothing", http.StatusNotFound},
		{http.MethodGet, "/_sim/reset", http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := c.expect(tt.want, tt.method, tt.path, nil)
			if r.object(t)["detail"] == nil {
				t.Errorf("no detail in %s", r.body)
			}
			if tt.want == http.StatusMethodNotAllowed && r.header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
}

func TestMalformedBodies(t *testing.T) {
	_, c, _ := testSim(t, Options{})
	tests := []struct {
		name, path, body string
		want             int
		field            string
	}{
		{"broken JSON", "/apps/v3/service-instances/", `{"prefix": `, http.StatusBadRequest, "non_field_errors"},
		{"not an object", "/apps/v3/service-instances/", `["DEFAULT"]`, http.StatusBadRequest, "non_field_errors"},
		{"garbage", "/apps/v3/service-instances/", `prefix=DEFAULT`, http.StatusBadRequest, "non_field_errors"},
		{"wrong type", "/apps/v3/service-instances/", `{"environment": "` + demoTest + `", "prefix": 7}`, http.StatusBadRequest, "prefix"},
		{"empty body", "/apps/v3/service-instances/", ``, http.StatusBadRequest, "environment"},
		{"null fields", "/apps/v3/service-instances/", `{"environment": null}`, http.StatusBadRequest, "environment"},
		{"deployment wrong type", "/apps/v3/deployments/", `{"environment": {}}`, http.StatusBadRequest, "environment"},
		{"deployment unknown environment", "/apps/v3/deployments/", `{"environment": "nope"}`, http.StatusBadRequest, "environment"},
		{"too large", "/apps/v3/service-instances/", `{"prefix": "` + strings.Repeat("A", maxBodyBytes) + `"}`, http.StatusRequestEntityTooLarge, ""},
		{"admin patch wrong type", "/_sim/service-instances/x", `{"service_status": true}`, http.StatusBadRequest, "service_status"},
		{"faults wrong type", "/_sim/faults", `{"fail_rate": "lots"}`, http.StatusBadRequest, "fail_rate"},
		{"faults bad latency", "/_sim/faults", `{"latency": "soon"}`, http.StatusBadRequest, "latency"},
		{"faults out of range", "/_sim/faults", `{"fail_rate": 2}`, http.StatusBadRequest, "fail_rate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := http.MethodPost
			switch {
			case strings.HasPrefix(tt.path, "/_sim/service-instances/"):
				method = http.MethodPatch
			case tt.path == "/_sim/faults":
				method = http.MethodPut
			}
			r := c.expect(tt.want, method, tt.path, tt.body)
			if tt.field != "" && fieldMessage(t, r, tt.field) == "" {
				t.Errorf("no error on %q: %s", tt.field, r.body)
			}
		})
	}
}

func TestCreateInstanceOverHTTP(t *testing.T) {
	_, c, _ := testSim(t, Options{})
	in := c.createInstance(demoTest, ServicePostgres15, "DEFAULT")
	if in.Status != StatusNew || in.Type != TypeDatabase || in.Prefix != "DEFAULT" ||
		in.Service != ServiceID(ServicePostgres15) || in.Region != RegionID(RegionAWSEUCentral1) || in.CreatedAt.IsZero() {
		t.Errorf("created %+v", in)
	}
	r := c.expect(http.StatusBadRequest, http.MethodPost, "/apps/v3/service-instances/", map[string]string{
		"environment": demoTest, "service": ServiceID(ServiceElasticsearch8), "prefix": "SEARCH"})
	if msg := fieldMessage(t, r, "service"); !strings.Contains(msg, "subscription") {
		t.Errorf("subscription error %q", msg)
	}
}

// TestLifecycle walks one instance through its life over HTTP, checking the
// environment variables at each step.
func TestLifecycle(t *testing.T) {
	_, c, _ := testSim(t, Options{})
	varsPath := "/apps/v3/environment-variables/?environment=" + demoTest
	countVars := func() int { return len(c.listAll(varsPath)) }

	in := c.createInstance(demoTest, ServicePostgres15, "DEFAULT")
	if n := countVars(); n != 0 {
		t.Fatalf("NEW instance publishes %d variables", n)
	}
	if got := c.action(in.UUID, "provision"); got.Status != StatusPendingAttachment {
		t.Fatalf("provision: %s", got.Status)
	}
	if n := countVars(); n != 2 {
		t.Fatalf("provisioned DEFAULT database publishes %d variables, want 2", n)
	}
	// Not attached yet: attach is already in effect, detach makes no sense.
	if got := c.action(in.UUID, "attach"); got.Status != StatusPendingAttachment {
		t.Fatalf("attach: %s", got.Status)
	}
	r := c.expect(http.StatusConflict, http.MethodPost, "/apps/v3/service-instances/"+in.UUID+"/detach/", nil)
	if msg, _ := r.object(t)["detail"].(string); !strings.Contains(msg, "next deployment attaches it") {
		t.Errorf("409 detail %q", msg)
	}

	d := c.deploy(demoTest)
	if d.Status != DeploymentSuccess || d.Success == nil || !*d.Success || d.EndedAt == nil {
		t.Fatalf("deployment with no delay: %+v", d)
	}
	if got := c.instance(in.UUID); got.Status != StatusAttached {
		t.Fatalf("after deploy: %+v", got)
	}
	var env map[string]any
	c.expect(http.StatusOK, http.MethodGet, "/apps/v3/environments/"+demoTest+"/", nil).decode(t, &env)
	if last, _ := env["last_finished_deployment"].(map[string]any); last["uuid"] != d.UUID {
		t.Errorf("last_finished_deployment %v, want the deployment %s", env["last_finished_deployment"], d.UUID)
	}

	r = c.expect(http.StatusConflict, http.MethodDelete, "/apps/v3/service-instances/"+in.UUID+"/", nil)
	if msg, _ := r.object(t)["detail"].(string); !strings.Contains(msg, "detach") {
		t.Errorf("409 detail %q", msg)
	}
	if got := c.action(in.UUID, "detach"); got.Status != StatusPendingDetachment {
		t.Fatalf("detach: %s", got.Status)
	}
	c.deploy(demoTest)
	if got := c.instance(in.UUID); got.Status != StatusDetached {
		t.Fatalf("after second deploy: %s", got.Status)
	}
	if n := countVars(); n != 2 {
		t.Fatalf("DETACHED instance publishes %d variables, want 2", n)
	}

	c.expect(http.StatusNoContent, http.MethodDelete, "/apps/v3/service-instances/"+in.UUID+"/", nil)
	c.expect(http.StatusNotFound, http.MethodGet, "/apps/v3/service-instances/"+in.UUID+"/", nil)
	c.expect(http.StatusNotFound, http.MethodPost, "/apps/v3/service-instances/"+in.UUID+"/attach/", nil)
	c.expect(http.StatusNotFound, http.MethodDelete, "/apps/v3/service-instances/"+in.UUID+"/", nil)
	if n := len(c.listAll("/apps/v3/service-instances/?environment=" + demoTest)); n != 0 {
		t.Errorf("removed instance listed (%d)", n)
	}
	if n := countVars(); n != 0 {
		t.Errorf("removed instance publishes %d variables", n)
	}
}

func TestDeploymentsOverHTTP(t *testing.T) {
	sim, c, clock := testSim(t, Options{DeployDelay: 3 * time.Second, ProvisionDelay: time.Second})
	in := c.createInstance(demoTest, ServicePostgres15, "DEFAULT")

	d := c.deploy(demoTest)
	if d.Status != DeploymentWorking || d.Success != nil || d.EndedAt != nil || d.StartedAt.IsZero() {
		t.Fatalf("new deployment %+v", d)
	}
	r := c.expect(http.StatusConflict, http.MethodPost, "/apps/v3/deployments/", map[string]string{"environment": demoTest})
	if r.object(t)["detail"] == nil {
		t.Error("409 without detail")
	}
	c.deploy(demoLive) // other environments are independent
	clock.Advance(3 * time.Second)
	if got := c.deployment(d.UUID); got.Status != DeploymentSuccess || !*got.Success {
		t.Fatalf("after the delay: %+v", got)
	}
	if got := c.instance(in.UUID); got.Status != StatusAttached {
		t.Fatalf("instance %s", got.Status)
	}

	c.action(in.UUID, "detach")
	sim.FailNextDeploy()
	failed := c.deploy(demoTest)
	clock.Advance(3 * time.Second)
	if got := c.deployment(failed.UUID); got.Status != DeploymentFailure || got.Success == nil || *got.Success {
		t.Fatalf("failed deployment %+v", got)
	}
	if got := c.instance(in.UUID); got.Status != StatusAttached {
		t.Errorf("after a failed detachment the instance is %s, want ATTACHED (rule 3)", got.Status)
	}
	c.action(in.UUID, "detach")
	if next := c.deploy(demoTest); next.UUID == failed.UUID {
		t.Error("deployment ids repeat")
	}
	clock.Advance(3 * time.Second)
	if got := c.instance(in.UUID); got.Status != StatusDetached {
		t.Errorf("only the next deployment fails; instance %s", got.Status)
	}
}

func TestProvisionDelayOverHTTP(t *testing.T) {
	_, c, clock := testSim(t, Options{ProvisionDelay: 2 * time.Second})
	in := c.createInstance(demoTest, ServicePostgres15, "DEFAULT")
	if got := c.action(in.UUID, "provision"); got.Status != StatusProvisioning {
		t.Fatalf("provision: %s", got.Status)
	}
	if got := c.action(in.UUID, "provision"); got.Status != StatusProvisioning {
		t.Fatalf("provision again: %s", got.Status)
	}
	clock.Advance(2 * time.Second)
	if got := c.instance(in.UUID); got.Status != StatusPendingAttachment {
		t.Fatalf("after the delay: %s", got.Status)
	}
}

func TestPagination(t *testing.T) {
	_, c, _ := testSim(t, Options{Dataset: DatasetBench})
	env := EnvironmentID("bench-app-1", EnvTest)
	for i := range 45 {
		c.createInstance(env, ServicePostgres15, fmt.Sprintf("DB_%02d", i))
	}
	c.createInstance(EnvironmentID("bench-app-2", EnvTest), ServicePostgres15, "OTHER")
	list := "/apps/v3/service-instances/?environment=" + env

	var first page
	c.expect(http.StatusOK, http.MethodGet, list, nil).decode(t, &first)
	if first.Count != 45 || first.Previous != nil || first.Next == nil || len(first.Results.([]any)) != 20 {
		t.Fatalf("first page: count %d, previous %v, next %v, %d results", first.Count, first.Previous, first.Next, len(first.Results.([]any)))
	}
	if want := c.base + "/apps/v3/service-instances/?environment=" + env + "&page=2"; *first.Next != want {
		t.Errorf("next %q, want %q", *first.Next, want)
	}
	all := c.listAll(list)
	seen := map[any]bool{}
	for _, in := range all {
		seen[in["uuid"]] = true
	}
	if len(all) != 45 || len(seen) != 45 {
		t.Errorf("following next gave %d results, %d distinct; want 45", len(all), len(seen))
	}

	var last page
	c.expect(http.StatusOK, http.MethodGet, list+"&page=3", nil).decode(t, &last)
	if last.Next != nil || last.Previous == nil || len(last.Results.([]any)) != 5 {
		t.Errorf("last page: next %v, previous %v, %d results", last.Next, last.Previous, len(last.Results.([]any)))
	}
	if want := c.base + "/apps/v3/service-instances/?environment=" + env + "&page=2"; *last.Previous != want {
		t.Errorf("previous %q, want %q", *last.Previous, want)
	}
	var second page
	c.expect(http.StatusOK, http.MethodGet, list+"&page=2", nil).decode(t, &second)
	if second.Previous == nil || strings.Contains(*second.Previous, "page=") {
		t.Errorf("previous of page 2 is %v, want the list without page=", second.Previous)
	}

	var big page
	c.expect(http.StatusOK, http.MethodGet, "/apps/v3/service-instances/?page_size=500", nil).decode(t, &big)
	if big.Count != 46 || len(big.Results.([]any)) != 46 || big.Next != nil {
		t.Errorf("page_size=500: count %d, %d results", big.Count, len(big.Results.([]any)))
	}
	var small page
	c.expect(http.StatusOK, http.MethodGet, list+"&page_size=10&page=2", nil).decode(t, &small)
	if len(small.Results.([]any)) != 10 || small.Next == nil || !strings.Contains(*small.Next, "page_size=10") {
		t.Errorf("page_size=10: %d results, next %v", len(small.Results.([]any)), small.Next)
	}

	for _, bad := range []string{"&page=4", "&page=0", "&page=x"} {
		r := c.expect(http.StatusNotFound, http.MethodGet, list+bad, nil)
		if r.object(t)["detail"] != "Invalid page." {
			t.Errorf("%s: %s", bad, r.body)
		}
	}
	var empty page
	c.expect(http.StatusOK, http.MethodGet, "/apps/v3/service-instances/?environment=none", nil).decode(t, &empty)
	if empty.Count != 0 || empty.Next != nil || len(empty.Results.([]any)) != 0 {
		t.Errorf("empty list %+v", empty)
	}
}

func TestListFilters(t *testing.T) {
	_, c, _ := testSim(t, Options{})
	c.createInstance(demoTest, ServicePostgres15, "DEFAULT")
	c.createInstance(demoLive, ServicePostgres15, "DEFAULT")
	provisioned := c.createInstance(demoLive, ServiceS3, "DEFAULT")
	c.action(provisioned.UUID, "provision")

	field := func(items []map[string]any, name string) string {
		var out []string
		for _, it := range items {
			out = append(out, fmt.Sprint(it[name]))
		}
		return strings.Join(out, ",")
	}
	tests := []struct {
		path, field, want string
	}{
		{"/apps/v3/regions/", "name", "aws-eu-central-1,aws-us-east-1,azure-westeurope,exoscale-ch-dk-2"},
		{"/apps/v3/regions/", "vendor", "aws,aws,azure,exoscale"},
		{"/apps/v3/services/", "identifier", "postgres-15,postgres-16,mysql-8,s3,ms-blob,sos,elasticsearch-8,rabbitmq-3"},
		{"/apps/v3/services/?region=" + RegionID(RegionAWSUSEast1), "identifier", "postgres-15,postgres-16,mysql-8,s3,elasticsearch-8,rabbitmq-3"},
		{"/apps/v3/services/?region=" + RegionID(RegionAzureWestEurope), "identifier", "postgres-15,postgres-16,mysql-8,ms-blob"},
		{"/apps/v3/services/?region=" + RegionID(RegionExoscaleCHDK2), "identifier", "postgres-15,sos"},
		{"/apps/v3/services/?website=" + ApplicationID(AzureApp), "identifier", "postgres-15,postgres-16,mysql-8,ms-blob"},
		{"/apps/v3/services/?website=" + ApplicationID(AzureApp) + "&region=" + RegionID(RegionExoscaleCHDK2), "identifier", "postgres-15"},
		{"/apps/v3/services/?region=unknown", "identifier", ""},
		{"/apps/v3/services/?website=unknown", "identifier", ""},
		{"/apps/v3/services/?region=" + RegionID(RegionExoscaleCHDK2), "type", "DATABASE,STORAGE"},
		{"/apps/v3/applications/", "slug", "demo-app,azure-app,legacy-app"},
		{"/apps/v3/applications/?slug=azure-app", "region", RegionID(RegionAzureWestEurope)},
		{"/apps/v3/applications/?slug=azure-app", "organisation", OrganisationID(DemoOrganisation)},
		{"/apps/v3/applications/?slug=none", "slug", ""},
		{"/apps/v3/environments/", "slug", "test,live,test,live,test,live"},
		{"/apps/v3/environments/?application=" + ApplicationID(DemoApp), "uuid", demoTest + "," + demoLive},
		{"/apps/v3/environments/?application=" + ApplicationID(DemoApp) + "&slug=live", "uuid", demoLive},
		{"/apps/v3/environments/?slug=live", "application", ApplicationID(DemoApp) + "," + ApplicationID(AzureApp) + "," + ApplicationID(LegacyApp)},
		{"/apps/v3/environments/?application=" + ApplicationID(DemoApp), "last_finished_deployment", "<nil>,<nil>"},
		{"/apps/v3/service-instances/?environment=" + demoTest, "environment", demoTest},
		{"/apps/v3/service-instances/", "environment", legacyTest + "," + legacyTest + "," + legacyLive + "," + legacyLive + "," + demoTest + "," + demoLive + "," + demoLive},
		{"/apps/v3/service-instances/?environment=" + demoLive, "type", "DATABASE,STORAGE"},
		{"/apps/v3/environment-variables/?environment=" + demoLive, "name", "DEFAULT_STORAGE_DSN"},
		{"/apps/v3/environment-variables/?environment=" + demoTest, "name", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path+"/"+tt.field, func(t *testing.T) {
			if got := field(c.listAll(tt.path), tt.field); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDetailEndpoints(t *testing.T) {
	_, c, _ := testSim(t, Options{})
	tests := []struct{ path, field, want string }{
		{"/apps/v3/regions/" + RegionID(RegionExoscaleCHDK2) + "/", "name", RegionExoscaleCHDK2},
		{"/apps/v3/services/" + ServiceID(ServiceMSBlob) + "/", "type", TypeStorage},
		{"/apps/v3/services/" + ServiceID(ServiceRabbitMQ3) + "/", "name", "RabbitMQ 3"},
		{"/apps/v3/applications/" + ApplicationID(DemoApp) + "/", "slug", DemoApp},
		{"/apps/v3/environments/" + azureTest + "/", "application", ApplicationID(AzureApp)},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if got := c.expect(http.StatusOK, http.MethodGet, tt.path, nil).object(t)[tt.field]; got != tt.want {
				t.Errorf("%s = %v, want %s", tt.field, got, tt.want)
			}
		})
	}
	svc := c.expect(http.StatusOK, http.MethodGet, "/apps/v3/services/"+ServiceID(ServicePostgres15)+"/", nil).object(t)
	for _, f := range []string{"uuid", "name", "type", "identifier", "description"} {
		if s, _ := svc[f].(string); s == "" {
			t.Errorf("service has no %s: %v", f, svc)
		}
	}
}

// TestConcurrentCreates races clients for one prefix and for a limited
// subscription; the rules must hold whoever wins.
func TestConcurrentCreates(t *testing.T) {
	sim, c, _ := testSim(t, Options{})
	const workers = 20
	statuses := make(chan int, 2*workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(2)
		go func() { // the same prefix: one wins
			defer wg.Done()
			statuses <- c.do(http.MethodPost, "/apps/v3/service-instances/", map[string]string{
				"environment": demoTest, "service": ServiceID(ServiceMySQL8), "prefix": "SAME"}).status
		}()
		go func() { // distinct prefixes: demo-app's 4 PostgreSQL 15 slots win
			defer wg.Done()
			statuses <- c.do(http.MethodPost, "/apps/v3/service-instances/", map[string]string{
				"environment": demoLive, "service": ServiceID(ServicePostgres15), "prefix": fmt.Sprintf("DB_%d", i)}).status
			c.do(http.MethodGet, "/apps/v3/service-instances/", nil)
		}()
	}
	wg.Wait()
	close(statuses)
	counts := map[int]int{}
	for s := range statuses {
		counts[s]++
	}
	if counts[http.StatusCreated] != 1+4 || counts[http.StatusBadRequest] != 2*workers-5 {
		t.Errorf("statuses %v, want 5 created and %d refused", counts, 2*workers-5)
	}
	byKind := map[string]int{}
	for _, in := range sim.Instances() {
		byKind[in.Environment+in.Type]++
	}
	if byKind[demoTest+TypeDatabase] != 1 || byKind[demoLive+TypeDatabase] != 4 {
		t.Errorf("instances %v", byKind)
	}
}

// TestIAM checks the organisations and the current user, in full.
func TestIAM(t *testing.T) {
	_, c, _ := testSim(t, Options{})
	demoOrg := `{"uuid":"` + OrganisationID(DemoOrganisation) + `","name":"demo-org","created_at":"2025-01-15T09:00:00Z"}`
	legacyOrg := `{"uuid":"` + OrganisationID(LegacyOrganisation) + `","name":"legacy-org","created_at":"2019-04-01T09:00:00Z"}`
	tests := []struct{ path, want string }{
		{"/iam/v3/organisations/", `{"count":2,"next":null,"previous":null,"results":[` + demoOrg + `,` + legacyOrg + `]}`},
		{"/iam/v3/organisations/?page_size=1&page=2", `{"count":2,"next":null,"previous":"` + c.base + `/iam/v3/organisations/?page_size=1","results":[` + legacyOrg + `]}`},
		{"/iam/v3/organisations/" + OrganisationID(LegacyOrganisation) + "/", legacyOrg},
		{"/iam/v3/organisations/" + OrganisationID(DemoOrganisation), demoOrg},
		{"/iam/v3/me/", `{"uuid":"` + UserID(DemoUser) + `","email":"demo@example.com","first_name":"Demo","last_name":"User"}`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if got := strings.TrimSpace(string(c.expect(http.StatusOK, http.MethodGet, tt.path, nil).body)); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	c.expect(http.StatusNotFound, http.MethodGet, "/iam/v3/organisations/unknown/", nil)
	c.expect(http.StatusMethodNotAllowed, http.MethodPost, "/iam/v3/me/", nil)

	_, bench, _ := testSim(t, Options{Dataset: DatasetBench})
	if me := bench.get("/iam/v3/me/"); me["uuid"] != UserID(BenchUser) || me["email"] != "bench@example.com" {
		t.Errorf("bench me %v", me)
	}
	if orgs := bench.listAll("/iam/v3/organisations/"); len(orgs) != 1 || orgs[0]["name"] != BenchOrganisation {
		t.Errorf("bench organisations %v", orgs)
	}
}

// TestApplicationAndEnvironmentFields checks the fields the Divio CLI reads
// from applications and environments, in full.
func TestApplicationAndEnvironmentFields(t *testing.T) {
	_, c, _ := testSim(t, Options{})
	app := `{"uuid":"` + ApplicationID(DemoApp) + `","slug":"demo-app","name":"Demo App","region":"` + RegionID(RegionAWSEUCentral1) +
		`","organisation":"` + OrganisationID(DemoOrganisation) + `",` +
		`"test_status":{"uuid":"` + demoTest + `","site_url":"https://demo-app-test.sim.divio.local"},` +
		`"live_status":{"uuid":"` + demoLive + `","site_url":"https://demo-app.sim.divio.local"}}`
	env := `{"uuid":"` + demoLive + `","slug":"live","application":"` + ApplicationID(DemoApp) + `","branch":"main",` +
		`"ssh_endpoint":{"host":"ssh.aws-eu-central-1.sim.divio.local","port":22,"user":"demo-app-live"},"last_finished_deployment":null}`
	tests := []struct{ path, want string }{
		{"/apps/v3/applications/" + ApplicationID(DemoApp) + "/", app},
		{"/apps/v3/applications/?slug=demo-app", `{"count":1,"next":null,"previous":null,"results":[` + app + `]}`},
		{"/apps/v3/environments/" + demoLive + "/", env},
		{"/apps/v3/environments/?application=" + ApplicationID(DemoApp) + "&slug=live", `{"count":1,"next":null,"previous":null,"results":[` + env + `]}`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if got := strings.TrimSpace(string(c.expect(http.StatusOK, http.MethodGet, tt.path, nil).body)); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}

	// Once a deployment ended, last_finished_deployment is that deployment,
	// exactly as GET deployments/<uuid>/ gives it.
	d := c.deploy(demoLive)
	deployment := strings.TrimSpace(string(c.expect(http.StatusOK, http.MethodGet, "/apps/v3/deployments/"+d.UUID+"/", nil).body))
	got := strings.TrimSpace(string(c.expect(http.StatusOK, http.MethodGet, "/apps/v3/environments/"+demoLive+"/", nil).body))
	if want := strings.Replace(env, `"last_finished_deployment":null`, `"last_finished_deployment":`+deployment, 1); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestServicesForWebsite lists what an application can add now: offered in
// its region and with a free instance in its own subscription.
func TestServicesForWebsite(t *testing.T) {
	_, c, _ := testSim(t, Options{})
	website := func(app string) string { return "/apps/v3/services/?website=" + ApplicationID(app) }
	offers := func(path string) string { return offerList(c, path) }
	const fresh = "postgres-15:4,postgres-16:2,mysql-8:2,s3:2,rabbitmq-3:1" // elasticsearch-8: none included
	if got := offers(website(DemoApp)); got != fresh {
		t.Fatalf("fresh: %s, want %s", got, fresh)
	}

	// available counts down as instances are added in any environment of the
	// application, and up as they are removed; another application's
	// instances, of the same organisation or not, take none of its slots.
	queue := c.createInstance(demoTest, ServiceRabbitMQ3, "DEFAULT")
	c.createInstance(demoLive, ServiceMySQL8, "DEFAULT")
	c.createInstance(demoTest, ServicePostgres15, "DEFAULT")
	c.createInstance(azureTest, ServiceMySQL8, "DEFAULT")   // azure-app's only MySQL
	c.createInstance(azureTest, ServicePostgres16, "OTHER") // and its only PostgreSQL 16
	if got, want := offers(website(DemoApp)), "postgres-15:3,postgres-16:2,mysql-8:1,s3:2"; got != want {
		t.Errorf("after adding: %s, want %s", got, want)
	}
	c.expect(http.StatusNoContent, http.MethodDelete, "/apps/v3/service-instances/"+queue.UUID+"/", nil)
	if got, want := offers(website(DemoApp)), "postgres-15:3,postgres-16:2,mysql-8:1,s3:2,rabbitmq-3:1"; got != want {
		t.Errorf("after removing the queue: %s, want %s", got, want)
	}
	// Two applications of one organisation, each with room of its own.
	c.createInstance(demoLive, ServicePostgres16, "NEW")
	c.expect(http.StatusBadRequest, http.MethodPost, "/apps/v3/service-instances/", map[string]string{
		"environment": EnvironmentID(AzureApp, EnvLive), "service": ServiceID(ServicePostgres16), "prefix": "NEW"})

	tests := []struct{ path, want string }{
		{website(DemoApp), "postgres-15:3,postgres-16:1,mysql-8:1,s3:2,rabbitmq-3:1"},
		{website(AzureApp), "postgres-15:2,ms-blob:2"},
		{website(LegacyApp), "postgres-16:2"}, // its seeded instances use its postgres-15 and s3
		{website(AzureApp) + "&region=" + RegionID(RegionExoscaleCHDK2), "postgres-15:2"},
		{"/apps/v3/services/?&website=" + ApplicationID(DemoApp) + "&page_size=1", "postgres-15:3,postgres-16:1,mysql-8:1,s3:2,rabbitmq-3:1"},
		{"/apps/v3/services/?website=unknown", ""},
		{"/apps/v3/services/?region=" + RegionID(RegionAWSEUCentral1) + "&", // region alone: the offering, without available
			"postgres-15:<nil>,postgres-16:<nil>,mysql-8:<nil>,s3:<nil>,elasticsearch-8:<nil>,rabbitmq-3:<nil>"},
		{"/apps/v3/services/?region=&website=", "postgres-15:<nil>,postgres-16:<nil>,mysql-8:<nil>,s3:<nil>,ms-blob:<nil>,sos:<nil>,elasticsearch-8:<nil>,rabbitmq-3:<nil>"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if got := offers(tt.path); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}

	var p page
	c.expect(http.StatusOK, http.MethodGet, website(DemoApp)+"&page_size=2", nil).decode(t, &p)
	if p.Count != 5 || len(p.Results.([]any)) != 2 || p.Next == nil {
		t.Errorf("page_size=2: %+v", p)
	}

	_, bench, _ := testSim(t, Options{Dataset: DatasetBench})
	bench.createInstance(EnvironmentID("bench-app-1", EnvTest), ServiceS3, "DEFAULT")
	const unlimited = "postgres-15:5000,postgres-16:5000,mysql-8:5000,s3:5000,elasticsearch-8:5000,rabbitmq-3:5000"
	if got := offerList(bench, "/apps/v3/services/?website="+ApplicationID("bench-app-2")); got != unlimited {
		t.Errorf("bench-app-2: %s", got)
	}
	if got := offerList(bench, "/apps/v3/services/?website="+ApplicationID("bench-app-1")); got != strings.Replace(unlimited, "s3:5000", "s3:4999", 1) {
		t.Errorf("bench-app-1: %s", got)
	}
}

// offerList lists a catalog as identifier:available.
func offerList(c *apiClient, path string) string {
	var out []string
	for _, s := range c.listAll(path) {
		out = append(out, fmt.Sprintf("%s:%v", s["identifier"], s["available"]))
	}
	return strings.Join(out, ",")
}

// TestEnvironmentVariableFilters: environment, application and name are
// optional and honoured; application= never lists another application's.
func TestEnvironmentVariableFilters(t *testing.T) {
	_, c, _ := testSim(t, Options{})
	for _, env := range []string{demoTest, demoLive} {
		c.action(c.createInstance(env, ServicePostgres15, "DEFAULT").UUID, "provision")
	}
	c.action(c.createInstance(demoLive, ServiceS3, "MEDIA").UUID, "provision")
	c.action(c.createInstance(azureTest, ServicePostgres15, "DEFAULT").UUID, "provision")

	listed := func(items []map[string]any) string {
		var out []string
		for _, v := range items {
			var slug string
			for _, env := range []struct{ id, slug string }{
				{demoTest, "demo/test"}, {demoLive, "demo/live"}, {azureTest, "azure/test"}, {legacyTest, "legacy/test"}, {legacyLive, "legacy/live"},
			} {
				if v["environment"] == env.id {
					slug = env.slug
				}
			}
			out = append(out, slug+":"+v["name"].(string))
		}
		return strings.Join(out, ",")
	}
	demoApp := ApplicationID(DemoApp)
	tests := []struct{ query, want string }{
		{"?environment=" + demoTest, "demo/test:DEFAULT_DATABASE_DSN,demo/test:DATABASE_URL"},
		{"?environment=" + demoTest + "&name=DATABASE_URL", "demo/test:DATABASE_URL"},
		{"?environment=" + demoLive + "&name=MEDIA_STORAGE_DSN", "demo/live:MEDIA_STORAGE_DSN"},
		{"?environment=" + demoTest + "&name=MEDIA_STORAGE_DSN", ""},
		{"?environment=" + demoTest + "&name=database_url", ""}, // names are exact
		{"?application=" + demoApp, "demo/test:DEFAULT_DATABASE_DSN,demo/test:DATABASE_URL,demo/live:DEFAULT_DATABASE_DSN,demo/live:DATABASE_URL,demo/live:MEDIA_STORAGE_DSN"},
		{"?application=" + demoApp + "&name=DATABASE_URL", "demo/test:DATABASE_URL,demo/live:DATABASE_URL"},
		{"?application=" + ApplicationID(AzureApp), "azure/test:DEFAULT_DATABASE_DSN,azure/test:DATABASE_URL"},
		{"?application=" + ApplicationID(LegacyApp) + "&name=DEFAULT_STORAGE_DSN", "legacy/test:DEFAULT_STORAGE_DSN,legacy/live:DEFAULT_STORAGE_DSN"},
		{"?application=" + demoApp + "&environment=" + azureTest, ""}, // both must hold
		{"?application=unknown", ""},
		{"?name=DATABASE_URL", "legacy/test:DATABASE_URL,legacy/live:DATABASE_URL,demo/test:DATABASE_URL,demo/live:DATABASE_URL,azure/test:DATABASE_URL"},
		{"?environment=&application=" + ApplicationID(AzureApp) + "&name=", "azure/test:DEFAULT_DATABASE_DSN,azure/test:DATABASE_URL"},
		{"?application=" + ApplicationID(AzureApp) + "&unknown=1", "azure/test:DEFAULT_DATABASE_DSN,azure/test:DATABASE_URL"}, // unknown parameters are ignored
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			if got := listed(c.listAll("/apps/v3/environment-variables/" + tt.query)); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestRenameRules sends PATCH with a prefix as a client would: allowed in
// every state but REMOVED, refused (400 on prefix) when badly formed or taken
// by another instance of the type in the environment, a no-op to the current
// prefix; the instance keeps its uuid and status.
func TestRenameRules(t *testing.T) {
	_, c, _ := testSim(t, Options{ProvisionDelay: time.Hour})
	forced := func(env, identifier, prefix, status string) Instance {
		in := c.createInstance(env, identifier, prefix)
		if status != StatusNew {
			c.expect(http.StatusOK, http.MethodPatch, "/_sim/service-instances/"+in.UUID, map[string]string{"service_status": status})
		}
		return c.instance(in.UUID)
	}
	c.createInstance(demoTest, ServiceMySQL8, "TAKEN")
	c.createInstance(demoTest, ServiceS3, "STORAGE")      // another type
	c.createInstance(demoLive, ServicePostgres15, "LIVE") // another environment
	removed := forced(demoTest, ServicePostgres15, "GONE", StatusDetached)
	c.expect(http.StatusNoContent, http.MethodDelete, "/apps/v3/service-instances/"+removed.UUID+"/", nil)

	tests := []struct {
		name   string
		status string
		body   any
		want   int
		prefix string // the prefix afterwards, or the 400's message
	}{
		{"NEW", StatusNew, map[string]string{"prefix": "RENAMED"}, 200, "RENAMED"},
		{"PROVISIONING", StatusProvisioning, map[string]string{"prefix": "RENAMED"}, 200, "RENAMED"},
		{"PENDING_ATTACHMENT", StatusPendingAttachment, map[string]string{"prefix": "RENAMED"}, 200, "RENAMED"},
		{"ATTACHED", StatusAttached, map[string]string{"prefix": "RENAMED"}, 200, "RENAMED"},
		{"PENDING_DETACHMENT", StatusPendingDetachment, map[string]string{"prefix": "RENAMED"}, 200, "RENAMED"},
		{"DETACHED", StatusDetached, map[string]string{"prefix": "RENAMED"}, 200, "RENAMED"},
		{"to its own prefix", StatusAttached, map[string]string{"prefix": "DB"}, 200, "DB"},
		{"without a prefix", StatusAttached, map[string]string{}, 200, "DB"},
		{"to a prefix of another type", StatusAttached, map[string]string{"prefix": "STORAGE"}, 200, "STORAGE"},
		{"to a prefix of another environment", StatusAttached, map[string]string{"prefix": "LIVE"}, 200, "LIVE"},
		{"to a removed instance's prefix", StatusAttached, map[string]string{"prefix": "GONE"}, 200, "GONE"},
		{"form-encoded", StatusAttached, "prefix=FORM", 200, "FORM"},
		{"to a taken prefix", StatusAttached, map[string]string{"prefix": "TAKEN"}, 400,
			"An instance of type DATABASE with prefix TAKEN already exists in this environment."},
		{"to a lower-case prefix", StatusAttached, map[string]string{"prefix": "old"}, 400, "Enter a valid prefix"},
		{"to a blank prefix", StatusAttached, map[string]string{"prefix": ""}, 400, "This field is required."},
		{"to a prefix too long", StatusAttached, map[string]string{"prefix": "A" + strings.Repeat("B", 30)}, 400, "Enter a valid prefix"},
		{"not a string", StatusAttached, `{"prefix": 7}`, 400, "Expected a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := c.in(t)
			in := forced(demoTest, ServicePostgres15, "DB", tt.status)
			path := "/apps/v3/service-instances/" + in.UUID + "/"
			var r apiResponse
			if form, isForm := tt.body.(string); isForm && !strings.HasPrefix(form, "{") {
				r = c.sendForm(http.MethodPatch, path, form)
			} else {
				r = c.do(http.MethodPatch, path, tt.body)
			}
			if r.status != tt.want {
				t.Fatalf("status %d, want %d: %s", r.status, tt.want, r.body)
			}
			got := c.instance(in.UUID)
			if tt.want == http.StatusBadRequest {
				if msg := fieldMessage(t, r, "prefix"); !strings.Contains(msg, tt.prefix) || got.Prefix != "DB" {
					t.Errorf("prefix %q, message %q; want DB and %q", got.Prefix, msg, tt.prefix)
				}
			} else {
				var answered Instance
				r.decode(t, &answered)
				if answered != got || got.Prefix != tt.prefix || got.UUID != in.UUID || got.Status != in.Status {
					t.Errorf("answered %+v, then read %+v; want prefix %s and status %s", answered, got, tt.prefix, in.Status)
				}
			}
			// Free the slot and the prefix for the next case.
			c.expect(http.StatusNoContent, http.MethodDelete, "/_sim/service-instances/"+in.UUID, nil)
		})
	}
	c.expect(http.StatusNotFound, http.MethodPatch, "/apps/v3/service-instances/"+removed.UUID+"/", map[string]string{"prefix": "BACK"})
	c.expect(http.StatusNotFound, http.MethodPatch, "/apps/v3/service-instances/unknown/", map[string]string{"prefix": "BACK"})
}

// TestRenameMovesVariables follows rule 9 over HTTP: a renamed instance
// publishes its variables under the new names at once, with the same values;
// the application keeps what its last deployment gave it until the next one.
func TestRenameMovesVariables(t *testing.T) {
	_, c, clock := testSim(t, Options{DeployDelay: 2 * time.Second})
	db := c.createInstance(demoTest, ServicePostgres15, "DEFAULT")
	first := c.deploy(demoTest)
	clock.Advance(2 * time.Second)
	published := func() map[string]any {
		vars := map[string]any{}
		for _, v := range c.listAll("/apps/v3/environment-variables/?environment=" + demoTest) {
			vars[v["name"].(string)] = v["value"]
		}
		return vars
	}
	given := func(d deploymentView) map[string]any {
		return c.get("/apps/v3/deployments/" + d.UUID + "/environment-variables")["environment_variables"].(map[string]any)
	}
	before := published()
	dsn := before["DEFAULT_DATABASE_DSN"]

	c.expect(http.StatusOK, http.MethodPatch, "/apps/v3/service-instances/"+db.UUID+"/", map[string]string{"prefix": "OLD"})
	if got := published(); len(got) != 1 || got["OLD_DATABASE_DSN"] != dsn {
		t.Errorf("published after the rename: %v, want OLD_DATABASE_DSN = %v", got, dsn)
	}
	if got := given(first); len(got) != 2 || got["DEFAULT_DATABASE_DSN"] != dsn || got["DATABASE_URL"] != dsn {
		t.Errorf("the running application lost what its deployment gave it: %v", got)
	}

	// Renamed again while a deployment runs: that deployment built with OLD.
	second := c.deploy(demoTest)
	c.expect(http.StatusOK, http.MethodPatch, "/apps/v3/service-instances/"+db.UUID+"/", map[string]string{"prefix": "MAIN"})
	clock.Advance(2 * time.Second)
	if got := given(second); len(got) != 1 || got["OLD_DATABASE_DSN"] != dsn {
		t.Errorf("the deployment running during the rename gave %v, want OLD_DATABASE_DSN", got)
	}
	if logs := c.logs(second.UUID); !strings.Contains(logs, "was renamed from OLD while the deployment ran: the application keeps OLD_DATABASE_DSN until the next deployment.") {
		t.Errorf("logs:\n%s", logs)
	}
	third := c.deploy(demoTest)
	clock.Advance(2 * time.Second)
	if got := given(third); len(got) != 1 || got["MAIN_DATABASE_DSN"] != dsn {
		t.Errorf("the next deployment gave %v, want MAIN_DATABASE_DSN", got)
	}
	if got := c.instance(db.UUID); got.Status != StatusAttached || got.UUID != db.UUID {
		t.Errorf("instance after the renames: %+v", got)
	}
}

// sendForm sends a form-encoded body, as `curl --data` does.
func (c *apiClient) sendForm(method, path, form string) apiResponse {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(form))
	req.Header.Set("Authorization", "Token "+c.token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return apiResponse{status: resp.StatusCode, header: resp.Header, body: body}
}

// TestUpgradeGuide follows rule 11 on legacy-app, request by request as a
// client sends them: add postgres-16 as NEW, provision it, back up DEFAULT,
// restore that into NEW, rename DEFAULT to OLD, detach OLD, rename NEW to
// DEFAULT, deploy once, remove OLD. The data moves; the application ends with
// the new database under the old names; data written after the backup is not
// copied.
func TestUpgradeGuide(t *testing.T) {
	_, c, _ := testSim(t, Options{})
	old := SeedInstanceID(LegacyApp, EnvLive, ServicePostgres15, "DEFAULT")
	path := func(id string) string { return "/apps/v3/service-instances/" + id + "/" }
	c.putData(old, "customers")

	fresh := c.createInstance(legacyLive, ServicePostgres16, "NEW")
	c.action(fresh.UUID, "provision")
	b := c.createBackup(backupBody(legacyLive, old))
	c.putData(old, "customers, and one more") // after the backup: not copied
	c.createRestore(map[string]any{"backup": b.UUID, "service_instance_restores": []map[string]string{
		{"service_instance_backup": b.ServiceInstanceBackups[0], "service_instance": fresh.UUID}}})
	c.expect(http.StatusOK, http.MethodPatch, path(old), map[string]string{"prefix": "OLD"})
	c.action(old, "detach")
	c.expect(http.StatusOK, http.MethodPatch, path(fresh.UUID), map[string]string{"prefix": "DEFAULT"})
	d := c.deploy(legacyLive)
	c.expect(http.StatusNoContent, http.MethodDelete, path(old), nil)

	if got := c.instance(fresh.UUID); got.Status != StatusAttached || got.Prefix != "DEFAULT" || got.Service != ServiceID(ServicePostgres16) {
		t.Errorf("the new database %+v", got)
	}
	if got := c.dataOf(fresh.UUID); got != "customers" {
		t.Errorf("its data %q, want what was backed up", got)
	}
	given := c.get("/apps/v3/deployments/" + d.UUID + "/environment-variables")["environment_variables"].(map[string]any)
	published := c.listAll("/apps/v3/environment-variables/?environment=" + legacyLive + "&name=DEFAULT_DATABASE_DSN")
	if len(given) != 3 || given["DATABASE_URL"] != published[0]["value"] || given["OLD_DATABASE_DSN"] != nil {
		t.Errorf("the deployment gave %v; the new database publishes %v", given, published)
	}
	if logs := c.logs(d.UUID); !strings.Contains(logs, "Detached OLD postgres-15") || !strings.Contains(logs, "Attached DEFAULT postgres-16") {
		t.Errorf("one deployment detaches OLD and attaches DEFAULT:\n%s", logs)
	}
	c.expect(http.StatusNotFound, http.MethodGet, path(old), nil)
}
