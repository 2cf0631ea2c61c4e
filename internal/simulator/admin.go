package simulator

import (
	"encoding/json"
	"net/http"
	"time"
)

// The admin API mirrors the Go-level admin methods for tests that run the
// simulator out of process. It takes the same tokens as the API, is never
// subject to injected faults and is not counted.
//
//	POST   /_sim/reset
//	GET    /_sim/state                  {"instances", "deployments", "backups", "service_instance_backups", "restores"}
//	PATCH  /_sim/service-instances/{id} InstancePatch
//	DELETE /_sim/service-instances/{id} remove regardless of state
//	PUT    /_sim/service-instances/{id}/data     {"data": "..."}: the instance's content (409 unless functional)
//	POST   /_sim/service-instances/{id}/upgrade  {"service": "<identifier>"}: the platform's in-place upgrade (rule 10)
//	POST   /_sim/fail-next-deploy
//	POST   /_sim/drop-variables-next-deploy
//	POST   /_sim/stall-next-provision
//	POST   /_sim/fail-next-backup       the next backup a client creates completes with FAILURE
//	POST   /_sim/fail-next-restore      the next restore finishes with FAILURE
//	GET    /_sim/faults, PUT /_sim/faults   Faults (latency as "50ms"; integer nanoseconds also read)
//	GET    /_sim/delays, PUT /_sim/delays   Delays ({"provision": "2s", "deploy": "3s", "backup": "2s"})
//	GET    /_sim/counters, DELETE /_sim/counters
//	GET    /_sim/clock                  {"now": "<RFC 3339>", "offset": "720h0m0s"}: the simulator's clock, and how far ahead of the machine's
//	POST   /_sim/clock                  {"advance": "720h"}: move it forward and apply all that falls due (a Go duration; integer nanoseconds also read)
//	POST   /_sim/environments/{id}/scheduled-backup   201, the backup: the platform takes a SCHEDULED backup of every
//	                                    functional database and storage instance of the environment now (409 if none)
func (s *Simulator) adminRoutes() router {
	return router{
		{http.MethodPost, "/_sim/reset", s.adminReset},
		{http.MethodGet, "/_sim/state", s.adminState},
		{http.MethodPatch, "/_sim/service-instances/{id}", s.adminPatchInstance},
		{http.MethodDelete, "/_sim/service-instances/{id}", s.adminDeleteInstance},
		{http.MethodPut, "/_sim/service-instances/{id}/data", s.adminPutData},
		{http.MethodPost, "/_sim/service-instances/{id}/upgrade", s.adminUpgrade},
		{http.MethodPost, "/_sim/fail-next-deploy", s.adminFailNextDeploy},
		{http.MethodPost, "/_sim/drop-variables-next-deploy", s.adminDropVariablesNextDeploy},
		{http.MethodPost, "/_sim/stall-next-provision", s.adminStallNextProvision},
		{http.MethodPost, "/_sim/fail-next-backup", s.adminFailNextBackup},
		{http.MethodPost, "/_sim/fail-next-restore", s.adminFailNextRestore},
		{http.MethodGet, "/_sim/faults", s.adminGetFaults},
		{http.MethodPut, "/_sim/faults", s.adminPutFaults},
		{http.MethodGet, "/_sim/delays", s.adminGetDelays},
		{http.MethodPut, "/_sim/delays", s.adminPutDelays},
		{http.MethodGet, "/_sim/counters", s.adminGetCounters},
		{http.MethodDelete, "/_sim/counters", s.adminResetCounters},
		{http.MethodGet, "/_sim/clock", s.adminGetClock},
		{http.MethodPost, "/_sim/clock", s.adminAdvanceClock},
		{http.MethodPost, "/_sim/environments/{id}/scheduled-backup", s.adminScheduledBackup},
	}
}

// stateView is what GET /_sim/state answers.
type stateView struct {
	Instances   []InstanceState `json:"instances"`
	Deployments []Deployment    `json:"deployments"`

	Backups                []Backup                `json:"backups"`
	ServiceInstanceBackups []ServiceInstanceBackup `json:"service_instance_backups"`
	Restores               []Restore               `json:"restores"`
}

func (s *Simulator) adminReset(*http.Request, string) reply {
	s.Reset()
	return noContent()
}

func (s *Simulator) adminState(*http.Request, string) reply {
	return ok(stateView{Instances: s.InstanceStates(), Deployments: s.Deployments(),
		Backups: s.Backups(), ServiceInstanceBackups: s.ServiceInstanceBackups(), Restores: s.Restores()})
}

func (s *Simulator) adminPatchInstance(r *http.Request, id string) reply {
	var patch InstancePatch
	if err := decodeJSON(r, &patch); err != nil {
		return errorReply(err)
	}
	return s.apply(func(st *state, now time.Time) (reply, error) {
		if err := st.patchInstance(id, patch, now); err != nil {
			return reply{}, err
		}
		in, _ := st.anyInstance(id)
		return ok(in.Instance), nil
	})
}

type dataRequest struct {
	Data *string `json:"data"`
}

func (s *Simulator) adminPutData(r *http.Request, id string) reply {
	var req dataRequest
	if err := decodeJSON(r, &req); err != nil {
		return errorReply(err)
	}
	if req.Data == nil {
		return errorReply(fieldErrors{"data": {"This field is required."}})
	}
	return s.apply(func(st *state, _ time.Time) (reply, error) {
		in, err := st.setData(id, *req.Data)
		if err != nil {
			return reply{}, err
		}
		return ok(in.state()), nil
	})
}

func (s *Simulator) adminUpgrade(r *http.Request, id string) reply {
	var req upgradeRequest
	if err := decodeJSON(r, &req); err != nil {
		return errorReply(err)
	}
	return s.apply(func(st *state, _ time.Time) (reply, error) {
		in, err := st.upgradeInPlace(id, req)
		if err != nil {
			return reply{}, err
		}
		return ok(in.state()), nil
	})
}

func (s *Simulator) adminDeleteInstance(_ *http.Request, id string) reply {
	if err := s.DeleteInstanceOutOfBand(id); err != nil {
		return errorReply(err)
	}
	return noContent()
}

func (s *Simulator) adminFailNextDeploy(*http.Request, string) reply {
	s.FailNextDeploy()
	return noContent()
}

func (s *Simulator) adminDropVariablesNextDeploy(*http.Request, string) reply {
	s.DropVariablesNextDeploy()
	return noContent()
}

func (s *Simulator) adminStallNextProvision(*http.Request, string) reply {
	s.StallNextProvision()
	return noContent()
}

func (s *Simulator) adminGetFaults(*http.Request, string) reply {
	return ok(s.Faults())
}

func (s *Simulator) adminPutFaults(r *http.Request, _ string) reply {
	var f Faults
	if err := decodeJSON(r, &f); err != nil {
		return errorReply(err)
	}
	if err := f.validate(); err != nil {
		return errorReply(err)
	}
	s.SetFaults(f)
	return ok(f)
}

func (s *Simulator) adminGetCounters(*http.Request, string) reply {
	return ok(s.Counters())
}

func (s *Simulator) adminResetCounters(*http.Request, string) reply {
	s.ResetCounters()
	return noContent()
}

func (s *Simulator) adminGetDelays(*http.Request, string) reply {
	return ok(s.Delays())
}

func (s *Simulator) adminPutDelays(r *http.Request, _ string) reply {
	var d Delays
	if err := decodeJSON(r, &d); err != nil {
		return errorReply(err)
	}
	if d.Provision < 0 || d.Deploy < 0 || d.Backup < 0 {
		return errorReply(fieldErrors{"non_field_errors": {"Delays must not be negative."}})
	}
	s.SetDelays(d)
	return ok(d)
}

// clockView is the simulator's clock as the admin API shows it.
type clockView struct {
	Now    time.Time `json:"now"`
	Offset string    `json:"offset"` // how far ahead of the machine's clock
}

func (s *Simulator) clockView(now time.Time) clockView {
	s.mu.Lock()
	defer s.mu.Unlock()
	return clockView{Now: now, Offset: s.st.ClockOffset.String()}
}

func (s *Simulator) adminGetClock(*http.Request, string) reply {
	return ok(s.clockView(s.Now()))
}

func (s *Simulator) adminAdvanceClock(r *http.Request, _ string) reply {
	var req struct {
		Advance json.RawMessage `json:"advance"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return errorReply(err)
	}
	if len(req.Advance) == 0 || string(req.Advance) == "null" {
		return errorReply(fieldErrors{"advance": {"This field is required."}})
	}
	d, err := parseLatency(req.Advance)
	if err != nil {
		return errorReply(fieldErrors{"advance": {err.Error()}})
	}
	now, err := s.AdvanceClock(d)
	if err != nil {
		return errorReply(err)
	}
	return ok(s.clockView(now))
}

func (s *Simulator) adminScheduledBackup(_ *http.Request, envID string) reply {
	b, err := s.TakeScheduledBackup(envID)
	if err != nil {
		return errorReply(err)
	}
	return created(b)
}
