package provider

import (
	"context"
	"sort"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

var _ datasource.DataSourceWithConfigure = &RegionsDataSource{}

// regionVendors are the cloud vendors the API names in a region's `vendor`.
var regionVendors = []string{"aws", "azure", "exoscale"}

// RegionsDataSource lists the regions, optionally of one vendor.
type RegionsDataSource struct {
	dataSourceWithConfigure
}

func NewRegionsDataSource() datasource.DataSource { return &RegionsDataSource{} }

type regionsDataSourceModel struct {
	ID      types.String  `tfsdk:"id"`
	Vendor  types.String  `tfsdk:"vendor"`
	Regions []regionModel `tfsdk:"regions"`
}

// regionModel is a region as both divio_regions (one per list element) and divio_region show it.
type regionModel struct {
	ID     types.String `tfsdk:"id"`
	Name   types.String `tfsdk:"name"`
	Vendor types.String `tfsdk:"vendor"`
}

func regionModelFrom(r divio.Region) regionModel {
	return regionModel{
		ID:     types.StringValue(r.UUID),
		Name:   types.StringValue(r.Name),
		Vendor: types.StringValue(r.Vendor),
	}
}

func (d *RegionsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_regions"
}

func (d *RegionsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists the regions where Divio runs applications and their services, optionally only those of one cloud vendor.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "Identifier of this lookup: the `vendor` filter, or `all` without one.",
				Computed:            true,
			},
			"vendor": schema.StringAttribute{
				MarkdownDescription: "Only list the regions of this cloud vendor: `aws`, `azure` or `exoscale`.",
				Optional:            true,
				Validators:          []validator.String{stringvalidator.OneOf(regionVendors...)},
			},
			"regions": schema.ListNestedAttribute{
				MarkdownDescription: "The regions, sorted by name.",
				Computed:            true,
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"id": schema.StringAttribute{
							MarkdownDescription: "The region's id, as `region_id` attributes expect it.",
							Computed:            true,
						},
						"name": schema.StringAttribute{
							MarkdownDescription: "The region's name, such as `aws-eu-central-1`.",
							Computed:            true,
						},
						"vendor": schema.StringAttribute{
							MarkdownDescription: "The cloud vendor that hosts the region: `aws`, `azure` or `exoscale`.",
							Computed:            true,
						},
					},
				},
			},
		},
	}
}

func (d *RegionsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var model regionsDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &model)...)
	if resp.Diagnostics.HasError() || !requireConfigured(d.data, &resp.Diagnostics) {
		return
	}
	regions, err := d.data.cache.Regions(ctx)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot list the Divio regions", err)
		return
	}

	vendor := model.Vendor.ValueString()
	model.ID = types.StringValue("all")
	if vendor != "" {
		model.ID = types.StringValue(vendor)
	}
	model.Regions = []regionModel{}
	for _, r := range regions {
		if vendor == "" || r.Vendor == vendor {
			model.Regions = append(model.Regions, regionModelFrom(r))
		}
	}
	// The API's order is not promised; sorting keeps the list, and plans that index it, stable.
	sort.Slice(model.Regions, func(i, j int) bool {
		return model.Regions[i].Name.ValueString() < model.Regions[j].Name.ValueString()
	})
	resp.Diagnostics.Append(resp.State.Set(ctx, &model)...)
}
