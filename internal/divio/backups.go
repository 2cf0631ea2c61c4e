package divio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// BackupFailedError reports a backup that completed without SUCCESS, with what its parts said.
type BackupFailedError struct {
	Backup *Backup
	// Parts are the backup's parts that reported errors; empty if none could be read.
	Parts []ServiceInstanceBackup
}

func (e *BackupFailedError) Error() string {
	success := "none"
	if e.Backup.Success != nil {
		success = *e.Backup.Success
	}
	msg := fmt.Sprintf("backup %s of environment %s completed with success %s", e.Backup.UUID, e.Backup.Environment, success)
	var reasons []string
	for _, p := range e.Parts {
		reasons = append(reasons, fmt.Sprintf("%s %s (instance %s): %s", p.ServiceType, p.Prefix, p.ServiceInstance, p.Errors))
	}
	if len(reasons) > 0 {
		msg += ": " + strings.Join(reasons, "; ")
	}
	return msg
}

// RestoreFailedError reports a restore that finished without SUCCESS.
type RestoreFailedError struct {
	Restore *Restore
}

func (e *RestoreFailedError) Error() string {
	success := "none"
	if e.Restore.Success != nil {
		success = *e.Restore.Success
	}
	msg := fmt.Sprintf("restore %s of backup %s finished with success %s", e.Restore.UUID, e.Restore.Backup, success)
	if e.Restore.Errors != "" {
		msg += ": " + string(e.Restore.Errors)
	}
	return msg
}

// CreateBackup starts a backup; WaitForBackup follows it.
//
// A create whose answer was lost is retried, and each attempt the API applied made a backup,
// so a retried create may leave backups this call never heard of. When an attempt may have
// applied unseen (attempts.mayHaveApplied), the call looks for them and keeps one: the
// answered one if there is one, else the newest it finds; it deletes the others. A backup is
// taken for this call's own only when nobody else in this process can have made it and it
// matches the request exactly:
//   - creates (the POST and this search, not the wait) take turns in this process, and a backup
//     that a create has returned is never taken again (ownBackups), so that parallel creates of
//     identical backups cannot take or delete each other's;
//   - it is in the environment, of exactly the requested instances, with the same notes,
//     trigger and deletion time (to the microsecond, which a time computed per call makes
//     unique);
//   - it was created while this call ran: after the answered backup's created_at less the
//     call's duration (on the API's own clock, so no skew); without an answer, within
//     clockSkewAllowance of this call, and within the call's duration before the newest such
//     backup, which is the one kept.
//
// What remains possible is another process creating a backup identical in all of these within
// the same window; distinct notes or deletion times rule that out. created_at is a modelled
// field: an API without it makes nothing match, which leaves a lost backup in place rather than
// taking someone else's.
func (c *Client) CreateBackup(ctx context.Context, r CreateBackupRequest) (*Backup, error) {
	release, err := ownBackups.turn(ctx)
	if err != nil {
		return nil, fmt.Errorf("POST %s: %w", c.url(pathBackups, nil).Path, err)
	}
	defer release()

	var tries attempts
	started := time.Now()
	var answered Backup
	err = c.do(recordAttempts(ctx, &tries), http.MethodPost, pathBackups, r.body(), &answered)
	took := time.Since(started)
	if !tries.mayHaveApplied() {
		if err != nil {
			return nil, err
		}
		ownBackups.claim(answered.UUID)
		return &answered, nil
	}

	window := ownWindow{from: started.Add(-clockSkewAllowance), to: time.Now().Add(clockSkewAllowance)}
	if err == nil && answered.CreatedAt != nil {
		window = ownWindow{from: answered.CreatedAt.Add(-took), to: *answered.CreatedAt}
	}
	found, findErr := c.findOwnBackups(ctx, r, window, answered.UUID)
	if findErr != nil && c.log != nil {
		c.log(ctx, "Divio API: could not look for backups left by a retried create", map[string]any{"error": findErr.Error()})
	}
	if err != nil {
		if findErr != nil || len(found) == 0 {
			return nil, err
		}
		// Without an answer, the newest is taken for this call's last applied attempt (the
		// list is newest first); only those made within the call's duration before it can be
		// its earlier attempts.
		answered = found[0]
		found = slices.DeleteFunc(found[1:], func(b Backup) bool { return b.CreatedAt.Before(answered.CreatedAt.Add(-took)) })
	}
	ownBackups.claim(answered.UUID)
	for _, extra := range found {
		if delErr := c.DeleteBackup(ctx, extra.UUID); delErr != nil && c.log != nil {
			c.log(ctx, "Divio API: could not delete a backup left by a retried create", map[string]any{"backup": extra.UUID, "kept": answered.UUID, "error": delErr.Error()})
		}
	}
	return &answered, nil
}

// ownWindow is when, on the API's clock, a backup made by this call was created.
type ownWindow struct{ from, to time.Time }

// findOwnBackups lists the environment's backups that this call made unseen (see
// CreateBackup), newest first, leaving out the one it was answered with.
func (c *Client) findOwnBackups(ctx context.Context, r CreateBackupRequest, w ownWindow, answered string) ([]Backup, error) {
	all, err := c.ListBackups(ctx, r.Environment)
	if err != nil {
		return nil, err
	}
	var own []Backup
	for _, b := range all {
		if b.UUID == answered || ownBackups.claimed(b.UUID) || !sameBackupRequest(&b, r) ||
			b.CreatedAt == nil || b.CreatedAt.Before(w.from) || b.CreatedAt.After(w.to) {
			continue
		}
		services, err := c.backedUpInstances(ctx, &b)
		if err != nil {
			return nil, err
		}
		if sameSet(services, r.Services) {
			own = append(own, b)
		}
	}
	return own, nil
}

func sameBackupRequest(b *Backup, r CreateBackupRequest) bool {
	deleteAt := r.ScheduledForDeletionAt.Truncate(time.Microsecond)
	sameDeletion := b.ScheduledForDeletionAt == nil && r.ScheduledForDeletionAt.IsZero() ||
		b.ScheduledForDeletionAt != nil && b.ScheduledForDeletionAt.Equal(deleteAt)
	// An API that leaves the trigger out still matches; the platform's own backups never do.
	return b.Environment == r.Environment && b.Notes == r.Notes && (b.Trigger == "" || b.Trigger == BackupTriggerManual) &&
		sameDeletion && len(b.ServiceInstanceBackups) == len(r.Services)
}

// backedUpInstances reads which instances a backup holds, from its parts.
func (c *Client) backedUpInstances(ctx context.Context, b *Backup) ([]string, error) {
	var ids []string
	for _, id := range b.ServiceInstanceBackups {
		part, err := c.GetServiceInstanceBackup(ctx, id)
		if err != nil {
			return nil, err
		}
		ids = append(ids, part.ServiceInstance)
	}
	return ids, nil
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// ownBackups is process-wide because a Terraform run's creates share one provider process,
// whichever clients they use (one per provider configuration and walk); it holds one id per
// backup created, which stays small.
var ownBackups = newBackupLedger()

// backupLedger lets one backup create run at a time, and remembers what creates returned.
type backupLedger struct {
	slot     chan struct{}
	mu       sync.Mutex
	returned map[string]bool
}

// turn waits for this create's turn, or for ctx to end; release ends the turn.
func (l *backupLedger) turn(ctx context.Context) (release func(), err error) {
	select {
	case l.slot <- struct{}{}:
		return func() { <-l.slot }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func newBackupLedger() *backupLedger {
	return &backupLedger{slot: make(chan struct{}, 1), returned: map[string]bool{}}
}

func (l *backupLedger) claim(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.returned[id] = true
}

func (l *backupLedger) claimed(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.returned[id]
}

func (c *Client) GetBackup(ctx context.Context, id string) (*Backup, error) {
	return get[Backup](ctx, c, pathBackups, id)
}

// ListBackups returns an environment's backups, newest first. The environment filter is
// [modelled] (the Divio documentation has clients go through the whole list and match each
// backup's environment), so what the API returns is matched here too: an API that ignores the
// filter costs pages, not other environments' backups.
func (c *Client) ListBackups(ctx context.Context, environmentID string) ([]Backup, error) {
	all, err := list[Backup](ctx, c, pathBackups, url.Values{"environment": {environmentID}})
	return slices.DeleteFunc(all, func(b Backup) bool { return b.Environment != environmentID }), err
}

// DeleteBackup deletes a backup. Deleting one that is already gone succeeds, so that a retried
// delete whose first answer was lost, or one the API deleted at its time, does not fail.
func (c *Client) DeleteBackup(ctx context.Context, id string) error {
	err := c.do(ctx, http.MethodDelete, pathBackups+"/"+url.PathEscape(id), nil, nil)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

func (c *Client) GetServiceInstanceBackup(ctx context.Context, id string) (*ServiceInstanceBackup, error) {
	return get[ServiceInstanceBackup](ctx, c, pathServiceInstanceBackups, id)
}

// WaitForBackup polls a backup until it completes. One that completes without SUCCESS returns
// a *BackupFailedError along with the backup; one deleted meanwhile, an ErrNotFound error.
func (c *Client) WaitForBackup(ctx context.Context, id string) (*Backup, error) {
	b, err := pollFor(ctx, c, "backup "+id+" to complete", func(ctx context.Context) (*Backup, error) { return c.GetBackup(ctx, id) }, (*Backup).Completed)
	if err != nil {
		return b, err
	}
	if !b.Succeeded() {
		return b, &BackupFailedError{Backup: b, Parts: c.failedParts(ctx, b)}
	}
	return b, nil
}

// failedParts reads what went wrong, as far as it can: the failure is reported either way.
func (c *Client) failedParts(ctx context.Context, b *Backup) []ServiceInstanceBackup {
	var failed []ServiceInstanceBackup
	for _, id := range b.ServiceInstanceBackups {
		if part, err := c.GetServiceInstanceBackup(ctx, id); err == nil && part.Errors != "" {
			failed = append(failed, *part)
		}
	}
	return failed
}

// CreateRestore starts writing parts of a completed backup into instances: each into the one it
// was taken from, or the one r.Targets names; WaitForRestore follows it. A create retried after a
// lost answer may start the same restore twice, which writes the same data twice: harmless, so it
// is not looked for.
func (c *Client) CreateRestore(ctx context.Context, r CreateRestoreRequest) (*Restore, error) {
	for part := range r.Targets {
		if !slices.Contains(r.ServiceInstanceBackups, part) {
			return nil, fmt.Errorf("restore of backup %s: a target is given for %s, which is not among the parts to restore", r.Backup, part)
		}
	}
	body := createRestoreBody{Backup: r.Backup, Notes: r.Notes, ServiceInstanceRestores: []serviceInstanceRestore{}}
	for _, id := range r.ServiceInstanceBackups {
		body.ServiceInstanceRestores = append(body.ServiceInstanceRestores, serviceInstanceRestore{ServiceInstanceBackup: id, ServiceInstance: r.Targets[id]})
	}
	var restore Restore
	if err := c.do(ctx, http.MethodPost, pathBackupRestores, body, &restore); err != nil {
		return nil, err
	}
	return &restore, nil
}

func (c *Client) GetRestore(ctx context.Context, id string) (*Restore, error) {
	return get[Restore](ctx, c, pathBackupRestores, id)
}

// WaitForRestore polls a restore until it finishes. One that finishes without SUCCESS returns
// a *RestoreFailedError along with the restore.
func (c *Client) WaitForRestore(ctx context.Context, id string) (*Restore, error) {
	r, err := pollFor(ctx, c, "restore "+id+" to finish", func(ctx context.Context) (*Restore, error) { return c.GetRestore(ctx, id) },
		func(r *Restore) bool { return r.Finished })
	if err != nil {
		return r, err
	}
	if !r.Succeeded() {
		return r, &RestoreFailedError{Restore: r}
	}
	return r, nil
}
