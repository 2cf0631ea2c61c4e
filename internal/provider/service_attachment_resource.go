package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

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
	resourceWithConfigure
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

// attachmentHolds reports whether an attachment of the instance holds: it is attached, or awaits
// attachment by the environment's next deployment. A pending detachment holds too: if its deployment
// fails, the instance stays attached (the contract's rule 3), so the attachment holds until a
// deployment has carried the detachment out; the next plan then finishes what the configuration
// says (an update attaches it again, a destroy detaches it). DETACHED means someone else undid it.
func attachmentHolds(inst *divio.ServiceInstance) bool {
	return inst.Status != divio.StatusDetached && inst.Status != divio.StatusRemoved
}

func (r *ServiceAttachmentResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_service_attachment"
	// Moved to another instance in place (service_id), an attachment takes that instance's id.
	resp.ResourceBehavior = resource.ResourceBehavior{MutableIdentity: true}
}

func (r *ServiceAttachmentResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Attaches a service instance (a `divio_service`) to its environment's application, which then " +
			"receives the instance's environment variables. Attaching and detaching take effect with a deployment of the " +
			"environment, and every deployment attaches every instance added to the environment that is not attached yet, whoever starts it: " +
			"this resource is how the configuration says that an instance is meant to be used, and deploys for it. " +
			"Attachments of one environment applied together share one deployment. Set `deploy = false` on " +
			"several attachments and add one `divio_deployment` that depends on them to attach them all with exactly one deployment.\n\n" +
			"Destroying the attachment detaches the instance with a deployment; the instance and its data stay. An instance that no deployment has attached yet " +
			"cannot be detached: destroying its attachment leaves it awaiting attachment, with a warning.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The id of the attached service instance.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"service_id": schema.StringAttribute{
				MarkdownDescription: "The id of the service instance to attach, usually `divio_service.<name>.id`. Changing it moves the attachment in place: " +
					"one deployment detaches the old instance and attaches the new one (none, when the new one is attached already and the old one gone, " +
					"as after the upgrade of the `divio_service` it refers to).",
				Required: true,
			},
			"deploy": schema.BoolAttribute{
				MarkdownDescription: "Whether to deploy the environment and wait until the instance is attached (default `true`). " +
					"With `false` the instance awaits attachment (`status` `PENDING_ATTACHMENT` once provisioned; a `DETACHED` instance is asked to be attached again) and is attached by the " +
					"environment's next deployment, whoever starts it, e.g. a `divio_deployment`. Changing it to `true` deploys then, if the instance is not attached yet.",
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
				MarkdownDescription: "The instance's status: `ATTACHED` once attached; before, `NEW`, `PROVISIONING` or `PENDING_ATTACHMENT` (awaiting attachment by the environment's next deployment).",
				Computed:            true,
			},
			"deployment_id": schema.StringAttribute{
				MarkdownDescription: "The id of the deployment that attached the instance; null if Terraform did not deploy (`deploy = false`, or the instance was attached already).",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseNonNullStateForUnknown()},
			},
			"timeouts": resourceTimeouts(ctx, timeouts.Opts{Create: true, Delete: true}),
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
	var plan, state serviceAttachmentModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if plan.ServiceID.Equal(state.ServiceID) {
		r.attach(ctx, &plan, &resp.Diagnostics)
	} else {
		r.move(ctx, &state, &plan, &resp.Diagnostics)
	}
	if plan.Status.IsUnknown() {
		plan.Status = types.StringNull()
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// move moves an attachment to another instance: one deployment detaches the old instance and attaches
// the new one (the deployer gathers the two changes), or, with deploy = false, both wait for the
// environment's next deployment. An old instance that is gone already (removed, as by the upgrade of
// its divio_service, which attached the new one) needs nothing.
func (r *ServiceAttachmentResource) move(ctx context.Context, state, plan *serviceAttachmentModel, diags *diag.Diagnostics) {
	old, envID := state.ServiceID.ValueString(), state.EnvironmentID.ValueString()
	if plan.Deploy.ValueBool() && r.swapped(ctx, old, plan) {
		return
	}
	var wg sync.WaitGroup
	var err error
	wg.Go(func() {
		if plan.Deploy.ValueBool() {
			_, err = r.data.deployer.Detach(ctx, envID, old)
		} else {
			err = r.data.cache.DetachInstance(ctx, envID, old)
		}
	})
	r.attach(ctx, plan, diags)
	wg.Wait()
	if err != nil && !errors.Is(err, divio.ErrNotFound) {
		addDeployError(diags, fmt.Sprintf("Service instance %s was not detached", old), err,
			fmt.Sprintf("Service instance %s stays attached in environment %s, and the application keeps using it beside the new one. Apply again to detach it.",
				old, r.data.cache.EnvironmentLabel(ctx, envID)))
	}
}

// swapped reports whether an upgrade has moved the attachment already: its divio_service swapped
// the instances in one deployment, so the old one is gone and the new one attached with the
// application's variables. It then records the new one and the deployment that attached it;
// asking the deployer instead would only cost its gathering window, with nothing to deploy.
func (r *ServiceAttachmentResource) swapped(ctx context.Context, old string, plan *serviceAttachmentModel) bool {
	gone, err := r.data.client.GetServiceInstance(ctx, old)
	if !errors.Is(err, divio.ErrNotFound) && (err != nil || gone.Status != divio.StatusRemoved) {
		return false
	}
	inst, err := r.data.client.GetServiceInstance(ctx, plan.ServiceID.ValueString())
	if err != nil {
		return false
	}
	swap, attached := r.data.deployer.attachedBy(ctx, inst)
	if !attached {
		return false
	}
	plan.DeploymentID = types.StringNull()
	if swap != nil {
		plan.DeploymentID = types.StringValue(swap.UUID)
	}
	modelFromAttachedInstance(plan, inst)
	return true
}

// attach has the instance attached. With m.Deploy false it only makes sure the environment's next
// deployment attaches it: an instance added to an environment awaits attachment already (the
// contract's rule 1), and a DETACHED one is asked to be attached again. Otherwise a deployment (the
// deployer's) carries the attachment out, waited for. It sets m's computed values, and reports
// whether the attachment holds and belongs in the state: attached, or awaiting attachment on purpose
// (deploy = false). Anything short of that is an error and records nothing, whatever happens at
// Divio afterwards: a failed deployment, an attachment that did not reach the application, or a wait
// cut short (Ctrl-C, the timeout, an API that kept failing). The instance then still awaits
// attachment, and the next apply plans the attachment again: it finds the instance attached by
// whichever deployment came first and records it without deploying, or deploys for it.
func (r *ServiceAttachmentResource) attach(ctx context.Context, m *serviceAttachmentModel, diags *diag.Diagnostics) (holds bool) {
	ctx, cancel := withTimeout(ctx, m.Timeouts, "create")
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
		if inst, err = r.data.cache.AttachInstance(ctx, inst); err != nil {
			addAttachError(diags, id, err)
			return false
		}
		modelFromAttachedInstance(m, inst)
		return true
	}

	out, err := r.data.deployer.Attach(ctx, envID, id)
	if out.Instance != nil {
		inst = out.Instance
	}
	modelFromAttachedInstance(m, inst)
	if out.Deployment != nil {
		m.DeploymentID = types.StringValue(out.Deployment.UUID)
	}
	summary := fmt.Sprintf("Service instance %s was not attached", id)
	const notRecorded = " This attachment is not recorded, so the next apply plans it again: it records the instance without deploying if a deployment has attached it by then, or deploys for it."
	var failed *divio.DeploymentFailedError
	var missing *variablesMissingError
	var undone *changeUndoneError
	switch {
	case err == nil:
		return true
	case errors.As(err, &failed):
		diags.AddError(summary, fmt.Sprintf("Deployment %s of environment %s ended with status %s, so service instance %s is not attached and the application runs as before. "+
			"The instance still awaits attachment: the environment's next deployment attaches it, whoever starts it. Fix the cause of the failure (see the deployment's log in the Divio Control Panel).",
			failed.Deployment.UUID, where, failed.Deployment.Status, id)+notRecorded)
	case errors.As(err, &missing):
		diags.AddError(summary, fmt.Sprintf("%s (environment %s). The application does not use the instance yet. If it keeps happening, see the deployment's log in the Divio Control Panel.",
			capitalize(missing.Error()), where)+notRecorded)
	case errors.As(err, &undone):
		diags.AddError(summary, capitalize(undone.Error())+"."+notRecorded)
	case !out.Pending:
		addAPIError(diags, summary, err)
	default:
		// Cut short with the attachment under way: the apply cannot confirm it, so it fails.
		running := "No deployment was seen to start for it before the apply stopped waiting: the environment's next deployment attaches it, whoever starts it."
		if out.Deployment != nil {
			running = fmt.Sprintf("Deployment %s, which attaches it, goes on at Divio.", out.Deployment.UUID)
		}
		diags.AddError(summary, fmt.Sprintf("%s while service instance %s was being attached in environment %s (%v), so the apply cannot confirm that the application uses it. %s",
			cutShortCause(err), id, where, strings.TrimSuffix(err.Error(), "."), running)+notRecorded)
	}
	return false
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
	if inst == nil || !attachmentHolds(inst) {
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
	ctx, cancel := withTimeout(ctx, state.Timeouts, "delete")
	defer cancel()

	id, envID := state.ID.ValueString(), state.EnvironmentID.ValueString()
	where := r.data.cache.EnvironmentLabel(ctx, envID)
	summary := fmt.Sprintf("Service instance %s was not detached", id)
	out, err := r.data.deployer.Detach(ctx, envID, id)
	var failed *divio.DeploymentFailedError
	var undone *changeUndoneError
	switch {
	case err == nil && out.Instance != nil && out.Instance.AwaitsAttachment() && !r.data.destroying:
		// Said only where the instance may stay: a destroy run removes its divio_service too.
		resp.Diagnostics.AddWarning("Service instance will be attached by the next deployment",
			fmt.Sprintf("Service instance %s in environment %s is %s: no deployment has attached it yet, so there was nothing to detach. "+
				"Divio attaches every instance added to an environment at the environment's next deployment, whoever starts it, and removing this attachment does not change that: "+
				"unless its divio_service is removed as well, the application uses the instance from that deployment on.", id, where, out.Instance.Status))
	case err == nil, errors.Is(err, divio.ErrNotFound):
	case errors.As(err, &failed):
		r.keepAttachedAfterFailure(ctx, id, &resp.Diagnostics)
		resp.Diagnostics.AddError(summary,
			fmt.Sprintf("Deployment %s of environment %s that was to detach service instance %s ended with status %s, so the instance stays attached "+
				"and the application keeps running with it. The attachment stays in Terraform's state. Fix the cause of the failed deployment "+
				"(see its log in the Divio Control Panel), then run terraform apply or destroy again.", failed.Deployment.UUID, where, id, failed.Deployment.Status))
	case errors.As(err, &undone):
		resp.Diagnostics.AddError(summary, capitalize(undone.Error())+". Run terraform apply or destroy again to detach it.")
	case out.Pending:
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
func (r *ServiceAttachmentResource) keepAttachedAfterFailure(ctx context.Context, id string, diags *diag.Diagnostics) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	inst, err := r.data.client.GetServiceInstance(ctx, id)
	if err == nil {
		_, err = r.data.cache.AttachInstance(ctx, inst)
	}
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
	if !r.data.checksPlan(req) {
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
	var id, envID types.String
	diags.Append(state.GetAttribute(ctx, path.Root("id"), &id)...)
	diags.Append(state.GetAttribute(ctx, path.Root("environment_id"), &envID)...)
	if diags.HasError() {
		return
	}
	inst, err := r.data.cache.Instance(ctx, envID.ValueString(), id.ValueString())
	if err != nil {
		inst = nil // named by its id; the API's failure is not this check's to report
	}
	if attaches := r.data.plan.planDetachment(id.ValueString()); attaches > 0 {
		addDetachedAndAttached(diags, r.instanceLabel(ctx, id.ValueString(), inst))
		return
	}
	// Detaching takes a deployment only if the instance is in use.
	if inst != nil && inst.InUse() {
		r.data.warnUnaskedAttachments(ctx, inst.Environment, "to detach service instance "+inst.UUID, diags)
	}
}

// addDetachedAndAttached refuses a plan whose outcome would depend on the order Terraform happens
// to run two unrelated resources in. label names the instance (instanceLabel).
func addDetachedAndAttached(diags *diag.Diagnostics, label string) {
	diags.AddError("Service instance detached and attached in one plan",
		fmt.Sprintf("This plan destroys a divio_service_attachment of %s and adds or keeps another divio_service_attachment of it. "+
			"Terraform does not order the two, so whether the instance ends attached would depend on chance. "+
			"If you renamed the attachment, add a `moved` block instead (it keeps the attachment as it is); otherwise apply the removal first.", label))
}

// instanceLabel names an instance for a message by its catalog identifier, prefix and environment
// when it was read (inst), else by its id. (The provider never learns the address of another
// resource: Terraform does not say it.)
func (r *ServiceAttachmentResource) instanceLabel(ctx context.Context, id string, inst *divio.ServiceInstance) string {
	if inst == nil {
		return "service instance " + id
	}
	return r.data.cache.InstanceLabel(ctx, inst)
}

func (r *ServiceAttachmentResource) planAttach(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	var serviceID types.String
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("service_id"), &serviceID)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if serviceID.IsUnknown() {
		// An instance created by this apply: checked when the apply plans it again, with its id.
		r.planAttachNew(ctx, req, resp)
		return
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
	r.planAttachment(r.instanceLabel(ctx, id, inst), id, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("environment_id"), inst.Environment)...)
	var deploy types.Bool
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("deploy"), &deploy)...)
	if deploy.ValueBool() && inst.Status != divio.StatusAttached {
		r.data.warnUnaskedAttachments(ctx, inst.Environment, "to attach service instance "+id, &resp.Diagnostics)
	}
}

// planAttachNew warns about what the deployment of an attachment of an instance this apply creates
// attaches unasked. Terraform plans the attachment after the divio_service it refers to, so when every
// divio_service planned as new so far is in one environment, that is its instance's environment.
func (r *ServiceAttachmentResource) planAttachNew(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	var deploy types.Bool
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("deploy"), &deploy)...)
	if envs := r.data.plan.createEnvironments(); deploy.ValueBool() && len(envs) == 1 {
		r.data.warnUnaskedAttachments(ctx, envs[0], "to attach a service instance that this apply adds", &resp.Diagnostics)
	}
}

// planAttachment records an attachment that the plan keeps or adds, and refuses a second one of the
// same instance: removing either would detach the instance from under the other.
func (r *ServiceAttachmentResource) planAttachment(label, id string, diags *diag.Diagnostics) {
	others, detached := r.data.plan.planAttachment(id)
	switch {
	case others > 0:
		diags.AddAttributeError(path.Root("service_id"), "Service instance attached twice",
			fmt.Sprintf("Another divio_service_attachment of this plan attaches %s too. An instance is attached to its environment once: "+
				"keep one divio_service_attachment per instance, since destroying either would detach it from under the other.", label))
	case detached:
		addDetachedAndAttached(diags, label)
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
		// Moved to another instance: the old one is detached, the new one attached, in place.
		r.planDetach(ctx, req.State, &resp.Diagnostics)
		r.planAttach(ctx, req, resp)
		for _, computed := range []string{"id", "status", "deployment_id"} {
			resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root(computed), types.StringUnknown())...)
		}
		if plan.IsUnknown() {
			resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("environment_id"), types.StringUnknown())...)
		}
		return
	}
	var envID types.String
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("environment_id"), &envID)...)
	inst, err := r.data.cache.Instance(ctx, envID.ValueString(), state.ValueString())
	if err != nil {
		inst = nil // named by its id
	}
	r.planAttachment(r.instanceLabel(ctx, state.ValueString(), inst), state.ValueString(), &resp.Diagnostics)

	// An attachment made with deploy = false, or whose deployment failed after an update stopped
	// waiting, awaits attachment: with deploy = true the rest is an update, which deploys unless it
	// finds the instance attached.
	var deploy types.Bool
	var status types.String
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("deploy"), &deploy)...)
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("status"), &status)...)
	if deploy.ValueBool() && status.ValueString() != divio.StatusAttached {
		r.data.warnUnaskedAttachments(ctx, envID.ValueString(), "to attach service instance "+state.ValueString(), &resp.Diagnostics)
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("status"), types.StringUnknown())...)
		// The deployment that attaches it becomes known with the update: the one recorded may
		// have failed since, and then the update deploys again, under a new id.
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("deployment_id"), types.StringUnknown())...)
	}
}
