package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

var _ datasource.DataSourceWithConfigure = &EnvironmentDataSource{}

// EnvironmentDataSource finds an environment of an application by slug.
type EnvironmentDataSource struct {
	dataSourceWithConfigure
}

func NewEnvironmentDataSource() datasource.DataSource { return &EnvironmentDataSource{} }

type environmentDataSourceModel struct {
	ID                       types.String `tfsdk:"id"`
	ApplicationID            types.String `tfsdk:"application_id"`
	Slug                     types.String `tfsdk:"slug"`
	LastFinishedDeploymentID types.String `tfsdk:"last_finished_deployment_id"`
}

func environmentModelFrom(e *divio.Environment) environmentDataSourceModel {
	return environmentDataSourceModel{
		ID:                       types.StringValue(e.UUID),
		ApplicationID:            types.StringValue(e.Application),
		Slug:                     types.StringValue(e.Slug),
		LastFinishedDeploymentID: types.StringPointerValue(e.LastFinishedDeploymentID()),
	}
}

func (d *EnvironmentDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_environment"
}

func (d *EnvironmentDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Finds an environment (such as `test` or `live`) of a Divio application, for the `environment_id` that services take.",
		Attributes: map[string]schema.Attribute{
			"application_id": schema.StringAttribute{
				MarkdownDescription: "The id of the application, e.g. `data.divio_application.app.id`.",
				Required:            true,
			},
			"slug": schema.StringAttribute{
				MarkdownDescription: "The environment's slug, such as `test` or `live`.",
				Required:            true,
			},
			"id": schema.StringAttribute{
				MarkdownDescription: "The environment's id.",
				Computed:            true,
			},
			"last_finished_deployment_id": schema.StringAttribute{
				MarkdownDescription: "The id of the environment's last finished deployment, successful or not; null until one has finished.",
				Computed:            true,
			},
		},
	}
}

func (d *EnvironmentDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var model environmentDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &model)...)
	if resp.Diagnostics.HasError() || !requireConfigured(d.data, &resp.Diagnostics) {
		return
	}
	appID, slug := model.ApplicationID.ValueString(), model.Slug.ValueString()
	envs, err := d.data.cache.EnvironmentsOf(ctx, appID)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot look up the Divio environment", err)
		return
	}
	for i := range envs {
		if envs[i].Slug == slug {
			model = environmentModelFrom(&envs[i])
			resp.Diagnostics.Append(resp.State.Set(ctx, &model)...)
			return
		}
	}
	addEnvironmentNotFound(appID, slug, envs, &resp.Diagnostics)
}

// addEnvironmentNotFound reports a missing environment with the slugs the application does
// have, which is usually what the user meant to write.
func addEnvironmentNotFound(appID, slug string, envs []divio.Environment, diags *diag.Diagnostics) {
	if len(envs) == 0 {
		diags.AddAttributeError(path.Root("application_id"), "Environment not found",
			fmt.Sprintf("Looking for environment %q: application %q has no environments that the API token can see. "+
				"Check that application_id is an application's id, e.g. from data.divio_application.", slug, appID))
		return
	}
	slugs := make([]string, 0, len(envs))
	for _, e := range envs {
		slugs = append(slugs, e.Slug)
	}
	diags.AddAttributeError(path.Root("slug"), "Environment not found",
		fmt.Sprintf("Application %q has no environment %q. Its environments are: %s.", appID, slug, strings.Join(slugs, ", ")))
}
