package provider

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

// apiCache serves the reads of one provider process. Terraform asks for each resource on its own,
// and hundreds of services usually share a handful of environments: listing an environment's
// instances once, and regions and the catalog once per process, keeps a plan to a few requests.
//
// The provider process lives for one Terraform operation, so entries never expire on their own;
// every change this process makes to an environment forgets that environment's instances.
type apiCache struct {
	client       *divio.Client
	regions      memo[struct{}, []divio.Region]
	services     memo[string, []divio.Service] // by region id
	addable      memo[string, []divio.Service] // by application id: what it can add now
	applications memo[string, *divio.Application]
	orgs         memo[string, *divio.Organisation]
	environments memo[string, *divio.Environment]
	appEnvs      memo[string, []divio.Environment]     // by application id
	instances    memo[string, []divio.ServiceInstance] // by environment id
	byID         memo[string, *divio.ServiceInstance]  // by instance id, before its environment is known
}

func newAPICache(client *divio.Client) *apiCache {
	return &apiCache{client: client}
}

func (c *apiCache) Regions(ctx context.Context) ([]divio.Region, error) {
	return c.regions.get(ctx, struct{}{}, func(ctx context.Context) ([]divio.Region, error) {
		return c.client.ListRegions(ctx)
	})
}

// Services returns the catalog of a region.
func (c *apiCache) Services(ctx context.Context, regionID string) ([]divio.Service, error) {
	return c.services.get(ctx, regionID, func(ctx context.Context) ([]divio.Service, error) {
		return c.client.ListServices(ctx, divio.ServiceFilter{Region: regionID})
	})
}

// AddableServices returns what an application can add now: the catalog entries of its region that
// its organisation's subscription has a free instance of, each with the number left.
func (c *apiCache) AddableServices(ctx context.Context, applicationID string) ([]divio.Service, error) {
	return c.addable.get(ctx, applicationID, func(ctx context.Context) ([]divio.Service, error) {
		return c.client.ListServices(ctx, divio.ServiceFilter{Application: applicationID})
	})
}

func (c *apiCache) Application(ctx context.Context, id string) (*divio.Application, error) {
	return c.applications.get(ctx, id, func(ctx context.Context) (*divio.Application, error) {
		return c.client.GetApplication(ctx, id)
	})
}

func (c *apiCache) Environment(ctx context.Context, id string) (*divio.Environment, error) {
	return c.environments.get(ctx, id, func(ctx context.Context) (*divio.Environment, error) {
		return c.client.GetEnvironment(ctx, id)
	})
}

// EnvironmentsOf returns an application's environments: one request serves every
// divio_environment of that application.
func (c *apiCache) EnvironmentsOf(ctx context.Context, applicationID string) ([]divio.Environment, error) {
	return c.appEnvs.get(ctx, applicationID, func(ctx context.Context) ([]divio.Environment, error) {
		return c.client.FindEnvironments(ctx, applicationID, "")
	})
}

// Instances returns the instances of an environment that are not removed.
func (c *apiCache) Instances(ctx context.Context, environmentID string) ([]divio.ServiceInstance, error) {
	return c.instances.get(ctx, environmentID, func(ctx context.Context) ([]divio.ServiceInstance, error) {
		return c.client.ListServiceInstances(ctx, environmentID)
	})
}

// Instance finds an instance in its environment's list; nil means it does not exist (any more).
func (c *apiCache) Instance(ctx context.Context, environmentID, id string) (*divio.ServiceInstance, error) {
	instances, err := c.Instances(ctx, environmentID)
	if err != nil {
		return nil, err
	}
	for i := range instances {
		if instances[i].UUID == id {
			inst := instances[i]
			return &inst, nil
		}
	}
	return nil, nil
}

// InstanceByID reads an instance whose environment is not known yet; nil means it does not exist.
func (c *apiCache) InstanceByID(ctx context.Context, id string) (*divio.ServiceInstance, error) {
	return c.byID.get(ctx, id, func(ctx context.Context) (*divio.ServiceInstance, error) {
		inst, err := c.client.GetServiceInstance(ctx, id)
		if errors.Is(err, divio.ErrNotFound) {
			return nil, nil
		}
		return inst, err
	})
}

// ForgetInstances drops an environment's cached instances; call it after changing any of them.
func (c *apiCache) ForgetInstances(environmentID string) {
	c.instances.forget(environmentID)
	c.byID.forgetAll()
}

// RegionOf returns the region of an environment's application.
func (c *apiCache) RegionOf(ctx context.Context, environmentID string) (*divio.Region, error) {
	env, err := c.Environment(ctx, environmentID)
	if err != nil {
		return nil, err
	}
	app, err := c.Application(ctx, env.Application)
	if err != nil {
		return nil, err
	}
	regions, err := c.Regions(ctx)
	if err != nil {
		return nil, err
	}
	for i := range regions {
		if regions[i].UUID == app.Region {
			return &regions[i], nil
		}
	}
	return &divio.Region{UUID: app.Region}, nil
}

// OrganisationName names an organisation for messages: its name, or its id when it cannot be read.
func (c *apiCache) OrganisationName(ctx context.Context, id string) string {
	org, err := c.orgs.get(ctx, id, func(ctx context.Context) (*divio.Organisation, error) {
		return c.client.GetOrganisation(ctx, id)
	})
	if err != nil || org.Name == "" {
		return id
	}
	return org.Name
}

// EnvironmentLabel names an environment as its users know it, "demo-app/live (<id>)", or by its id
// alone when it cannot be read.
func (c *apiCache) EnvironmentLabel(ctx context.Context, id string) string {
	env, err := c.Environment(ctx, id)
	if err != nil {
		return id
	}
	app, err := c.Application(ctx, env.Application)
	if err != nil {
		return id
	}
	return fmt.Sprintf("%s/%s (%s)", app.Slug, env.Slug, id)
}

// memo computes a value once per key and shares it with concurrent callers. Errors are not kept,
// so a failed fetch is tried again by the next caller.
type memo[K comparable, V any] struct {
	mu      sync.Mutex
	entries map[K]*memoEntry[V]
}

type memoEntry[V any] struct {
	done  chan struct{}
	value V
	err   error
}

func (m *memo[K, V]) get(ctx context.Context, key K, fetch func(context.Context) (V, error)) (V, error) {
	m.mu.Lock()
	if m.entries == nil {
		m.entries = map[K]*memoEntry[V]{}
	}
	e, found := m.entries[key]
	if !found {
		e = &memoEntry[V]{done: make(chan struct{})}
		m.entries[key] = e
	}
	m.mu.Unlock()

	if found {
		select {
		case <-e.done:
			if e.err == nil {
				return e.value, nil
			}
			// The fetch waited on failed, perhaps only because its caller gave up: try once more
			// for this caller rather than share an error that may not be its own.
			return fetch(ctx)
		case <-ctx.Done():
			var zero V
			return zero, ctx.Err()
		}
	}

	e.value, e.err = fetch(ctx)
	if e.err != nil {
		m.forgetEntry(key, e)
	}
	close(e.done)
	return e.value, e.err
}

func (m *memo[K, V]) forgetAll() {
	m.mu.Lock()
	clear(m.entries)
	m.mu.Unlock()
}

func (m *memo[K, V]) forget(key K) {
	m.mu.Lock()
	delete(m.entries, key)
	m.mu.Unlock()
}

// forgetEntry drops e only if it is still the entry of key, not a newer one.
func (m *memo[K, V]) forgetEntry(key K, e *memoEntry[V]) {
	m.mu.Lock()
	if m.entries[key] == e {
		delete(m.entries, key)
	}
	m.mu.Unlock()
}
