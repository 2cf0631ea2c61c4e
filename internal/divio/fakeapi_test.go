package divio

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeAPI is these tests' own small reading of the contract (/work/shared/divio-api.md), for the
// tests that need an API with state: a create adopted after a lost answer, backups looked for and
// deleted, waits that end. It knows nothing of the simulator, which is the contract's full model
// and tested on its own, and little of this package: it spells every path and field itself, and
// answers in the contract's shapes (a deployment's POST answer without a status, "done", a
// restore's POST answer with only its uuid). How the real answers decode is tested against
// recorded fixtures (decode_test.go).
type fakeAPI struct {
	mux *http.ServeMux

	// Set before the first request.
	provisionDelay, deployDelay, backupDelay time.Duration

	mu          sync.Mutex
	instances   map[string]*fakeInstance
	deployments []*fakeDeployment // oldest first
	backups     []*fakeBackup     // oldest first
	parts       map[string]*fakePart
	restores    []*fakeRestore // oldest first
	requests    map[string]int // by route, such as "POST /apps/v3/backups/"
	total       int

	failNextDeploy, failNextBackup, failNextRestore, stallNextProvision bool
}

// The fake's token, environments and catalog.
const (
	fakeToken = "fake-token"
	demoLive  = "env-live-3xq7"
	demoTest  = "env-test-9kd2"
	postgres  = "svc-postgres-15"
	s3        = "svc-s3"
	rabbitmq  = "svc-rabbitmq-3"

	injectedFailure = "Injected failure"
)

var fakeServiceTypes = map[string]string{postgres: "DATABASE", s3: "STORAGE", rabbitmq: "MESSAGE_QUEUE"}

type fakeInstance struct {
	UUID          string    `json:"uuid"`
	Environment   string    `json:"environment"`
	Region        string    `json:"region"`
	Service       string    `json:"service"`
	Prefix        string    `json:"prefix"`
	Type          string    `json:"type"`
	ServiceStatus string    `json:"service_status"`
	CreatedAt     time.Time `json:"created_at"`

	provisionedAt time.Time // when PROVISIONING becomes PENDING_ATTACHMENT; zero while stalled
}

type fakeDeployment struct {
	UUID                 string     `json:"uuid"`
	Environment          string     `json:"environment"`
	Status               string     `json:"status"`
	Success              *bool      `json:"success"`
	StartedAt            time.Time  `json:"started_at"`
	EndedAt              *time.Time `json:"ended_at"`
	Percent              int        `json:"percent"`
	EnvironmentVariables []string   `json:"environment_variables"`

	endsAt time.Time
	fails  bool
}

type fakeBackup struct {
	UUID                   string     `json:"uuid"`
	Environment            string     `json:"environment"`
	State                  string     `json:"state"`
	Success                *string    `json:"success"`
	ServiceInstanceBackups []string   `json:"service_instance_backups"`
	Notes                  string     `json:"notes"`
	ScheduledForDeletionAt *time.Time `json:"scheduled_for_deletion_at"`
	CreatedAt              time.Time  `json:"created_at"`
	Trigger                string     `json:"trigger"`

	endsAt time.Time
	fails  bool
}

type fakePart struct {
	UUID            string     `json:"uuid"`
	Backup          string     `json:"backup"`
	ServiceType     string     `json:"service_type"`
	ServiceInstance string     `json:"service_instance"`
	Prefix          string     `json:"prefix"`
	QueuedAt        time.Time  `json:"queued_at"`
	StartedAt       *time.Time `json:"started_at"`
	TakenAt         *time.Time `json:"taken_at"`
	EndedAt         *time.Time `json:"ended_at"`
	Size            *int64     `json:"size"`
	Errors          []string   `json:"errors"`
}

// fakeRestoreEntry is one entry of a restore request: a part, and where it goes.
type fakeRestoreEntry struct {
	ServiceInstanceBackup string `json:"service_instance_backup"`
	ServiceInstance       string `json:"service_instance,omitempty"`
}

type fakeRestore struct {
	UUID     string             `json:"uuid"`
	Backup   string             `json:"backup"`
	Finished bool               `json:"finished"`
	Success  *string            `json:"success"`
	Errors   []string           `json:"errors"`
	Notes    string             `json:"notes"`
	Entries  []fakeRestoreEntry `json:"-"`

	endsAt time.Time
	fails  bool
}

// newFakeAPI makes a fake API with nothing in it; serve it with httptest, or through a wrapper
// that breaks some of its answers.
func newFakeAPI() *fakeAPI {
	f := &fakeAPI{mux: http.NewServeMux(), instances: map[string]*fakeInstance{}, parts: map[string]*fakePart{}, requests: map[string]int{}}
	f.handle("POST /apps/v3/service-instances/", f.createInstance)
	f.handle("GET /apps/v3/service-instances/", f.listInstances)
	f.handle("GET /apps/v3/service-instances/{id}/", f.getInstance)
	f.handle("PATCH /apps/v3/service-instances/{id}/", f.renameInstance)
	f.handle("DELETE /apps/v3/service-instances/{id}/", f.deleteInstance)
	f.handle("POST /apps/v3/service-instances/{id}/provision/", f.provisionInstance)
	f.handle("POST /apps/v3/deployments/", f.createDeployment)
	f.handle("GET /apps/v3/deployments/", f.listDeployments)
	f.handle("GET /apps/v3/deployments/{id}/", f.getDeployment)
	f.handle("POST /apps/v3/backups/", f.createBackup)
	f.handle("GET /apps/v3/backups/", f.listBackups)
	f.handle("GET /apps/v3/backups/{id}/", f.getBackup)
	f.handle("DELETE /apps/v3/backups/{id}/", f.deleteBackup)
	f.handle("GET /apps/v3/service-instance-backups/{id}/", f.getPart)
	f.handle("POST /apps/v3/backup-restores/", f.createRestore)
	f.handle("GET /apps/v3/backup-restores/{id}/", f.getRestore)
	return f
}

// startFakeAPI serves a fake API and returns a client for it with quick retries and polls.
func startFakeAPI(t *testing.T, configure func(*fakeAPI)) (*Client, *fakeAPI) {
	t.Helper()
	api := newFakeAPI()
	if configure != nil {
		configure(api)
	}
	server := httptest.NewServer(api)
	t.Cleanup(server.Close)
	return newClientFor(t, server.URL, fakeToken), api
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Token "+fakeToken {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": "Invalid token."})
		return
	}
	f.mux.ServeHTTP(w, r)
}

// handle routes pattern to fn under the lock, after counting it and bringing every object up
// to date.
func (f *fakeAPI) handle(pattern string, fn func(w http.ResponseWriter, r *http.Request)) {
	f.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.requests[pattern]++
		f.total++
		f.settle(time.Now())
		fn(w, r)
	})
}

// fakeIDs numbers the fakes' objects across the process, so that no two fakes hand out the same
// id: the client remembers the backups it returned process-wide (ownBackups).
var fakeIDs atomic.Int64

func (f *fakeAPI) newID(kind string) string {
	return fmt.Sprintf("%s-%05d", kind, fakeIDs.Add(1))
}

// settle moves whatever has run its time to its next state.
func (f *fakeAPI) settle(now time.Time) {
	for _, in := range f.instances {
		if in.ServiceStatus == "PROVISIONING" && !in.provisionedAt.IsZero() && !now.Before(in.provisionedAt) {
			in.ServiceStatus = "PENDING_ATTACHMENT"
		}
	}
	for _, d := range f.deployments {
		if d.EndedAt == nil && !now.Before(d.endsAt) {
			d.EndedAt, d.Success, d.Percent, d.Status = ptr(now), ptr(!d.fails), 100, "done"
			if d.fails {
				d.Status = "failed"
			}
		}
	}
	for _, b := range f.backups {
		if b.State != "COMPLETED" && !now.Before(b.endsAt) {
			b.State, b.Success = "COMPLETED", ptr("SUCCESS")
			if b.fails {
				b.Success = ptr("FAILURE")
			}
			for _, id := range b.ServiceInstanceBackups {
				p := f.parts[id]
				p.StartedAt, p.TakenAt, p.EndedAt, p.Size = ptr(b.CreatedAt), ptr(now), ptr(now), ptr(int64(4096))
				if b.fails {
					p.Size, p.Errors = nil, []string{injectedFailure + " (fail-next-backup)"}
				}
			}
		}
	}
	for _, r := range f.restores {
		if !r.Finished && !now.Before(r.endsAt) {
			r.Finished, r.Success = true, ptr("SUCCESS")
			if r.fails {
				r.Success, r.Errors = ptr("FAILURE"), []string{injectedFailure + " (fail-next-restore)"}
			}
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writePage answers a list as one DRF page.
func writePage[T any](w http.ResponseWriter, results []T) {
	writeJSON(w, http.StatusOK, map[string]any{"count": len(results), "next": nil, "previous": nil, "results": results})
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]string{"detail": "Not found."})
}

func conflict(w http.ResponseWriter, format string, args ...any) {
	writeJSON(w, http.StatusConflict, map[string]string{"detail": fmt.Sprintf(format, args...)})
}

func fieldError(w http.ResponseWriter, field, format string, args ...any) {
	writeJSON(w, http.StatusBadRequest, map[string][]string{field: {fmt.Sprintf(format, args...)}})
}

func readBody(w http.ResponseWriter, r *http.Request, into any) bool {
	if err := json.NewDecoder(r.Body).Decode(into); err != nil {
		fieldError(w, "non_field_errors", "malformed JSON: %v", err)
		return false
	}
	return true
}

func (f *fakeAPI) liveInstance(id string) *fakeInstance {
	if in := f.instances[id]; in != nil && in.ServiceStatus != "REMOVED" {
		return in
	}
	return nil
}

func functional(status string) bool {
	switch status {
	case "PENDING_ATTACHMENT", "ATTACHED", "PENDING_DETACHMENT", "DETACHED":
		return true
	}
	return false
}

// prefixTaken reports whether another live instance of the environment has the type and prefix.
func (f *fakeAPI) prefixTaken(env, typ, prefix, except string) bool {
	for _, in := range f.instances {
		if in.UUID != except && in.Environment == env && in.Type == typ && in.Prefix == prefix && in.ServiceStatus != "REMOVED" {
			return true
		}
	}
	return false
}

func (f *fakeAPI) createInstance(w http.ResponseWriter, r *http.Request) {
	var body struct{ Environment, Service, Prefix, Region string }
	if !readBody(w, r, &body) {
		return
	}
	typ, ok := fakeServiceTypes[body.Service]
	switch {
	case !ok:
		fieldError(w, "service", "Unknown service %q.", body.Service)
	case !PrefixPattern.MatchString(body.Prefix):
		fieldError(w, "prefix", "Enter an upper case prefix.")
	case f.prefixTaken(body.Environment, typ, body.Prefix, ""):
		fieldError(w, "prefix", "The prefix %s is already taken in this environment.", body.Prefix)
	default:
		in := &fakeInstance{UUID: f.newID("inst"), Environment: body.Environment, Region: "region-eu", Service: body.Service,
			Prefix: body.Prefix, Type: typ, ServiceStatus: "NEW", CreatedAt: time.Now().UTC()}
		f.instances[in.UUID] = in
		writeJSON(w, http.StatusCreated, in)
	}
}

func (f *fakeAPI) listInstances(w http.ResponseWriter, r *http.Request) {
	var found []*fakeInstance
	for _, in := range f.instances {
		if in.Environment == r.URL.Query().Get("environment") && in.ServiceStatus != "REMOVED" {
			found = append(found, in)
		}
	}
	slices.SortFunc(found, func(a, b *fakeInstance) int { return strings.Compare(a.UUID, b.UUID) })
	writePage(w, found)
}

func (f *fakeAPI) getInstance(w http.ResponseWriter, r *http.Request) {
	if in := f.liveInstance(r.PathValue("id")); in != nil {
		writeJSON(w, http.StatusOK, in)
		return
	}
	notFound(w)
}

func (f *fakeAPI) renameInstance(w http.ResponseWriter, r *http.Request) {
	in := f.liveInstance(r.PathValue("id"))
	var body struct{ Prefix string }
	switch {
	case in == nil:
		notFound(w)
	case !readBody(w, r, &body):
	case !PrefixPattern.MatchString(body.Prefix):
		fieldError(w, "prefix", "Enter an upper case prefix.")
	case f.prefixTaken(in.Environment, in.Type, body.Prefix, in.UUID):
		fieldError(w, "prefix", "The prefix %s is already taken in this environment.", body.Prefix)
	default:
		in.Prefix = body.Prefix
		writeJSON(w, http.StatusOK, in)
	}
}

func (f *fakeAPI) deleteInstance(w http.ResponseWriter, r *http.Request) {
	in := f.liveInstance(r.PathValue("id"))
	switch {
	case in == nil:
		notFound(w)
	case in.ServiceStatus == "ATTACHED" || in.ServiceStatus == "PENDING_DETACHMENT":
		conflict(w, "The service instance is in use; detach it first.")
	default:
		in.ServiceStatus = "REMOVED"
		w.WriteHeader(http.StatusNoContent)
	}
}

func (f *fakeAPI) provisionInstance(w http.ResponseWriter, r *http.Request) {
	in := f.liveInstance(r.PathValue("id"))
	if in == nil {
		notFound(w)
		return
	}
	if in.ServiceStatus == "NEW" {
		in.ServiceStatus = "PROVISIONING"
		if !f.stallNextProvision {
			in.provisionedAt = time.Now().Add(f.provisionDelay)
		}
		f.stallNextProvision = false
		f.settle(time.Now())
	}
	w.WriteHeader(http.StatusAccepted)
}

func (f *fakeAPI) createDeployment(w http.ResponseWriter, r *http.Request) {
	var body struct{ Environment string }
	if !readBody(w, r, &body) {
		return
	}
	for _, d := range f.deployments {
		if d.Environment == body.Environment && d.EndedAt == nil {
			conflict(w, "A deployment of this environment is running.")
			return
		}
	}
	now := time.Now()
	d := &fakeDeployment{UUID: f.newID("depl"), Environment: body.Environment, Status: "working", StartedAt: now.UTC(),
		EnvironmentVariables: []string{}, endsAt: now.Add(f.deployDelay), fails: f.failNextDeploy}
	f.failNextDeploy = false
	f.deployments = append(f.deployments, d)
	// The real answer: these three fields only.
	writeJSON(w, http.StatusCreated, map[string]string{"uuid": d.UUID, "environment": d.Environment, "build_mode": "AUTO"})
}

func (f *fakeAPI) listDeployments(w http.ResponseWriter, r *http.Request) {
	var found []*fakeDeployment
	for _, d := range slices.Backward(f.deployments) {
		if env := r.URL.Query().Get("environment"); env == "" || d.Environment == env {
			found = append(found, d)
		}
	}
	if r.URL.Query().Get("page_size") == "1" && len(found) > 1 {
		found = found[:1] // LatestDeployment takes the first result; the rest of the page is not needed
	}
	writePage(w, found)
}

func (f *fakeAPI) getDeployment(w http.ResponseWriter, r *http.Request) {
	for _, d := range f.deployments {
		if d.UUID == r.PathValue("id") {
			writeJSON(w, http.StatusOK, d)
			return
		}
	}
	notFound(w)
}

func (f *fakeAPI) createBackup(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Environment            string     `json:"environment"`
		Services               []string   `json:"services"`
		Trigger                string     `json:"trigger"`
		Notes                  string     `json:"notes"`
		ScheduledForDeletionAt *time.Time `json:"scheduled_for_deletion_at"`
	}
	if !readBody(w, r, &body) {
		return
	}
	for _, id := range body.Services {
		in := f.liveInstance(id)
		switch {
		case in == nil || in.Environment != body.Environment:
			fieldError(w, "services", "Service instance %s is not in environment %s.", id, body.Environment)
			return
		case in.Type != "DATABASE" && in.Type != "STORAGE":
			fieldError(w, "services", "%s is %s: only DATABASE and STORAGE instances can be backed up.", id, in.Type)
			return
		case !functional(in.ServiceStatus):
			conflict(w, "Service instance %s is %s: only a provisioned instance can be backed up.", id, in.ServiceStatus)
			return
		}
	}
	now := time.Now()
	b := &fakeBackup{UUID: f.newID("bkp"), Environment: body.Environment, State: "PENDING", ServiceInstanceBackups: []string{},
		Notes: body.Notes, ScheduledForDeletionAt: body.ScheduledForDeletionAt, CreatedAt: now.UTC(), Trigger: body.Trigger,
		endsAt: now.Add(f.backupDelay), fails: f.failNextBackup}
	f.failNextBackup = false
	for _, id := range body.Services {
		in := f.instances[id]
		p := &fakePart{UUID: f.newID("part"), Backup: b.UUID, ServiceType: in.Type, ServiceInstance: id, Prefix: in.Prefix, QueuedAt: now.UTC(), Errors: []string{}}
		f.parts[p.UUID] = p
		b.ServiceInstanceBackups = append(b.ServiceInstanceBackups, p.UUID)
	}
	f.backups = append(f.backups, b)
	writeJSON(w, http.StatusCreated, b)
}

func (f *fakeAPI) backup(id string) *fakeBackup {
	for _, b := range f.backups {
		if b.UUID == id {
			return b
		}
	}
	return nil
}

func (f *fakeAPI) listBackups(w http.ResponseWriter, r *http.Request) {
	var found []*fakeBackup
	for _, b := range slices.Backward(f.backups) {
		if b.Environment == r.URL.Query().Get("environment") {
			found = append(found, b)
		}
	}
	writePage(w, found)
}

func (f *fakeAPI) getBackup(w http.ResponseWriter, r *http.Request) {
	if b := f.backup(r.PathValue("id")); b != nil {
		writeJSON(w, http.StatusOK, b)
		return
	}
	notFound(w)
}

func (f *fakeAPI) deleteBackup(w http.ResponseWriter, r *http.Request) {
	if f.backup(r.PathValue("id")) == nil {
		notFound(w)
		return
	}
	f.backups = slices.DeleteFunc(f.backups, func(b *fakeBackup) bool { return b.UUID == r.PathValue("id") })
	w.WriteHeader(http.StatusNoContent)
}

func (f *fakeAPI) getPart(w http.ResponseWriter, r *http.Request) {
	if p := f.parts[r.PathValue("id")]; p != nil {
		writeJSON(w, http.StatusOK, p)
		return
	}
	notFound(w)
}

func (f *fakeAPI) createRestore(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Backup  string             `json:"backup"`
		Entries []fakeRestoreEntry `json:"service_instance_restores"`
		Notes   string             `json:"notes"`
	}
	if !readBody(w, r, &body) {
		return
	}
	b := f.backup(body.Backup)
	if b == nil || b.State != "COMPLETED" || *b.Success != "SUCCESS" {
		fieldError(w, "backup", "Backup %s is not a completed, successful backup.", body.Backup)
		return
	}
	for _, e := range body.Entries {
		p := f.parts[e.ServiceInstanceBackup]
		if p == nil || p.Backup != b.UUID {
			fieldError(w, "service_instance_restores", "%s is not a part of backup %s.", e.ServiceInstanceBackup, b.UUID)
			return
		}
		target := cmp.Or(e.ServiceInstance, p.ServiceInstance)
		in := f.liveInstance(target)
		switch {
		case in == nil:
			conflict(w, "Service instance %s has been removed.", target)
			return
		case !functional(in.ServiceStatus):
			conflict(w, "Service instance %s is %s: only a provisioned instance can be restored into.", target, in.ServiceStatus)
			return
		case in.Type != p.ServiceType:
			fieldError(w, "service_instance_restores", "A %s backup cannot be restored into %s instance %s.", p.ServiceType, in.Type, target)
			return
		}
	}
	restore := &fakeRestore{UUID: f.newID("rst"), Backup: b.UUID, Notes: body.Notes, Entries: body.Entries,
		endsAt: time.Now().Add(f.backupDelay), fails: f.failNextRestore}
	f.failNextRestore = false
	f.restores = append(f.restores, restore)
	writeJSON(w, http.StatusCreated, map[string]string{"uuid": restore.UUID})
}

func (f *fakeAPI) getRestore(w http.ResponseWriter, r *http.Request) {
	for _, restore := range f.restores {
		if restore.UUID == r.PathValue("id") {
			writeJSON(w, http.StatusOK, restore)
			return
		}
	}
	notFound(w)
}

// What the tests look at and change, each under the lock.

func (f *fakeAPI) count(route string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[route]
}

func (f *fakeAPI) totalRequests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.total
}

func (f *fakeAPI) resetCounts() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests, f.total = map[string]int{}, 0
}

func (f *fakeAPI) set(change func(f *fakeAPI)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

// liveInstanceIDs lists the environment's instances that are not removed.
func (f *fakeAPI) liveInstanceIDs(env string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for _, in := range f.instances {
		if in.Environment == env && in.ServiceStatus != "REMOVED" {
			ids = append(ids, in.UUID)
		}
	}
	return ids
}

func (f *fakeAPI) setStatus(id, status string) {
	f.set(func(f *fakeAPI) { f.instances[id].ServiceStatus = status })
}

func (f *fakeAPI) backdate(id string, by time.Duration) {
	f.set(func(f *fakeAPI) { f.instances[id].CreatedAt = f.instances[id].CreatedAt.Add(-by) })
}

func (f *fakeAPI) deploymentsOf(env string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, d := range f.deployments {
		if d.Environment == env {
			n++
		}
	}
	return n
}

func (f *fakeAPI) backupIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for _, b := range f.backups {
		ids = append(ids, b.UUID)
	}
	return ids
}

func (f *fakeAPI) restoreRequests() []fakeRestore {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeRestore
	for _, r := range f.restores {
		out = append(out, *r)
	}
	return out
}

// dropping applies each request, then loses its answer with probability rate (closing the
// connection), as a network fault does. Its rate can change while it serves.
type dropping struct {
	next http.Handler
	mu   sync.Mutex
	rng  *rand.Rand
	rate float64
	n    int
}

func dropAtRandom(next http.Handler, seed uint64) *dropping {
	return &dropping{next: next, rng: rand.New(rand.NewPCG(seed, seed))}
}

func (d *dropping) setRate(rate float64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rate = rate
}

func (d *dropping) dropped() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

func (d *dropping) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	drop := d.rng.Float64() < d.rate
	if drop {
		d.n++
	}
	d.mu.Unlock()
	if !drop {
		d.next.ServeHTTP(w, r)
		return
	}
	d.next.ServeHTTP(httptest.NewRecorder(), r)
	if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
		conn.Close()
	}
}
