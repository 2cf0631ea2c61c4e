package provider

import (
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

// providerData is what Configure hands every resource and data source: one client, one cache
// and one deployer per configured provider, shared by all of them.
type providerData struct {
	client   *divio.Client
	cache    *apiCache
	deployer *deployer
}

func newProviderData(client *divio.Client, gatherWindow time.Duration) *providerData {
	cache := newAPICache(client)
	return &providerData{
		client:   client,
		cache:    cache,
		deployer: newDeployer(client, cache, gatherWindow),
	}
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
