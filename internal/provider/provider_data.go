package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

// providerData is what Configure hands every resource and data source: one client, one cache,
// one deployer and one view of the plan per configured provider, shared by all of them. Terraform
// configures the provider again for every walk (plan, apply), so each walk starts afresh.
type providerData struct {
	client   *divio.Client
	cache    *apiCache
	deployer *deployer
	plan     *planView
	// finalBackups gathers the final backups of the apply's removals into one report.
	finalBackups *finalBackupReport
	// destroying is true in a run that destroys what it manages (destroyRun).
	destroying bool
}

func newProviderData(client *divio.Client, gatherWindow time.Duration) *providerData {
	cache := newAPICache(client)
	return &providerData{
		client:       client,
		cache:        cache,
		deployer:     newDeployer(client, cache, gatherWindow),
		plan:         newPlanView(),
		finalBackups: &finalBackupReport{},
		destroying:   destroyRun(),
	}
}

// checksPlan reports whether a resource's ModifyPlan checks (and completes) the plan req: once the
// provider is configured, every plan but those that a destroy run makes only to refresh the state,
// where what the plan would create, keep or change is thrown away (destroyRun); the plans of
// removals are always checked.
func (d *providerData) checksPlan(req resource.ModifyPlanRequest) bool {
	return d != nil && (req.Plan.Raw.IsNull() || !d.destroying)
}

// providerDataFrom is the Configure step of every resource and data source. It returns nil,
// without error, before the provider is configured (during validation, or while the provider's
// own values are unknown).
func providerDataFrom(raw any) (*providerData, diag.Diagnostics) {
	var diags diag.Diagnostics
	if raw == nil {
		return nil, diags
	}
	data, ok := raw.(*providerData)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("Expected *providerData, got %T. This is a bug in the provider; please report it.", raw))
	}
	return data, diags
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

// configuredResource is embedded by every resource: it keeps what the provider's Configure
// hands over.
type configuredResource struct {
	data *providerData
}

func (r *configuredResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	data, diags := providerDataFrom(req.ProviderData)
	resp.Diagnostics.Append(diags...)
	r.data = data
}

// providerDataSource is embedded by every data source of the provider: it keeps what the
// provider's Configure hands over.
type providerDataSource struct {
	data *providerData
}

func (d *providerDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	data, diags := providerDataFrom(req.ProviderData)
	resp.Diagnostics.Append(diags...)
	d.data = data
}
