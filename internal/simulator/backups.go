package simulator

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Backup states, outcomes and triggers. A backup is PENDING, then WORKING,
// then COMPLETED with a success of SUCCESS or FAILURE; a restore is not
// finished, then finished with the same outcomes. A client asks for MANUAL
// (on-demand) backups; the platform takes SCHEDULED ones.
const (
	BackupPending    = "PENDING"
	BackupWorking    = "WORKING"
	BackupCompleted  = "COMPLETED"
	BackupSuccess    = "SUCCESS"
	BackupFailure    = "FAILURE"
	TriggerManual    = "MANUAL"
	TriggerScheduled = "SCHEDULED"
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
	CreatedAt              time.Time  `json:"created_at"`
	Trigger                string     `json:"trigger"`
}

// ServiceInstanceBackup is one instance's part of a backup, as the API shows
// it. It keeps what it says of its instance after the instance is removed.
// It is queued with its backup, started when the backup works, taken (the
// instance's content captured) as it starts, and ended with the backup.
type ServiceInstanceBackup struct {
	UUID            string     `json:"uuid"`
	Backup          string     `json:"backup"`
	ServiceType     string     `json:"service_type"`
	ServiceInstance string     `json:"service_instance"`
	QueuedAt        time.Time  `json:"queued_at"`
	StartedAt       *time.Time `json:"started_at"`
	TakenAt         *time.Time `json:"taken_at"` // null until taken, and for a part that failed
	EndedAt         *time.Time `json:"ended_at"`
	Size            *int64     `json:"size"`   // bytes; null until it ends without errors
	Errors          []string   `json:"errors"` // [] when none
	Prefix          string     `json:"prefix"`
}

// ServiceInstanceRestore names the part of a backup that a restore writes, and
// the instance it writes into: by default the one it was taken from.
type ServiceInstanceRestore struct {
	ServiceInstanceBackup string `json:"service_instance_backup"`
	ServiceInstance       string `json:"service_instance,omitempty"`
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
// parts' and the backup's pointer and slice fields are replaced, never
// written through, so that copies handed to answers stay as they were.
type backupRecord struct {
	Backup
	Parts    []*partRecord `json:"parts"`
	StartsAt time.Time     `json:"starts_at"` // PENDING ends
	EndsAt   time.Time     `json:"ends_at"`   // COMPLETED
	WillFail bool          `json:"will_fail,omitempty"`
}

// partRecord is a service-instance backup and what it holds.
type partRecord struct {
	ServiceInstanceBackup
	// Service is the catalog entry its instance ran when backed up: what it
	// can be restored into follows from its engine and version.
	Service string `json:"service"`
	Data    string `json:"data,omitempty"` // the instance's data when taken
}

// UnmarshalJSON also reads a part written when errors was a string or null.
func (p *partRecord) UnmarshalJSON(b []byte) error {
	type fields partRecord // without this method
	var v struct {
		fields
		Errors json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*p = partRecord(v.fields)
	p.Errors = []string{}
	var text string
	switch {
	case len(v.Errors) == 0 || string(v.Errors) == "null":
	case json.Unmarshal(v.Errors, &text) == nil:
		p.Errors = []string{text}
	default:
		return json.Unmarshal(v.Errors, &p.Errors)
	}
	return nil
}

type restoreRecord struct {
	Restore
	// Items are what it writes where, fixed when it starts so that deleting
	// the backup meanwhile does not change what it does.
	Items    []restoreItem `json:"items"`
	EndsAt   time.Time     `json:"ends_at"`
	WillFail bool          `json:"will_fail,omitempty"`
	// Targets is how a data file from before Items named the instances
	// written to; it is read once, into Items.
	Targets []string `json:"targets,omitempty"`
}

type restoreItem struct {
	Part   string `json:"part"`
	Target string `json:"target"`
	Data   string `json:"data,omitempty"`
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
	b := st.newBackup(req.Environment, instances, req.Trigger, now)
	b.Notes, b.ScheduledForDeletionAt = req.Notes, deleteAt
	b.WillFail, st.FailNextBackup = st.FailNextBackup, false
	st.advance(now) // a zero delay completes it at once
	return b, nil
}

// newBackup queues a backup of the instances, as a client or the platform asks for it.
func (st *state) newBackup(envID string, instances []*instanceRecord, trigger string, now time.Time) *backupRecord {
	b := &backupRecord{
		Backup: Backup{
			UUID: uuid.NewString(), Environment: envID, State: BackupPending, ServiceInstanceBackups: []string{},
			Trigger: trigger, CreatedAt: now,
		},
		StartsAt: now.Add(st.backupDelay / pendingShare),
		EndsAt:   now.Add(st.backupDelay),
	}
	for _, in := range instances {
		part := &partRecord{ServiceInstanceBackup: ServiceInstanceBackup{
			UUID: uuid.NewString(), Backup: b.UUID, ServiceType: in.Type, ServiceInstance: in.UUID,
			QueuedAt: now, Errors: []string{}, Prefix: in.Prefix,
		}, Service: in.Service}
		b.Parts = append(b.Parts, part)
		b.ServiceInstanceBackups = append(b.ServiceInstanceBackups, part.UUID)
	}
	st.Backups = append(st.Backups, b)
	return b
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
		case !backedUp(in.Type):
			errs.add("services", fmt.Sprintf("Service instance %s is of type %s: only %s and %s instances can be backed up.", id, in.Type, TypeDatabase, TypeStorage))
		default:
			instances = append(instances, in)
		}
	}
	return instances
}

// backedUp reports whether instances of the type can be backed up.
func backedUp(typ string) bool { return typ == TypeDatabase || typ == TypeStorage }

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

func (st *state) serviceInstanceBackup(id string) (*partRecord, error) {
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

// advanceBackups is advance's share for backups and restores: the platform
// takes the scheduled backups that fell due, deletes backups whose time has
// come or that retention no longer keeps, and moves the rest on.
func (st *state) advanceBackups(now time.Time) bool {
	changed := st.takeScheduledBackups(now)
	changed = st.progressBackups(now) || changed
	return st.applyRetention(now) || changed
}

// progressBackups deletes backups at their deletion time and moves backups
// and restores on to where they are at now.
func (st *state) progressBackups(now time.Time) bool {
	before := len(st.Backups)
	st.Backups = slices.DeleteFunc(st.Backups, func(b *backupRecord) bool {
		return b.ScheduledForDeletionAt != nil && !now.Before(*b.ScheduledForDeletionAt)
	})
	changed := len(st.Backups) != before
	for _, b := range st.Backups {
		if b.State == BackupPending && !now.Before(b.StartsAt) {
			st.startBackup(b)
			changed = true
		}
		if b.State == BackupWorking && !now.Before(b.EndsAt) {
			st.finishBackup(b)
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

// startBackup takes each part as the backup starts working: its instance's
// data as it is then (a dump reflects its start).
func (st *state) startBackup(b *backupRecord) {
	b.State = BackupWorking
	for _, part := range b.Parts {
		started := b.StartsAt
		part.StartedAt = &started
		if in, err := st.instance(part.ServiceInstance); err == nil && in.provisioned() {
			part.TakenAt, part.Data = &started, in.Data
		}
	}
}

// finishBackup ends a backup at its due time. A part fails if asked to, or
// if its instance stopped holding data before the backup ended; a failed part
// holds nothing.
func (st *state) finishBackup(b *backupRecord) {
	outcome := BackupSuccess
	for _, part := range b.Parts {
		ended := b.EndsAt
		part.EndedAt = &ended
		in, err := st.instance(part.ServiceInstance)
		var problem string
		switch {
		case b.WillFail:
			problem = fmt.Sprintf("Injected failure (fail-next-backup): the backup of %s instance %s (%s) could not be completed.", part.ServiceType, part.Prefix, part.ServiceInstance)
		case err != nil:
			problem = fmt.Sprintf("The service instance %s was removed before its backup finished.", part.ServiceInstance)
		case !in.provisioned() || part.TakenAt == nil:
			problem = fmt.Sprintf("The service instance %s became %s before its backup finished.", part.ServiceInstance, in.Status)
		}
		if problem != "" {
			part.Errors, part.TakenAt, part.Data = []string{problem}, nil, ""
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

// createRestore checks the fields and what each part may be written into
// (400), then that the backup holds data and that each target can take it
// now (409).
func (st *state) createRestore(req createRestoreRequest, now time.Time) (*restoreRecord, error) {
	errs := fieldErrors{}
	b, err := st.backup(req.Backup)
	requireExisting(errs, "backup", req.Backup, err == nil)
	switch {
	case req.ServiceInstanceRestores == nil:
		errs.add("service_instance_restores", "This field is required.")
	case len(req.ServiceInstanceRestores) == 0:
		errs.add("service_instance_restores", "This list may not be empty.")
	}
	var items []restoreItem
	var parts []*partRecord
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
			target := cmp.Or(sir.ServiceInstance, part.ServiceInstance)
			if slices.ContainsFunc(items, func(it restoreItem) bool { return it.Target == target }) {
				errs.add("service_instance_restores", fmt.Sprintf("Item %d: service instance %s is the target of another item.", i+1, target))
			} else if problem := st.restoreMismatch(part, target); problem != "" {
				errs.add("service_instance_restores", fmt.Sprintf("Item %d: %s", i+1, problem))
			}
			items = append(items, restoreItem{Part: part.UUID, Target: target, Data: part.Data})
			parts = append(parts, part)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if b.State != BackupCompleted {
		return nil, conflictError(fmt.Sprintf("Backup %s is %s: wait for it to complete before restoring it.", b.UUID, b.State))
	}
	for i, part := range parts {
		if err := st.checkRestorable(part, items[i].Target); err != nil {
			return nil, err
		}
	}
	r := &restoreRecord{
		Restore: Restore{
			UUID: uuid.NewString(), Backup: b.UUID, ServiceInstanceRestores: req.ServiceInstanceRestores,
			Notes: req.Notes, CreatedAt: now,
		},
		Items:    items,
		EndsAt:   now.Add(st.backupDelay),
		WillFail: st.FailNextRestore,
	}
	st.FailNextRestore = false
	st.Restores = append(st.Restores, r)
	st.advance(now) // a zero delay finishes it at once
	return r, nil
}

// restoreMismatch says why a part can never be written into the target, or
// "": the target must be of the part's type, run the same engine in the same
// or a newer version, and belong to an application of the backup's
// organisation. A target that does not exist now is checkRestorable's to refuse.
func (st *state) restoreMismatch(part *partRecord, targetID string) string {
	target, err := st.instance(targetID)
	b, backupErr := st.backup(part.Backup)
	if err != nil || backupErr != nil {
		return ""
	}
	from, _ := st.data.service(part.Service)
	into, _ := st.data.service(target.Service)
	switch {
	case target.Type != part.ServiceType:
		return fmt.Sprintf("service instance %s is a %s instance: a %s backup restores into a %s instance.",
			target.UUID, target.Type, part.ServiceType, part.ServiceType)
	case into.engine != from.engine || into.version < from.version:
		return fmt.Sprintf("service instance %s runs %s: a backup of %s restores into the same engine, in the same or a newer version.",
			target.UUID, into.Identifier, from.Identifier)
	case st.data.organisationOf(target.Environment) != st.data.organisationOf(b.Environment):
		return fmt.Sprintf("service instance %s belongs to an application of another organisation: a backup restores into the applications of its own.",
			target.UUID)
	}
	return ""
}

// checkRestorable: a part holds data only if it ended without errors, and
// can only be written into an instance that exists and holds data.
func (st *state) checkRestorable(part *partRecord, targetID string) error {
	if len(part.Errors) > 0 {
		return conflictError(fmt.Sprintf("Service instance backup %s failed (%s): it holds nothing to restore.", part.UUID, strings.Join(part.Errors, " ")))
	}
	in, err := st.instance(targetID)
	switch {
	case err != nil && targetID == part.ServiceInstance:
		return conflictError(fmt.Sprintf("The service instance %s that backup %s was taken from has been removed: "+
			"name another instance of its type in service_instance to restore into.", targetID, part.UUID))
	case err != nil:
		return conflictError(fmt.Sprintf("The service instance %s does not exist or has been removed: a backup is restored into an existing instance.", targetID))
	case !in.provisioned():
		return conflictError(fmt.Sprintf("The service instance %s is %s: it must be provisioned (%s through %s) to be restored into.",
			in.UUID, in.Status, StatusPendingAttachment, StatusDetached))
	}
	return nil
}

// finishRestore writes the parts' data into their targets, which keep their
// status, unless asked to fail or a target stopped holding data meanwhile:
// then it writes nothing.
func (st *state) finishRestore(r *restoreRecord) {
	var problems []string
	var targets []*instanceRecord
	for _, it := range r.Items {
		in, err := st.instance(it.Target)
		switch {
		case r.WillFail:
			problems = append(problems, fmt.Sprintf("Injected failure (fail-next-restore): the restore into instance %s could not be completed.", it.Target))
		case err != nil:
			problems = append(problems, fmt.Sprintf("The service instance %s was removed before the restore finished.", it.Target))
		case !in.provisioned():
			problems = append(problems, fmt.Sprintf("The service instance %s became %s before the restore finished.", it.Target, in.Status))
		}
		targets = append(targets, in)
	}
	outcome := BackupSuccess
	if len(problems) > 0 {
		outcome = BackupFailure
		text := strings.Join(problems, " ")
		r.Errors = &text
	} else {
		for i, in := range targets {
			in.Data = r.Items[i].Data
		}
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
		return ok(part.ServiceInstanceBackup)
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

// FailNextBackup makes the next backup a client creates (any environment)
// complete with FAILURE, each of its service-instance backups saying why in
// errors; the platform's scheduled backups leave it armed.
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
				out = append(out, part.ServiceInstanceBackup)
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
