package provider

import (
	"fmt"
	"sync"
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

	// replacedInstances holds the ids of instances whose replacement a plan of this process has
	// accepted. Terraform plans the new object of a replacement as a create, without the old one,
	// so the create's check that the prefix is free must not count the instance that the
	// replacement removes first.
	replacedInstances sync.Map
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
