package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

// remove removes the instance of a destroyed (or replaced) divio_service, as the plan said
// (planDestroy): an instance the application uses is detached first, with a deployment of its
// environment; then, if final_backup asks for it, the instance is backed up, and it is removed only
// once that backup has completed with success. What the removals of one apply kept is reported in
// one warning (finalBackupReport).
//
// Every deployment attaches what awaits attachment in its environment, one of this very apply
// included, also while the final backup runs: Divio then refuses the removal as in use, and the
// instance is detached, backed up anew (the application may have written to it) and removed, up to
// maxRemovalAttempts times.
func (r *ServiceResource) remove(ctx context.Context, state *serviceResourceModel, diags *diag.Diagnostics) {
	id, envID := state.ID.ValueString(), state.EnvironmentID.ValueString()
	inst, err := r.data.client.GetServiceInstance(ctx, id)
	var finalBackup *divio.Backup
	var kept string // the report of the final backup, once the instance is removed
	if err == nil && finalBackupOn(state) && backupable(inst.Type) {
		r.data.finalBackups.join()
		defer func() { r.data.finalBackups.leave(ctx, kept, diags) }()
	}
	for attempt := 1; err == nil; attempt++ {
		if inst.InUse() {
			if inst, err = r.detachFirst(ctx, state, inst, diags); inst == nil {
				return // not detached, and said why
			}
			if err != nil {
				break // removed meanwhile
			}
		}
		// The backup is taken only once nothing stands in the way of the removal but the backup
		// itself, so that it holds the data as it is removed.
		if takesFinalBackup(state, inst) {
			var taken bool
			if finalBackup, taken = r.takeFinalBackup(ctx, state, inst, attempt > 1, diags); !taken {
				return
			}
		}
		err = r.data.cache.RemoveInstance(ctx, inst)
		if !errors.Is(err, divio.ErrConflict) || attempt == maxRemovalAttempts {
			break
		}
		inst, err = r.data.client.GetServiceInstance(ctx, id)
	}
	switch {
	case errors.Is(err, divio.ErrNotFound):
		return // gone already
	case err != nil && finalBackup != nil:
		err = fmt.Errorf("%w\n\nIts final backup %s has completed and is kept; the next apply removes the instance without taking another", err, finalBackup.UUID)
		fallthrough
	case err != nil:
		addAPIError(diags, "Cannot remove service instance "+id, err)
		return
	}
	if finalBackup != nil {
		kept = r.finalBackupKept(ctx, state, inst, finalBackup)
	}
	if slot, ok := r.slot(ctx, envID, inst.Service); ok {
		r.data.plan.removedInstance(slot)
	}
}

// maxRemovalAttempts bounds how often remove detaches, backs up and removes an instance that a
// deployment attached again after it was read.
const maxRemovalAttempts = 3

// detachFirst detaches an instance that the application uses before its removal, with a deployment
// of its environment. A divio_service_attachment of it that this apply destroys has detached it
// already (Terraform destroys it first), so this one was attached by a deployment, which attaches
// every instance added to its environment, or outside Terraform; or its detachment is pending. It
// returns the instance as then read, and nil when it was not detached, with the reason in diags.
func (r *ServiceResource) detachFirst(ctx context.Context, state *serviceResourceModel, inst *divio.ServiceInstance, diags *diag.Diagnostics) (*divio.ServiceInstance, error) {
	out, err := r.data.deployer.Detach(ctx, inst.Environment, inst.UUID)
	if out.Instance != nil {
		inst = out.Instance
	}
	if err != nil && !errors.Is(err, divio.ErrNotFound) {
		addDeployError(diags, fmt.Sprintf("Service instance %s was not detached, so it was not removed", inst.UUID), err,
			fmt.Sprintf("Service instance %s (%s) in environment %s stays attached, and the application keeps running with it; nothing was removed. "+
				"Fix the cause of the failed deployment (see its log in the Divio Control Panel), then apply again.",
				inst.UUID, state.Service.ValueString(), r.data.cache.EnvironmentLabel(ctx, inst.Environment)))
		return nil, err
	}
	return inst, err
}
