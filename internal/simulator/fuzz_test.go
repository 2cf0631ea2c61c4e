package simulator_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/divio/terraform-provider-divio/internal/simulator"
)

// bodyRoutes are the routes that decode a JSON body: malformed JSON sent to them must get a 400.
var bodyRoutes = regexp.MustCompile(`^(POST /apps/v3/service-instances/?|PATCH /apps/v3/service-instances/[^/]+/?|POST /apps/v3/deployments/?|PATCH /_sim/service-instances/[^/]+/?|PUT /_sim/service-instances/[^/]+/data/?|POST /_sim/service-instances/[^/]+/upgrade/?|PUT /_sim/faults/?|POST /_sim/clock/?)$`)

// FuzzServeHTTP sends one arbitrary request, with a valid token, to a fresh simulator that holds
// an instance in each of the states NEW, PENDING_ATTACHMENT and ATTACHED. Placeholders in the
// path, query and body ({new}, {ready}, {attached}, {env}, {svc}) are replaced by their ids, so
// that the fuzzer reaches the handlers of existing objects and not only their 404s.
//
// Without injected faults the simulator must never panic, never answer 5xx, always answer JSON,
// and answer malformed JSON with 400.
//
// Run with: go test -run '^$' -fuzz '^FuzzServeHTTP$' -fuzztime 1m ./internal/simulator
func FuzzServeHTTP(f *testing.F) {
	f.Add("GET", "/apps/v3/regions/", "page_size=2&page=2", "")
	f.Add("GET", "/apps/v3/services/", "region=x&website={env}", "")
	f.Add("GET", "/apps/v3/service-instances/{attached}/", "", "")
	f.Add("GET", "/apps/v3/environment-variables/", "environment={env}&page=0", "")
	f.Add("POST", "/apps/v3/service-instances/", "", `{"environment": "{env}", "service": "{svc}", "prefix": "OTHER"}`)
	f.Add("POST", "/apps/v3/service-instances/", "", `{"environment": "{env}", "service": "{svc}", "prefix": 7}`)
	f.Add("POST", "/apps/v3/service-instances/", "", `{"environment": `)
	f.Add("POST", "/apps/v3/service-instances/", "", `[1]`)
	f.Add("POST", "/apps/v3/service-instances/{new}/provision/", "", "")
	f.Add("POST", "/apps/v3/service-instances/{ready}/attach/", "", "")
	f.Add("POST", "/apps/v3/service-instances/{attached}/detach/", "", "")
	f.Add("DELETE", "/apps/v3/service-instances/{attached}/", "", "")
	f.Add("PATCH", "/apps/v3/service-instances/{attached}/", "", `{"prefix": "OTHER"}`)
	f.Add("PATCH", "/apps/v3/service-instances/{ready}/", "", `{"prefix": "USED"}`)
	f.Add("DELETE", "/apps/v3/service-instances/{ready}/", "", "")
	f.Add("POST", "/apps/v3/deployments/", "", `{"environment": "{env}"}`)
	f.Add("POST", "/apps/v3/deployments/", "", `{"environment": null}`)
	f.Add("POST", "/apps/v3/deployments", "", `{"environment": "{env}", "build_mode": 7}`)
	f.Add("GET", "/apps/v3/deployments/", "application=&environment={env}&page_size=1", "")
	f.Add("GET", "/apps/v3/deployments/{env}/logs", "", "")
	f.Add("GET", "/apps/v3/services/", "&website={env}&page_size=200", "")
	f.Add("GET", "/apps/v3/environment-variables/", "application={env}&name=DATABASE_URL", "")
	f.Add("GET", "/iam/v3/organisations", "page=2&page_size=1", "")
	f.Add("POST", "/_sim/drop-variables-next-deploy", "", "")
	f.Add("PUT", "/apps/v3/regions/", "", "")
	f.Add("PATCH", "/_sim/service-instances/{new}", "", `{"service_status": "ATTACHED", "attach_requested": true}`) // an old field, ignored
	f.Add("PATCH", "/_sim/service-instances/{new}", "", `{"service_status": "SOMETHING"}`)
	f.Add("PUT", "/_sim/faults", "", `{"latency": "1h"}`)
	f.Add("PUT", "/_sim/faults", "", `{"fail_rate": 2}`)
	f.Add("DELETE", "/_sim/service-instances/{attached}", "", "")
	f.Add("PUT", "/_sim/service-instances/{ready}/data", "", `{"data": "rows"}`)
	f.Add("POST", "/_sim/service-instances/{attached}/upgrade", "", `{"service": "postgres-16"}`)
	f.Add("POST", "/_sim/reset", "", "")
	f.Add("POST", "/_sim/clock", "", `{"advance": "720h"}`)
	f.Add("POST", "/_sim/environments/{env}/scheduled-backup", "", "")
	f.Add("GET", "/_sim/state", "", "")
	f.Fuzz(func(t *testing.T, method, path, query, body string) {
		sim, ids := fuzzSimulator(t)
		path, query, body = ids.Replace(path), ids.Replace(query), ids.Replace(body)

		status, answer := serve(sim, method, &url.URL{Path: path, RawQuery: query}, body)

		route := method + " " + path
		if status >= 500 {
			t.Fatalf("%s?%s with %q: %d %s, without any injected fault", route, query, body, status, answer)
		}
		if len(answer) > 0 && !json.Valid(answer) {
			t.Errorf("%s: the answer is not JSON: %q", route, answer)
		}
		trimmed := bytes.TrimSpace([]byte(body))
		if bodyRoutes.MatchString(route) && len(trimmed) > 0 && !json.Valid(trimmed) && status != http.StatusBadRequest {
			t.Errorf("%s with malformed JSON %q: %d %s, want 400", route, body, status, answer)
		}
	})
}

// fuzzSimulator starts a simulator and makes the instances the placeholders name.
func fuzzSimulator(t *testing.T) (*simulator.Simulator, *strings.Replacer) {
	t.Helper()
	sim, err := simulator.New(simulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	env := simulator.EnvironmentID(simulator.DemoApp, simulator.EnvTest)
	svc := simulator.ServiceID(simulator.ServicePostgres15)
	attached := mustCreate(t, sim, env, svc, "USED")
	mustPost(t, sim, "/apps/v3/deployments/", `{"environment": "`+env+`"}`, http.StatusCreated) // attaches every instance added so far
	newID := mustCreate(t, sim, env, svc, "DEFAULT")
	ready := mustCreate(t, sim, env, svc, "READY")
	mustPost(t, sim, "/apps/v3/service-instances/"+ready+"/provision/", "", http.StatusAccepted)
	return sim, strings.NewReplacer("{new}", newID, "{ready}", ready, "{attached}", attached, "{env}", env, "{svc}", svc)
}

func mustCreate(t *testing.T, sim *simulator.Simulator, env, svc, prefix string) string {
	t.Helper()
	answer := mustPost(t, sim, "/apps/v3/service-instances/",
		`{"environment": "`+env+`", "service": "`+svc+`", "prefix": "`+prefix+`"}`, http.StatusCreated)
	var inst simulator.Instance
	if err := json.Unmarshal(answer, &inst); err != nil {
		t.Fatal(err)
	}
	return inst.UUID
}

func mustPost(t *testing.T, sim *simulator.Simulator, path, body string, want int) []byte {
	t.Helper()
	status, answer := serve(sim, http.MethodPost, &url.URL{Path: path}, body)
	if status != want {
		t.Fatalf("set-up POST %s: %d %s, want %d", path, status, answer, want)
	}
	return answer
}

// serve hands the simulator a request built field by field: the fuzzer's method and path need
// not survive parsing as a request line, as they would have to with httptest.NewRequest.
func serve(sim *simulator.Simulator, method string, u *url.URL, body string) (int, []byte) {
	req := httptest.NewRequest(http.MethodGet, "/", strings.NewReader(body))
	req.Method, req.URL, req.RequestURI = method, u, u.RequestURI()
	req.Header.Set("Authorization", "Token "+simulator.DemoToken)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	sim.ServeHTTP(rec, req)
	answer, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, answer
}
