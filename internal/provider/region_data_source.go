package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
)

var _ datasource.DataSourceWithConfigure = &RegionDataSource{}

// RegionDataSource finds a region by name.
type RegionDataSource struct {
	dataSourceWithConfigure
}

func NewRegionDataSource() datasource.DataSource { return &RegionDataSource{} }

func (d *RegionDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_region"
}

func (d *RegionDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Finds a Divio region by its name, for the `region_id` that other data sources take.",
		Attributes: map[string]schema.Attribute{
			"name": schema.StringAttribute{
				MarkdownDescription: "The region's name, such as `aws-eu-central-1` or `azure-westeurope`.",
				Required:            true,
			},
			"id": schema.StringAttribute{
				MarkdownDescription: "The region's id.",
				Computed:            true,
			},
			"vendor": schema.StringAttribute{
				MarkdownDescription: "The cloud vendor that hosts the region: `aws`, `azure` or `exoscale`.",
				Computed:            true,
			},
		},
	}
}

func (d *RegionDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var model regionModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &model)...)
	if resp.Diagnostics.HasError() || !requireConfigured(d.data, &resp.Diagnostics) {
		return
	}
	regions, err := d.data.cache.Regions(ctx)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot list the Divio regions", err)
		return
	}

	name := model.Name.ValueString()
	names := make([]string, 0, len(regions))
	for _, r := range regions {
		if r.Name == name {
			model = regionModelFrom(r)
			resp.Diagnostics.Append(resp.State.Set(ctx, &model)...)
			return
		}
		names = append(names, r.Name)
	}
	resp.Diagnostics.AddAttributeError(path.Root("name"), "Region not found",
		fmt.Sprintf("No region is named %q. The regions there are: %s.", name, strings.Join(names, ", ")))
}
