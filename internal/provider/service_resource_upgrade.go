package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

// An upgrade moves a divio_service to a newer major version of its engine (postgres-15 to
// postgres-16) in one update, keeping its data, as Divio's upgrade guide does by hand (the
// contract's rule 11):
//
//  1. add the new version beside the old instance, under a temporary prefix;
//  2. provision it;
//  3. back the old instance up and restore that backup into the new one;
//  4. rename the old instance to another temporary prefix, then the new one to the resource's;
//  5. if the old instance is in use, one deployment of the environment detaches it and attaches the
//     new one: the application has the prefix's variables before it, from the old instance, and
//     after, from the new;
//  6. remove the old instance, after its final backup if final_backup asks for one.
//
// Every step is told done or not from the instances as they are, not from a record of progress,
// so that an upgrade cut short anywhere (Ctrl-C, a timeout, a failed deployment or restore, a
// killed terraform, which records nothing) is finished by the next apply, which plans the same
// update again: the temporary prefixes derive from the old instance's id, so the new instance is
// found again rather than added twice; the data is copied while the old instance still holds the
// resource's prefix (the renames follow the copy), so a copy never overwrites what the application
// wrote to the new instance under that prefix; the old instance is removed last, so until then the
// resource's state names it, and nothing is lost if the apply stops. A failed deployment leaves
// the old instance attached (rule 3), and the application running as before.

// upgradePrefixes are the temporary prefixes of the upgrade of instance oldID: the new instance's
// until the renames, and the old instance's after them.
func upgradePrefixes(oldID string) (newTemp, oldTemp string) {
	short := strings.ToUpper(strings.ReplaceAll(oldID, "-", ""))
	short = short[:min(8, len(short))]
	return "TF_NEW_" + short, "TF_OLD_" + short
}

// upgradeNotes are the notes of the backup an upgrade copies with. They name both instances, so
// that a refresh that finds the old instance removed by an apply killed before it saved the state
// follows the resource to its new instance (upgradeSuccessor).
func upgradeNotes(old, next *divio.ServiceInstance, target *divio.Service) string {
	return fmt.Sprintf(upgradeNotesFormat, old.UUID, old.Type, next.UUID, target.Identifier)
}

const upgradeNotesFormat = "Upgrade of service instance %s (%s) into service instance %s (%s), taken by Terraform to copy its data."

var upgradeNotesPattern = regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(upgradeNotesFormat), "%s", `(\S+)`) + "$")

// upgrade carries out the upgrade of old to the catalog entry target, with the prefix and final
// backup that m plans. It returns the new instance once the old one is removed, or nil with the
// reason in diags when the upgrade stopped (the next apply finishes it).
func (r *ServiceResource) upgrade(ctx context.Context, m *serviceResourceModel, old *divio.ServiceInstance, target *divio.Service, diags *diag.Diagnostics) *divio.ServiceInstance {
	prefix := m.Prefix.ValueString()
	newTemp, oldTemp := upgradePrefixes(old.UUID)
	what := fmt.Sprintf("The upgrade of %s to %s", r.data.cache.InstanceLabel(ctx, old), target.Identifier)
	runsAsBefore := "and the application runs as before"
	stopped := func(step string, err error) *divio.ServiceInstance {
		addAPIError(diags, fmt.Sprintf("Upgrade of service instance %s stopped", old.UUID),
			fmt.Errorf("%s stopped while it %s: %w\n\nThe old instance keeps its data and stays in the state, %s. "+
				"The next apply finishes the upgrade from where it stopped", what, step, err, runsAsBefore))
		return nil
	}

	next, err := r.upgradeTarget(ctx, old, target, newTemp, prefix)
	if err != nil {
		return stopped("looked for the new instance", err)
	}
	if next != nil && stuckInProvisioning(next, m) {
		// Added by an apply cut short, and never functional since: it holds no data, and
		// waiting for it again would only run out of the timeout again.
		if err := r.data.cache.RemoveInstance(ctx, next); err != nil {
			return stopped(fmt.Sprintf("removed the new instance %s, stuck in provisioning since %s", next.UUID, next.CreatedAt.UTC().Format(time.RFC3339)), err)
		}
		next = nil
	}
	if next == nil {
		if next, err = r.data.cache.CreateInstance(ctx, divio.CreateServiceInstanceRequest{
			Environment: old.Environment, Service: target.UUID, Prefix: newTemp, Region: old.Region,
		}); err != nil {
			return stopped("added the new instance", err)
		}
	}
	if !next.Functional() {
		// Within the create timeout, as a create waits, counted from when it was added if it is
		// provisioning already (provisioningDeadline): past it, the next apply replaces the
		// instance as stuck.
		id, createTimeout := next.UUID, timeoutOf(m.Timeouts, "create")
		waitCtx, cancel := context.WithTimeout(ctx, createTimeout)
		defer cancel()
		if next, err = r.data.cache.ProvisionInstance(provisioningDeadline(waitCtx, next, m), next.Environment, next.UUID); err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				err = fmt.Errorf("%w. The new instance %s has been provisioning for longer than the create timeout (%s) since it was added: it appears stuck, and holds no data, so the next apply removes it and adds another",
					err, id, createTimeout)
			}
			return stopped("provisioned the new instance", err)
		}
	}
	// The copy runs until the renames, every time: a deployment that attached the new instance
	// meanwhile (any deployment attaches what was added) gave the application only its temporary
	// prefix's variables, which it does not use, so nothing written there is overwritten.
	if old.Prefix != oldTemp {
		if _, err := r.data.copyData(ctx, dataSource{InstanceID: old.UUID}, next, upgradeNotes(old, next, target), nil); err != nil {
			return stopped("copied the data into the new instance", err)
		}
	}
	if old.Prefix != oldTemp {
		if old, err = r.data.cache.RenameInstance(ctx, old, oldTemp); err != nil {
			return stopped("renamed the old instance to "+oldTemp, err)
		}
	}
	if next.Prefix != prefix {
		if next, err = r.data.cache.RenameInstance(ctx, next, prefix); err != nil {
			return stopped("renamed the new instance to "+prefix, err)
		}
	}
	if old.InUse() {
		if err := r.swapInOneDeployment(ctx, old, next); err != nil {
			if ctx.Err() != nil {
				// Given up waiting: a deployment that began goes on at Divio.
				runsAsBefore = "and the application runs as before until the deployment, if one began, ends: " +
					"then it uses the new instance, which holds the copied data (or, if that deployment fails, the old one still)"
			}
			return stopped("deployed the environment to detach the old instance and attach the new one", err)
		}
	}
	oldModel := *m // its final backup as the resource asks, under the old instance's own name
	oldModel.ID = types.StringValue(old.UUID)
	if identifier, err := r.data.cache.ServiceIdentifier(ctx, old); err == nil {
		oldModel.Service = types.StringValue(identifier)
	}
	r.remove(ctx, &oldModel, diags)
	if diags.HasError() {
		return nil
	}
	return next
}

// stuckInProvisioning reports whether an upgrade's new instance has been provisioning for longer than
// the resource's create timeout since it was added. It never became functional, so it holds no data.
func stuckInProvisioning(next *divio.ServiceInstance, m *serviceResourceModel) bool {
	return next.Status == divio.StatusProvisioning && pastCreateTimeout(next, m)
}

// upgradeTarget returns the new instance that an earlier, cut-short apply of the same upgrade
// added: the target's, under the new instance's temporary prefix or, once renamed, the resource's.
func (r *ServiceResource) upgradeTarget(ctx context.Context, old *divio.ServiceInstance, target *divio.Service, newTemp, prefix string) (*divio.ServiceInstance, error) {
	instances, err := r.data.cache.Instances(ctx, old.Environment)
	if err != nil {
		return nil, err
	}
	for i := range instances {
		in := &instances[i]
		if in.UUID != old.UUID && in.Service == target.UUID && (in.Prefix == newTemp || in.Prefix == prefix) {
			return in, nil
		}
	}
	return nil, nil
}

// swapInOneDeployment detaches old and attaches next with one deployment of their environment: the
// deployer gathers the two changes into one batch.
func (r *ServiceResource) swapInOneDeployment(ctx context.Context, old, next *divio.ServiceInstance) error {
	var wg sync.WaitGroup
	var detachErr, attachErr error
	wg.Go(func() { _, detachErr = r.data.deployer.Detach(ctx, old.Environment, old.UUID) })
	wg.Go(func() { _, attachErr = r.data.deployer.Attach(ctx, next.Environment, next.UUID) })
	wg.Wait()
	if detachErr != nil {
		return detachErr
	}
	return attachErr
}

// upgradeSuccessor returns the instance that an upgrade of instance oldID, now gone, moved to, as the
// notes of its copy name it, if it still exists: the resource of an apply killed after it removed
// the old instance, and before it saved the state, follows its instance there.
func (r *ServiceResource) upgradeSuccessor(ctx context.Context, envID, oldID string) (*divio.ServiceInstance, error) {
	backups, err := r.data.client.ListBackups(ctx, envID)
	if err != nil {
		return nil, err
	}
	for _, b := range backups {
		if m := upgradeNotesPattern.FindStringSubmatch(b.Notes); len(m) == 5 && m[1] == oldID {
			return r.data.cache.Instance(ctx, envID, m[3])
		}
	}
	return nil, nil
}

// changeInPlace makes the changes of an update that are not provisioning: an upgrade to a newer
// version of the engine, or a new prefix (a rename in place, which keeps the instance and its data).
// It returns the instance as they leave it, or nil when they stopped, with the state set to the
// instance as it then is, under its service as before, so that the next plan plans them again.
func (r *ServiceResource) changeInPlace(ctx context.Context, plan, state *serviceResourceModel, inst *divio.ServiceInstance, resp *resource.UpdateResponse) *divio.ServiceInstance {
	target, err := r.data.cache.FindService(ctx, inst.Region, plan.Service.ValueString())
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read the service catalog of region "+inst.Region, err)
		return nil
	}
	var changed *divio.ServiceInstance
	switch prefix := plan.Prefix.ValueString(); {
	case target != nil && target.UUID != inst.Service:
		changed = r.upgrade(ctx, plan, inst, target, &resp.Diagnostics)
	case prefix != inst.Prefix:
		if changed, err = r.data.cache.RenameInstance(ctx, inst, prefix); err != nil {
			addAPIError(&resp.Diagnostics, fmt.Sprintf("Cannot rename service instance %s to %s", inst.UUID, prefix), err)
		}
	default:
		return inst
	}
	if changed == nil {
		kept := *state
		if now, err := r.data.client.GetServiceInstance(ctx, inst.UUID); err == nil {
			modelFromInstance(&kept, now)
		}
		resp.Diagnostics.Append(resp.State.Set(ctx, &kept)...)
	}
	return changed
}
