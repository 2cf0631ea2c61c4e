package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

// The one way data moves between service instances (the contract's Backups section): a part of a
// backup is restored into an instance, which may be another one than it was taken from: of the
// same type and engine, in the same or a newer version, in any environment of the organisation's
// applications. A database upgrade, divio_service's copy_data_from, divio_restore_backup and
// divio_copy_data all go through copyData.

// dataSource names where copied data comes from: an instance (a fresh backup of it is taken) or a part of an existing backup.
type dataSource struct{ InstanceID, BackupPartID string } // exactly one set

// copyRefusedError reports a copy that cannot be made as asked, so nothing was written into the
// target: copyData refused it before sending anything, or the API refused it. It unwraps to the
// API's error, or, when refused before sending, to the error the API would have answered with:
// divio.ErrValidation (400: a target of another type, engine or an older version, or in another
// organisation; a type that cannot be backed up) or divio.ErrConflict (409: a source or target
// that is not functional, a part that holds nothing).
type copyRefusedError struct {
	reason string
	err    error
}

func (e *copyRefusedError) Error() string { return e.reason }
func (e *copyRefusedError) Unwrap() error { return e.err }

// copyData writes from's data into target, overwriting target's: from an instance, by taking a backup of it (notes given) and restoring that backup's part into target; from a backup part, by restoring it into target. It waits for both within ctx and reports progress through report (nil: none). It returns the backup whose part was restored.
//
// target is the instance as the caller read it, which must be functional. The errors tell what
// went wrong with errors.As and errors.Is: *copyRefusedError (nothing was written; see there),
// *divio.BackupFailedError (the fresh backup of the source failed), *divio.RestoreFailedError
// (the restore finished without success), divio.ErrNotFound (the source is gone, or cannot be
// seen) and the context's errors (cut short: what was started runs on). On an error after a
// backup was taken or found, that backup is returned too, unless copyData deleted the one it took
// because the restore was refused.
func (d *providerData) copyData(ctx context.Context, from dataSource, target *divio.ServiceInstance, notes string, report func(format string, args ...any)) (*divio.Backup, error) {
	if target == nil || (from.InstanceID == "") == (from.BackupPartID == "") {
		return nil, fmt.Errorf("a copy of data needs a target and exactly one source, not %+v: this is a bug in the provider; please report it", from)
	}
	if report == nil {
		report = func(string, ...any) {}
	}
	c := &dataCopy{d: d, target: target, notes: notes, report: report}
	if from.InstanceID != "" {
		return c.fromInstance(ctx, from.InstanceID)
	}
	return c.fromBackupPart(ctx, from.BackupPartID)
}

// dataCopy is one run of copyData.
type dataCopy struct {
	d      *providerData
	target *divio.ServiceInstance
	notes  string
	report func(format string, args ...any)
	// from names where the data comes from, for messages.
	from string
}

func (c *dataCopy) fromInstance(ctx context.Context, id string) (*divio.Backup, error) {
	source, err := c.d.client.GetServiceInstance(ctx, id)
	if err == nil && source.Status == divio.StatusRemoved {
		err = fmt.Errorf("it was removed: %w", divio.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read service instance %s, to copy its data: %w", id, err)
	}
	c.from = c.d.cache.InstanceLabel(ctx, source)
	if err := c.checkSource(source); err != nil {
		return nil, err
	}
	if err := c.checkTarget(ctx, source.Type); err != nil {
		return nil, err
	}
	if err := c.checkOrganisation(ctx, source.Environment); err != nil {
		return nil, err
	}

	backup, err := c.d.client.CreateBackup(ctx, divio.CreateBackupRequest{Environment: source.Environment, Services: []string{source.UUID}, Notes: c.notes})
	if errors.Is(err, divio.ErrValidation) || errors.Is(err, divio.ErrConflict) {
		return nil, &copyRefusedError{reason: fmt.Sprintf("the Divio API refused to back up %s, so nothing was copied: %s", c.from, apiMessage(err)), err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("cannot back up %s: %w", c.from, err)
	}
	c.report("Backing up %s (backup %s)", c.from, backup.UUID)
	completed, err := c.d.client.WaitForBackup(ctx, backup.UUID)
	if err != nil {
		return backup, fmt.Errorf("backup %s of %s did not complete, so nothing was written into service instance %s: %w", backup.UUID, c.from, c.target.UUID, err)
	}
	c.report("Backup %s of %s completed", completed.UUID, c.from)
	if len(completed.ServiceInstanceBackups) != 1 {
		return completed, fmt.Errorf("backup %s of the one service instance %s has %d parts, not one", completed.UUID, source.UUID, len(completed.ServiceInstanceBackups))
	}
	part := divio.ServiceInstanceBackup{
		UUID: completed.ServiceInstanceBackups[0], Backup: completed.UUID, ServiceType: source.Type, ServiceInstance: source.UUID, Prefix: source.Prefix,
	}
	return c.restore(ctx, completed, &part, true)
}

func (c *dataCopy) fromBackupPart(ctx context.Context, id string) (*divio.Backup, error) {
	part, err := c.d.client.GetServiceInstanceBackup(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("cannot read service instance backup %s, to copy its data: %w", id, err)
	}
	// The instance it was taken from only names it in messages, and may be gone.
	takenFrom := "service instance " + part.ServiceInstance
	if source, err := c.d.cache.InstanceByID(ctx, part.ServiceInstance); err == nil && source != nil && source.Status != divio.StatusRemoved {
		takenFrom = c.d.cache.InstanceLabel(ctx, source)
	}
	c.from = fmt.Sprintf("service instance backup %s (of backup %s, taken from %s)", part.UUID, part.Backup, takenFrom)
	if part.Errors != "" {
		return nil, &copyRefusedError{reason: fmt.Sprintf("%s failed when it was taken (%s): it holds nothing to write into service instance %s",
			c.from, strings.TrimSuffix(string(part.Errors), "."), c.target.UUID), err: divio.ErrConflict}
	}
	if err := c.checkTarget(ctx, part.ServiceType); err != nil {
		return nil, err
	}
	backup, err := c.d.client.WaitForBackup(ctx, part.Backup)
	if err != nil {
		return backup, fmt.Errorf("backup %s, of which service instance backup %s is a part, did not complete, so nothing was written into service instance %s: %w", part.Backup, part.UUID, c.target.UUID, err)
	}
	if err := c.checkOrganisation(ctx, backup.Environment); err != nil {
		return backup, err
	}
	return c.restore(ctx, backup, part, false)
}

// checkSource refuses a copy of an instance into itself, or from one that cannot be backed up:
// of a type Divio does not back up, or not functional.
func (c *dataCopy) checkSource(source *divio.ServiceInstance) error {
	switch {
	case source.UUID == c.target.UUID:
		return &copyRefusedError{reason: fmt.Sprintf("service instance %s would be copied into itself: name another instance as the target", source.UUID), err: divio.ErrValidation}
	case !backupable(source.Type):
		return &copyRefusedError{reason: fmt.Sprintf("%s is a %s instance, and Divio backs up, and so copies, only DATABASE and STORAGE instances", c.from, source.Type), err: divio.ErrValidation}
	case !source.Functional():
		return &copyRefusedError{reason: fmt.Sprintf("%s is %s: only a provisioned instance (%s through %s) holds data to copy",
			c.from, source.Status, divio.StatusPendingAttachment, divio.StatusDetached), err: divio.ErrConflict}
	}
	return nil
}

// checkTarget refuses what the API would refuse of a restore of data of serviceType into the
// target: another type, or a target that is not functional. The engine and version are the API's
// to check: the catalog does not say them.
func (c *dataCopy) checkTarget(ctx context.Context, serviceType string) error {
	target := c.target
	switch {
	case target.Type != serviceType:
		return &copyRefusedError{reason: fmt.Sprintf("%s holds %s data, and %s is a %s instance: data is copied only into an instance of the same type and engine, in the same or a newer version",
			c.from, serviceType, c.d.cache.InstanceLabel(ctx, target), target.Type), err: divio.ErrValidation}
	case !target.Functional():
		return &copyRefusedError{reason: fmt.Sprintf("%s is %s: data is copied only into a provisioned instance (%s through %s)",
			c.d.cache.InstanceLabel(ctx, target), target.Status, divio.StatusPendingAttachment, divio.StatusDetached), err: divio.ErrConflict}
	}
	return nil
}

// checkOrganisation refuses a copy between applications of different organisations, as the API
// would; when either cannot be read, the API decides.
func (c *dataCopy) checkOrganisation(ctx context.Context, fromEnvironment string) error {
	from, errFrom := c.d.cache.ApplicationOf(ctx, fromEnvironment)
	into, errInto := c.d.cache.ApplicationOf(ctx, c.target.Environment)
	known := errFrom == nil && errInto == nil && from.Organisation != ""
	if !known || from.Organisation == into.Organisation {
		return nil
	}
	return &copyRefusedError{reason: fmt.Sprintf("%s is in application %s, and %s in application %s of another organisation: data is copied only between the applications of one organisation",
		c.from, from.Slug, c.d.cache.InstanceLabel(ctx, c.target), into.Slug), err: divio.ErrValidation}
}

// restoreWhat names a restore of a part into an instance, for progress and messages.
func restoreWhat(part *divio.ServiceInstanceBackup, targetID string) string {
	return fmt.Sprintf("the %s %s backup %s into service instance %s", part.ServiceType, part.Prefix, part.Backup, targetID)
}

// restore writes part of backup into the target and waits until it ends. fresh says the backup
// was taken for this copy: if the API refuses the restore, it is deleted, so that a refused copy
// leaves nothing behind.
func (c *dataCopy) restore(ctx context.Context, backup *divio.Backup, part *divio.ServiceInstanceBackup, fresh bool) (*divio.Backup, error) {
	what := restoreWhat(part, c.target.UUID)
	r := divio.CreateRestoreRequest{Backup: backup.UUID, ServiceInstanceBackups: []string{part.UUID}, Notes: c.notes}
	if c.target.UUID != part.ServiceInstance {
		r.Targets = map[string]string{part.UUID: c.target.UUID}
	}
	restore, err := c.d.client.CreateRestore(ctx, r)
	if errors.Is(err, divio.ErrValidation) || errors.Is(err, divio.ErrConflict) {
		return c.refused(ctx, backup, fresh, err)
	}
	if err != nil {
		return backup, fmt.Errorf("cannot restore %s: %w", what, err)
	}
	c.report("Restoring %s (restore %s)", what, restore.UUID)
	if _, err := c.d.client.WaitForRestore(ctx, restore.UUID); err != nil {
		return backup, fmt.Errorf("restore %s of %s: %w", restore.UUID, what, err)
	}
	c.report("Restore %s of %s succeeded", restore.UUID, what)
	return backup, nil
}

// refused reports a restore that the API refused, naming both services, and deletes the backup
// taken for it (fresh).
func (c *dataCopy) refused(ctx context.Context, backup *divio.Backup, fresh bool, err error) (*divio.Backup, error) {
	why := "the source or the target is not functional now: both must be provisioned (" + divio.StatusPendingAttachment + " through " + divio.StatusDetached + ")"
	if errors.Is(err, divio.ErrValidation) {
		why = "data is written only into an instance of the same type and engine, in the same or a newer version, in an application of the same organisation"
	}
	reason := fmt.Sprintf("the Divio API refused to write the data of %s into %s: %s. It said: %s. Nothing was written into the target",
		c.from, c.d.cache.InstanceLabel(ctx, c.target), why, apiMessage(err))
	if !fresh {
		return backup, &copyRefusedError{reason: reason, err: err}
	}
	if delErr := c.d.client.DeleteBackup(ctx, backup.UUID); delErr != nil {
		reason += fmt.Sprintf(", and the backup taken for the copy could not be deleted (%v): it is kept until the platform's retention deletes it", delErr)
		return backup, &copyRefusedError{reason: reason, err: err}
	}
	return nil, &copyRefusedError{reason: reason + ", and the backup taken for the copy was deleted", err: err}
}

// apiMessage is what the API said in an error answer, without the request line.
func apiMessage(err error) string {
	var apiErr *divio.APIError
	if errors.As(err, &apiErr) && apiErr.Message() != "" {
		return strings.TrimSuffix(apiErr.Message(), ".")
	}
	return err.Error()
}

// addCopyError reports a copyData that an action invoked and that failed; what names the
// operation as the summary starts it ("restore of the DATABASE DEFAULT backup ... into service
// instance ...").
func addCopyError(diags *diag.Diagnostics, what string, err error) {
	var refused *copyRefusedError
	var backupFailed *divio.BackupFailedError
	var restoreFailed *divio.RestoreFailedError
	switch {
	case errors.As(err, &refused):
		diags.AddError(capitalize(what)+" refused", capitalize(refused.Error())+".\n\nThe target keeps its data and status.")
	case errors.As(err, &backupFailed):
		diags.AddError(capitalize(what)+" failed", capitalize(strings.TrimSuffix(err.Error(), "."))+
			".\n\nNothing was written into the target, which keeps its data and status. Invoke the action again once the cause is fixed.")
	case errors.As(err, &restoreFailed):
		diags.AddError(capitalize(what)+" failed", capitalize(strings.TrimSuffix(restoreFailed.Error(), "."))+
			".\n\nThe instance keeps its status. Invoke the action again once the cause is fixed.")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		why := "It ran past the action's timeout: raise `timeouts.invoke` for a large instance."
		if errors.Is(err, context.Canceled) {
			why = "It was interrupted."
		}
		diags.AddError(capitalize(what)+" did not finish", fmt.Sprintf("%s.\n\n%s What was started goes on at Divio: a backup completes, "+
			"and a restore writes its data into the target when it ends.", capitalize(strings.TrimSuffix(err.Error(), ".")), why))
	default:
		addAPIError(diags, capitalize(what)+" failed", err)
	}
}
