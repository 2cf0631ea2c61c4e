package provider

import (
	"context"
	"time"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

// deployer starts the deployments of this provider process. STUB: to be replaced by the
// coalescing implementation.
type deployer struct {
	client *divio.Client
	cache  *apiCache
	window time.Duration
}

func newDeployer(client *divio.Client, cache *apiCache, window time.Duration) *deployer {
	return &deployer{client: client, cache: cache, window: window}
}

// Deploy runs a deployment of the environment that starts after this call began, and waits
// for it to end. A failed deployment returns *divio.DeploymentFailedError.
func (d *deployer) Deploy(ctx context.Context, environmentID string) (*divio.Deployment, error) {
	defer d.cache.ForgetInstances(environmentID)
	dep, err := d.client.CreateDeployment(ctx, environmentID)
	if err != nil {
		return nil, err
	}
	return d.client.WaitForDeployment(ctx, dep.UUID)
}
