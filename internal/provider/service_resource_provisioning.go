package provider

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

// privateGaveUpProvisioning is the private-state key that a create or an update sets when its wait
// for provisioning ran out of the create timeout. The next plan replaces such an instance as stuck
// (planUnfinished). The verdict is recorded, rather than taken again from the clock at each plan,
// because Terraform plans the resource once more during the apply and fails the run if the two
// plans differ: a verdict that flipped in between (the create timeout passing, or provisioning
// finishing) turned an update into a replacement half-way through an apply.
const privateGaveUpProvisioning = "gave_up_provisioning"

// gaveUp is privateGaveUpProvisioning's value (private state holds JSON).
var gaveUp = []byte("true")

func gaveUpProvisioning(ctx context.Context, req resource.ModifyPlanRequest) bool {
	if req.Private == nil {
		return false // not called by the framework, which always hands one over
	}
	raw, _ := req.Private.GetKey(ctx, privateGaveUpProvisioning)
	return bytes.Equal(raw, gaveUp)
}

// reportUnfinishedProvisioning reports a create whose provisioning wait was cut short: by Ctrl-C, by
// the create timeout, or by an API that kept failing. The instance exists and goes on provisioning
// at Divio, so the create does not fail: a failed create would be tainted, and the next apply would
// remove the instance and add another, losing the minutes spent provisioning it. It stays in the
// state untainted, with its true status, and the next plan schedules the rest as an update
// (planUnfinished): it waits for provisioning to finish, or replaces the instance if it is stuck.
// Only an instance that disappeared is an error, and leaves the state.
func (r *ServiceResource) reportUnfinishedProvisioning(ctx context.Context, m *serviceResourceModel, identifier string, err error, resp *resource.CreateResponse) {
	id, where := m.ID.ValueString(), r.data.cache.EnvironmentLabel(ctx, m.EnvironmentID.ValueString())
	if errors.Is(err, divio.ErrNotFound) {
		resp.State.RemoveResource(ctx)
		resp.Diagnostics.AddError(fmt.Sprintf("Service instance %s (%s) disappeared", id, identifier),
			fmt.Sprintf("Service instance %s (%s) in environment %s was removed while it was provisioning, outside Terraform. The next apply adds a new one.", id, identifier, where))
		return
	}
	createTimeout := timeoutOf(m.Timeouts, "create")
	if errors.Is(err, context.DeadlineExceeded) {
		resp.Diagnostics.AddWarning("Service instance still provisioning",
			fmt.Sprintf("Service instance %s (%s) in environment %s had not finished provisioning when the create timeout (%s) ran out. It is saved in the state with status %s: %s.",
				id, identifier, where, createTimeout, m.Status.ValueString(), afterStuck(m)))
		return
	}
	cause := "The Divio API kept failing while the provider waited for service instance %s (%s) in environment %s to finish provisioning: " + err.Error() + "."
	if errors.Is(err, context.Canceled) {
		cause = "The apply was interrupted while service instance %s (%s) in environment %s was provisioning."
	}
	resp.Diagnostics.AddWarning("Service instance still provisioning", fmt.Sprintf(cause, id, identifier, where)+
		fmt.Sprintf(" It is saved in the state with status %s, and provisioning goes on at Divio. The next terraform apply waits for it to finish, and removes or replaces nothing; "+
			"only if it is still not functional once the create timeout (%s) has passed since it was added does that apply stop waiting, and the plan after it replace the instance, since an instance that never finished provisioning holds no data.",
			m.Status.ValueString(), createTimeout))
}

// afterStuck says what the next plan does with an instance whose wait for provisioning ran out of
// its create timeout.
func afterStuck(m *serviceResourceModel) string {
	if m.DeletionProtection.ValueBool() {
		return stuckProtected
	}
	return "the next plan replaces it, since it never became functional and holds no data"
}

// stuckProtected says what keeps a stuck instance from being replaced, and the step that lets it be.
const stuckProtected = "it never became functional and holds no data, but deletion_protection = true keeps it from being replaced: " +
	"set deletion_protection = false and apply, and the apply after replaces it"

// provisioningDeadline bounds the wait of an update that finishes a create's provisioning by the
// create timeout, counted from when the instance was added: past it the next plan replaces the
// instance as stuck (planUnfinished), so waiting longer, up to the update timeout, would only delay
// that. An instance still NEW has not started provisioning: the update starts it, and waits
// within the update timeout alone. The context it returns ends with ctx.
func provisioningDeadline(ctx context.Context, inst *divio.ServiceInstance, m *serviceResourceModel) context.Context {
	createTimeout := timeoutOf(m.Timeouts, "create")
	if inst.CreatedAt.IsZero() || inst.Status != divio.StatusProvisioning {
		return ctx
	}
	ctx, cancel := context.WithDeadline(ctx, inst.CreatedAt.Add(createTimeout))
	context.AfterFunc(ctx, cancel) // released with ctx, or at the deadline
	return ctx
}

// pastCreateTimeout reports whether the create timeout has passed since the instance was added.
func pastCreateTimeout(inst *divio.ServiceInstance, m *serviceResourceModel) bool {
	return !inst.CreatedAt.IsZero() && time.Since(inst.CreatedAt) >= timeoutOf(m.Timeouts, "create")
}

// planUnfinished schedules the rest of a create whose provisioning wait was cut short (see
// reportUnfinishedProvisioning): an update that waits for provisioning to finish; or, when the last
// wait for it ran out of the create timeout (privateGaveUpProvisioning), a replacement, since it
// appears stuck and holds no data. It reports whether it plans a replacement. It decides from the
// state alone, not from the clock or a fresh read, so that the plan made again during the apply
// agrees with this one.
func (r *ServiceResource) planUnfinished(ctx context.Context, m *serviceResourceModel, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) (replacing bool) {
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("status"), types.StringUnknown())...)
	if !gaveUpProvisioning(ctx, req) {
		// The diff shows only the status to come: say what the update does.
		createTimeout := timeoutOf(m.Timeouts, "create")
		resp.Diagnostics.AddWarning("Service instance still provisioning",
			fmt.Sprintf("Service instance %s (%s) in environment %s is %s: the apply that added it stopped waiting before it was functional. "+
				"This plan's update waits for its provisioning to finish (starting it if it has not begun), within the create timeout (%s) counted from when it was added; it removes and replaces nothing.",
				m.ID.ValueString(), m.Service.ValueString(), r.data.cache.EnvironmentLabel(ctx, m.EnvironmentID.ValueString()), m.Status.ValueString(), createTimeout))
		return false
	}
	createTimeout := timeoutOf(m.Timeouts, "create")
	stuck := fmt.Sprintf("Service instance %s (%s) in environment %s is still %s: the last wait for it ran out of its create timeout (%s).",
		m.ID.ValueString(), m.Service.ValueString(), r.data.cache.EnvironmentLabel(ctx, m.EnvironmentID.ValueString()), m.Status.ValueString(), createTimeout)
	if m.DeletionProtection.ValueBool() {
		resp.Diagnostics.AddWarning("Service instance stuck in provisioning", stuck+" It appears stuck, but "+stuckProtected+".")
		return false
	}
	resp.RequiresReplace = append(resp.RequiresReplace, path.Root("status"))
	resp.Diagnostics.AddWarning("Service instance stuck in provisioning",
		stuck+" It appears stuck, and since it never became functional it holds no data: the apply replaces it with a new instance.")
	return true
}

// finishProvisioning provisions, in an update, an instance whose create did not see it functional
// (provision turned true, or a create cut short), within the create timeout counted from when it was
// added (provisioningDeadline). It reports false when the update stops there, with the state set.
func (r *ServiceResource) finishProvisioning(ctx context.Context, plan, state *serviceResourceModel, inst *divio.ServiceInstance, resp *resource.UpdateResponse) (*divio.ServiceInstance, bool) {
	if plan.Provision.ValueBool() && !inst.Functional() {
		seen, err := r.data.cache.ProvisionInstance(provisioningDeadline(ctx, inst, plan), inst.Environment, inst.UUID)
		if seen != nil {
			inst = seen
		}
		if err != nil {
			if createTimeout := timeoutOf(plan.Timeouts, "create"); errors.Is(err, context.DeadlineExceeded) && pastCreateTimeout(inst, plan) {
				// Past the create timeout: stuck, which the next plan deals with; the update is
				// recorded as planned, provision = true included (also for an imported instance,
				// whose state said false), and so is the verdict.
				resp.Diagnostics.AddWarning("Service instance stuck in provisioning",
					fmt.Sprintf("Service instance %s (%s) is still %s, %s after it was added, past its create timeout (%s): %s.",
						inst.UUID, state.Service.ValueString(), inst.Status, time.Since(inst.CreatedAt).Round(time.Second), createTimeout, afterStuck(plan)))
				if resp.Private != nil {
					resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateGaveUpProvisioning, gaveUp)...)
				}
				modelFromInstance(plan, inst)
				resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
				return inst, false
			}
			addAPIError(&resp.Diagnostics, fmt.Sprintf("Service instance %s (%s) did not become functional", inst.UUID, state.Service.ValueString()), err)
			// Keep provision as it was, so that the next apply waits again.
			plan.Provision = state.Provision
			modelFromInstance(plan, inst)
			resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
			return inst, false
		}
	}
	return inst, true
}
