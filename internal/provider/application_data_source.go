package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/datasourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

var (
	_ datasource.DataSourceWithConfigure        = &ApplicationDataSource{}
	_ datasource.DataSourceWithConfigValidators = &ApplicationDataSource{}
)

// ApplicationDataSource finds an application by slug or id.
type ApplicationDataSource struct {
	dataSourceWithConfigure
}

func NewApplicationDataSource() datasource.DataSource { return &ApplicationDataSource{} }

type applicationDataSourceModel struct {
	ID             types.String `tfsdk:"id"`
	Slug           types.String `tfsdk:"slug"`
	Name           types.String `tfsdk:"name"`
	RegionID       types.String `tfsdk:"region_id"`
	OrganisationID types.String `tfsdk:"organisation_id"`
}

func applicationModelFrom(a *divio.Application) applicationDataSourceModel {
	return applicationDataSourceModel{
		ID:             types.StringValue(a.UUID),
		Slug:           types.StringValue(a.Slug),
		Name:           types.StringValue(a.Name),
		RegionID:       types.StringValue(a.Region),
		OrganisationID: types.StringValue(a.Organisation),
	}
}

func (d *ApplicationDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_application"
}

func (d *ApplicationDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Finds a Divio application by its slug or its id. Give exactly one of them.",
		Attributes: map[string]schema.Attribute{
			"slug": schema.StringAttribute{
				MarkdownDescription: "The application's slug, as in its Control Panel URL (e.g. `demo-app`). Exactly one of `slug` and `id` must be set.",
				Optional:            true,
				Computed:            true,
			},
			"id": schema.StringAttribute{
				MarkdownDescription: "The application's id. Exactly one of `slug` and `id` must be set.",
				Optional:            true,
				Computed:            true,
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "The application's display name.",
				Computed:            true,
			},
			"region_id": schema.StringAttribute{
				MarkdownDescription: "The id of the region the application runs in; its services must be offered there.",
				Computed:            true,
			},
			"organisation_id": schema.StringAttribute{
				MarkdownDescription: "The id of the organisation that owns the application. (The subscription that limits its services is the application's own.)",
				Computed:            true,
			},
		},
	}
}

func (d *ApplicationDataSource) ConfigValidators(context.Context) []datasource.ConfigValidator {
	return []datasource.ConfigValidator{
		datasourcevalidator.ExactlyOneOf(path.MatchRoot("slug"), path.MatchRoot("id")),
	}
}

func (d *ApplicationDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var model applicationDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &model)...)
	if resp.Diagnostics.HasError() || !requireConfigured(d.data, &resp.Diagnostics) {
		return
	}
	var app *divio.Application
	if model.Slug.IsNull() {
		app = d.applicationByID(ctx, model.ID.ValueString(), &resp.Diagnostics)
	} else {
		app = d.applicationBySlug(ctx, model.Slug.ValueString(), &resp.Diagnostics)
	}
	if app == nil {
		return
	}
	model = applicationModelFrom(app)
	resp.Diagnostics.Append(resp.State.Set(ctx, &model)...)
}

func (d *ApplicationDataSource) applicationByID(ctx context.Context, id string, diags *diag.Diagnostics) *divio.Application {
	app, err := d.data.cache.Application(ctx, id)
	switch {
	case errors.Is(err, divio.ErrNotFound):
		diags.AddAttributeError(path.Root("id"), "Application not found",
			fmt.Sprintf("No application has the id %q, or the API token has no permission to see it. Check the id, or look the application up by its slug.", id))
		return nil
	case err != nil:
		addAPIError(diags, "Cannot read the Divio application", err)
		return nil
	}
	return app
}

func (d *ApplicationDataSource) applicationBySlug(ctx context.Context, slug string, diags *diag.Diagnostics) *divio.Application {
	apps, err := d.data.client.FindApplications(ctx, slug)
	if err != nil {
		addAPIError(diags, "Cannot look up the Divio application", err)
		return nil
	}
	// Compared here too: an empty slug filter would return every application.
	for i := range apps {
		if apps[i].Slug == slug {
			return &apps[i]
		}
	}
	diags.AddAttributeError(path.Root("slug"), "Application not found",
		fmt.Sprintf("No application has the slug %q, or the API token has no permission to see it. Check the slug in the application's Control Panel URL.", slug))
	return nil
}
