// Package simulator is a local Divio control plane: it serves the services API
// described in the project's API contract (regions, catalog, applications,
// environments, service instances, deployments and their logs, environment
// variables, organisations and the current user) from an in-memory or
// file-backed state, plus an admin API under /_sim/ that tests use to reset the
// state, inject faults and change things behind a client's back. It serves
// requests as the Divio CLI sends them: paths with or without their trailing
// slash, bodies as JSON or form-encoded.
//
// It is written against the contract, never against the project's API client,
// so that a misreading in one is caught by the other's tests.
//
// In tests, serve it in process:
//
//	sim, _ := simulator.New(simulator.Options{})
//	defer sim.Close()
//	srv := httptest.NewServer(sim) // token simulator.DemoToken
//
// By hand, run the command:
//
//	go run ./cmd/divio-simulator --data sim.json
//
// Time-driven changes (provisioning, deployments, backups, deletion times,
// retention, scheduled backups) are stored as deadlines and applied when due,
// at the start of each request and by a light ticker, so they need no timers
// and carry on across a restart from the data file. With zero delays they take
// effect within the request that starts them, so the answer already shows the
// outcome (PENDING_ATTACHMENT, done). They run on the simulator's clock, which
// the admin API moves forward (POST /_sim/clock {"advance": "720h"}) to play
// weeks of retention in a test.
//
// The admin API also plays the platform's own moves, as the contract fixes
// them: every instance carries a data string standing for its content (GET
// /_sim/state shows it, PUT /_sim/service-instances/<uuid>/data sets it; a
// backup captures it, a restore writes it), POST
// /_sim/service-instances/<uuid>/upgrade upgrades an instance in place (rule
// 10), and POST /_sim/environments/<uuid>/scheduled-backup takes a scheduled
// backup; Options.ScheduledBackups takes one daily. adminRoutes lists every
// admin call with its request.
package simulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Options configure a Simulator.
type Options struct {
	Dataset        string        // "demo" (default when empty) or "bench"
	Tokens         []string      // accepted API tokens; default []string{DemoToken}
	DataFile       string        // "" = in memory; else loaded on start (seeded if missing) and written after every change
	ProvisionDelay time.Duration // how long PROVISIONING lasts; 0 = immediately
	DeployDelay    time.Duration // how long a deployment stays WORKING; 0 = finishes immediately
	BackupDelay    time.Duration // how long a backup or a restore runs; 0 = completes immediately
	// ScheduledBackups makes the platform take a scheduled backup of every
	// environment with a functional database or storage instance daily at
	// 02:00 UTC on the simulator's clock. Off by default, so that nothing but
	// clients adds backups.
	ScheduledBackups bool
	Faults           Faults
	Seed             int64 // seed for fault randomness; 0 = time-based
}

// Simulator serves the API and the admin API. It is safe for concurrent use.
type Simulator struct {
	data    *dataset
	tokens  [][]byte
	file    string
	now     func() time.Time
	traffic *faultInjector
	api     router
	admin   router

	mu sync.Mutex // guards st
	st *state

	stop      chan struct{}
	stopped   chan struct{}
	closeOnce sync.Once
}

// tickInterval is how often time-driven transitions are applied without
// requests, so that a data file catches up while nobody asks.
const tickInterval = 200 * time.Millisecond

// New starts a simulator; Close stops it.
func New(opts Options) (*Simulator, error) {
	return newSimulator(opts, realNow)
}

// realNow has the precision the API shows (microseconds, like Django), so a
// time read back from the data file equals the one handed out.
func realNow() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func newSimulator(opts Options, now func() time.Time) (*Simulator, error) {
	if err := opts.Faults.validate(); err != nil {
		return nil, fmt.Errorf("faults: %w", err)
	}
	st, err := initialState(opts)
	if err != nil {
		return nil, err
	}
	tokens := opts.Tokens
	if len(tokens) == 0 {
		tokens = []string{DemoToken}
	}
	s := &Simulator{
		data:    st.data,
		file:    opts.DataFile,
		now:     now,
		traffic: newFaultInjector(opts.Faults, opts.Seed, now),
		st:      st,
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	for _, t := range tokens {
		s.tokens = append(s.tokens, []byte(t))
	}
	s.api, s.admin = s.apiRoutes(), s.adminRoutes()
	// Apply what fell due while the simulator was not running, and make
	// sure a new data file exists from the start.
	s.mu.Lock()
	st.scheduleBackups(opts.ScheduledBackups, s.clockLocked())
	st.advance(s.clockLocked())
	err = s.persistLocked()
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	go s.tick()
	return s, nil
}

// initialState loads the data file if there is one, else seeds the dataset.
// A data file keeps its dataset: asking for another one is an error rather
// than a silent mix of the two.
func initialState(opts Options) (*state, error) {
	var saved *state
	if opts.DataFile != "" {
		var err error
		if saved, err = loadState(opts.DataFile); err != nil {
			return nil, err
		}
	}
	name := opts.Dataset
	switch {
	case saved != nil && name != "" && name != saved.Dataset:
		return nil, fmt.Errorf("data file %s holds dataset %q, not %q", opts.DataFile, saved.Dataset, name)
	case saved != nil:
		name = saved.Dataset
	case name == "":
		name = DatasetDemo
	}
	ds, err := loadDataset(name)
	if err != nil {
		return nil, err
	}
	st := saved
	if st == nil {
		st = newState(ds)
	}
	st.data, st.provisionDelay, st.deployDelay = ds, opts.ProvisionDelay, opts.DeployDelay
	if saved != nil {
		st.upgradeDataFile()
	}
	st.backupDelay = opts.BackupDelay
	return st, nil
}

// ServeHTTP serves the API and, under /_sim/, the admin API.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_sim/") {
		writeReply(w, s.admin.serve(r, s.tokens))
		return
	}
	s.serveAPI(w, r)
}

// serveAPI puts the fault layer around the API: latency, rate limit and
// injected errors come before the request is applied; a dropped answer after.
func (s *Simulator) serveAPI(w http.ResponseWriter, r *http.Request) {
	_, _, pattern, _ := s.api.match(r.Method, r.URL.Path)
	if rep, injected := s.traffic.before(r, pattern); injected {
		writeReply(w, rep)
		return
	}
	rep := s.api.serve(r, s.tokens)
	if s.traffic.dropResponse() {
		dropConnection(w)
		return
	}
	writeReply(w, rep)
}

// Close stops background work and writes the state a last time.
func (s *Simulator) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.stopped
		s.mu.Lock()
		defer s.mu.Unlock()
		s.st.advance(s.clockLocked())
		err = s.persistLocked()
	})
	return err
}

func (s *Simulator) tick() {
	defer close(s.stopped)
	t := time.NewTicker(tickInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			_ = s.read(func(*state) {}) // a failed write is retried next tick
		}
	}
}

// update applies the due transitions, runs change and persists. The state is
// saved even when change refuses, because time may have moved it on.
func (s *Simulator) update(change func(st *state, now time.Time) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clockLocked()
	s.st.advance(now)
	changeErr := change(s.st, now)
	return errors.Join(changeErr, s.persistLocked())
}

// read applies the due transitions and lets look read the state; look must
// copy out what it keeps.
func (s *Simulator) read(look func(st *state)) error {
	return s.readAt(func(st *state, _ time.Time) { look(st) })
}

// readAt is read that also tells look the time the state was brought to.
func (s *Simulator) readAt(look func(st *state, now time.Time)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clockLocked()
	changed := s.st.advance(now)
	look(s.st, now)
	if changed {
		return s.persistLocked()
	}
	return nil
}

// clockLocked is the simulator's clock: the machine's, moved forward by what
// the admin API asked. The caller holds s.mu.
func (s *Simulator) clockLocked() time.Time { return s.now().Add(s.st.ClockOffset) }

// Now returns the time on the simulator's clock.
func (s *Simulator) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clockLocked()
}

// AdvanceClock moves the simulator's clock forward by d and applies
// everything that falls due on the way, as if that time had passed: the
// end of provisioning and deployments, backups and restores, deletion times,
// retention and, when on, the daily scheduled backups. It returns the new time.
func (s *Simulator) AdvanceClock(d time.Duration) (time.Time, error) {
	if d < 0 {
		return time.Time{}, fieldErrors{"advance": {"The clock only moves forward."}}
	}
	var now time.Time
	err := s.update(func(st *state, before time.Time) error {
		st.ClockOffset += d
		now = before.Add(d)
		st.advance(now)
		return nil
	})
	return now, err
}

// TakeScheduledBackup plays the platform taking a scheduled backup of an
// environment now, of every functional database and storage instance.
func (s *Simulator) TakeScheduledBackup(envID string) (Backup, error) {
	var b Backup
	err := s.update(func(st *state, now time.Time) error {
		rec, err := st.scheduledBackup(envID, now)
		if err != nil {
			return err
		}
		st.advance(now) // a zero delay completes it at once
		b = rec.Backup
		return nil
	})
	return b, err
}

func (s *Simulator) persistLocked() error {
	if s.file == "" {
		return nil
	}
	return saveState(s.file, s.st)
}

// Reset returns to the dataset's initial state, zeroes the counters and turns
// faults off. The clock stays where it is, and scheduled backups as they were.
func (s *Simulator) Reset() {
	s.mu.Lock()
	fresh := newState(s.data)
	fresh.provisionDelay, fresh.deployDelay = s.st.provisionDelay, s.st.deployDelay
	fresh.backupDelay = s.st.backupDelay
	fresh.ClockOffset = s.st.ClockOffset // time does not go back
	on := s.st.scheduledBackups
	s.st = fresh
	fresh.scheduleBackups(on, s.clockLocked())
	_ = s.persistLocked() // the in-memory state is authoritative; the next change retries the write
	s.mu.Unlock()
	s.traffic.reset()
}

// Delays are how long provisioning, a deployment and a backup (or restore) take. In JSON each is a
// Go duration string ("1500ms"); integer nanoseconds are read too.
type Delays struct {
	Provision time.Duration
	Deploy    time.Duration
	Backup    time.Duration
}

type delaysJSON struct {
	Provision json.RawMessage `json:"provision"`
	Deploy    json.RawMessage `json:"deploy"`
	Backup    json.RawMessage `json:"backup"`
}

// MarshalJSON writes each delay as a duration string.
func (d Delays) MarshalJSON() ([]byte, error) {
	str := func(v time.Duration) json.RawMessage { b, _ := json.Marshal(v.String()); return b }
	return json.Marshal(delaysJSON{str(d.Provision), str(d.Deploy), str(d.Backup)})
}

// UnmarshalJSON reads each delay as a duration string or integer nanoseconds.
func (d *Delays) UnmarshalJSON(b []byte) error {
	var raw delaysJSON
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	errs := fieldErrors{}
	for field, target := range map[string]struct {
		raw json.RawMessage
		out *time.Duration
	}{"provision": {raw.Provision, &d.Provision}, "deploy": {raw.Deploy, &d.Deploy}, "backup": {raw.Backup, &d.Backup}} {
		v, err := parseLatency(target.raw)
		if err != nil {
			errs.add(field, err.Error())
		}
		*target.out = v
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// SetDelays changes the delays of what starts from now on; what runs keeps its own.
func (s *Simulator) SetDelays(d Delays) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.provisionDelay, s.st.deployDelay, s.st.backupDelay = d.Provision, d.Deploy, d.Backup
}

// Delays returns the delays in effect.
func (s *Simulator) Delays() Delays {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Delays{Provision: s.st.provisionDelay, Deploy: s.st.deployDelay, Backup: s.st.backupDelay}
}

// SetFaults replaces the injected faults.
func (s *Simulator) SetFaults(f Faults) { s.traffic.setFaults(f) }

// Faults returns the injected faults in effect.
func (s *Simulator) Faults() Faults { return s.traffic.currentFaults() }

// FailNextDeploy makes the next deployment created (any environment) end in
// FAILURE without changing anything.
func (s *Simulator) FailNextDeploy() {
	_ = s.update(func(st *state, _ time.Time) error { st.FailNextDeploy = true; return nil })
}

// DropVariablesNextDeploy makes the next deployment created (any environment)
// succeed and attach what it plans to, without giving the application the
// variables of the instances it attaches: they read ATTACHED, yet their names
// are missing from the deployment's environment_variables.
func (s *Simulator) DropVariablesNextDeploy() {
	_ = s.update(func(st *state, _ time.Time) error { st.DropVariablesNextDeploy = true; return nil })
}

// StallNextProvision makes the next instance that starts provisioning stay
// PROVISIONING forever, for timeout tests.
func (s *Simulator) StallNextProvision() {
	_ = s.update(func(st *state, _ time.Time) error { st.StallNextProvision = true; return nil })
}

// Counters returns a copy of the request counters.
func (s *Simulator) Counters() Counters { return s.traffic.counters() }

// ResetCounters zeroes the request counters.
func (s *Simulator) ResetCounters() { s.traffic.resetCounters() }

// Instances returns every instance, REMOVED ones included, oldest first.
func (s *Simulator) Instances() []Instance {
	var out []Instance
	_ = s.read(func(st *state) {
		out = make([]Instance, 0, len(st.Instances))
		for _, in := range st.Instances {
			out = append(out, in.Instance)
		}
	})
	return out
}

// InstanceStates returns every instance with the data it holds, REMOVED ones
// included, oldest first: what GET /_sim/state shows.
func (s *Simulator) InstanceStates() []InstanceState {
	var out []InstanceState
	_ = s.read(func(st *state) {
		out = make([]InstanceState, 0, len(st.Instances))
		for _, in := range st.Instances {
			out = append(out, in.state())
		}
	})
	return out
}

// SetInstanceData sets the content an instance holds, as
// PUT /_sim/service-instances/<uuid>/data does.
func (s *Simulator) SetInstanceData(id, data string) error {
	return s.update(func(st *state, _ time.Time) error { _, err := st.setData(id, data); return err })
}

// UpgradeInstance plays the platform's in-place upgrade of an instance to a
// newer version (a catalog identifier), as POST /_sim/service-instances/<uuid>/upgrade does.
func (s *Simulator) UpgradeInstance(id, identifier string) error {
	return s.update(func(st *state, _ time.Time) error {
		_, err := st.upgradeInPlace(id, upgradeRequest{Service: identifier})
		return err
	})
}

// Deployments returns every deployment, oldest first.
func (s *Simulator) Deployments() []Deployment {
	var out []Deployment
	_ = s.read(func(st *state) {
		out = make([]Deployment, 0, len(st.Deployments))
		for _, d := range st.Deployments {
			out = append(out, d.Deployment)
		}
	})
	return out
}

// DeploymentVariables returns the names of the variables a deployment gave the application, sorted:
// none until it succeeds.
func (s *Simulator) DeploymentVariables(id string) []string {
	var names []string
	_ = s.read(func(st *state) {
		if d, err := st.deployment(id); err == nil {
			names = slices.Sorted(maps.Keys(d.Variables))
		}
	})
	return names
}

// ArmedFaults are the one-shot faults armed and not yet met.
type ArmedFaults struct {
	FailNextDeploy, DropVariablesNextDeploy, StallNextProvision, FailNextBackup, FailNextRestore bool
}

// Any reports whether a fault is armed.
func (a ArmedFaults) Any() bool { return a != ArmedFaults{} }

// Armed returns the one-shot faults armed and not yet met.
func (s *Simulator) Armed() ArmedFaults {
	var a ArmedFaults
	_ = s.read(func(st *state) {
		a = ArmedFaults{st.FailNextDeploy, st.DropVariablesNextDeploy, st.StallNextProvision, st.FailNextBackup, st.FailNextRestore}
	})
	return a
}

// DeploymentPlanned returns how many instances a deployment was to attach and detach when it
// started (what it built from).
func (s *Simulator) DeploymentPlanned(id string) int {
	n := 0
	_ = s.read(func(st *state) {
		if d, err := st.deployment(id); err == nil && d.Plan != nil {
			n = len(d.Plan.Attach) + len(d.Plan.Detach)
		}
	})
	return n
}

// DeploymentLog returns a deployment's log as GET deployments/<uuid>/logs gives it.
func (s *Simulator) DeploymentLog(id string) string {
	var text string
	_ = s.read(func(st *state) {
		if d, err := st.deployment(id); err == nil {
			text = d.logText(s.clockLocked())
		}
	})
	return text
}

// SetInstance changes an instance behind the client's back, as an operator
// or a failure on Divio's side could. Unknown id: an error.
func (s *Simulator) SetInstance(id string, patch InstancePatch) error {
	return s.update(func(st *state, now time.Time) error { return st.patchInstance(id, patch, now) })
}

// DeleteInstanceOutOfBand removes an instance whatever its state, as if done
// in the Control Panel. Removing a removed instance is a no-op.
func (s *Simulator) DeleteInstanceOutOfBand(id string) error {
	return s.update(func(st *state, _ time.Time) error {
		in, err := st.anyInstance(id)
		if err == nil {
			st.removeInstance(in)
		}
		return err
	})
}
