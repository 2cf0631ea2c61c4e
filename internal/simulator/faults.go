package simulator

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Faults are injected into API requests (never into the admin API).
//
// In JSON, latency is written as a Go duration string ("50ms", "1.5s");
// reading also accepts integer nanoseconds, which is what encoding/json
// makes of a time.Duration.
type Faults struct {
	FailRate         float64       `json:"fail_rate"`          // fraction of requests answered 500/502/503 without applying them
	DropResponseRate float64       `json:"drop_response_rate"` // fraction of requests applied whose connection is then closed without an answer
	RateLimit        float64       `json:"rate_limit"`         // requests per second (token bucket); beyond it 429 + Retry-After; 0 = off
	Latency          time.Duration `json:"latency"`            // added before answering each request
}

type faultsJSON struct {
	FailRate         float64         `json:"fail_rate"`
	DropResponseRate float64         `json:"drop_response_rate"`
	RateLimit        float64         `json:"rate_limit"`
	Latency          json.RawMessage `json:"latency"`
}

// MarshalJSON writes latency as a duration string.
func (f Faults) MarshalJSON() ([]byte, error) {
	latency, _ := json.Marshal(f.Latency.String())
	return json.Marshal(faultsJSON{f.FailRate, f.DropResponseRate, f.RateLimit, latency})
}

// UnmarshalJSON reads latency as a duration string or integer nanoseconds.
func (f *Faults) UnmarshalJSON(b []byte) error {
	var raw faultsJSON
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	latency, err := parseLatency(raw.Latency)
	if err != nil {
		return fieldErrors{"latency": {err.Error()}}
	}
	*f = Faults{raw.FailRate, raw.DropResponseRate, raw.RateLimit, latency}
	return nil
}

func parseLatency(raw json.RawMessage) (time.Duration, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return time.ParseDuration(s)
	}
	var ns int64
	if err := json.Unmarshal(raw, &ns); err != nil {
		return 0, fmt.Errorf("expected a duration such as \"50ms\" or integer nanoseconds")
	}
	return time.Duration(ns), nil
}

// validate refuses values that cannot mean anything.
func (f Faults) validate() error {
	errs := fieldErrors{}
	for field, rate := range map[string]float64{"fail_rate": f.FailRate, "drop_response_rate": f.DropResponseRate} {
		if rate < 0 || rate > 1 || math.IsNaN(rate) {
			errs.add(field, "Must be between 0 and 1.")
		}
	}
	if f.RateLimit < 0 || math.IsNaN(f.RateLimit) {
		errs.add("rate_limit", "Must be 0 (off) or a positive number of requests per second.")
	}
	if f.Latency < 0 {
		errs.add("latency", "Must not be negative.")
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// Counters count API requests and the faults injected into them.
type Counters struct {
	Requests         map[string]int `json:"requests"` // "METHOD /path/{id}/" -> count, for known API paths
	Injected5xx      int            `json:"injected_5xx"`
	Injected429      int            `json:"injected_429"`
	DroppedResponses int            `json:"dropped_responses"`
	Total            int            `json:"total"` // every API request received
}

// faultInjector decides which requests suffer a fault, and counts them all.
type faultInjector struct {
	now func() time.Time

	mu     sync.Mutex
	faults Faults
	rng    *rand.Rand
	bucket tokenBucket
	count  Counters
}

func newFaultInjector(f Faults, seed int64, now func() time.Time) *faultInjector {
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	fi := &faultInjector{now: now, rng: rand.New(rand.NewPCG(uint64(seed), uint64(seed)))}
	fi.setFaults(f)
	fi.resetCounters()
	return fi
}

func (fi *faultInjector) setFaults(f Faults) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	fi.faults = f
	fi.bucket = newTokenBucket(f.RateLimit, fi.now())
}

func (fi *faultInjector) currentFaults() Faults {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	return fi.faults
}

func (fi *faultInjector) reset() {
	fi.setFaults(Faults{})
	fi.resetCounters()
}

func (fi *faultInjector) resetCounters() {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	fi.count = Counters{Requests: map[string]int{}}
}

func (fi *faultInjector) counters() Counters {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	c := fi.count
	c.Requests = make(map[string]int, len(fi.count.Requests))
	for k, v := range fi.count.Requests {
		c.Requests[k] = v
	}
	return c
}

var injectedStatuses = []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}

// before counts the request and applies, in order, latency, the rate limit and
// injected errors. injected means the request must not be applied.
func (fi *faultInjector) before(r *http.Request, pattern string) (rep reply, injected bool) {
	fi.mu.Lock()
	fi.count.Total++
	if pattern != "" {
		fi.count.Requests[r.Method+" "+pattern]++
	}
	latency := fi.faults.Latency
	fi.mu.Unlock()

	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
		}
	}

	fi.mu.Lock()
	defer fi.mu.Unlock()
	if wait, limited := fi.bucket.take(fi.now()); limited {
		fi.count.Injected429++
		rep = detail(http.StatusTooManyRequests, fmt.Sprintf("Request was throttled. Expected available in %d seconds.", wait))
		rep.header = http.Header{"Retry-After": {strconv.Itoa(wait)}}
		return rep, true
	}
	if fi.roll(fi.faults.FailRate) {
		fi.count.Injected5xx++
		status := injectedStatuses[fi.rng.IntN(len(injectedStatuses))]
		return detail(status, "Injected fault: the service is temporarily unavailable, try again."), true
	}
	return reply{}, false
}

// dropResponse decides whether the answer to an applied request is lost.
func (fi *faultInjector) dropResponse() bool {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	if fi.roll(fi.faults.DropResponseRate) {
		fi.count.DroppedResponses++
		return true
	}
	return false
}

func (fi *faultInjector) roll(rate float64) bool {
	return rate > 0 && fi.rng.Float64() < rate
}

// dropConnection closes the connection without an answer, as a network
// failure after the server applied the request would. Where the connection
// cannot be taken over (HTTP/2, recorders), a 502 is the nearest thing.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	writeReply(w, detail(http.StatusBadGateway, "Injected fault: the connection was lost."))
}

// tokenBucket allows rate requests per second with bursts of up to
// max(1, rate) requests; rate 0 allows everything.
type tokenBucket struct {
	rate   float64
	tokens float64
	last   time.Time
}

func newTokenBucket(rate float64, now time.Time) tokenBucket {
	return tokenBucket{rate: rate, tokens: math.Max(1, rate), last: now}
}

// take spends a token; when none is left it reports how many whole seconds
// (at least 1) until one will be.
func (b *tokenBucket) take(now time.Time) (retryAfter int, limited bool) {
	if b.rate <= 0 {
		return 0, false
	}
	elapsed := max(0, now.Sub(b.last).Seconds()) // a clock stepping back refills nothing
	b.last = now
	b.tokens = math.Min(math.Max(1, b.rate), b.tokens+elapsed*b.rate)
	if b.tokens >= 1 {
		b.tokens--
		return 0, false
	}
	return max(1, int(math.Ceil((1-b.tokens)/b.rate))), true
}
