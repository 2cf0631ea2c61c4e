package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

var (
	_ resource.ResourceWithConfigure   = &ServiceAttachmentResource{}
	_ resource.ResourceWithImportState = &ServiceAttachmentResource{}
	_ resource.ResourceWithModifyPlan  = &ServiceAttachmentResource{}
	_ resource.ResourceWithIdentity    = &ServiceAttachmentResource{}
)

// ServiceAttachmentResource attaches a service instance to its environment's application.
type ServiceAttachmentResource struct {
	configuredResource
}

func NewServiceAttachmentResource() resource.Resource { return &ServiceAttachmentResource{} }

type serviceAttachmentModel struct {
	ID            types.String   `tfsdk:"id"`
	ServiceID     types.String   `tfsdk:"service_id"`
	Deploy        types.Bool     `tfsdk:"deploy"`
	EnvironmentID types.String   `tfsdk:"environment_id"`
	Status        types.String   `tfsdk:"status"`
	DeploymentID  types.String   `tfsdk:"deployment_id"`
	Timeouts      timeouts.Value `tfsdk:"timeouts"`
}

// modelFromAttachedInstance sets what the API says about the attached instance; deploy,
// timeouts and deployment_id are known only to Terraform.
func modelFromAttachedInstance(m *serviceAttachmentModel, inst *divio.ServiceInstance) {
	m.ID = types.StringValue(inst.UUID)
	m.ServiceID = types.StringValue(inst.UUID)
	m.EnvironmentID = types.StringValue(inst.Environment)
	m.Status = types.StringValue(inst.Status)
}

// attachedOrMarked reports whether the instance is attached or will be by the next deployment;
// anything else (PENDING_DETACHMENT included) means the attachment was undone.
func attachedOrMarked(inst *divio.ServiceInstance) bool {
	return inst.Status == divio.StatusAttached || inst.AttachRequested
}

func (r *ServiceAttachmentResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_service_attachment"
}

func (r *ServiceAttachmentResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Attaches a service instance (a `divio_service`) to its environment's application, which then " +
			"receives the instance's environment variables. Attaching and detaching take effect with a deployment of the " +
			"environment: attachments of one environment applied together share one deployment. Set `deploy = false` on " +
			"several attachments and add one `divio_deployment` that depends on them to attach them all with exactly one deployment.\n\n" +
			"Destroying the attachment detaches the instance with a deployment; the instance and its data stay.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The id of the attached service instance.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"service_id": schema.StringAttribute{
				MarkdownDescription: "The id of the service instance to attach, usually `divio_service.<name>.id`. Changing it detaches the old instance and attaches the new one.",
				Required:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"deploy": schema.BoolAttribute{
				MarkdownDescription: "Whether to deploy the environment and wait until the instance is attached (default `true`). " +
					"With `false` the instance is only marked for attachment (`status` stays `PENDING_ATTACHMENT`) and is attached by the " +
					"environment's next deployment, e.g. a `divio_deployment`. Changing it to `true` deploys then, if the instance is not attached yet.",
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(defaultDeploy),
			},
			"environment_id": schema.StringAttribute{
				MarkdownDescription: "The id of the environment the instance belongs to, and whose deployment attaches it.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"status": schema.StringAttribute{
				MarkdownDescription: "The instance's status: `ATTACHED` once attached; while only marked, its status before attachment (`PENDING_ATTACHMENT` when provisioned).",
				Computed:            true,
			},
			"deployment_id": schema.StringAttribute{
				MarkdownDescription: "The id of the deployment that attached the instance; null if Terraform did not deploy (`deploy = false`, or the instance was attached already).",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseNonNullStateForUnknown()},
			},
			"timeouts": timeouts.Attributes(ctx, timeouts.Opts{Create: true, Delete: true}),
		},
	}
}

// defaultDeploy is deploy's default, and what an attachment Terraform did not make (imported, or
// listed by `terraform query`) gets, so that a configuration that leaves deploy out plans no change.
const defaultDeploy = true

func (r *ServiceAttachmentResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = idIdentity("The id of the attached service instance.", nil)
}

func (r *ServiceAttachmentResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	defer setIdentity(ctx, resp.Identity, &resp.Diagnostics, &resp.State)
	if !requireConfigured(r.data, &resp.Diagnostics) {
		return
	}
	var plan serviceAttachmentModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// Only an attachment that holds is recorded. A create that fails leaves nothing in the state,
	// so Terraform never taints an attachment: replacing one would detach its instance from the
	// running application, with a deployment, only to attach it again with another.
	if r.attach(ctx, &plan, &resp.Diagnostics) {
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
}

// Update changes only deploy or timeouts: deploy turned true, or an attachment whose deployment
// was cut short or failed since (see attach), deploys an instance still waiting for attachment.
// It runs under the create timeout, since it does what a create does.
func (r *ServiceAttachmentResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	defer setIdentity(ctx, resp.Identity, &resp.Diagnostics, &resp.State)
	if !requireConfigured(r.data, &resp.Diagnostics) {
		return
	}
	var plan serviceAttachmentModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	r.attach(ctx, &plan, &resp.Diagnostics)
	if plan.Status.IsUnknown() {
		plan.Status = types.StringNull()
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// attach has the instance attached: marked only, if m.Deploy is false; else marked and carried out
// by a deployment (the deployer's), waited for. It sets m's computed values, and reports whether the
// attachment holds and belongs in the state: attached, marked on purpose (deploy = false), or
// marked with its deployment cut short (Ctrl-C, the timeout, an API that kept failing), which the
// next plan finishes as an update. A deployment that failed, or an attachment that did not reach
// the application, holds nothing: the mark is undone and the next apply attaches it again.
func (r *ServiceAttachmentResource) attach(ctx context.Context, m *serviceAttachmentModel, diags *diag.Diagnostics) (holds bool) {
	ctx, cancel, ok := withTimeout(ctx, m.Timeouts.Create, diags)
	if !ok {
		return false
	}
	defer cancel()

	id := m.ServiceID.ValueString()
	inst, err := r.data.client.GetServiceInstance(ctx, id)
	if err != nil {
		addAttachError(diags, id, err)
		return false
	}
	envID := inst.Environment
	where := r.data.cache.EnvironmentLabel(ctx, envID)
	if m.DeploymentID.IsUnknown() {
		m.DeploymentID = types.StringNull()
	}
	if !m.Deploy.ValueBool() {
		err = r.data.client.AttachServiceInstance(ctx, id)
		if err != nil {
			r.data.cache.ForgetInstances(envID) // it may have been marked all the same
			addAttachError(diags, id, err)
			return false
		}
		if marked, err := r.data.client.GetServiceInstance(ctx, id); err == nil {
			inst = marked
		} else {
			inst.AttachRequested = true // as the attach just made it
		}
		r.data.cache.SetInstance(inst)
		modelFromAttachedInstance(m, inst)
		return true
	}

	out, err := r.data.deployer.Attach(ctx, envID, id)
	// A deployment changes every instance it carries out, not only this one.
	r.data.cache.ForgetInstances(envID)
	if out.Instance != nil {
		inst = out.Instance
	}
	modelFromAttachedInstance(m, inst)
	if out.Deployment != nil {
		m.DeploymentID = types.StringValue(out.Deployment.UUID)
	}
	summary := fmt.Sprintf("Service instance %s was not attached", id)
	var failed *divio.DeploymentFailedError
	var missing *variablesMissingError
	var undone *changeUndoneError
	switch {
	case err == nil:
		return true
	case errors.As(err, &failed):
		r.unmark(ctx, id, out, diags)
		diags.AddError(summary, fmt.Sprintf("Deployment %s of environment %s ended with status %s, so service instance %s is not attached and the application runs as before. "+
			"The instance is no longer marked for attachment, and this attachment is not recorded: fix the cause (see the deployment's log in the Divio Control Panel), "+
			"then apply again, which marks it and deploys again.", failed.Deployment.UUID, where, failed.Deployment.Status, id))
		return false
	case errors.As(err, &missing):
		diags.AddError(summary, fmt.Sprintf("%s (environment %s). The application does not use the instance yet, so this attachment is not recorded; "+
			"the next apply deploys again. If it keeps happening, see the deployment's log in the Divio Control Panel.", capitalize(missing.Error()), where))
		return false
	case errors.As(err, &undone):
		r.unmark(ctx, id, out, diags)
		diags.AddError(summary, capitalize(undone.Error())+". The instance is no longer marked for attachment, and this attachment is not recorded; apply again to attach it.")
		return false
	case !out.Marked:
		addAPIError(diags, summary, err)
		return false
	}
	// Cut short after the instance was marked: the attachment goes on at Divio.
	running := "No deployment was seen to start for it before the apply stopped waiting."
	if out.Deployment != nil {
		running = fmt.Sprintf("Deployment %s, which carries it out, goes on at Divio.", out.Deployment.UUID)
	}
	diags.AddWarning("Service instance still being attached",
		fmt.Sprintf("%s, while service instance %s was being attached in environment %s: %v. %s "+
			"The attachment is saved in the state; the next terraform apply finds the instance attached, or deploys for it, and detaches nothing.",
			cutShortCause(err), id, where, strings.TrimSuffix(err.Error(), "."), running))
	return true
}

// unmark undoes the mark of an attachment whose deployment failed, so that no later deployment
// attaches the instance unasked. It runs even when ctx has ended.
func (r *ServiceAttachmentResource) unmark(ctx context.Context, id string, out deployOutcome, diags *diag.Diagnostics) {
	if !out.Marked {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	inst, err := r.data.client.GetServiceInstance(ctx, id)
	if err == nil && (!inst.AttachRequested || inst.Status == divio.StatusAttached || inst.Status == divio.StatusPendingDetachment) {
		return // not marked any more, or attached after all: a detach would take it from the application
	}
	if err == nil {
		err = r.data.client.DetachServiceInstance(ctx, id)
	}
	if err != nil && !errors.Is(err, divio.ErrNotFound) {
		addAPIError(diags, fmt.Sprintf("Cannot clear the attachment mark of service instance %s", id), err)
	}
}

// cutShortCause says, for a message, what ended a wait.
func cutShortCause(err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return "The apply was interrupted"
	case errors.Is(err, context.DeadlineExceeded):
		return "The timeout ran out"
	}
	return "The Divio API kept failing"
}

func addAttachError(diags *diag.Diagnostics, id string, err error) {
	if errors.Is(err, divio.ErrNotFound) {
		diags.AddAttributeError(path.Root("service_id"), "Service instance not found",
			fmt.Sprintf("Service instance %s does not exist, was removed, or the API token may not see it (%v). "+
				"Set service_id to the id of an existing divio_service.", id, err))
		return
	}
	addAPIError(diags, "Cannot attach service instance "+id, err)
}

// addDeployError reports a deployment that failed with what it means (whenFailed), or, when it
// did not get as far as failing, the error itself.
func addDeployError(diags *diag.Diagnostics, summary string, err error, whenFailed string) {
	var failed *divio.DeploymentFailedError
	if errors.As(err, &failed) {
		diags.AddError(summary, fmt.Sprintf("Deployment %s ended with status %s. %s", failed.Deployment.UUID, failed.Deployment.Status, whenFailed))
		return
	}
	addAPIError(diags, summary, err)
}

func (r *ServiceAttachmentResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	defer setIdentity(ctx, resp.Identity, &resp.Diagnostics, &resp.State, &req.State)
	if r.data == nil {
		return // keep the state as it is until the provider can be configured
	}
	var state serviceAttachmentModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := state.ID.ValueString()
	inst, err := r.instance(ctx, state.EnvironmentID, id)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read service instance "+id, err)
		return
	}
	// REMOVED and DETACHED alike: someone else undid the attachment. PENDING_DETACHMENT is kept:
	// a detachment whose deployment fails leaves the instance attached (the contract's rule 3), so
	// the attachment holds until a deployment has carried the detachment out; the next plan then
	// finishes what this configuration says (an update attaches it again, a destroy detaches it).
	if inst == nil || !attachedOrMarked(inst) && inst.Status != divio.StatusPendingDetachment {
		removeGone(ctx, resp, "the attachment of service instance "+id)
		return
	}
	modelFromAttachedInstance(&state, inst)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// instance finds an instance through its environment's cached list, or, before the environment
// is known (on import), directly. Nil means it does not exist.
func (r *ServiceAttachmentResource) instance(ctx context.Context, environmentID types.String, id string) (*divio.ServiceInstance, error) {
	if !environmentID.IsNull() && !environmentID.IsUnknown() {
		return r.data.cache.Instance(ctx, environmentID.ValueString(), id)
	}
	inst, err := r.data.client.GetServiceInstance(ctx, id)
	if errors.Is(err, divio.ErrNotFound) {
		return nil, nil
	}
	return inst, err
}

func (r *ServiceAttachmentResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	if !requireConfigured(r.data, &resp.Diagnostics) {
		return
	}
	var state serviceAttachmentModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel, ok := withTimeout(ctx, state.Timeouts.Delete, &resp.Diagnostics)
	if !ok {
		return
	}
	defer cancel()

	id, envID := state.ID.ValueString(), state.EnvironmentID.ValueString()
	where := r.data.cache.EnvironmentLabel(ctx, envID)
	summary := fmt.Sprintf("Service instance %s was not detached", id)
	out, err := r.data.deployer.Detach(ctx, envID, id)
	// A deployment changes every instance it carries out, not only this one.
	r.data.cache.ForgetInstances(envID)
	var failed *divio.DeploymentFailedError
	var undone *changeUndoneError
	switch {
	case err == nil, errors.Is(err, divio.ErrNotFound):
	case errors.As(err, &failed):
		r.keepAttachedAfterFailure(ctx, id, envID, &resp.Diagnostics)
		resp.Diagnostics.AddError(summary,
			fmt.Sprintf("Deployment %s of environment %s that was to detach service instance %s ended with status %s, so the instance stays attached "+
				"and the application keeps running with it. The attachment stays in Terraform's state. Fix the cause of the failed deployment "+
				"(see its log in the Divio Control Panel), then run terraform apply or destroy again.", failed.Deployment.UUID, where, id, failed.Deployment.Status))
	case errors.As(err, &undone):
		resp.Diagnostics.AddError(summary, capitalize(undone.Error())+". Run terraform apply or destroy again to detach it.")
	case out.Marked:
		running := "no deployment was seen to start for it before the apply stopped waiting"
		if out.Deployment != nil {
			running = fmt.Sprintf("deployment %s, which detaches it, goes on at Divio", out.Deployment.UUID)
		}
		resp.Diagnostics.AddError(summary, fmt.Sprintf("%s while service instance %s was being detached in environment %s: %v; %s. "+
			"The attachment stays in the state: the next plan reads whether the instance was detached, and plans to detach it again if not.",
			cutShortCause(err), id, where, strings.TrimSuffix(err.Error(), "."), running))
	default:
		addAPIError(&resp.Diagnostics, summary, err)
	}
}

// keepAttachedAfterFailure makes sure the instance stays attached after its detachment's deployment
// failed: the contract says it does, and the application still uses it. Should an API leave it
// PENDING_DETACHMENT instead, whatever deploys the environment next would detach it unasked, and
// the next refresh would read it as detached: attaching it again cancels that (and is a no-op on
// an ATTACHED instance).
func (r *ServiceAttachmentResource) keepAttachedAfterFailure(ctx context.Context, id, envID string, diags *diag.Diagnostics) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	err := r.data.client.AttachServiceInstance(ctx, id)
	r.data.cache.ForgetInstances(envID)
	if err != nil && !errors.Is(err, divio.ErrNotFound) {
		addAPIError(diags, fmt.Sprintf("Cannot cancel the pending detachment of service instance %s", id), err)
	}
}

func (r *ServiceAttachmentResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	defer setIdentity(ctx, resp.Identity, &resp.Diagnostics, &resp.State)
	id, ok := importID(ctx, importAttachment, req, &resp.Diagnostics)
	if !ok {
		return
	}
	// Read fills in the rest from the instance.
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), id)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("deploy"), defaultDeploy)...)
}

// ModifyPlan checks what spans resources through the provider's view of the plan: one attachment per
// instance, and no instance both detached and attached by one apply; and that a known service_id
// names an instance that exists.
func (r *ServiceAttachmentResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if r.data == nil {
		return
	}
	switch {
	case req.Plan.Raw.IsNull():
		r.planDetach(ctx, req.State, &resp.Diagnostics)
	case req.State.Raw.IsNull():
		r.planAttach(ctx, req, resp)
	default:
		r.planChange(ctx, req, resp)
	}
}

func (r *ServiceAttachmentResource) planDetach(ctx context.Context, state tfsdk.State, diags *diag.Diagnostics) {
	var id types.String
	diags.Append(state.GetAttribute(ctx, path.Root("id"), &id)...)
	if diags.HasError() {
		return
	}
	if attaches := r.data.plan.planDetachment(id.ValueString()); attaches > 0 {
		addDetachedAndAttached(diags, id.ValueString())
	}
}

// addDetachedAndAttached refuses a plan whose outcome would depend on the order Terraform happens
// to run two unrelated resources in.
func addDetachedAndAttached(diags *diag.Diagnostics, id string) {
	diags.AddError("Service instance detached and attached in one plan",
		fmt.Sprintf("This plan destroys a divio_service_attachment of service instance %s and adds or keeps another one of it. "+
			"Terraform does not order the two, so whether the instance ends attached would depend on chance. "+
			"If you renamed the attachment, add a `moved` block instead (it keeps the attachment as it is); otherwise apply the removal first.", id))
}

func (r *ServiceAttachmentResource) planAttach(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	var serviceID types.String
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("service_id"), &serviceID)...)
	if resp.Diagnostics.HasError() || serviceID.IsUnknown() {
		return // an instance created by this apply: checked when the apply plans it again
	}
	id := serviceID.ValueString()
	inst, err := r.data.cache.InstanceByID(ctx, id)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read service instance "+id, err)
		return
	}
	if inst == nil || inst.Status == divio.StatusRemoved {
		resp.Diagnostics.AddAttributeError(path.Root("service_id"), "Service instance not found",
			fmt.Sprintf("There is no service instance with id %q, or the API token may not see it. service_id takes the id of a service instance, "+
				"not a catalog service such as postgres-15: set it to the id of a divio_service, e.g. `service_id = divio_service.<name>.id`. "+
				"For an instance added outside Terraform, the divio_service_instances data source lists the ids of an environment's instances.", id))
		return
	}
	r.planAttachment(id, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("environment_id"), inst.Environment)...)
}

// planAttachment records an attachment that the plan keeps or adds, and refuses a second one of the
// same instance: removing either would detach the instance from under the other.
func (r *ServiceAttachmentResource) planAttachment(id string, diags *diag.Diagnostics) {
	others, detached := r.data.plan.planAttachment(id)
	switch {
	case others > 0:
		diags.AddAttributeError(path.Root("service_id"), "Service instance attached twice",
			fmt.Sprintf("Another divio_service_attachment of this plan attaches service instance %s too. An instance is attached to its environment once: "+
				"keep one divio_service_attachment per instance, since destroying either would detach it from under the other.", id))
	case detached:
		addDetachedAndAttached(diags, id)
	}
}

func (r *ServiceAttachmentResource) planChange(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	var state, plan types.String
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("service_id"), &state)...)
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("service_id"), &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !plan.Equal(state) {
		// A replacement: the old instance is detached, and the new one is planned next as a create.
		r.planDetach(ctx, req.State, &resp.Diagnostics)
		return
	}
	r.planAttachment(state.ValueString(), &resp.Diagnostics)

	// An attachment whose deployment was cut short, or failed after the apply stopped waiting, is
	// marked but not attached: the rest is an update, which deploys unless it finds it attached.
	var deploy types.Bool
	var status types.String
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("deploy"), &deploy)...)
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("status"), &status)...)
	if deploy.ValueBool() && status.ValueString() != divio.StatusAttached {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("status"), types.StringUnknown())...)
		// The deployment that attaches it becomes known with the update: the one recorded may
		// have failed since, and then the update deploys again, under a new id.
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("deployment_id"), types.StringUnknown())...)
	}
}
