package simulator

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Backup states, outcomes and triggers. A backup is PENDING, then WORKING,
// then COMPLETED with a success of SUCCESS or FAILURE; a restore is not
// finished, then finished with the same outcomes.
const (
	BackupPending   = "PENDING"
	BackupWorking   = "WORKING"
	BackupCompleted = "COMPLETED"
	BackupSuccess   = "SUCCESS"
	BackupFailure   = "FAILURE"
	TriggerManual   = "MANUAL"
)

// Backup is a backup as the API shows it.
type Backup struct {
	UUID                   string     `json:"uuid"`
	Environment            string     `json:"environment"`
	State                  string     `json:"state"`
	Success                *string    `json:"success"`
	ServiceInstanceBackups []string   `json:"service_instance_backups"`
	Notes                  string     `json:"notes"`
	ScheduledForDeletionAt *time.Time `json:"scheduled_for_deletion_at"`
	Trigger                string     `json:"trigger"`
	CreatedAt              time.Time  `json:"created_at"`
}

// ServiceInstanceBackup is one instance's part of a backup, as the API shows
// it. It keeps what it says of its instance after the instance is removed.
type ServiceInstanceBackup struct {
	UUID            string     `json:"uuid"`
	Backup          string     `json:"backup"`
	ServiceInstance string     `json:"service_instance"`
	ServiceType     string     `json:"service_type"`
	Prefix          string     `json:"prefix"`
	StartedAt       *time.Time `json:"started_at"`
	EndedAt         *time.Time `json:"ended_at"`
	Errors          *string    `json:"errors"`
	Size            *int64     `json:"size"` // bytes; null until it ends without errors
}

// ServiceInstanceRestore names the part of a backup that a restore writes back.
type ServiceInstanceRestore struct {
	ServiceInstanceBackup string `json:"service_instance_backup"`
}

// Restore is a backup restore as the API shows it.
type Restore struct {
	UUID                    string                   `json:"uuid"`
	Backup                  string                   `json:"backup"`
	ServiceInstanceRestores []ServiceInstanceRestore `json:"service_instance_restores"`
	Notes                   string                   `json:"notes"`
	Finished                bool                     `json:"finished"`
	Success                 *string                  `json:"success"`
	Errors                  *string                  `json:"errors"`
	CreatedAt               time.Time                `json:"created_at"`
}

// backupRecord adds what the simulator keeps but the API does not show. The
// parts' and the backup's pointer fields are replaced, never written
// through, so that copies handed to answers stay as they were.
type backupRecord struct {
	Backup
	Parts    []*ServiceInstanceBackup `json:"parts"`
	StartsAt time.Time                `json:"starts_at"` // PENDING ends
	EndsAt   time.Time                `json:"ends_at"`   // COMPLETED
	WillFail bool                     `json:"will_fail,omitempty"`
}

type restoreRecord struct {
	Restore
	// Targets are the instances written to, fixed when the restore starts so
	// that deleting the backup meanwhile does not change what it does.
	Targets  []string  `json:"targets"`
	EndsAt   time.Time `json:"ends_at"`
	WillFail bool      `json:"will_fail,omitempty"`
}

// pendingShare is the part of a backup's run time spent PENDING (queued)
// before it is WORKING.
const pendingShare = 4

// Size stand-in: an instance holds more the longer it has existed, so that a
// later backup of it is larger, and a backup's size never changes once taken.
var (
	baseSize      = map[string]int64{TypeDatabase: 1 << 20, TypeStorage: 0}
	growthPerHour = map[string]int64{TypeDatabase: 8 << 20, TypeStorage: 64 << 20}
)

func sizeOf(in *instanceRecord, at time.Time) int64 {
	hours := max(0, at.Sub(in.CreatedAt).Hours())
	return baseSize[in.Type] + int64(hours*float64(growthPerHour[in.Type]))
}

type createBackupRequest struct {
	Environment            string   `json:"environment"`
	Services               []string `json:"services"`
	Trigger                string   `json:"trigger"`
	Notes                  string   `json:"notes"`
	ScheduledForDeletionAt *string  `json:"scheduled_for_deletion_at"`
}

// createBackup checks the fields (400) before the instances' states (409),
// so that a request that can never work says so first.
func (st *state) createBackup(req createBackupRequest, now time.Time) (*backupRecord, error) {
	errs := fieldErrors{}
	_, envOK := st.data.environment(req.Environment)
	requireExisting(errs, "environment", req.Environment, envOK)
	switch req.Trigger {
	case TriggerManual:
	case "":
		errs.add("trigger", "This field is required.")
	default:
		errs.add("trigger", fmt.Sprintf("%q is not a valid choice.", req.Trigger))
	}
	instances := st.backupInstances(errs, req.Services, req.Environment, envOK)
	deleteAt := parseDeletionTime(errs, req.ScheduledForDeletionAt, now)
	if len(errs) > 0 {
		return nil, errs
	}
	for _, in := range instances {
		if !in.provisioned() {
			return nil, conflictError(fmt.Sprintf("Service instance %s (%s %s) is %s: only a provisioned instance (%s through %s) holds data to back up.",
				in.UUID, in.Type, in.Prefix, in.Status, StatusPendingAttachment, StatusDetached))
		}
	}

	b := &backupRecord{
		Backup: Backup{
			UUID: uuid.NewString(), Environment: req.Environment, State: BackupPending, ServiceInstanceBackups: []string{},
			Notes: req.Notes, ScheduledForDeletionAt: deleteAt, Trigger: req.Trigger, CreatedAt: now,
		},
		StartsAt: now.Add(st.backupDelay / pendingShare),
		EndsAt:   now.Add(st.backupDelay),
		WillFail: st.FailNextBackup,
	}
	st.FailNextBackup = false
	for _, in := range instances {
		part := &ServiceInstanceBackup{UUID: uuid.NewString(), Backup: b.UUID, ServiceInstance: in.UUID, ServiceType: in.Type, Prefix: in.Prefix}
		b.Parts = append(b.Parts, part)
		b.ServiceInstanceBackups = append(b.ServiceInstanceBackups, part.UUID)
	}
	st.Backups = append(st.Backups, b)
	st.advance(now) // a zero delay completes it at once
	return b, nil
}

// backupInstances resolves the services field, reporting what is wrong with it in errs.
func (st *state) backupInstances(errs fieldErrors, ids []string, envID string, envOK bool) []*instanceRecord {
	if ids == nil {
		errs.add("services", "This field is required.")
		return nil
	}
	if len(ids) == 0 {
		errs.add("services", "This list may not be empty.")
	}
	var instances []*instanceRecord
	for i, id := range ids {
		in, err := st.instance(id)
		switch {
		case err != nil:
			errs.add("services", fmt.Sprintf("Invalid pk %q - object does not exist.", id))
		case slices.Contains(ids[:i], id):
			errs.add("services", fmt.Sprintf("Service instance %s is listed more than once.", id))
		case envOK && in.Environment != envID:
			errs.add("services", fmt.Sprintf("Service instance %s does not belong to environment %s.", id, envID))
		case in.Type != TypeDatabase && in.Type != TypeStorage:
			errs.add("services", fmt.Sprintf("Service instance %s is of type %s: only %s and %s instances can be backed up.", id, in.Type, TypeDatabase, TypeStorage))
		default:
			instances = append(instances, in)
		}
	}
	return instances
}

// parseDeletionTime reads an ISO 8601 time as DRF does; one without a zone is
// UTC. A time that has passed is refused: the backup would be gone at once.
func parseDeletionTime(errs fieldErrors, raw *string, now time.Time) *time.Time {
	if raw == nil || *raw == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, *raw)
	if err != nil {
		t, err = time.ParseInLocation("2006-01-02T15:04:05.999999999", *raw, time.UTC)
	}
	switch {
	case err != nil:
		errs.add("scheduled_for_deletion_at", "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].")
		return nil
	case !t.After(now):
		errs.add("scheduled_for_deletion_at", fmt.Sprintf("The deletion time must be in the future (it is now %s).", now.Format(time.RFC3339)))
		return nil
	}
	t = t.UTC().Truncate(time.Microsecond) // the precision the API keeps
	return &t
}

func (st *state) backup(id string) (*backupRecord, error) {
	for _, b := range st.Backups {
		if b.UUID == id {
			return b, nil
		}
	}
	return nil, errNotFound
}

func (st *state) serviceInstanceBackup(id string) (*ServiceInstanceBackup, error) {
	for _, b := range st.Backups {
		for _, part := range b.Parts {
			if part.UUID == id {
				return part, nil
			}
		}
	}
	return nil, errNotFound
}

// deleteBackup deletes a backup in any state; a running one stops.
func (st *state) deleteBackup(id string) error {
	if _, err := st.backup(id); err != nil {
		return err
	}
	st.Backups = slices.DeleteFunc(st.Backups, func(b *backupRecord) bool { return b.UUID == id })
	return nil
}

// advanceBackups is advance's share for backups and restores: it deletes
// backups whose time has come and moves the rest on.
func (st *state) advanceBackups(now time.Time) bool {
	before := len(st.Backups)
	st.Backups = slices.DeleteFunc(st.Backups, func(b *backupRecord) bool {
		return b.ScheduledForDeletionAt != nil && !now.Before(*b.ScheduledForDeletionAt)
	})
	changed := len(st.Backups) != before
	for _, b := range st.Backups {
		switch {
		case b.State == BackupCompleted:
		case !now.Before(b.EndsAt):
			st.finishBackup(b)
			changed = true
		case b.State == BackupPending && !now.Before(b.StartsAt):
			b.State = BackupWorking
			for _, part := range b.Parts {
				started := b.StartsAt
				part.StartedAt = &started
			}
			changed = true
		}
	}
	for _, r := range st.Restores {
		if !r.Finished && !now.Before(r.EndsAt) {
			st.finishRestore(r)
			changed = true
		}
	}
	return changed
}

// finishBackup ends a backup at its due time. A part fails if asked to, or
// if its instance stopped holding data before the backup ended.
func (st *state) finishBackup(b *backupRecord) {
	outcome := BackupSuccess
	for _, part := range b.Parts {
		started, ended := b.StartsAt, b.EndsAt
		part.StartedAt, part.EndedAt = &started, &ended
		in, err := st.instance(part.ServiceInstance)
		var problem string
		switch {
		case b.WillFail:
			problem = fmt.Sprintf("Injected failure (fail-next-backup): the backup of %s instance %s (%s) could not be completed.", part.ServiceType, part.Prefix, part.ServiceInstance)
		case err != nil:
			problem = fmt.Sprintf("The service instance %s was removed before its backup finished.", part.ServiceInstance)
		case !in.provisioned():
			problem = fmt.Sprintf("The service instance %s became %s before its backup finished.", part.ServiceInstance, in.Status)
		}
		if problem != "" {
			part.Errors = &problem
			outcome = BackupFailure
			continue
		}
		size := sizeOf(in, ended)
		part.Size = &size
	}
	b.State, b.Success = BackupCompleted, &outcome
}

type createRestoreRequest struct {
	Backup                  string                   `json:"backup"`
	ServiceInstanceRestores []ServiceInstanceRestore `json:"service_instance_restores"`
	Notes                   string                   `json:"notes"`
}

// createRestore checks the fields (400), then that the backup holds data
// and that each instance it came from can take it back (409).
func (st *state) createRestore(req createRestoreRequest, now time.Time) (*restoreRecord, error) {
	errs := fieldErrors{}
	b, err := st.backup(req.Backup)
	requireExisting(errs, "backup", req.Backup, err == nil)
	var parts []*ServiceInstanceBackup
	switch {
	case req.ServiceInstanceRestores == nil:
		errs.add("service_instance_restores", "This field is required.")
	case len(req.ServiceInstanceRestores) == 0:
		errs.add("service_instance_restores", "This list may not be empty.")
	}
	for i, sir := range req.ServiceInstanceRestores {
		part, err := st.serviceInstanceBackup(sir.ServiceInstanceBackup)
		switch {
		case sir.ServiceInstanceBackup == "":
			errs.add("service_instance_restores", fmt.Sprintf("Item %d: service_instance_backup: This field is required.", i+1))
		case err != nil:
			errs.add("service_instance_restores", fmt.Sprintf("Item %d: Invalid pk %q - object does not exist.", i+1, sir.ServiceInstanceBackup))
		case b != nil && part.Backup != b.UUID:
			errs.add("service_instance_restores", fmt.Sprintf("Item %d: service instance backup %s is not part of backup %s.", i+1, part.UUID, b.UUID))
		default:
			parts = append(parts, part)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if b.State != BackupCompleted {
		return nil, conflictError(fmt.Sprintf("Backup %s is %s: wait for it to complete before restoring it.", b.UUID, b.State))
	}
	r := &restoreRecord{
		Restore: Restore{
			UUID: uuid.NewString(), Backup: b.UUID, ServiceInstanceRestores: req.ServiceInstanceRestores,
			Notes: req.Notes, CreatedAt: now,
		},
		EndsAt:   now.Add(st.backupDelay),
		WillFail: st.FailNextRestore,
	}
	for _, part := range parts {
		if err := st.checkRestorable(part); err != nil {
			return nil, err
		}
		r.Targets = append(r.Targets, part.ServiceInstance)
	}
	st.FailNextRestore = false
	st.Restores = append(st.Restores, r)
	st.advance(now) // a zero delay finishes it at once
	return r, nil
}

// checkRestorable: a part holds data only if it ended without errors, and
// can only go back into its own instance while that still holds data.
func (st *state) checkRestorable(part *ServiceInstanceBackup) error {
	if part.Errors != nil {
		return conflictError(fmt.Sprintf("Service instance backup %s failed (%s): it holds nothing to restore.", part.UUID, *part.Errors))
	}
	in, err := st.instance(part.ServiceInstance)
	if err != nil {
		return conflictError(fmt.Sprintf("The service instance %s that backup %s was taken from has been removed: a backup can only be restored into the instance it was taken from.",
			part.ServiceInstance, part.UUID))
	}
	if !in.provisioned() {
		return conflictError(fmt.Sprintf("The service instance %s is %s: it must be provisioned (%s through %s) to be restored into.",
			in.UUID, in.Status, StatusPendingAttachment, StatusDetached))
	}
	return nil
}

// finishRestore writes the data back (which changes nothing the API shows:
// the instances keep their status) unless asked to fail or a target
// stopped holding data meanwhile.
func (st *state) finishRestore(r *restoreRecord) {
	var problems []string
	for _, id := range r.Targets {
		in, err := st.instance(id)
		switch {
		case r.WillFail:
			problems = append(problems, fmt.Sprintf("Injected failure (fail-next-restore): the restore into instance %s could not be completed.", id))
		case err != nil:
			problems = append(problems, fmt.Sprintf("The service instance %s was removed before the restore finished.", id))
		case !in.provisioned():
			problems = append(problems, fmt.Sprintf("The service instance %s became %s before the restore finished.", id, in.Status))
		}
	}
	outcome := BackupSuccess
	if len(problems) > 0 {
		outcome = BackupFailure
		text := strings.Join(problems, " ")
		r.Errors = &text
	}
	r.Finished, r.Success = true, &outcome
}

func (st *state) restore(id string) (*restoreRecord, error) {
	for _, r := range st.Restores {
		if r.UUID == id {
			return r, nil
		}
	}
	return nil, errNotFound
}

// HTTP handlers.

func (s *Simulator) createBackup(r *http.Request, _ string) reply {
	var req createBackupRequest
	if err := decodeJSON(r, &req); err != nil {
		return errorReply(err)
	}
	return s.apply(func(st *state, now time.Time) (reply, error) {
		b, err := st.createBackup(req, now)
		if err != nil {
			return reply{}, err
		}
		return created(b.Backup), nil
	})
}

// listBackups answers newest first, optionally for one environment.
func (s *Simulator) listBackups(r *http.Request, _ string) reply {
	q := r.URL.Query()
	return s.answer(func(st *state) reply {
		list := []Backup{}
		for _, b := range slices.Backward(st.Backups) {
			if queryMatches(q, "environment", b.Environment) {
				list = append(list, b.Backup)
			}
		}
		return paginate(r, list)
	})
}

func (s *Simulator) getBackup(_ *http.Request, id string) reply {
	return s.answer(func(st *state) reply {
		b, err := st.backup(id)
		if err != nil {
			return errorReply(err)
		}
		return ok(b.Backup)
	})
}

func (s *Simulator) deleteBackup(_ *http.Request, id string) reply {
	return s.apply(func(st *state, _ time.Time) (reply, error) { return noContent(), st.deleteBackup(id) })
}

func (s *Simulator) getServiceInstanceBackup(_ *http.Request, id string) reply {
	return s.answer(func(st *state) reply {
		part, err := st.serviceInstanceBackup(id)
		if err != nil {
			return errorReply(err)
		}
		return ok(*part)
	})
}

func (s *Simulator) createRestore(r *http.Request, _ string) reply {
	var req createRestoreRequest
	if err := decodeJSON(r, &req); err != nil {
		return errorReply(err)
	}
	return s.apply(func(st *state, now time.Time) (reply, error) {
		res, err := st.createRestore(req, now)
		if err != nil {
			return reply{}, err
		}
		return created(res.Restore), nil
	})
}

func (s *Simulator) getRestore(_ *http.Request, id string) reply {
	return s.answer(func(st *state) reply {
		res, err := st.restore(id)
		if err != nil {
			return errorReply(err)
		}
		return ok(res.Restore)
	})
}

// Go-level admin methods.

// FailNextBackup makes the next backup created (any environment) complete
// with FAILURE, each of its service-instance backups saying why in errors.
func (s *Simulator) FailNextBackup() {
	_ = s.update(func(st *state, _ time.Time) error { st.FailNextBackup = true; return nil })
}

// FailNextRestore makes the next restore created finish with FAILURE.
func (s *Simulator) FailNextRestore() {
	_ = s.update(func(st *state, _ time.Time) error { st.FailNextRestore = true; return nil })
}

// Backups returns every backup not deleted, oldest first.
func (s *Simulator) Backups() []Backup {
	out := []Backup{}
	_ = s.read(func(st *state) {
		for _, b := range st.Backups {
			out = append(out, b.Backup)
		}
	})
	return out
}

// ServiceInstanceBackups returns the parts of every backup not deleted, oldest first.
func (s *Simulator) ServiceInstanceBackups() []ServiceInstanceBackup {
	out := []ServiceInstanceBackup{}
	_ = s.read(func(st *state) {
		for _, b := range st.Backups {
			for _, part := range b.Parts {
				out = append(out, *part)
			}
		}
	})
	return out
}

// Restores returns every restore, oldest first.
func (s *Simulator) Restores() []Restore {
	out := []Restore{}
	_ = s.read(func(st *state) {
		for _, r := range st.Restores {
			out = append(out, r.Restore)
		}
	})
	return out
}

func (s *Simulator) adminFailNextBackup(*http.Request, string) reply {
	s.FailNextBackup()
	return noContent()
}

func (s *Simulator) adminFailNextRestore(*http.Request, string) reply {
	s.FailNextRestore()
	return noContent()
}
