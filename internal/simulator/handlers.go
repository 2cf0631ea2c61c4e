package simulator

import (
	"net/http"
	"net/url"
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
		{http.MethodDelete, v3 + "service-instances/{id}/", s.deleteInstance},
		{http.MethodPost, v3 + "service-instances/{id}/provision/", s.instanceAction((*state).provision)},
		{http.MethodPost, v3 + "service-instances/{id}/attach/", s.instanceAction(ignoreTime((*state).attach))},
		{http.MethodPost, v3 + "service-instances/{id}/detach/", s.instanceAction(ignoreTime((*state).detach))},
		{http.MethodPost, v3 + "deployments/", s.createDeployment},
		{http.MethodGet, v3 + "deployments/{id}/", s.getDeployment},
		{http.MethodGet, v3 + "environment-variables/", s.listEnvironmentVariables},
	}
}

// queryMatches reports whether an optional filter is absent or equals value.
func queryMatches(q url.Values, param, value string) bool {
	return !q.Has(param) || q.Get(param) == value
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

// listServices shows the catalog, narrowed to what a region (region=) or an
// application's region (website=) offers.
func (s *Simulator) listServices(r *http.Request, _ string) reply {
	q := r.URL.Query()
	var regionIDs []string
	if q.Has("region") {
		regionIDs = append(regionIDs, q.Get("region"))
	}
	if q.Has("website") {
		app, _ := s.data.application(q.Get("website"))
		regionIDs = append(regionIDs, app.Region)
	}
	return paginate(r, filter(s.data.catalog, func(svc service) bool {
		for _, id := range regionIDs {
			reg, found := s.data.region(id)
			if !found || !s.data.offers(reg, svc.Identifier) {
				return false
			}
		}
		return true
	}))
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
	LastFinishedDeployment *string `json:"last_finished_deployment"`
}

// answer builds a reply from the state under the lock; the reply must hold
// copies, which values like Instance and freshly built slices are.
func (s *Simulator) answer(build func(st *state) reply) reply {
	var rep reply
	if err := s.read(func(st *state) { rep = build(st) }); err != nil {
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

func environmentViews(st *state) []environmentView {
	var views []environmentView
	for _, env := range st.data.environments {
		views = append(views, environmentView{env, st.lastFinishedDeployment(env.UUID)})
	}
	return views
}

func (s *Simulator) listEnvironments(r *http.Request, _ string) reply {
	q := r.URL.Query()
	return s.answer(func(st *state) reply {
		return paginate(r, filter(environmentViews(st), func(v environmentView) bool {
			return queryMatches(q, "application", v.Application) && queryMatches(q, "slug", v.Slug)
		}))
	})
}

func (s *Simulator) getEnvironment(_ *http.Request, id string) reply {
	return s.answer(func(st *state) reply {
		return detailOf(environmentViews(st), id, func(v environmentView) string { return v.UUID })
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
	var req struct {
		Environment string `json:"environment"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return errorReply(err)
	}
	return s.apply(func(st *state, now time.Time) (reply, error) {
		d, err := st.createDeployment(req.Environment, now)
		if err != nil {
			return reply{}, err
		}
		return created(d.Deployment), nil
	})
}

func (s *Simulator) getDeployment(_ *http.Request, id string) reply {
	return s.answer(func(st *state) reply {
		d, err := st.deployment(id)
		if err != nil {
			return errorReply(err)
		}
		return ok(d.Deployment)
	})
}

func (s *Simulator) listEnvironmentVariables(r *http.Request, _ string) reply {
	envID := r.URL.Query().Get("environment")
	return s.answer(func(st *state) reply { return paginate(r, st.environmentVariables(envID)) })
}
