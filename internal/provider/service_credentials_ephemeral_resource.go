package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

var _ ephemeral.EphemeralResourceWithConfigure = &ServiceCredentialsEphemeralResource{}

// ServiceCredentialsEphemeralResource hands out the secrets a service instance publishes (its
// DSNs) without Terraform storing them in the plan or the state.
type ServiceCredentialsEphemeralResource struct {
	ephemeralResourceWithConfigure
}

func NewServiceCredentialsEphemeralResource() ephemeral.EphemeralResource {
	return &ServiceCredentialsEphemeralResource{}
}

type serviceCredentialsModel struct {
	ServiceID     types.String `tfsdk:"service_id"`
	EnvironmentID types.String `tfsdk:"environment_id"`
	Prefix        types.String `tfsdk:"prefix"`
	Type          types.String `tfsdk:"type"`
	Variables     types.Map    `tfsdk:"variables"`
}

func (r *ServiceCredentialsEphemeralResource) Metadata(_ context.Context, req ephemeral.MetadataRequest, resp *ephemeral.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_service_credentials"
}

func (r *ServiceCredentialsEphemeralResource) Schema(_ context.Context, _ ephemeral.SchemaRequest, resp *ephemeral.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "The environment variables a provisioned service instance publishes, such as `DEFAULT_DATABASE_DSN`, with their secret values. " +
			"As an ephemeral resource (Terraform 1.10 and later) its values are never stored in the plan or the state: " +
			"pass them to write-only arguments, provider configurations or other ephemeral contexts.",
		Attributes: map[string]schema.Attribute{
			"service_id": schema.StringAttribute{
				MarkdownDescription: "The id of the service instance, such as `divio_service.db.id`. The instance must be provisioned (functional).",
				Required:            true,
			},
			"environment_id": schema.StringAttribute{
				MarkdownDescription: "The id of the environment the instance belongs to.",
				Computed:            true,
			},
			"prefix": schema.StringAttribute{
				MarkdownDescription: "The prefix of the instance's environment variables, such as `DEFAULT`.",
				Computed:            true,
			},
			"type": schema.StringAttribute{
				MarkdownDescription: "The service type: `DATABASE`, `STORAGE`, `SEARCH` or `MESSAGE_QUEUE`.",
				Computed:            true,
			},
			"variables": schema.MapAttribute{
				MarkdownDescription: "The environment variables this instance publishes, by name, with their values (DSNs that hold passwords). " +
					"Only this instance's variables: those of other instances in the environment are left out.",
				ElementType: types.StringType,
				Computed:    true,
				Sensitive:   true,
			},
		},
	}
}

func (r *ServiceCredentialsEphemeralResource) Open(ctx context.Context, req ephemeral.OpenRequest, resp *ephemeral.OpenResponse) {
	var config serviceCredentialsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if r.data == nil {
		// The provider's own configuration is not known yet (plan): nothing can be read, and what
		// depends on the credentials must wait for apply.
		resp.Diagnostics.Append(resp.Result.Set(ctx, unknownCredentials(config.ServiceID))...)
		return
	}

	id := config.ServiceID.ValueString()
	inst, err := r.data.client.GetServiceInstance(ctx, id)
	if errors.Is(err, divio.ErrNotFound) {
		resp.Diagnostics.AddAttributeError(path.Root("service_id"), "Service instance not found",
			fmt.Sprintf("There is no service instance with id %q, or the API token has no permission to see it. "+
				"Check service_id: use the id of a divio_service, such as divio_service.db.id.", id))
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read the service instance", err)
		return
	}

	vars, err := r.data.client.ListEnvironmentVariables(ctx, inst.Environment)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read the environment variables", err)
		return
	}
	published := publishedVariables(inst, vars)
	if !inst.Functional() || len(published) == 0 {
		resp.Diagnostics.AddAttributeError(path.Root("service_id"), "Service instance is not functional yet",
			fmt.Sprintf("Service instance %s has status %s: it publishes its credentials only once provisioned. "+
				"Provision it first: leave provision = true (the default) on its divio_service, or attach it and deploy the environment, then apply again.",
				id, inst.Status))
		return
	}

	variables, diags := types.MapValueFrom(ctx, types.StringType, published)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.Result.Set(ctx, serviceCredentialsModel{
		ServiceID:     config.ServiceID,
		EnvironmentID: types.StringValue(inst.Environment),
		Prefix:        types.StringValue(inst.Prefix),
		Type:          types.StringValue(inst.Type),
		Variables:     variables,
	})...)
}

// publishedVariables picks the instance's own variables out of its environment's.
func publishedVariables(inst *divio.ServiceInstance, vars []divio.EnvironmentVariable) map[string]string {
	names := divio.VariableNames(inst.Type, inst.Prefix)
	published := map[string]string{}
	for _, v := range vars {
		if slices.Contains(names, v.Name) {
			published[v.Name] = v.Value
		}
	}
	return published
}

func unknownCredentials(serviceID types.String) serviceCredentialsModel {
	return serviceCredentialsModel{
		ServiceID:     serviceID,
		EnvironmentID: types.StringUnknown(),
		Prefix:        types.StringUnknown(),
		Type:          types.StringUnknown(),
		Variables:     types.MapUnknown(types.StringType),
	}
}
