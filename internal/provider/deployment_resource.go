package provider

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

var (
	_ resource.ResourceWithConfigure   = &DeploymentResource{}
	_ resource.ResourceWithImportState = &DeploymentResource{}
	_ resource.ResourceWithIdentity    = &DeploymentResource{}
	_ resource.ResourceWithModifyPlan  = &DeploymentResource{}
)

// DeploymentResource runs one deployment of an environment.
type DeploymentResource struct {
	resourceWithConfigure
}

func NewDeploymentResource() resource.Resource { return &DeploymentResource{} }

type deploymentModel struct {
	ID            types.String   `tfsdk:"id"`
	EnvironmentID types.String   `tfsdk:"environment_id"`
	Triggers      types.Map      `tfsdk:"triggers"`
	Status        types.String   `tfsdk:"status"`
	StartedAt     types.String   `tfsdk:"started_at"`
	EndedAt       types.String   `tfsdk:"ended_at"`
	Timeouts      timeouts.Value `tfsdk:"timeouts"`
}

// modelFromDeployment sets what the API says; triggers and timeouts are known only to Terraform.
func modelFromDeployment(m *deploymentModel, d *divio.Deployment) {
	m.ID = types.StringValue(d.UUID)
	m.EnvironmentID = types.StringValue(d.Environment)
	m.Status = types.StringValue(d.Status)
	m.StartedAt = timestampValue(d.StartedAt)
	m.EndedAt = timestampValue(d.EndedAt)
}

func timestampValue(t *time.Time) types.String {
	if t == nil {
		return types.StringNull()
	}
	return types.StringValue(t.UTC().Format(time.RFC3339))
}

func (r *DeploymentResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_deployment"
}

func (r *DeploymentResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Runs a deployment of an environment and waits for it to succeed. A deployment attaches every service instance " +
			"of the environment that awaits attachment and detaches every one whose detachment is pending, so one `divio_deployment` that `depends_on` several `divio_service_attachment`s " +
			"with `deploy = false` attaches all of them with exactly one deployment. A deployment requested while attachments of the " +
			"same environment deploy joins theirs.\n\n" +
			"A deployment cannot be undone: destroying this resource only removes it from Terraform's state. To deploy again, change `triggers`.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The id of the deployment.",
				Computed:            true,
				PlanModifiers:       keep,
			},
			"environment_id": schema.StringAttribute{
				MarkdownDescription: "The id of the environment to deploy, e.g. `data.divio_environment.<name>.id`. Changing it runs a new deployment.",
				Required:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"triggers": schema.MapAttribute{
				MarkdownDescription: "Arbitrary values; any change runs a new deployment, like `terraform_data`'s `triggers_replace`. " +
					"E.g. `{ services = join(\",\", [for a in divio_service_attachment.all : a.id]) }`.",
				ElementType:   types.StringType,
				Optional:      true,
				PlanModifiers: []planmodifier.Map{mapplanmodifier.RequiresReplace()},
			},
			"status": schema.StringAttribute{
				MarkdownDescription: "The deployment's status as the Divio API gives it: `done` once it succeeded. A failed deployment taints the resource, and the next apply deploys again.",
				Computed:            true,
				PlanModifiers:       keep,
			},
			"started_at": schema.StringAttribute{
				MarkdownDescription: "When the deployment started (RFC 3339).",
				Computed:            true,
				PlanModifiers:       keep,
			},
			"ended_at": schema.StringAttribute{
				MarkdownDescription: "When the deployment ended (RFC 3339).",
				Computed:            true,
				PlanModifiers:       keep,
			},
			"timeouts": resourceTimeouts(ctx, timeouts.Opts{Create: true}),
		},
	}
}

// ModifyPlan warns about the instances that a planned deployment attaches although no
// divio_service_attachment covers them.
func (r *DeploymentResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if !r.data.checksPlan(req) || req.Plan.Raw.IsNull() || !req.State.Raw.IsNull() && !resp.RequiresReplace.Contains(path.Root("environment_id")) && !resp.RequiresReplace.Contains(path.Root("triggers")) {
		return // destroyed (which deploys nothing), or kept
	}
	var envID types.String
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("environment_id"), &envID)...)
	if envID.IsUnknown() || envID.IsNull() {
		return
	}
	r.data.warnUnaskedAttachments(ctx, envID.ValueString(), "for a divio_deployment", &resp.Diagnostics)
}

func (r *DeploymentResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = idIdentity("The id of the deployment.", nil)
}

func (r *DeploymentResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	defer setIdentity(ctx, resp.Identity, &resp.Diagnostics, &resp.State)
	if !requireConfigured(r.data, &resp.Diagnostics) {
		return
	}
	var plan deploymentModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, plan.Timeouts, "create")
	defer cancel()

	envID := plan.EnvironmentID.ValueString()
	dep, err := r.data.deployer.Deploy(ctx, envID)
	if dep != nil {
		// A failed deployment is kept too: Terraform marks it tainted and deploys again next time.
		modelFromDeployment(&plan, dep)
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
	if err == nil {
		return
	}
	addDeployError(&resp.Diagnostics, "Cannot deploy environment "+envID, err,
		"Nothing it was to change changed: service instances awaiting attachment still await it, and those to be detached stay attached. "+
			"See the deployment's log in the Divio Control Panel, fix the cause and apply again to deploy again.")
}

func (r *DeploymentResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	defer setIdentity(ctx, resp.Identity, &resp.Diagnostics, &resp.State, &req.State)
	if r.data == nil {
		return // keep the state as it is until the provider can be configured
	}
	var state deploymentModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := state.ID.ValueString()
	dep, err := r.data.client.GetDeployment(ctx, id)
	if errors.Is(err, divio.ErrNotFound) {
		removeGone(ctx, resp, "deployment "+id)
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read deployment "+id, err)
		return
	}
	modelFromDeployment(&state, dep)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update changes only timeouts: everything else replaces the deployment.
func (r *DeploymentResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	defer setIdentity(ctx, resp.Identity, &resp.Diagnostics, &resp.State)
	var plan deploymentModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// Delete only forgets the deployment: a deployment cannot be undone.
func (r *DeploymentResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {
}

func (r *DeploymentResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	defer setIdentity(ctx, resp.Identity, &resp.Diagnostics, &resp.State)
	id, ok := importID(ctx, importDeployment, req, &resp.Diagnostics)
	if !ok {
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), id)...)
}
