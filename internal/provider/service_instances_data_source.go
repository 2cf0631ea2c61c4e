package provider

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

var _ datasource.DataSourceWithConfigure = &ServiceInstancesDataSource{}

// ServiceInstancesDataSource lists the service instances of an environment, whoever made them.
type ServiceInstancesDataSource struct {
	dataSourceWithConfigure
}

func NewServiceInstancesDataSource() datasource.DataSource { return &ServiceInstancesDataSource{} }

type serviceInstancesDataSourceModel struct {
	ID            types.String           `tfsdk:"id"`
	EnvironmentID types.String           `tfsdk:"environment_id"`
	Instances     []serviceInstanceModel `tfsdk:"instances"`
}

type serviceInstanceModel struct {
	ID               types.String `tfsdk:"id"`
	ServiceID        types.String `tfsdk:"service_id"`
	Prefix           types.String `tfsdk:"prefix"`
	Type             types.String `tfsdk:"type"`
	Status           types.String `tfsdk:"status"`
	RegionID         types.String `tfsdk:"region_id"`
	AwaitsAttachment types.Bool   `tfsdk:"awaits_attachment"`
}

func serviceInstanceModelFrom(in divio.ServiceInstance) serviceInstanceModel {
	return serviceInstanceModel{
		ID:               types.StringValue(in.UUID),
		ServiceID:        types.StringValue(in.Service),
		Prefix:           types.StringValue(in.Prefix),
		Type:             types.StringValue(in.Type),
		Status:           types.StringValue(in.Status),
		RegionID:         types.StringValue(in.Region),
		AwaitsAttachment: types.BoolValue(in.AwaitsAttachment()),
	}
}

func (d *ServiceInstancesDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_service_instances"
}

func (d *ServiceInstancesDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists the service instances of an environment that are not removed, " +
			"whether Terraform manages them or they were added in the Control Panel.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "Identifier of this lookup: the `environment_id`.",
				Computed:            true,
			},
			"environment_id": schema.StringAttribute{
				MarkdownDescription: "The id of the environment, e.g. `data.divio_environment.live.id`.",
				Required:            true,
			},
			"instances": schema.ListNestedAttribute{
				MarkdownDescription: "The instances, sorted by type, then prefix.",
				Computed:            true,
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"id": schema.StringAttribute{
							MarkdownDescription: "The instance's id, as `terraform import divio_service` takes it.",
							Computed:            true,
						},
						"service_id": schema.StringAttribute{
							MarkdownDescription: "The id of the catalog service the instance is of.",
							Computed:            true,
						},
						"prefix": schema.StringAttribute{
							MarkdownDescription: "The prefix of the instance's environment variables, such as `DEFAULT`.",
							Computed:            true,
						},
						"type": schema.StringAttribute{
							MarkdownDescription: "The instance's type: `DATABASE`, `STORAGE`, `SEARCH` or `MESSAGE_QUEUE`.",
							Computed:            true,
						},
						"status": schema.StringAttribute{
							MarkdownDescription: "The instance's status: `NEW`, `PROVISIONING`, `PENDING_ATTACHMENT`, `ATTACHED`, `PENDING_DETACHMENT` or `DETACHED`.",
							Computed:            true,
						},
						"region_id": schema.StringAttribute{
							MarkdownDescription: "The id of the region the instance runs in.",
							Computed:            true,
						},
						"awaits_attachment": schema.BoolAttribute{
							MarkdownDescription: "Whether the environment's next deployment attaches the instance, whoever starts it: it is `NEW`, `PROVISIONING` or `PENDING_ATTACHMENT`.",
							Computed:            true,
						},
					},
				},
			},
		},
	}
}

func (d *ServiceInstancesDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var model serviceInstancesDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &model)...)
	if resp.Diagnostics.HasError() || !requireConfigured(d.data, &resp.Diagnostics) {
		return
	}
	envID := model.EnvironmentID.ValueString()
	instances, err := d.data.cache.Instances(ctx, envID)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot list the service instances of the Divio environment", err)
		return
	}
	// The API answers an unknown environment with an empty list; only then is it worth asking
	// whether the environment exists, to say so rather than list nothing.
	if len(instances) == 0 && !d.environmentExists(ctx, envID, &resp.Diagnostics) {
		return
	}

	model.ID = types.StringValue(envID)
	// A new slice: the cached one is shared with every other reader of this environment.
	model.Instances = make([]serviceInstanceModel, 0, len(instances))
	for _, in := range instances {
		model.Instances = append(model.Instances, serviceInstanceModelFrom(in))
	}
	sort.Slice(model.Instances, func(i, j int) bool {
		a, b := model.Instances[i], model.Instances[j]
		if a.Type.ValueString() != b.Type.ValueString() {
			return a.Type.ValueString() < b.Type.ValueString()
		}
		return a.Prefix.ValueString() < b.Prefix.ValueString()
	})
	resp.Diagnostics.Append(resp.State.Set(ctx, &model)...)
}

// environmentExists reports whether the environment exists, and adds an error on
// environment_id if not.
func (d *ServiceInstancesDataSource) environmentExists(ctx context.Context, envID string, diags *diag.Diagnostics) bool {
	_, err := d.data.cache.Environment(ctx, envID)
	switch {
	case errors.Is(err, divio.ErrNotFound):
		diags.AddAttributeError(path.Root("environment_id"), "Environment not found",
			fmt.Sprintf("No environment has the id %q, or the API token has no permission to see it. "+
				"Look the environment up with data.divio_environment.", envID))
		return false
	case err != nil:
		addAPIError(diags, "Cannot read the Divio environment", err)
		return false
	}
	return true
}
