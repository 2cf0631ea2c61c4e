package simulator

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

var createBody = map[string]string{"environment": demoTest, "service": ServiceID(ServicePostgres15), "prefix": "DEFAULT"}

func TestFailRate(t *testing.T) {
	sim, c, _ := testSim(t, Options{Seed: 1, Faults: Faults{FailRate: 1}})
	for range 5 {
		r := c.do(http.MethodPost, "/apps/v3/service-instances/", createBody)
		if !slices.Contains(injectedStatuses, r.status) || r.object(t)["detail"] == nil {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	}
	if n := len(instancesIn(sim, demoTest)); n != 0 {
		t.Errorf("failed requests were applied: %d instances", n)
	}
	c.expect(http.StatusOK, http.MethodGet, "/_sim/state", nil) // the admin API is never faulted
	got := sim.Counters()
	if got.Injected5xx != 5 || got.Total != 5 || got.Requests["POST /apps/v3/service-instances/"] != 5 {
		t.Errorf("counters %+v", got)
	}
}

func TestFailRateIsSeeded(t *testing.T) {
	run := func() []int {
		_, c, _ := testSim(t, Options{Seed: 42, Faults: Faults{FailRate: 0.5}})
		var statuses []int
		for range 20 {
			statuses = append(statuses, c.do(http.MethodGet, "/apps/v3/regions/", nil).status)
		}
		return statuses
	}
	first, second := run(), run()
	if !slices.Equal(first, second) {
		t.Errorf("same seed, different faults:\n%v\n%v", first, second)
	}
	if !slices.Contains(first, http.StatusOK) || slices.Equal(slices.Compact(slices.Clone(first)), []int{http.StatusOK}) {
		t.Errorf("rate 0.5 gave %v", first)
	}
}

func TestDropResponse(t *testing.T) {
	sim, c, _ := testSim(t, Options{Seed: 1, Faults: Faults{DropResponseRate: 1}})
	body, _ := json.Marshal(createBody)
	req, _ := http.NewRequest(http.MethodPost, c.base+"/apps/v3/service-instances/", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Token "+DemoToken)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("answered %d, want the connection closed", resp.StatusCode)
	}
	if n := len(instancesIn(sim, demoTest)); n != 1 {
		t.Errorf("a dropped request must be applied; %d instances", n)
	}
	if got := sim.Counters(); got.DroppedResponses != 1 || got.Total != 1 {
		t.Errorf("counters %+v", got)
	}

	// Without a connection to take over, a 502 stands in for the lost answer.
	rec := httptest.NewRecorder()
	req = httptest.NewRequest(http.MethodGet, "/apps/v3/regions/", nil)
	req.Header.Set("Authorization", "Token "+DemoToken)
	sim.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadGateway {
		t.Errorf("recorder got %d, want 502", rec.Code)
	}
}

func TestRateLimit(t *testing.T) {
	sim, c, clock := testSim(t, Options{Faults: Faults{RateLimit: 2}})
	c.expect(http.StatusOK, http.MethodGet, "/apps/v3/regions/", nil)
	c.expect(http.StatusOK, http.MethodGet, "/apps/v3/regions/", nil)
	r := c.expect(http.StatusTooManyRequests, http.MethodGet, "/apps/v3/regions/", nil)
	if r.header.Get("Retry-After") != "1" || !strings.Contains(string(r.body), "Expected available in 1 seconds.") {
		t.Errorf("429: Retry-After %q, body %s", r.header.Get("Retry-After"), r.body)
	}
	c.expect(http.StatusOK, http.MethodGet, "/_sim/counters", nil) // not limited
	clock.Advance(500 * time.Millisecond)
	c.expect(http.StatusOK, http.MethodGet, "/apps/v3/regions/", nil)
	if got := sim.Counters(); got.Injected429 != 1 || got.Total != 4 {
		t.Errorf("counters %+v", got)
	}
}

func TestTokenBucket(t *testing.T) {
	tests := []struct {
		name      string
		rate      float64
		gaps      []time.Duration // before each request
		wantRetry []int           // 0 = allowed
	}{
		{"off", 0, []time.Duration{0, 0, 0}, []int{0, 0, 0}},
		{"burst of the rate", 3, []time.Duration{0, 0, 0, 0}, []int{0, 0, 0, 1}},
		{"refills", 1, []time.Duration{0, 0, time.Second}, []int{0, 1, 0}},
		{"slow rate waits longer", 0.25, []time.Duration{0, 0, time.Second}, []int{0, 4, 3}},
		{"never more than the burst", 2, []time.Duration{0, time.Hour, 0, 0}, []int{0, 0, 0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := t0
			b := newTokenBucket(tt.rate, now)
			for i, gap := range tt.gaps {
				now = now.Add(gap)
				retry, limited := b.take(now)
				if limited != (tt.wantRetry[i] > 0) || retry != tt.wantRetry[i] {
					t.Errorf("request %d: retry %d limited %v, want %d", i, retry, limited, tt.wantRetry[i])
				}
			}
		})
	}
}

func TestLatency(t *testing.T) {
	_, c, _ := testSim(t, Options{Faults: Faults{Latency: 60 * time.Millisecond}})
	start := time.Now()
	c.expect(http.StatusOK, http.MethodGet, "/apps/v3/regions/", nil)
	if took := time.Since(start); took < 60*time.Millisecond {
		t.Errorf("API answered in %v", took)
	}
	start = time.Now()
	c.expect(http.StatusOK, http.MethodGet, "/_sim/faults", nil)
	if took := time.Since(start); took >= 60*time.Millisecond {
		t.Errorf("admin API delayed %v", took)
	}
}

func TestFaultsJSON(t *testing.T) {
	f := Faults{FailRate: 0.1, DropResponseRate: 0.05, RateLimit: 30, Latency: 50 * time.Millisecond}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"fail_rate":0.1,"drop_response_rate":0.05,"rate_limit":30,"latency":"50ms"}`; string(b) != want {
		t.Errorf("marshal %s, want %s", b, want)
	}
	for _, in := range []string{string(b), `{"fail_rate":0.1,"drop_response_rate":0.05,"rate_limit":30,"latency":50000000}`} {
		var back Faults
		if err := json.Unmarshal([]byte(in), &back); err != nil || back != f {
			t.Errorf("unmarshal %s: %+v, %v", in, back, err)
		}
	}
}

func TestFaultsAdmin(t *testing.T) {
	sim, c, _ := testSim(t, Options{})
	var got Faults
	c.expect(http.StatusOK, http.MethodPut, "/_sim/faults", `{"fail_rate": 1, "latency": "1ms"}`).decode(t, &got)
	if got != (Faults{FailRate: 1, Latency: time.Millisecond}) || sim.Faults() != got {
		t.Fatalf("PUT answered %+v, in effect %+v", got, sim.Faults())
	}
	c.expect(http.StatusOK, http.MethodGet, "/_sim/faults", nil).decode(t, &got)
	if got.FailRate != 1 {
		t.Errorf("GET %+v", got)
	}
	if r := c.do(http.MethodGet, "/apps/v3/regions/", nil); r.status < 500 {
		t.Errorf("fail_rate 1 answered %d", r.status)
	}
	c.expect(http.StatusOK, http.MethodPut, "/_sim/faults", `{}`)
	c.expect(http.StatusOK, http.MethodGet, "/apps/v3/regions/", nil)
}
