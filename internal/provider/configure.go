package provider

import (
	"context"
	"fmt"

	actiontimeouts "github.com/hashicorp/terraform-plugin-framework-timeouts/action/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/resource"
)

// The Configure step of every resource, list resource, data source, ephemeral resource and action:
// each embeds one of the types below, which keeps what the provider's Configure hands over (one
// providerData per walk). Before the provider is configured (during validation, or while its own
// values are unknown) that is nil, and requireConfigured says why nothing can be done yet.

// resourceWithConfigure is embedded by every resource and list resource.
type resourceWithConfigure struct {
	data *providerData
}

func (r *resourceWithConfigure) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

// dataSourceWithConfigure is embedded by every data source.
type dataSourceWithConfigure struct {
	data *providerData
}

func (d *dataSourceWithConfigure) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

// ephemeralResourceWithConfigure is embedded by every ephemeral resource.
type ephemeralResourceWithConfigure struct {
	data *providerData
}

func (e *ephemeralResourceWithConfigure) Configure(_ context.Context, req ephemeral.ConfigureRequest, resp *ephemeral.ConfigureResponse) {
	e.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

// actionWithConfigure is embedded by every action.
type actionWithConfigure struct {
	data *providerData
}

func (a *actionWithConfigure) Configure(_ context.Context, req action.ConfigureRequest, resp *action.ConfigureResponse) {
	a.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

// begin starts an Invoke: it reads the action's configuration into config and bounds ctx by its
// `timeouts` attribute's invoke value; ok is false, with the reason in resp, when the action cannot run.
func (a *actionWithConfigure) begin(ctx context.Context, req action.InvokeRequest, resp *action.InvokeResponse, config any, t *actiontimeouts.Value) (_ context.Context, cancel context.CancelFunc, ok bool) {
	resp.Diagnostics.Append(req.Config.Get(ctx, config)...)
	if resp.Diagnostics.HasError() || !requireConfigured(a.data, &resp.Diagnostics) {
		return ctx, func() {}, false
	}
	ctx, cancel = withTimeout(ctx, t, "invoke")
	return ctx, cancel, true
}

// configuredData returns what the provider's Configure handed over, or nil, without error, before it
// is configured.
func configuredData(raw any, diags *diag.Diagnostics) *providerData {
	if raw == nil {
		return nil
	}
	data, ok := raw.(*providerData)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("Expected *providerData, got %T. This is a bug in the provider; please report it.", raw))
	}
	return data
}

// requireConfigured reports whether the API can be called, and says why not when it cannot: the
// provider's own api_token, endpoint or zone are unknown until apply.
func requireConfigured(data *providerData, diags *diag.Diagnostics) bool {
	if data != nil {
		return true
	}
	diags.AddError("Divio provider not configured",
		"The divio provider's api_token, endpoint or zone depends on a value that is known only after apply, so the Divio API cannot be called yet. "+
			"Set them from variables or the DIVIO_API_TOKEN, DIVIO_API_URL and DIVIO_ZONE environment variables, or apply what they depend on first.")
	return false
}
