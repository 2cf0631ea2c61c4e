package simulator

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"time"
)

func (s *Simulator) apiRoutes() router {
	const v3 = "/apps/v3/"
	return router{
		{http.MethodGet, v3 + "regions/", s.listRegions},
		{http.MethodGet, v3 + "regions/{id}/", s.getRegion},
		{http.MethodGet, v3 + "services/", s.listServices},
		{http.MethodGet, v3 + "services/{id}/", s.getService},
		{http.MethodGet, v3 + "applications/", s.listApplications},
		{http.MethodGet, v3 + "applications/{id}/", s.getApplication},
		{http.MethodGet, v3 + "environments/", s.listEnvironments},
		{http.MethodGet, v3 + "environments/{id}/", s.getEnvironment},
		{http.MethodGet, v3 + "service-instances/", s.listInstances},
		{http.MethodPost, v3 + "service-instances/", s.createInstance},
		{http.MethodGet, v3 + "service-instances/{id}/", s.getInstance},
		{http.MethodPatch, v3 + "service-instances/{id}/", s.renameInstance},
		{http.MethodDelete, v3 + "service-instances/{id}/", s.deleteInstance},
		{http.MethodPost, v3 + "service-instances/{id}/provision/", s.instanceAction((*state).provision)},
		{http.MethodPost, v3 + "service-instances/{id}/attach/", s.instanceAction(ignoreTime((*state).attach))},
		{http.MethodPost, v3 + "service-instances/{id}/detach/", s.instanceAction(ignoreTime((*state).detach))},
		{http.MethodGet, v3 + "deployments/", s.listDeployments},
		{http.MethodPost, v3 + "deployments/", s.createDeployment},
		{http.MethodGet, v3 + "deployments/{id}/", s.getDeployment},
		{http.MethodGet, v3 + "deployments/{id}/environment-variables/", s.getDeploymentVariables},
		{http.MethodGet, v3 + "deployments/{id}/logs/", s.getDeploymentLogs},
		{http.MethodGet, v3 + "environment-variables/", s.listEnvironmentVariables},
		{http.MethodGet, "/iam/v3/organisations/", s.listOrganisations},
		{http.MethodGet, "/iam/v3/organisations/{id}/", s.getOrganisation},
		{http.MethodGet, "/iam/v3/me/", s.getMe},
		{http.MethodGet, v3 + "backups/", s.listBackups},
		{http.MethodPost, v3 + "backups/", s.createBackup},
		{http.MethodGet, v3 + "backups/{id}/", s.getBackup},
		{http.MethodDelete, v3 + "backups/{id}/", s.deleteBackup},
		{http.MethodGet, v3 + "service-instance-backups/{id}/", s.getServiceInstanceBackup},
		{http.MethodPost, v3 + "backup-restores/", s.createRestore},
		{http.MethodGet, v3 + "backup-restores/{id}/", s.getRestore},
	}
}

// queryMatches reports whether an optional filter is absent or equals value.
// An empty value filters nothing, as in django-filter: the Divio CLI sends
// slug= to list every environment.
func queryMatches(q url.Values, param, value string) bool {
	return q.Get(param) == "" || q.Get(param) == value
}

// detailOf answers one object of a fixed list, or 404.
func detailOf[T any](items []T, id string, key func(T) string) reply {
	if it, found := find(items, func(it T) bool { return key(it) == id }); found {
		return ok(it)
	}
	return notFound()
}

func (s *Simulator) listRegions(r *http.Request, _ string) reply {
	return paginate(r, s.data.regions)
}

func (s *Simulator) getRegion(_ *http.Request, id string) reply {
	return detailOf(s.data.regions, id, func(r region) string { return r.UUID })
}

// listServices shows the catalog, narrowed to what a region offers (region=)
// or to what an application can add now (website=): offered in its region and
// with a free instance in its own subscription.
func (s *Simulator) listServices(r *http.Request, _ string) reply {
	q := r.URL.Query()
	offered := func(svc service) bool {
		if q.Get("region") == "" {
			return true
		}
		reg, found := s.data.region(q.Get("region"))
		return found && s.data.offers(reg, svc.Identifier)
	}
	if q.Get("website") == "" {
		return paginate(r, filter(s.data.catalog, offered))
	}
	return s.answer(func(st *state) reply {
		return paginate(r, st.servicesToAdd(q.Get("website"), offered))
	})
}

// serviceOffer is a catalog entry as a website= list shows it.
type serviceOffer struct {
	service
	Available int `json:"available"` // free instances left in the subscription
}

func (st *state) servicesToAdd(appID string, offered func(service) bool) []serviceOffer {
	offers := []serviceOffer{}
	app, found := st.data.application(appID)
	if !found {
		return offers
	}
	reg, _ := st.data.region(app.Region)
	for _, svc := range st.data.catalog {
		if free := st.freeSlots(app, svc); free > 0 && offered(svc) && st.data.offers(reg, svc.Identifier) {
			offers = append(offers, serviceOffer{svc, free})
		}
	}
	return offers
}

func (s *Simulator) getService(_ *http.Request, id string) reply {
	return detailOf(s.data.catalog, id, func(svc service) string { return svc.UUID })
}

func (s *Simulator) listApplications(r *http.Request, _ string) reply {
	q := r.URL.Query()
	return paginate(r, filter(s.data.applications, func(a application) bool {
		return queryMatches(q, "slug", a.Slug)
	}))
}

func (s *Simulator) getApplication(_ *http.Request, id string) reply {
	return detailOf(s.data.applications, id, func(a application) string { return a.UUID })
}

// environmentView adds the field that depends on the deployments.
type environmentView struct {
	environment
	LastFinishedDeployment *deploymentView `json:"last_finished_deployment"`
}

// answer builds a reply from the state under the lock; the reply must hold
// copies, which values like Instance and freshly built slices are.
func (s *Simulator) answer(build func(st *state) reply) reply {
	return s.answerAt(func(st *state, _ time.Time) reply { return build(st) })
}

// answerAt is answer for replies that depend on the time, such as a
// deployment's progress.
func (s *Simulator) answerAt(build func(st *state, now time.Time) reply) reply {
	var rep reply
	if err := s.readAt(func(st *state, now time.Time) { rep = build(st, now) }); err != nil {
		return errorReply(err)
	}
	return rep
}

// apply changes the state and answers with the reply change builds, or with
// the error it refused with.
func (s *Simulator) apply(change func(st *state, now time.Time) (reply, error)) reply {
	var rep reply
	err := s.update(func(st *state, now time.Time) error {
		var err error
		rep, err = change(st, now)
		return err
	})
	if err != nil {
		return errorReply(err)
	}
	return rep
}

func environmentViews(st *state, now time.Time) []environmentView {
	var views []environmentView
	for _, env := range st.data.environments {
		v := environmentView{environment: env}
		if d := st.lastFinishedDeployment(env.UUID); d != nil {
			dv := d.view(now)
			v.LastFinishedDeployment = &dv
		}
		views = append(views, v)
	}
	return views
}

func (s *Simulator) listEnvironments(r *http.Request, _ string) reply {
	q := r.URL.Query()
	return s.answerAt(func(st *state, now time.Time) reply {
		return paginate(r, filter(environmentViews(st, now), func(v environmentView) bool {
			return queryMatches(q, "application", v.Application) && queryMatches(q, "slug", v.Slug)
		}))
	})
}

func (s *Simulator) getEnvironment(_ *http.Request, id string) reply {
	return s.answerAt(func(st *state, now time.Time) reply {
		return detailOf(environmentViews(st, now), id, func(v environmentView) string { return v.UUID })
	})
}

func (s *Simulator) listInstances(r *http.Request, _ string) reply {
	q := r.URL.Query()
	return s.answer(func(st *state) reply {
		var list []Instance
		for _, in := range st.Instances {
			if in.Status != StatusRemoved && queryMatches(q, "environment", in.Environment) {
				list = append(list, in.Instance)
			}
		}
		return paginate(r, list)
	})
}

func (s *Simulator) getInstance(_ *http.Request, id string) reply {
	return s.answer(func(st *state) reply {
		in, err := st.instance(id)
		if err != nil {
			return errorReply(err)
		}
		return ok(in.Instance)
	})
}

func (s *Simulator) createInstance(r *http.Request, _ string) reply {
	var req createInstanceRequest
	if err := decodeJSON(r, &req); err != nil {
		return errorReply(err)
	}
	return s.apply(func(st *state, now time.Time) (reply, error) {
		in, err := st.createInstance(req, now)
		if err != nil {
			return reply{}, err
		}
		return created(in.Instance), nil
	})
}

// renameInstance serves PATCH with a prefix: 200 and the instance as renamed.
func (s *Simulator) renameInstance(r *http.Request, id string) reply {
	var req renameRequest
	if err := decodeJSON(r, &req); err != nil {
		return errorReply(err)
	}
	return s.apply(func(st *state, _ time.Time) (reply, error) {
		in, err := st.rename(id, req)
		if err != nil {
			return reply{}, err
		}
		return ok(in.Instance), nil
	})
}

func (s *Simulator) deleteInstance(_ *http.Request, id string) reply {
	return s.apply(func(st *state, _ time.Time) (reply, error) { return noContent(), st.remove(id) })
}

type instanceOp func(st *state, id string, now time.Time) (*instanceRecord, error)

func ignoreTime(op func(st *state, id string) (*instanceRecord, error)) instanceOp {
	return func(st *state, id string, _ time.Time) (*instanceRecord, error) { return op(st, id) }
}

// instanceAction serves provision, attach and detach: 202 with the instance
// as it is after the request (and after any transition a zero delay made due).
func (s *Simulator) instanceAction(op instanceOp) handlerFunc {
	return func(_ *http.Request, id string) reply {
		return s.apply(func(st *state, now time.Time) (reply, error) {
			in, err := op(st, id, now)
			if err != nil {
				return reply{}, err
			}
			return accepted(in.Instance), nil
		})
	}
}

func (s *Simulator) createDeployment(r *http.Request, _ string) reply {
	var req createDeploymentRequest
	if err := decodeJSON(r, &req); err != nil {
		return errorReply(err)
	}
	return s.apply(func(st *state, now time.Time) (reply, error) {
		d, err := st.createDeployment(req, now)
		if err != nil {
			return reply{}, err
		}
		return created(deploymentCreated{UUID: d.UUID, Environment: d.Environment, BuildMode: d.BuildMode}), nil
	})
}

// listDeployments lists deployments newest first: the Divio CLI takes the
// first as the environment's current one.
func (s *Simulator) listDeployments(r *http.Request, _ string) reply {
	q := r.URL.Query()
	return s.answerAt(func(st *state, now time.Time) reply {
		views := []deploymentView{}
		for _, d := range slices.Backward(st.Deployments) {
			env, _ := st.data.environment(d.Environment)
			if queryMatches(q, "environment", d.Environment) && queryMatches(q, "application", env.Application) {
				views = append(views, d.view(now))
			}
		}
		// Appended in order of start, so newest first is the reverse; the
		// stable sort only guards against a clock that stepped back.
		slices.SortStableFunc(views, func(a, b deploymentView) int { return b.StartedAt.Compare(a.StartedAt) })
		return paginate(r, views)
	})
}

// deploymentAnswer answers about one deployment, or 404.
func (s *Simulator) deploymentAnswer(id string, build func(d *deploymentRecord, now time.Time) reply) reply {
	return s.answerAt(func(st *state, now time.Time) reply {
		d, err := st.deployment(id)
		if err != nil {
			return errorReply(err)
		}
		return build(d, now)
	})
}

func (s *Simulator) getDeployment(_ *http.Request, id string) reply {
	return s.deploymentAnswer(id, func(d *deploymentRecord, now time.Time) reply { return ok(d.view(now)) })
}

func (s *Simulator) getDeploymentVariables(_ *http.Request, id string) reply {
	return s.deploymentAnswer(id, func(d *deploymentRecord, _ time.Time) reply {
		vars := maps.Clone(d.Variables)
		if vars == nil {
			vars = map[string]string{}
		}
		return ok(map[string]any{"environment": d.Environment, "environment_variables": vars})
	})
}

func (s *Simulator) getDeploymentLogs(_ *http.Request, id string) reply {
	return s.deploymentAnswer(id, func(d *deploymentRecord, now time.Time) reply {
		return ok(map[string]string{"uuid": d.UUID, "logs": d.logText(now)})
	})
}

func (s *Simulator) listEnvironmentVariables(r *http.Request, _ string) reply {
	q := r.URL.Query()
	return s.answer(func(st *state) reply {
		return paginate(r, st.environmentVariables(q.Get("environment"), q.Get("application"), q.Get("name")))
	})
}

func (s *Simulator) listOrganisations(r *http.Request, _ string) reply {
	return paginate(r, s.data.organisations)
}

func (s *Simulator) getOrganisation(_ *http.Request, id string) reply {
	return detailOf(s.data.organisations, id, func(o organisation) string { return o.UUID })
}

// getMe answers with the data set's user, whom every accepted token belongs to.
func (s *Simulator) getMe(*http.Request, string) reply {
	return ok(s.data.user)
}
