package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/list"
	listschema "github.com/hashicorp/terraform-plugin-framework/list/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

var (
	_ list.ListResource              = &ServiceListResource{}
	_ list.ListResourceWithConfigure = &ServiceListResource{}
)

// ServiceListResource lists the service instances of an environment for `terraform query`
// (Terraform 1.14 and newer), each as its import makes it. It embeds the resource for its type
// name, its Configure and the model-filling function it shares with import.
type ServiceListResource struct {
	ServiceResource
}

func NewServiceListResource() list.ListResource { return &ServiceListResource{} }

type serviceListModel struct {
	EnvironmentID types.String `tfsdk:"environment_id"`
	Service       types.String `tfsdk:"service"`
	Type          types.String `tfsdk:"type"`
	Status        types.String `tfsdk:"status"`
}

func (l *ServiceListResource) ListResourceConfigSchema(_ context.Context, _ list.ListResourceSchemaRequest, resp *list.ListResourceSchemaResponse) {
	resp.Schema = listschema.Schema{
		MarkdownDescription: "Lists the service instances of an environment, whether Terraform manages them or they were added in the Divio Control Panel, " +
			"for `terraform query` (Terraform 1.14 and newer). Each result carries the instance's identity and, with `include_resource = true`, the " +
			"`divio_service` that importing it makes, so that `terraform query -generate-config-out=FILE` writes configuration and import blocks that plan no change.",
		Attributes: map[string]listschema.Attribute{
			"environment_id": listschema.StringAttribute{
				MarkdownDescription: "The id of the environment whose instances to list.",
				Required:            true,
			},
			"service": listschema.StringAttribute{
				MarkdownDescription: "Only instances of this catalog entry, by identifier (such as `postgres-15`) or uuid.",
				Optional:            true,
			},
			"type": listschema.StringAttribute{
				MarkdownDescription: "Only instances of this type: `DATABASE`, `STORAGE`, `SEARCH` or `MESSAGE_QUEUE`.",
				Optional:            true,
				Validators:          []validator.String{stringvalidator.OneOf(divio.TypeDatabase, divio.TypeStorage, divio.TypeSearch, divio.TypeMessageQueue)},
			},
			"status": listschema.StringAttribute{
				MarkdownDescription: "Only instances in this status: `NEW`, `PROVISIONING`, `PENDING_ATTACHMENT`, `ATTACHED`, `PENDING_DETACHMENT` or `DETACHED`.",
				Optional:            true,
				Validators: []validator.String{stringvalidator.OneOf(divio.StatusNew, divio.StatusProvisioning, divio.StatusPendingAttachment,
					divio.StatusAttached, divio.StatusPendingDetachment, divio.StatusDetached)},
			},
		},
	}
}

func (l *ServiceListResource) List(ctx context.Context, req list.ListRequest, stream *list.ListResultsStream) {
	var diags diag.Diagnostics
	var config serviceListModel
	diags.Append(req.Config.Get(ctx, &config)...)
	if diags.HasError() || !requireConfigured(l.data, &diags) {
		stream.Results = list.ListResultsStreamDiagnostics(diags)
		return
	}
	envID := config.EnvironmentID.ValueString()
	instances, where := listedInstances(ctx, l.data, envID, &diags)
	if diags.HasError() {
		stream.Results = list.ListResultsStreamDiagnostics(diags)
		return
	}

	// Every request is made here, while the request's context is alive; the stream only hands
	// out what was found.
	var results []list.ListResult
	for i := range instances {
		inst := &instances[i]
		if limitReached(req, len(results)) {
			break
		}
		result := req.NewListResult(ctx)
		var m serviceResourceModel
		result.Diagnostics.Append(result.Resource.GetAttribute(ctx, path.Root("timeouts"), &m.Timeouts)...)
		l.modelFromUnmanagedInstance(ctx, &m, inst, &result.Diagnostics)
		if !config.matches(&m, inst) {
			continue
		}
		result.DisplayName = fmt.Sprintf("%s %s (%s) in %s", m.Service.ValueString(), inst.Prefix, inst.Status, where)
		setListResult(ctx, &result, &m)
		results = append(results, result)
	}
	stream.Results = slices.Values(results)
}

// matches reports whether a listed instance passes the list's filters.
func (c *serviceListModel) matches(m *serviceResourceModel, inst *divio.ServiceInstance) bool {
	if s := c.Service.ValueString(); s != "" && s != m.Service.ValueString() && s != inst.Service {
		return false
	}
	if t := c.Type.ValueString(); t != "" && t != inst.Type {
		return false
	}
	if s := c.Status.ValueString(); s != "" && s != inst.Status {
		return false
	}
	return true
}

// listedInstances returns an environment's instances that are not removed, sorted by type, then
// prefix, and where the environment is, as application/environment slugs, for display names.
func listedInstances(ctx context.Context, data *providerData, envID string, diags *diag.Diagnostics) ([]divio.ServiceInstance, string) {
	env, err := data.cache.Environment(ctx, envID)
	if errors.Is(err, divio.ErrNotFound) {
		diags.AddAttributeError(path.Root("environment_id"), "Environment not found",
			fmt.Sprintf("No environment has the id %q, or the API token has no permission to see it. "+
				"Look the environment up with data.divio_environment.", envID))
		return nil, ""
	}
	if err != nil {
		addAPIError(diags, "Cannot read the Divio environment "+envID, err)
		return nil, ""
	}
	where := data.cache.EnvironmentSlugs(ctx, env.UUID)
	cached, err := data.cache.Instances(ctx, envID)
	if err != nil {
		addAPIError(diags, "Cannot list the service instances of environment "+envID, err)
		return nil, ""
	}
	// A copy: the cached slice is shared with every other reader of this environment.
	instances := slices.Clone(cached)
	slices.SortFunc(instances, func(a, b divio.ServiceInstance) int {
		if c := strings.Compare(a.Type, b.Type); c != 0 {
			return c
		}
		return strings.Compare(a.Prefix, b.Prefix)
	})
	return instances, where
}

// limitReached reports whether a list has as many results as Terraform asked for.
func limitReached(req list.ListRequest, results int) bool {
	return req.Limit > 0 && int64(results) >= req.Limit
}

// setListResult puts a resource's model into a list result, and the identity its import would
// give it: the identity comes from the same model, so that a listed result and an import agree.
func setListResult(ctx context.Context, result *list.ListResult, model any) {
	result.Diagnostics.Append(result.Resource.Set(ctx, model)...)
	state := tfsdk.State{Schema: result.Resource.Schema, Raw: result.Resource.Raw}
	setIdentity(ctx, result.Identity, &result.Diagnostics, &state)
}
