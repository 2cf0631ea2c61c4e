package provider

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

// copy_data_from: a new instance filled with a copy of other data when it is added, before anything
// attaches it (copyInto), as the first step after its provisioning. A create cut short before the
// copy records that it is still due (privateCopyPending), and the update that finishes the
// provisioning makes it; a copy that failed fails the create, and the next apply replaces the
// instance, which holds nothing yet. A killed run records nothing: its instance comes back by
// import, without copy_data_from in the state, and the update that sets it copies late
// (copiesLate), as the create would have.

// copiesLate reports whether an update that sets copy_data_from, absent from the state, fills inst:
// only while no deployment has attached it, so that no application has written to it.
func copiesLate(state, plan *serviceResourceModel, inst *divio.ServiceInstance) bool {
	return state.CopyDataFrom == nil && plan.CopyDataFrom != nil && inst.AwaitsAttachment()
}

// planLateCopy checks and tells what an update that sets copy_data_from does (copiesLate).
func (r *ServiceResource) planLateCopy(ctx context.Context, state, plan *serviceResourceModel, diags *diag.Diagnostics) {
	inst, err := r.data.cache.Instance(ctx, state.EnvironmentID.ValueString(), state.ID.ValueString())
	if err != nil || inst == nil {
		addAPIError(diags, "Cannot read service instance "+state.ID.ValueString(), errors.Join(err, divio.ErrNotFound))
		return
	}
	label := capitalize(r.data.cache.InstanceLabel(ctx, inst))
	if !copiesLate(state, plan, inst) {
		diags.AddAttributeWarning(path.Root("copy_data_from"), "Data not copied",
			fmt.Sprintf("%s has been attached, so it keeps its data: copy_data_from fills an instance only before anything attaches it. "+
				"To replace its data with a copy, use the divio_copy_data action (terraform apply -invoke).", label))
		return
	}
	svc, err := r.data.cache.FindService(ctx, inst.Region, plan.Service.ValueString())
	if err != nil || svc == nil {
		addAPIError(diags, "Cannot read the service catalog of region "+inst.Region, errors.Join(err, divio.ErrNotFound))
		return
	}
	r.checkCopySource(ctx, plan, svc, diags)
	diags.AddAttributeWarning(path.Root("copy_data_from"), "Data copied into an existing instance",
		fmt.Sprintf("%s is not attached yet, so no application has written to it (a run cut short added it, and it was imported, or it was added without copy_data_from): "+
			"the apply fills it with the copy that copy_data_from names, as it fills a new instance, and whatever it holds is replaced.", label))
}

// privateCopyPending is the private-state key of a create whose copy (copy_data_from) is still due.
const privateCopyPending = "copy_pending"

// copyPending is privateCopyPending's value: "true" while the copy is due, or nothing.
func copyPending(due bool) []byte {
	if due {
		return []byte("true")
	}
	return nil
}

// copyStillPending reports whether the resource's create recorded a copy that is still due.
func (r *ServiceResource) copyStillPending(ctx context.Context, req resource.UpdateRequest) bool {
	if req.Private == nil {
		return false
	}
	raw, _ := req.Private.GetKey(ctx, privateCopyPending)
	return bytes.Equal(raw, copyPending(true))
}

// copyInto fills inst with the data that m's copy_data_from names, and reports whether it did; when
// not, diags says why.
func (r *ServiceResource) copyInto(ctx context.Context, m *serviceResourceModel, inst *divio.ServiceInstance, diags *diag.Diagnostics) bool {
	from, err := r.copySource(ctx, m.CopyDataFrom, inst)
	if err == nil {
		notes := fmt.Sprintf("Copy into service instance %s (%s %s), taken by Terraform (copy_data_from).", inst.UUID, inst.Type, inst.Prefix)
		_, err = r.data.copyData(ctx, from, inst, notes, nil)
	}
	if err != nil {
		diags.AddAttributeError(path.Root("copy_data_from"), "Data not copied",
			fmt.Sprintf("%s was added and provisioned, but the copy of its data (copy_data_from) failed: %v.\n\n"+
				"The instance holds no data yet; the next apply replaces it with a new one, and copies again.",
				capitalize(r.data.cache.InstanceLabel(ctx, inst)), err))
		return false
	}
	return true
}

// copySource resolves copy_data_from: an instance, or the part of a backup of inst's type (a backup
// id, or the id of the part itself).
func (r *ServiceResource) copySource(ctx context.Context, c *copyDataFrom, inst *divio.ServiceInstance) (dataSource, error) {
	if !c.ServiceID.IsNull() {
		return dataSource{InstanceID: c.ServiceID.ValueString()}, nil
	}
	id := c.BackupID.ValueString()
	backup, err := r.data.client.GetBackup(ctx, id)
	if errors.Is(err, divio.ErrNotFound) {
		return dataSource{BackupPartID: id}, nil // the id of a part
	}
	if err != nil {
		return dataSource{}, err
	}
	for _, partID := range backup.ServiceInstanceBackups {
		part, err := r.data.client.GetServiceInstanceBackup(ctx, partID)
		if err != nil {
			return dataSource{}, err
		}
		if part.ServiceType == inst.Type {
			return dataSource{BackupPartID: part.UUID}, nil
		}
	}
	return dataSource{}, fmt.Errorf("backup %s has no part of a %s instance", id, inst.Type)
}
