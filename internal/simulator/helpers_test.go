package simulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock lets tests move time instead of sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testSim starts a simulator on a fake clock behind an httptest server.
func testSim(t *testing.T, opts Options) (*Simulator, *apiClient, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	sim, err := newSimulator(opts, clock.Now)
	if err != nil {
		t.Fatalf("newSimulator: %v", err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		srv.Close()
		if err := sim.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return sim, &apiClient{t: t, base: srv.URL, token: DemoToken}, clock
}

type apiClient struct {
	t     *testing.T
	base  string
	token string
}

type apiResponse struct {
	status int
	header http.Header
	body   []byte
}

// decode unmarshals the body, failing the test if it is not JSON.
func (r apiResponse) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("answer %d is not JSON (%v): %s", r.status, err, r.body)
	}
}

func (r apiResponse) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	r.decode(t, &m)
	return m
}

// do sends body (a string is sent as is, anything else as JSON) and reads the answer.
func (c *apiClient) do(method, path string, body any) apiResponse {
	c.t.Helper()
	var reader io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		reader = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		reader = bytes.NewReader(raw)
	}
	url := path
	if !strings.HasPrefix(path, "http") {
		url = c.base + path
	}
	req, err := http.NewRequest(method, url, reader)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Token "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return apiResponse{status: resp.StatusCode, header: resp.Header, body: raw}
}

// expect sends a request and fails the test unless the status is want.
func (c *apiClient) expect(want int, method, path string, body any) apiResponse {
	c.t.Helper()
	r := c.do(method, path, body)
	if r.status != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r
}

// createInstance adds an instance through the API and returns it.
func (c *apiClient) createInstance(envID, identifier, prefix string) Instance {
	c.t.Helper()
	var in Instance
	c.expect(http.StatusCreated, http.MethodPost, "/apps/v3/service-instances/", map[string]string{
		"environment": envID, "service": ServiceID(identifier), "prefix": prefix,
	}).decode(c.t, &in)
	return in
}

func (c *apiClient) instance(id string) Instance {
	c.t.Helper()
	var in Instance
	c.expect(http.StatusOK, http.MethodGet, "/apps/v3/service-instances/"+id+"/", nil).decode(c.t, &in)
	return in
}

func (c *apiClient) action(id, action string) Instance {
	c.t.Helper()
	var in Instance
	c.expect(http.StatusAccepted, http.MethodPost, "/apps/v3/service-instances/"+id+"/"+action+"/", nil).decode(c.t, &in)
	return in
}

// deploy starts a deployment as a client does, and reads it back: POST
// answers only its uuid, environment and build mode.
func (c *apiClient) deploy(envID string) deploymentView {
	c.t.Helper()
	var created deploymentCreated
	c.expect(http.StatusCreated, http.MethodPost, "/apps/v3/deployments/", map[string]string{"environment": envID}).decode(c.t, &created)
	return c.deployment(created.UUID)
}

func (c *apiClient) deployment(id string) deploymentView {
	c.t.Helper()
	var d deploymentView
	c.expect(http.StatusOK, http.MethodGet, "/apps/v3/deployments/"+id+"/", nil).decode(c.t, &d)
	return d
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// listAll follows next links and returns every result.
func (c *apiClient) listAll(path string) []map[string]any {
	c.t.Helper()
	var all []map[string]any
	for next := path; next != ""; {
		var p struct {
			Next    *string          `json:"next"`
			Results []map[string]any `json:"results"`
		}
		c.expect(http.StatusOK, http.MethodGet, next, nil).decode(c.t, &p)
		all = append(all, p.Results...)
		next = ""
		if p.Next != nil {
			next = *p.Next
		}
	}
	return all
}

// fieldMessage returns the joined messages of a 400 for one field.
func fieldMessage(t *testing.T, r apiResponse, field string) string {
	t.Helper()
	var errs map[string][]string
	r.decode(t, &errs)
	return strings.Join(errs[field], " ")
}

var (
	demoTest   = EnvironmentID(DemoApp, EnvTest)
	demoLive   = EnvironmentID(DemoApp, EnvLive)
	azureTest  = EnvironmentID(AzureApp, EnvTest)
	legacyTest = EnvironmentID(LegacyApp, EnvTest)
	legacyLive = EnvironmentID(LegacyApp, EnvLive)
)

// The demo data set starts with legacy-app's instances (postgres-15 and s3 in
// each of its two environments) and the deployment of each environment.
const seededInstances, seededDeployments = 4, 2

// instancesIn returns the instances of one environment, for tests that must
// not count the seeded ones.
func instancesIn(sim *Simulator, envID string) []Instance {
	var out []Instance
	for _, in := range sim.Instances() {
		if in.Environment == envID {
			out = append(out, in)
		}
	}
	return out
}
