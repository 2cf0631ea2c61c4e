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
// The provider process lives for one Terraform operation, so entries never expire on their own.
// A change this process makes puts the instance the API answered with into its environment's list
// (record): forgetting the whole list instead made the next resource's plan list it again, so
// an apply of N services in one environment listed it about N times (about 6 requests per service
// at N = 1000, growing with N; about 3 and flat since). Only a change whose outcome is unknown
// forgets the list (forget).
type apiCache struct {
	client       *divio.Client
	regions      memo[struct{}, []divio.Region]
	services     memo[string, []divio.Service] // by region id
	addable      memo[string, []divio.Service] // by application id: what it can add now
	applications memo[string, *divio.Application]
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

// record records an instance as the API just answered with it, after a change this process
// made: it replaces (or adds) the instance in its environment's list, and drops it from the list
// once REMOVED, as the API's list does.
func (c *apiCache) record(inst *divio.ServiceInstance) {
	seen := *inst
	c.instances.update(inst.Environment, func(list []divio.ServiceInstance) []divio.ServiceInstance {
		// A new slice: callers may still be reading the old one.
		updated := make([]divio.ServiceInstance, 0, len(list)+1)
		for _, other := range list {
			if other.UUID != seen.UUID {
				updated = append(updated, other)
			}
		}
		if seen.Status != divio.StatusRemoved {
			updated = append(updated, seen)
		}
		return updated
	})
	c.byID.forget(inst.UUID)
}

// forget drops an environment's cached instances: call it after a change whose outcome is
// not known, such as a request that failed, or a deployment (which changes every instance it
// carries out, not only those this process asked for).
func (c *apiCache) forget(environmentID string) {
	c.instances.forget(environmentID)
	c.byID.forgetAll()
}

// ApplicationOf returns an environment's application.
func (c *apiCache) ApplicationOf(ctx context.Context, environmentID string) (*divio.Application, error) {
	env, err := c.Environment(ctx, environmentID)
	if err != nil {
		return nil, err
	}
	return c.Application(ctx, env.Application)
}

// The changes below go through the cache, so that resources never patch it: each records the
// instance the API answered with on success, and forgets the environment's list when the outcome is
// not known (a request that failed may have taken effect all the same).

// CreateInstance adds an instance (status NEW).
func (c *apiCache) CreateInstance(ctx context.Context, r divio.CreateServiceInstanceRequest) (*divio.ServiceInstance, error) {
	inst, err := c.client.CreateServiceInstance(ctx, r)
	if err != nil {
		c.forget(r.Environment)
		return nil, err
	}
	c.record(inst)
	return inst, nil
}

// ProvisionInstance starts provisioning an instance of environmentID and waits until it is
// functional. On failure it returns the instance as last seen, if it was seen.
func (c *apiCache) ProvisionInstance(ctx context.Context, environmentID, id string) (*divio.ServiceInstance, error) {
	err := c.client.ProvisionServiceInstance(ctx, id)
	var seen *divio.ServiceInstance
	if err == nil {
		seen, err = c.client.WaitForInstance(ctx, id, "become functional", (*divio.ServiceInstance).Functional)
	}
	if err != nil {
		c.forget(environmentID)
		return seen, err
	}
	c.record(seen)
	return seen, nil
}

// AttachInstance asks for an instance to be attached by its environment's next deployment: one that
// is DETACHED, or whose detachment is pending (which cancels it). Any other is attached or awaits
// attachment already, and is returned as it is.
func (c *apiCache) AttachInstance(ctx context.Context, inst *divio.ServiceInstance) (*divio.ServiceInstance, error) {
	if inst.Status != divio.StatusDetached && inst.Status != divio.StatusPendingDetachment {
		return inst, nil
	}
	err := c.client.AttachServiceInstance(ctx, inst.UUID)
	if err == nil {
		inst, err = c.client.GetServiceInstance(ctx, inst.UUID)
	}
	if err != nil {
		c.forget(inst.Environment)
		return nil, err
	}
	c.record(inst)
	return inst, nil
}

// DetachInstance asks for an instance to be detached by its environment's next deployment, without
// deploying.
func (c *apiCache) DetachInstance(ctx context.Context, environmentID, id string) error {
	err := c.client.DetachServiceInstance(ctx, id)
	c.forget(environmentID) // its status changed, or may have
	return err
}

// RenameInstance gives an instance another prefix, in place: its data stays, and its environment
// variables take the new prefix's names.
func (c *apiCache) RenameInstance(ctx context.Context, inst *divio.ServiceInstance, prefix string) (*divio.ServiceInstance, error) {
	renamed, err := c.client.RenameServiceInstance(ctx, inst.UUID, prefix)
	if err != nil {
		c.forget(inst.Environment)
		return nil, err
	}
	c.record(renamed)
	return renamed, nil
}

// RemoveInstance removes an instance and its data, and waits until it is gone. Removing one that is
// gone already succeeds; one in use is refused (divio.ErrConflict), and stays as it was.
func (c *apiCache) RemoveInstance(ctx context.Context, inst *divio.ServiceInstance) error {
	err := c.client.DeleteServiceInstance(ctx, inst.UUID)
	if err == nil {
		_, err = c.client.WaitForInstance(ctx, inst.UUID, "be removed", func(i *divio.ServiceInstance) bool { return i.Status == divio.StatusRemoved })
	}
	switch {
	case err == nil, errors.Is(err, divio.ErrNotFound):
		c.record(&divio.ServiceInstance{UUID: inst.UUID, Environment: inst.Environment, Status: divio.StatusRemoved})
		return nil
	case !errors.Is(err, divio.ErrConflict):
		c.forget(inst.Environment)
	}
	return err
}

// RegionOf returns the region of an environment's application.
func (c *apiCache) RegionOf(ctx context.Context, environmentID string) (*divio.Region, error) {
	app, err := c.ApplicationOf(ctx, environmentID)
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

// FindService returns the catalog entry of a region that ref names, by identifier or uuid, or nil if
// the region offers none.
func (c *apiCache) FindService(ctx context.Context, regionID, ref string) (*divio.Service, error) {
	catalog, err := c.Services(ctx, regionID)
	if err != nil {
		return nil, err
	}
	return findService(catalog, ref), nil
}

// ServiceIdentifier returns the catalog identifier of an instance's service (such as postgres-15),
// or its uuid when its region's catalog does not list it or cannot be read (with the error).
func (c *apiCache) ServiceIdentifier(ctx context.Context, inst *divio.ServiceInstance) (string, error) {
	svc, err := c.FindService(ctx, inst.Region, inst.Service)
	if err != nil || svc == nil {
		return inst.Service, err
	}
	return svc.Identifier, nil
}

// InstanceLabel names an instance for messages as its users know it: "service instance <id>
// (postgres-15, prefix DEFAULT) in environment demo-app/live (<id>)".
func (c *apiCache) InstanceLabel(ctx context.Context, inst *divio.ServiceInstance) string {
	identifier, _ := c.ServiceIdentifier(ctx, inst)
	return fmt.Sprintf("service instance %s (%s, prefix %s) in environment %s", inst.UUID, identifier, inst.Prefix, c.EnvironmentLabel(ctx, inst.Environment))
}

// EnvironmentLabel names an environment as its users know it, "demo-app/live (<id>)", or by its id
// alone when it cannot be read.
func (c *apiCache) EnvironmentLabel(ctx context.Context, id string) string {
	if slugs, ok := c.environmentSlugs(ctx, id); ok {
		return fmt.Sprintf("%s (%s)", slugs, id)
	}
	return id
}

// EnvironmentSlugs names an environment by its application's slug and its own, "demo-app/live",
// or by its id alone when it cannot be read.
func (c *apiCache) EnvironmentSlugs(ctx context.Context, id string) string {
	if slugs, ok := c.environmentSlugs(ctx, id); ok {
		return slugs
	}
	return id
}

func (c *apiCache) environmentSlugs(ctx context.Context, id string) (string, bool) {
	env, err := c.Environment(ctx, id)
	if err != nil {
		return "", false
	}
	app, err := c.ApplicationOf(ctx, id)
	if err != nil {
		return "", false
	}
	return app.Slug + "/" + env.Slug, true
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
	// pending are the updates that arrived while the value was being fetched: the fetch may have
	// been answered before they happened, so they are applied to what it returns.
	pending []func(V) V
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

	value, err := fetch(ctx)
	m.mu.Lock()
	e.value, e.err = value, err
	if err == nil {
		for _, apply := range e.pending {
			e.value = apply(e.value)
		}
	} else if m.entries[key] == e {
		delete(m.entries, key)
	}
	e.pending = nil
	// Closed under the lock, so that update sees either a fetch under way or its final value.
	close(e.done)
	m.mu.Unlock()
	return e.value, e.err
}

// update changes the value of key with apply if one is known or being fetched; with none, the next
// get fetches a value that already holds the change. A fetched value is replaced by a new entry
// rather than changed in place, since callers read a done entry's value without the lock.
func (m *memo[K, V]) update(key K, apply func(V) V) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, found := m.entries[key]
	if !found {
		return
	}
	select {
	case <-e.done:
		if e.err == nil {
			done := make(chan struct{})
			close(done)
			m.entries[key] = &memoEntry[V]{done: done, value: apply(e.value)}
		}
	default:
		e.pending = append(e.pending, apply)
	}
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

// findService finds a catalog entry by identifier or uuid.
func findService(catalog []divio.Service, ref string) *divio.Service {
	for i := range catalog {
		if catalog[i].Identifier == ref || catalog[i].UUID == ref {
			return &catalog[i]
		}
	}
	return nil
}
