// Package provider implements the Terraform provider for Divio services.
package provider

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/list"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

// Environment variables that configure the provider when the configuration does not.
const (
	envToken    = "DIVIO_API_TOKEN"
	envEndpoint = "DIVIO_API_URL"
	envZone     = "DIVIO_ZONE"
)

var (
	_ provider.Provider                       = &DivioProvider{}
	_ provider.ProviderWithEphemeralResources = &DivioProvider{}
	_ provider.ProviderWithListResources      = &DivioProvider{}
	_ provider.ProviderWithActions            = &DivioProvider{}
)

// DivioProvider is the provider. The unexported tuning fields are zero in releases and set by
// tests, so that acceptance tests against a simulator with no delays do not wait for seconds.
type DivioProvider struct {
	version string

	poll         divio.PollConfig
	retryWaitMin time.Duration
	// gatherWindow is how long attachments of one environment gather into one deployment.
	gatherWindow time.Duration
}

type providerModel struct {
	APIToken types.String `tfsdk:"api_token"`
	Endpoint types.String `tfsdk:"endpoint"`
	Zone     types.String `tfsdk:"zone"`
}

// New returns a constructor of the provider, as providerserver.Serve wants it.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &DivioProvider{version: version} }
}

func (p *DivioProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "divio"
	resp.Version = p.version
}

func (p *DivioProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Manages the services of [Divio](https://www.divio.com) applications: " +
			"databases, media storage, search and message queues, and their attachment to environments.",
		Attributes: map[string]schema.Attribute{
			"api_token": schema.StringAttribute{
				MarkdownDescription: "Divio API token (Account settings → Access token). Can also be set with the `DIVIO_API_TOKEN` environment variable. " +
					"Whitespace around it, such as the line break that `file()` keeps, is ignored.",
				Optional:  true,
				Sensitive: true,
			},
			"endpoint": schema.StringAttribute{
				MarkdownDescription: "Base URL of the Divio API, `https://api.divio.com` by default; `http://` is accepted only for loopback addresses such as the local simulator's. Can also be set with `DIVIO_API_URL`.",
				Optional:            true,
				Validators: []validator.String{
					stringvalidator.ConflictsWith(path.MatchRoot("zone")),
				},
			},
			"zone": schema.StringAttribute{
				MarkdownDescription: "Divio zone, as the Divio CLI's `DIVIO_ZONE`: the API is then `https://api.<zone>`. Can also be set with `DIVIO_ZONE`. Conflicts with `endpoint`.",
				Optional:            true,
			},
		},
	}
}

func (p *DivioProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var config providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// Values that come from other resources are unknown until apply; resources then skip the
	// checks that need the API, and the provider is configured again with the real values.
	if config.APIToken.IsUnknown() || config.Endpoint.IsUnknown() || config.Zone.IsUnknown() {
		return
	}

	token, tokenSource := valueOrEnv(config.APIToken, "api_token", envToken)
	// A token read with file() keeps the file's trailing newline; tokens never hold whitespace.
	token = strings.TrimSpace(token)
	if token == "" {
		resp.Diagnostics.AddAttributeError(path.Root("api_token"), "Missing Divio API token",
			"The provider needs an API token: set api_token in the provider block or the DIVIO_API_TOKEN environment variable. "+
				"Find your token in the Divio Control Panel under Account settings → Access token.")
		return
	}
	if problem := tokenProblem(token); problem != "" {
		detail := fmt.Sprintf("The Divio API token from %s %s, so it cannot be sent in the Authorization header. "+
			"Check that it holds the token alone, as the Divio Control Panel shows it under Account settings → Access token.", tokenSource, problem)
		if config.APIToken.IsNull() {
			resp.Diagnostics.AddError("Invalid Divio API token", detail)
		} else {
			resp.Diagnostics.AddAttributeError(path.Root("api_token"), "Invalid Divio API token", detail)
		}
		return
	}
	endpoint, attr, endpointSource := resolveEndpoint(config)
	if _, err := divio.ParseEndpoint(endpoint); err != nil {
		if strings.HasPrefix(endpointSource, "the provider's") {
			resp.Diagnostics.AddAttributeError(path.Root(attr), "Invalid Divio API endpoint", err.Error())
		} else {
			resp.Diagnostics.AddError("Invalid Divio API endpoint", fmt.Sprintf("The endpoint from %s: %v", endpointSource, err))
		}
		return
	}

	client, err := divio.New(divio.Config{
		Endpoint:       endpoint,
		Token:          token,
		TokenSource:    tokenSource,
		EndpointSource: endpointSource,
		UserAgent:      fmt.Sprintf("terraform-provider-divio/%s (+https://registry.terraform.io/providers/divio/divio) terraform/%s", p.version, req.TerraformVersion),
		RetryWaitMin:   p.retryWaitMin,
		Poll:           p.poll,
		Log: func(ctx context.Context, msg string, fields map[string]any) {
			tflog.Debug(ctx, msg, fields)
		},
	})
	if err != nil {
		resp.Diagnostics.AddError("Cannot create the Divio API client", err.Error())
		return
	}
	data := newProviderData(client, p.gatherWindow)
	resp.DataSourceData = data
	resp.ResourceData = data
	resp.EphemeralResourceData = data
	resp.ListResourceData = data
	resp.ActionData = data
}

// tokenProblem says what makes a token (trimmed) unfit for an HTTP header, or "" if nothing does:
// tokens are printable ASCII without spaces. The token itself is never part of the message.
func tokenProblem(token string) string {
	for i, r := range []rune(token) {
		switch {
		case unicode.IsSpace(r):
			return fmt.Sprintf("has whitespace (a space, tab or line break) at character %d", i+1)
		case r < 0x20 || r == 0x7f:
			return fmt.Sprintf("has a control character at character %d", i+1)
		case r > 0x7e:
			return fmt.Sprintf("has a character that is not printable ASCII at character %d", i+1)
		}
	}
	return ""
}

// valueOrEnv returns a provider argument, or else its environment variable, and says which it was.
func valueOrEnv(v types.String, attribute, env string) (value, source string) {
	if !v.IsNull() {
		return v.ValueString(), "the provider's " + attribute
	}
	if value = os.Getenv(env); value != "" {
		return value, "the " + env + " environment variable"
	}
	return "", ""
}

// resolveEndpoint picks the API URL from endpoint, then zone, then their environment variables,
// names the attribute to blame if it is wrong, and says where it came from.
func resolveEndpoint(config providerModel) (endpoint, attribute, source string) {
	if e, source := valueOrEnv(config.Endpoint, "endpoint", envEndpoint); e != "" {
		return e, "endpoint", source
	}
	if z, source := valueOrEnv(config.Zone, "zone", envZone); strings.Trim(z, ".") != "" {
		return "https://api." + strings.Trim(z, "."), "zone", source
	}
	return divio.DefaultEndpoint, "endpoint", ""
}

func (p *DivioProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		NewServiceResource,
		NewServiceAttachmentResource,
		NewDeploymentResource,
		NewServiceBackupResource,
	}
}

func (p *DivioProvider) EphemeralResources(context.Context) []func() ephemeral.EphemeralResource {
	return []func() ephemeral.EphemeralResource{
		NewServiceCredentialsEphemeralResource,
	}
}

func (p *DivioProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		NewRegionsDataSource,
		NewRegionDataSource,
		NewServicesDataSource,
		NewApplicationDataSource,
		NewEnvironmentDataSource,
		NewServiceInstancesDataSource,
		NewServiceBackupsDataSource,
	}
}

func (p *DivioProvider) ListResources(context.Context) []func() list.ListResource {
	return []func() list.ListResource{
		NewServiceListResource,
		NewServiceAttachmentListResource,
	}
}

func (p *DivioProvider) Actions(context.Context) []func() action.Action {
	return []func() action.Action{
		NewDeployAction,
		NewRestoreBackupAction,
		NewCopyDataAction,
	}
}
