package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

// defaultFinalRetention is how long a final backup is kept unless final_backup_retention
// says otherwise.
const defaultFinalRetention = "30d"

// backupable reports whether instances of a service type can be backed up: only DATABASE and
// STORAGE instances hold data that Divio backs up.
func backupable(serviceType string) bool {
	return serviceType == divio.TypeDatabase || serviceType == divio.TypeStorage
}

// finalBackupNotes are the notes of the final backup of an instance. They name the instance, so
// that a later Delete of the same instance recognises the backup as its own (findFinalBackup), and
// a reader of the environment's backups (the data source, the Control Panel, the sweepers) sees
// what it is and of which instance: finalBackupInstance reads them back.
func finalBackupNotes(inst *divio.ServiceInstance) string {
	return fmt.Sprintf(finalBackupNotesFormat, inst.UUID, inst.Type, inst.Prefix)
}

const finalBackupNotesFormat = "Final backup of service instance %s (%s %s), taken by Terraform before removing it."

var finalBackupNotesPattern = regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(finalBackupNotesFormat), "%s", `(\S+)`) + "$")

// finalBackupInstance returns the instance (id, type and prefix) whose final backup has these
// notes, or nil if they are not a final backup's.
func finalBackupInstance(notes string) *divio.ServiceInstance {
	m := finalBackupNotesPattern.FindStringSubmatch(notes)
	if m == nil {
		return nil
	}
	return &divio.ServiceInstance{UUID: m[1], Type: m[2], Prefix: m[3]}
}

// isFinalBackup reports whether a backup is the final backup of the instance serviceID.
func isFinalBackup(b *divio.Backup, serviceID string) bool {
	in := finalBackupInstance(b.Notes)
	return in != nil && in.UUID == serviceID
}

// finalBackupOn reports whether the state asks for a final backup. A state written before the
// attribute existed holds null, which means the default: on.
func finalBackupOn(m *serviceResourceModel) bool {
	return m.FinalBackup.IsNull() || m.FinalBackup.ValueBool()
}

// finalBackupRetention is the state's final_backup_retention, or the default if it has none.
func finalBackupRetention(m *serviceResourceModel) (string, time.Duration) {
	raw := m.FinalRetention.ValueString()
	if raw == "" {
		raw = defaultFinalRetention
	}
	d, err := parseRetention(raw)
	if err != nil { // validated in the configuration; only a state edited by hand gets here
		raw = defaultFinalRetention
		d, _ = parseRetention(raw)
	}
	return raw, d
}

// takesFinalBackup reports whether removing inst takes a final backup first: when the state asks
// for one and the instance holds data that can be backed up. An instance that never became
// functional (NEW, PROVISIONING) holds no data, and the API refuses to back it up.
func takesFinalBackup(m *serviceResourceModel, inst *divio.ServiceInstance) bool {
	return finalBackupOn(m) && backupable(inst.Type) && inst.Functional()
}

// takeFinalBackup backs up an instance that Delete is about to remove, and waits until the backup
// has completed, bounded by the delete timeout. It reports false, with the reason in diags, when
// the instance must not be removed: the backup failed, or did not complete in time.
//
// A Delete retried after one that failed (the backup timed out, the removal itself failed, the
// apply was interrupted) must not take a second backup when the first one completed or is still
// running: it looks for the instance's final backup first (findFinalBackup) and follows that one.
// fresh asks for a new one all the same: the application used the instance since the last.
func (r *ServiceResource) takeFinalBackup(ctx context.Context, m *serviceResourceModel, inst *divio.ServiceInstance, fresh bool, diags *diag.Diagnostics) (*divio.Backup, bool) {
	what := r.data.cache.InstanceLabel(ctx, inst)
	var backup *divio.Backup
	var err error
	if !fresh {
		backup, err = r.findFinalBackup(ctx, inst)
	}
	if err != nil {
		addAPIError(diags, "Cannot look for the final backup of service instance "+inst.UUID, fmt.Errorf("%w\n\nNothing was removed", err))
		return nil, false
	}
	if backup == nil {
		_, retention := finalBackupRetention(m)
		backup, err = r.data.client.CreateBackup(ctx, divio.CreateBackupRequest{
			Environment: inst.Environment, Services: []string{inst.UUID}, Notes: finalBackupNotes(inst),
			ScheduledForDeletionAt: time.Now().Add(retention),
		})
		if err != nil {
			addAPIError(diags, "Cannot take the final backup of service instance "+inst.UUID,
				fmt.Errorf("%w\n\nNothing was removed: %s keeps its data. Fix the cause and apply again, or set final_backup = false and apply first to remove it without a backup", err, what))
			return nil, false
		}
	}

	completed, err := r.data.client.WaitForBackup(ctx, backup.UUID)
	var failed *divio.BackupFailedError
	switch {
	case errors.As(err, &failed):
		diags.AddError("Final backup failed",
			fmt.Sprintf("The final backup of %s failed, so the instance was not removed and keeps its data: %s.\n\n"+
				"It stays in the state. Fix the cause and apply again to take a new backup and remove it, or set final_backup = false and apply first to remove it without one.",
				what, err))
		return nil, false
	case err != nil:
		deleteTimeout := timeoutOf(m.Timeouts, "delete")
		cause := "The Divio API kept failing while the provider waited for it: " + err.Error() + "."
		switch {
		case errors.Is(err, context.Canceled):
			cause = "The apply was interrupted while the provider waited for it."
		case errors.Is(err, context.DeadlineExceeded):
			cause = "It had not completed when the delete timeout (" + deleteTimeout.String() + ") ran out; raise `timeouts.delete` for a large instance."
		}
		diags.AddError("Final backup did not complete",
			fmt.Sprintf("The final backup %s of %s was taken, but the instance is removed only once the backup has completed. %s\n\n"+
				"Nothing was removed, and the instance stays in the state. The next apply waits for this same backup (it takes no second one), then removes the instance.",
				backup.UUID, what, cause))
		return nil, false
	}
	return completed, true
}

// findFinalBackup returns the final backup of inst that an earlier Delete took, if one is running
// or completed with success. It is recognised by its notes, which name the instance (see
// finalBackupNotes; no one else writes such notes), among the environment's backups, newest first.
// Only the newest counts: if that one failed, a new one is due.
//
// The backup taken before a removal that failed still holds the instance's data as it is now: the
// instance is removed only while the application does not use it (Delete checks that before taking
// the backup), so nothing writes to it between the backup and the retried removal, short of a
// change made outside Terraform or a deployment that attached it since (which Delete meets as a
// refused removal, and answers with a fresh backup).
func (r *ServiceResource) findFinalBackup(ctx context.Context, inst *divio.ServiceInstance) (*divio.Backup, error) {
	backups, err := r.data.client.ListBackups(ctx, inst.Environment)
	if err != nil {
		return nil, err
	}
	for i := range backups {
		b := &backups[i]
		if b.Notes != finalBackupNotes(inst) {
			continue
		}
		if b.Completed() && !b.Succeeded() {
			return nil, nil
		}
		return b, nil
	}
	return nil, nil
}

// finalBackupKept says, for the apply's report, which backup holds a removed instance's data and
// until when.
func (r *ServiceResource) finalBackupKept(ctx context.Context, m *serviceResourceModel, inst *divio.ServiceInstance, b *divio.Backup) string {
	retention, _ := finalBackupRetention(m)
	kept := "until it is deleted"
	if b.ScheduledForDeletionAt != nil {
		kept = "until " + b.ScheduledForDeletionAt.UTC().Format(time.RFC3339) + " (final_backup_retention " + retention + ")"
	}
	return fmt.Sprintf("%s: backup %s, kept %s; divio_service_backups with environment_id = %q and service_id = %q finds it",
		r.data.cache.InstanceLabel(ctx, inst), b.UUID, kept, inst.Environment, inst.UUID)
}

// finalBackupReport gathers the final backups that the removals of one apply take, so that the apply
// reports them in one warning instead of one per instance: a removal joins before it takes its
// backup and leaves once done, and the last to leave of those running together reports every backup
// kept since, after a moment in which another removal could still join (Terraform starts the
// removals of one apply within milliseconds of each other; the one that joins reports instead).
type finalBackupReport struct {
	mu      sync.Mutex
	running int
	joins   int // removals that ever joined
	kept    []string
}

// finalBackupReportGrace is how long the last removal to leave waits for another to join.
const finalBackupReportGrace = 300 * time.Millisecond

func (f *finalBackupReport) join() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running++
	f.joins++
}

// leave records a removal's report (empty if it kept no backup) and, if it is the last removal
// running, adds the warning that reports the backups kept.
func (f *finalBackupReport) leave(ctx context.Context, kept string, diags *diag.Diagnostics) {
	f.mu.Lock()
	f.running--
	if kept != "" {
		f.kept = append(f.kept, kept)
	}
	last, joins := f.running == 0, f.joins
	f.mu.Unlock()
	if !last {
		return
	}
	select {
	case <-time.After(finalBackupReportGrace):
	case <-ctx.Done():
	}
	f.mu.Lock()
	var report []string
	if f.joins == joins { // nobody joined meanwhile, who would report later
		report, f.kept = f.kept, nil
	}
	f.mu.Unlock()
	switch len(report) {
	case 0:
	case 1:
		diags.AddWarning("Final backup kept", "Terraform backed up "+report[0]+", with the id of its part for a restore.")
	default:
		slices.Sort(report)
		diags.AddWarning("Final backups kept", fmt.Sprintf("Terraform backed up each of these %d service instances before removing it. divio_service_backups finds each backup, "+
			"with the id of its part for a restore:\n\n  - %s", len(report), strings.Join(report, "\n  - ")))
	}
}

// warnFinalBackupPlanned says, in the plan of a removal or replacement, that the apply backs the
// instance up first. verb is "removing" or "replacing".
func (r *ServiceResource) warnFinalBackupPlanned(ctx context.Context, m *serviceResourceModel, inst *divio.ServiceInstance, verb string, diags *diag.Diagnostics) {
	if !takesFinalBackup(m, inst) {
		return
	}
	retention, d := finalBackupRetention(m)
	// In the present tense: with -auto-approve, Terraform prints the plan's warnings after the apply's.
	diags.AddWarning("Final backup before removal",
		fmt.Sprintf("%s is backed up before it is %s (final_backup = true): the removal waits until the backup has completed, and if the backup fails, nothing is removed. "+
			"The backup is kept for %s (final_backup_retention), until about %s. Set final_backup = false and apply first to remove the instance without one.",
			capitalize(r.data.cache.InstanceLabel(ctx, inst)), strings.TrimSuffix(verb, "ing")+"ed", retention, time.Now().Add(d).UTC().Format(time.DateOnly)))
}

// warnFinalBackupIgnored warns about final_backup = true written for an instance of a type that
// cannot be backed up: removing it deletes its data without a backup.
func (r *ServiceResource) warnFinalBackupIgnored(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Config.Raw.IsNull() {
		return
	}
	var configured types.Bool
	var serviceType types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("final_backup"), &configured)...)
	resp.Diagnostics.Append(resp.Plan.GetAttribute(ctx, path.Root("type"), &serviceType)...)
	if !configured.ValueBool() || serviceType.IsUnknown() || serviceType.IsNull() || backupable(serviceType.ValueString()) {
		return
	}
	resp.Diagnostics.AddAttributeWarning(path.Root("final_backup"), "final_backup is ignored for this service",
		fmt.Sprintf("Divio backs up only DATABASE and STORAGE instances, and this one is a %s instance: removing or replacing it deletes its data without a backup.", serviceType.ValueString()))
}

// setFinalBackupDefaults fills in the defaults of final_backup and final_backup_retention where the
// state holds null: a state written before they existed (so that upgrading the provider plans no
// change), or an import.
func setFinalBackupDefaults(m *serviceResourceModel) {
	if m.FinalBackup.IsNull() {
		m.FinalBackup = types.BoolValue(true)
	}
	if m.FinalRetention.IsNull() {
		m.FinalRetention = types.StringValue(defaultFinalRetention)
	}
}

// retentionPattern is a duration as Go writes it, optionally after a number of days: "30d",
// "1d12h", "36h", "90m".
var retentionPattern = regexp.MustCompile(`^(?:([0-9]{1,5})d)?((?:[0-9]+(?:\.[0-9]+)?(?:h|m|s|ms))*)$`)

// parseRetention reads a retention: a positive duration with units d, h, m or s.
func parseRetention(s string) (time.Duration, error) {
	match := retentionPattern.FindStringSubmatch(s)
	if len(match) != 3 || match[1] == "" && match[2] == "" {
		return 0, fmt.Errorf("%q is not a duration such as 30d, 36h or 1d12h", s)
	}
	var d time.Duration
	if match[1] != "" {
		days, _ := strconv.Atoi(match[1])
		d = time.Duration(days) * 24 * time.Hour
	}
	if match[2] != "" {
		rest, err := time.ParseDuration(match[2])
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration such as 30d, 36h or 1d12h: %w", s, err)
		}
		d += rest
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration", s)
	}
	return d, nil
}
