package provider

import (
	"time"

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
