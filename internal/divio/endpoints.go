package divio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The API's paths, relative to the endpoint; each ends in a slash when sent.
const (
	pathRegions          = "apps/v3/regions"
	pathServices         = "apps/v3/services"
	pathApplications     = "apps/v3/applications"
	pathEnvironments     = "apps/v3/environments"
	pathServiceInstances = "apps/v3/service-instances"
	pathDeployments      = "apps/v3/deployments"
	pathEnvironmentVars  = "apps/v3/environment-variables"

	pathBackups                = "apps/v3/backups"
	pathServiceInstanceBackups = "apps/v3/service-instance-backups"
	pathBackupRestores         = "apps/v3/backup-restores"
)

// More of the API's paths, and the parts of paths under one object.
const (
	pathOrganisations = "iam/v3/organisations"
	pathMe            = "iam/v3/me"

	// Under a deployment. The Divio CLI sends these two without a trailing slash, so that is how
	// they are sent (getUnder): the spelling known to work against the API.
	subpathEnvironmentVariables = "environment-variables"
	subpathLogs                 = "logs"

	// [modelled]: the service instance actions, like DELETE of an instance, are our model of
	// what the Control Panel does.
	actionProvision = "provision"
	actionAttach    = "attach"
	actionDetach    = "detach"

	// methodRename renames an instance in place: a PATCH of the instance with its new prefix
	// (renameServiceInstanceBody). [capability confirmed, request modelled]
	methodRename = http.MethodPatch
)

func (c *Client) ListRegions(ctx context.Context) ([]Region, error) {
	return list[Region](ctx, c, pathRegions, nil)
}

// ServiceFilter narrows the catalog; empty fields do not filter.
type ServiceFilter struct {
	Region      string
	Application string
}

// ListServices returns the catalog offered in a region or to an application.
func (c *Client) ListServices(ctx context.Context, f ServiceFilter) ([]Service, error) {
	q := url.Values{}
	setIf(q, "region", f.Region)
	setIf(q, "website", f.Application)
	return list[Service](ctx, c, pathServices, q)
}

func (c *Client) GetApplication(ctx context.Context, id string) (*Application, error) {
	return get[Application](ctx, c, pathApplications, id)
}

// FindApplications returns the applications with a slug; an empty slug returns all of them.
func (c *Client) FindApplications(ctx context.Context, slug string) ([]Application, error) {
	q := url.Values{}
	setIf(q, "slug", slug)
	return list[Application](ctx, c, pathApplications, q)
}

func (c *Client) GetEnvironment(ctx context.Context, id string) (*Environment, error) {
	return get[Environment](ctx, c, pathEnvironments, id)
}

// FindEnvironments returns an application's environments, only the one with slug if slug is set.
func (c *Client) FindEnvironments(ctx context.Context, applicationID, slug string) ([]Environment, error) {
	q := url.Values{}
	setIf(q, "application", applicationID)
	setIf(q, "slug", slug)
	return list[Environment](ctx, c, pathEnvironments, q)
}

// ListServiceInstances returns the instances of an environment that are not removed.
func (c *Client) ListServiceInstances(ctx context.Context, environmentID string) ([]ServiceInstance, error) {
	return list[ServiceInstance](ctx, c, pathServiceInstances, url.Values{"environment": {environmentID}})
}

func (c *Client) GetServiceInstance(ctx context.Context, id string) (*ServiceInstance, error) {
	return get[ServiceInstance](ctx, c, pathServiceInstances, id)
}

// CreateServiceInstance adds an instance (status NEW).
//
// A create whose answer was lost, and then retried, meets its own instance and is refused for
// the prefix being taken. So when an attempt may have taken effect unseen (see
// attempts.mayHaveApplied) and the API then refuses the prefix, a NEW instance with the same
// environment, service and prefix created since the first attempt is this call's own, and is
// returned instead of the error. A refusal after attempts that surely did not apply (such as
// a 503) stays an error: the instance belongs to someone else.
func (c *Client) CreateServiceInstance(ctx context.Context, r CreateServiceInstanceRequest) (*ServiceInstance, error) {
	var tries attempts
	started := time.Now()
	var inst ServiceInstance
	err := c.do(recordAttempts(ctx, &tries), http.MethodPost, pathServiceInstances, r, &inst)
	if err == nil {
		return &inst, nil
	}
	var apiErr *APIError
	if tries.mayHaveApplied() && errors.As(err, &apiErr) && len(apiErr.FieldErrors["prefix"]) > 0 {
		if own, findErr := c.findOwnInstance(ctx, r, started); findErr == nil && own != nil {
			return own, nil
		}
	}
	return nil, err
}

// clockSkewAllowance is how far the API's clock may be behind this machine's when telling an
// instance this call created from an older one.
const clockSkewAllowance = time.Minute

func (c *Client) findOwnInstance(ctx context.Context, r CreateServiceInstanceRequest, started time.Time) (*ServiceInstance, error) {
	instances, err := c.ListServiceInstances(ctx, r.Environment)
	if err != nil {
		return nil, err
	}
	for i := range instances {
		inst := &instances[i]
		if inst.Service == r.Service && inst.Prefix == r.Prefix && inst.Status == StatusNew &&
			!inst.CreatedAt.Before(started.Add(-clockSkewAllowance)) {
			return inst, nil
		}
	}
	return nil, nil
}

// RenameServiceInstance gives an instance a new prefix in place, in any state but REMOVED (the
// contract's rule 9): the instance and its data stay, and its variables take the new prefix's
// names at once. Renaming to the prefix it has changes nothing, so a rename retried after a lost
// answer is safe. A taken or badly formed prefix is an *APIError with the API's field errors
// (errors.Is(err, ErrValidation)).
func (c *Client) RenameServiceInstance(ctx context.Context, id, prefix string) (*ServiceInstance, error) {
	var inst ServiceInstance
	if err := c.do(ctx, methodRename, pathServiceInstances+"/"+url.PathEscape(id), renameServiceInstanceBody{Prefix: prefix}, &inst); err != nil {
		return nil, err
	}
	return &inst, nil
}

// ProvisionServiceInstance starts provisioning; asking again is harmless.
func (c *Client) ProvisionServiceInstance(ctx context.Context, id string) error {
	return c.action(ctx, id, actionProvision)
}

// AttachServiceInstance marks the instance to be attached by the environment's next deployment.
func (c *Client) AttachServiceInstance(ctx context.Context, id string) error {
	return c.action(ctx, id, actionAttach)
}

// DetachServiceInstance marks an attached instance to be detached by the next deployment.
func (c *Client) DetachServiceInstance(ctx context.Context, id string) error {
	return c.action(ctx, id, actionDetach)
}

func (c *Client) action(ctx context.Context, id, verb string) error {
	return c.do(ctx, http.MethodPost, pathServiceInstances+"/"+url.PathEscape(id)+"/"+verb, nil, nil)
}

// DeleteServiceInstance removes an instance and its data. Removing one that is already gone
// succeeds, so that a retried delete whose first answer was lost does not fail.
func (c *Client) DeleteServiceInstance(ctx context.Context, id string) error {
	err := c.do(ctx, http.MethodDelete, pathServiceInstances+"/"+url.PathEscape(id), nil, nil)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// CreateDeployment starts a deployment of an environment. The API answers with the deployment's
// uuid, environment and build mode only, no status: follow it with WaitForDeployment (or
// GetDeployment). While another one runs the API answers with a conflict
// (errors.Is(err, ErrConflict)).
//
// A deployment restarts the application, so one whose answer was lost is not started again blindly:
// the error then wraps ErrOutcomeUnknown, and the caller looks for the deployment it may have
// started (the environment's newest) instead.
func (c *Client) CreateDeployment(ctx context.Context, environmentID string) (*Deployment, error) {
	var tries attempts
	var d Deployment
	err := c.do(once(recordAttempts(ctx, &tries)), http.MethodPost, pathDeployments, map[string]string{"environment": environmentID}, &d)
	switch {
	case err == nil:
		return &d, nil
	case tries.mayHaveApplied():
		return nil, fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
	}
	return nil, err
}

func (c *Client) GetDeployment(ctx context.Context, id string) (*Deployment, error) {
	return get[Deployment](ctx, c, pathDeployments, id)
}

// DeploymentFilter narrows a list of deployments; empty fields do not filter. The Divio CLI
// always names the application, and the environment too when it wants one environment's.
type DeploymentFilter struct {
	Application string
	Environment string
}

func (f DeploymentFilter) query() url.Values {
	q := url.Values{}
	setIf(q, "application", f.Application)
	setIf(q, "environment", f.Environment)
	return q
}

// ListDeployments returns the deployments that match f, newest first as the API orders them.
func (c *Client) ListDeployments(ctx context.Context, f DeploymentFilter) ([]Deployment, error) {
	return list[Deployment](ctx, c, pathDeployments, f.query())
}

// LatestDeployment returns the newest deployment that matches f, running or ended, or nil if
// there is none. Like the Divio CLI, it asks for one page of one and takes the first result.
func (c *Client) LatestDeployment(ctx context.Context, f DeploymentFilter) (*Deployment, error) {
	p, err := getPage[Deployment](ctx, c, c.url(pathDeployments, withPageSize(f.query(), 1)))
	if err != nil || len(p.Results) == 0 {
		return nil, err
	}
	return &p.Results[0], nil
}

// GetDeploymentEnvironmentVariables returns the variables, values included, that a deployment
// gave the application.
func (c *Client) GetDeploymentEnvironmentVariables(ctx context.Context, deploymentID string) (*DeploymentEnvironmentVariables, error) {
	return getUnder[DeploymentEnvironmentVariables](ctx, c, pathDeployments, deploymentID, subpathEnvironmentVariables)
}

func (c *Client) GetDeploymentLogs(ctx context.Context, deploymentID string) (*DeploymentLogs, error) {
	return getUnder[DeploymentLogs](ctx, c, pathDeployments, deploymentID, subpathLogs)
}

// EnvironmentVariableFilter narrows a list of environment variables; empty fields do not filter.
type EnvironmentVariableFilter struct {
	Environment string
	Application string
	Name        string
}

// ListEnvironmentVariables returns an environment's variables, secret values included.
func (c *Client) ListEnvironmentVariables(ctx context.Context, environmentID string) ([]EnvironmentVariable, error) {
	return c.FindEnvironmentVariables(ctx, EnvironmentVariableFilter{Environment: environmentID})
}

// FindEnvironmentVariables returns the variables that match f, secret values included.
func (c *Client) FindEnvironmentVariables(ctx context.Context, f EnvironmentVariableFilter) ([]EnvironmentVariable, error) {
	q := url.Values{}
	setIf(q, "environment", f.Environment)
	setIf(q, "application", f.Application)
	setIf(q, "name", f.Name)
	return list[EnvironmentVariable](ctx, c, pathEnvironmentVars, q)
}

// ListOrganisations returns the organisations the token's user belongs to.
func (c *Client) ListOrganisations(ctx context.Context) ([]Organisation, error) {
	return list[Organisation](ctx, c, pathOrganisations, nil)
}

func (c *Client) GetOrganisation(ctx context.Context, id string) (*Organisation, error) {
	return get[Organisation](ctx, c, pathOrganisations, id)
}

// CurrentUser returns the owner of the API token; the Divio CLI checks a login with it.
func (c *Client) CurrentUser(ctx context.Context) (*User, error) {
	var u User
	if err := c.do(ctx, http.MethodGet, pathMe, nil, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// get fetches one object of a collection.
func get[T any](ctx context.Context, c *Client, collection, id string) (*T, error) {
	var out T
	if err := c.do(ctx, http.MethodGet, collection+"/"+url.PathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// getUnder fetches what lies under one object of a collection, at a path without the trailing
// slash, as the Divio CLI asks for it.
func getUnder[T any](ctx context.Context, c *Client, collection, id, sub string) (*T, error) {
	var out T
	u := c.url(collection+"/"+url.PathEscape(id)+"/"+sub, nil)
	u.Path = strings.TrimSuffix(u.Path, "/")
	if err := c.doURL(ctx, http.MethodGet, u, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func setIf(q url.Values, key, value string) {
	if value != "" {
		q.Set(key, value)
	}
}
