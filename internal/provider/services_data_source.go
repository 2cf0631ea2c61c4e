package provider

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

var _ datasource.DataSourceWithConfigure = &ServicesDataSource{}

var serviceTypes = []string{divio.TypeDatabase, divio.TypeStorage, divio.TypeSearch, divio.TypeMessageQueue}

// ServicesDataSource lists the catalog of a region: the services that can be added there.
type ServicesDataSource struct {
	dataSourceWithConfigure
}

func NewServicesDataSource() datasource.DataSource { return &ServicesDataSource{} }

type servicesDataSourceModel struct {
	ID              types.String      `tfsdk:"id"`
	RegionID        types.String      `tfsdk:"region_id"`
	Type            types.String      `tfsdk:"type"`
	Services        []serviceModel    `tfsdk:"services"`
	IDsByIdentifier map[string]string `tfsdk:"ids_by_identifier"`
}

type serviceModel struct {
	ID          types.String `tfsdk:"id"`
	Identifier  types.String `tfsdk:"identifier"`
	Name        types.String `tfsdk:"name"`
	Type        types.String `tfsdk:"type"`
	Description types.String `tfsdk:"description"`
}

func serviceModelFrom(s divio.Service) serviceModel {
	return serviceModel{
		ID:          types.StringValue(s.UUID),
		Identifier:  types.StringValue(s.Identifier),
		Name:        types.StringValue(s.Name),
		Type:        types.StringValue(s.Type),
		Description: types.StringValue(s.Description),
	}
}

func (d *ServicesDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_services"
}

func (d *ServicesDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists the catalog of a region: the services (databases, storage, search, message queues) " +
			"that can be added to the environments of applications there.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "Identifier of this lookup: `region_id`, followed by `/` and `type` when filtered.",
				Computed:            true,
			},
			"region_id": schema.StringAttribute{
				MarkdownDescription: "The id of the region whose catalog to list, e.g. from `data.divio_region` or `data.divio_application`.",
				Required:            true,
			},
			"type": schema.StringAttribute{
				MarkdownDescription: "Only list the services of this type: `DATABASE`, `STORAGE`, `SEARCH` or `MESSAGE_QUEUE`.",
				Optional:            true,
				Validators:          []validator.String{stringvalidator.OneOf(serviceTypes...)},
			},
			"services": schema.ListNestedAttribute{
				MarkdownDescription: "The services offered, sorted by identifier.",
				Computed:            true,
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"id": schema.StringAttribute{
							MarkdownDescription: "The service's id, as `divio_service` takes it in `service_id`.",
							Computed:            true,
						},
						"identifier": schema.StringAttribute{
							MarkdownDescription: "The service's stable identifier, such as `postgres-15` or `s3`.",
							Computed:            true,
						},
						"name": schema.StringAttribute{
							MarkdownDescription: "The service's display name.",
							Computed:            true,
						},
						"type": schema.StringAttribute{
							MarkdownDescription: "The service's type: `DATABASE`, `STORAGE`, `SEARCH` or `MESSAGE_QUEUE`.",
							Computed:            true,
						},
						"description": schema.StringAttribute{
							MarkdownDescription: "What the service is.",
							Computed:            true,
						},
					},
				},
			},
			"ids_by_identifier": schema.MapAttribute{
				MarkdownDescription: "The listed services' ids by identifier, e.g. `ids_by_identifier[\"postgres-15\"]`.",
				Computed:            true,
				ElementType:         types.StringType,
			},
		},
	}
}

func (d *ServicesDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var model servicesDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &model)...)
	if resp.Diagnostics.HasError() || !requireConfigured(d.data, &resp.Diagnostics) {
		return
	}
	regionID, serviceType := model.RegionID.ValueString(), model.Type.ValueString()
	catalog, err := d.data.cache.Services(ctx, regionID)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot list the Divio service catalog", err)
		return
	}
	// The API answers an unknown region with an empty catalog; only then is it worth asking
	// whether the region exists, to say so rather than list nothing.
	if len(catalog) == 0 && !d.regionExists(ctx, regionID, &resp.Diagnostics) {
		return
	}

	model.ID = types.StringValue(regionID)
	if serviceType != "" {
		model.ID = types.StringValue(regionID + "/" + serviceType)
	}
	model.Services = []serviceModel{}
	model.IDsByIdentifier = map[string]string{}
	for _, s := range catalog {
		if serviceType == "" || s.Type == serviceType {
			model.Services = append(model.Services, serviceModelFrom(s))
			model.IDsByIdentifier[s.Identifier] = s.UUID
		}
	}
	sort.Slice(model.Services, func(i, j int) bool {
		return model.Services[i].Identifier.ValueString() < model.Services[j].Identifier.ValueString()
	})
	resp.Diagnostics.Append(resp.State.Set(ctx, &model)...)
}

// regionExists reports whether a region has the id, and adds an error on region_id if not.
func (d *ServicesDataSource) regionExists(ctx context.Context, regionID string, diags *diag.Diagnostics) bool {
	regions, err := d.data.cache.Regions(ctx)
	if err != nil {
		addAPIError(diags, "Cannot list the Divio regions", err)
		return false
	}
	known := make([]string, 0, len(regions))
	for _, r := range regions {
		if r.UUID == regionID {
			return true
		}
		known = append(known, fmt.Sprintf("%s (%s)", r.Name, r.UUID))
	}
	diags.AddAttributeError(path.Root("region_id"), "Region not found",
		fmt.Sprintf("No region has the id %q. The regions there are: %s. Look a region up by name with data.divio_region.",
			regionID, strings.Join(known, ", ")))
	return false
}
