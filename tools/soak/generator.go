// Package soak drives the real terraform binary through randomised apply/modify/destroy cycles
// against a simulator that injects faults, and checks that the provider neither duplicates nor
// loses service instances (`make soak`, the test behind the build tag soak). The configuration
// generator and the checks live here, untagged, so that their unit tests run with `go test`.
package soak

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/divio/terraform-provider-divio/internal/simulator"
)

// Environment is one of the bench data set's environments.
type Environment struct{ App, Slug string }

// ID is the environment's id in the simulator.
func (e Environment) ID() string { return simulator.EnvironmentID(e.App, e.Slug) }

func (e Environment) String() string { return e.App + "/" + e.Slug }

// dataName is the name of the environment's divio_environment data source.
func (e Environment) dataName() string {
	return strings.ReplaceAll(e.App, "-", "_") + "_" + e.Slug
}

// Environments are where the generated services live: two applications of the bench data set,
// whose subscription is unlimited, so that only the provider's behaviour can make a create fail.
var Environments = []Environment{
	{"bench-app-1", simulator.EnvTest}, {"bench-app-1", simulator.EnvLive},
	{"bench-app-2", simulator.EnvTest}, {"bench-app-2", simulator.EnvLive},
}

// ServiceTypes maps the catalog identifiers the generator uses to their type: the simulator allows
// one instance per (environment, type, prefix), so postgres-15, postgres-16 and mysql-8 share prefixes.
var ServiceTypes = map[string]string{
	simulator.ServicePostgres15: simulator.TypeDatabase,
	simulator.ServicePostgres16: simulator.TypeDatabase,
	simulator.ServiceMySQL8:     simulator.TypeDatabase,
	simulator.ServiceS3:         simulator.TypeStorage,
	simulator.ServiceRabbitMQ3:  simulator.TypeMessageQueue,
}

// identifiers are what a new or replacing service runs, in a fixed order, so that a seed always
// gives the same run. postgres-15 comes three times: it is what upgrades start from.
var identifiers = []string{simulator.ServicePostgres15, simulator.ServicePostgres15, simulator.ServicePostgres15, simulator.ServiceMySQL8, simulator.ServiceS3, simulator.ServiceRabbitMQ3}

// upgrades maps a catalog identifier to the newer version of its engine that the provider upgrades
// it to in place, keeping its data.
var upgrades = map[string]string{simulator.ServicePostgres15: simulator.ServicePostgres16}

// isUpgraded reports whether a service runs the version an upgrade moves to. Half the time a removal
// or a replacement takes such a service: upgrades need postgres-15 services, which only adds and
// replacements bring (and adds only below maxServices), and which upgrades use up.
func isUpgraded(s Service) bool {
	return slices.Contains(slices.Collect(maps.Values(upgrades)), s.Service)
}

// engine is a catalog identifier without its version: two services of one engine are an upgrade
// (or a refused downgrade) apart, two of different engines a replacement.
func engine(identifier string) string {
	name, _, _ := strings.Cut(identifier, "-")
	return name
}

// prefixes is small on purpose: prefixes freed by a removal are soon taken again, which is where a
// removal the provider forgot, or a create that did not adopt its own instance, shows.
var prefixes = []string{"DEFAULT", "MAIN", "CACHE", "MEDIA", "JOBS", "ARCHIVE"}

// CreateTimeout bounds a service's create, so that a provisioning the simulator stalls on purpose
// fails the apply in seconds, leaving an instance that the next apply must replace, not leak.
// Provisioning takes a poll or two here, so it is far from what a normal create needs.
const CreateTimeout = "20s"

const (
	minServices = 2
	maxServices = 8
)

// Service is one divio_service of the configuration, with its divio_service_attachment if Attached.
// A service without one is still attached by the next deployment of its environment, whoever starts
// it (Divio's rule): the configuration then only does not say that the application uses it.
type Service struct {
	Name      string // resource name; it never changes, so a changed prefix is a replacement
	Env       int    // index into Environments
	Service   string // catalog identifier
	Prefix    string
	Protected bool // deletion_protection
	Attached  bool
	// Backup is the generation of its divio_service_backup's triggers; 0 is none.
	Backup        int
	NoFinalBackup bool // final_backup = false
	// CopyFrom names the service whose data this one was added with (copy_data_from): a fresh backup
	// of its instance, or, with CopyBackup, its divio_service_backup.
	CopyFrom   string
	CopyBackup bool
}

// key identifies the instance the simulator allows only once.
func (s Service) key() string {
	return fmt.Sprintf("%d/%s/%s", s.Env, ServiceTypes[s.Service], s.Prefix)
}

// Config is one generation of the configuration.
type Config struct {
	Services []Service
	// Batched are the environments (indexes into Environments) whose attachments have deploy = false
	// and are attached by one divio_deployment of the environment, whose triggers are their ids; the
	// attachments of the others deploy each (deploy = true). An environment takes its mode when it
	// gets its first attachment, and keeps it while it has any.
	Batched []bool
}

// batched reports whether env's attachments are deployed by a divio_deployment.
func (c Config) batched(env int) bool { return env < len(c.Batched) && c.Batched[env] }

func (c *Config) setBatched(env int, on bool) {
	if c.batched(env) == on {
		return
	}
	if len(c.Batched) < len(Environments) {
		c.Batched = append(c.Batched, make([]bool, len(Environments)-len(c.Batched))...)
	}
	c.Batched[env] = on
}

// attachedIn reports whether a service of env has an attachment.
func (c Config) attachedIn(env int) bool {
	return slices.ContainsFunc(c.Services, func(s Service) bool { return s.Env == env && s.Attached })
}

// Deployments are the environments that have a divio_deployment: batched, with an attachment.
func (c Config) Deployments() []int {
	var envs []int
	for env := range Environments {
		if c.batched(env) && c.attachedIn(env) {
			envs = append(envs, env)
		}
	}
	return envs
}

func (c Config) find(name string) (Service, bool) {
	i := slices.IndexFunc(c.Services, func(s Service) bool { return s.Name == name })
	if i < 0 {
		return Service{}, false
	}
	return c.Services[i], true
}

// Generator makes each cycle's configuration from the previous one, reproducibly from its seed.
type Generator struct {
	rng   *rand.Rand
	cfg   Config
	names int
}

// NewGenerator starts from an empty configuration.
func NewGenerator(seed uint64) *Generator {
	return &Generator{rng: rand.New(rand.NewPCG(seed, seed^0x50a4))}
}

// Config is the current configuration.
func (g *Generator) Config() Config { return g.cfg }

// mutation is one cycle's work on a copy of the previous configuration.
type mutation struct {
	g       *Generator
	prev    Config
	next    Config
	touched map[string]bool // services already changed this cycle: one change each keeps the rules simple
	keys    map[string]bool // (environment, type, prefix) used before or after this cycle
	moded   map[int]bool    // environments whose mode (Batched) this cycle chose
	changes []string
}

// Next mutates the configuration with one to three random changes and returns it with a line per
// change. Every change is one Terraform can apply in one run:
//   - a service is removed or replaced (prefix or service changed) only if it was not protected,
//     since the provider refuses that at plan time, by design; one the application uses (with its
//     attachment, or attached by a deployment without one) is detached first;
//   - deletion_protection is toggled only on a service that is neither removed nor replaced;
//   - a new or replaced instance takes an (environment, type, prefix) that no instance had before
//     the cycle, except a replacement's own, because creates and deletes run in parallel;
//   - an environment changes between deploy = true attachments and deploy = false ones with a
//     divio_deployment (Batched) only when it had no attachment before the cycle: switching an
//     attachment's deploy changes nothing at Divio, and a new divio_deployment would deploy for nothing;
//   - a replacement moves to another engine (or type): a newer version of the same engine is an
//     upgrade in place, an older one is refused at plan, and a new prefix alone is a rename in place;
//     upgrades and renames keep the data, so protected services are upgraded and renamed too;
//   - a copy (copy_data_from) names a source that existed before the cycle and that the cycle leaves
//     as it is; a copy_data_from whose source goes, or is replaced, is dropped with it.
//
// With clearProtection (before a full destroy) it also turns every deletion_protection off.
func (g *Generator) Next(clearProtection bool) (Config, []string) {
	m := &mutation{g: g, prev: g.cfg, touched: map[string]bool{}, keys: map[string]bool{}, moded: map[int]bool{}}
	m.next.Services = slices.Clone(g.cfg.Services)
	m.next.Batched = slices.Clone(g.cfg.Batched)
	for _, s := range m.prev.Services {
		m.keys[s.key()] = true
	}
	ops := []func() bool{m.addService, m.addService, m.removeService, m.removeService, m.removeService, m.replaceService, m.attach, m.detach, m.toggleProtection,
		m.backUp, m.dropBackup, m.retrigger, m.toggleFinalBackup, m.attachBeside,
		// Issue 22's operations, upgrades most often: each takes a postgres-15 service.
		m.upgrade, m.upgrade, m.upgrade, m.upgrade, m.rename, m.copyService, m.copyService}
	// Bounded, in case no change is possible: a cycle that changes nothing still applies and checks.
	for want, tries := 1+g.rng.IntN(3), 0; want > 0 && tries < 100; tries++ {
		if ops[g.rng.IntN(len(ops))]() {
			want--
		}
	}
	for env := range Environments {
		if !m.next.attachedIn(env) {
			m.next.setBatched(env, false) // no attachment left: no divio_deployment
		}
	}
	if clearProtection {
		for i := range m.next.Services {
			if m.next.Services[i].Protected {
				m.next.Services[i].Protected = false
				m.changes = append(m.changes, "unprotect "+m.next.Services[i].Name+" before the destroy")
			}
		}
	}
	g.cfg = m.next
	return g.cfg, m.changes
}

// pick returns the index in next of a random untouched service that ok accepts.
func (m *mutation) pick(ok func(s Service) bool) (int, bool) {
	var candidates []int
	for i, s := range m.next.Services {
		if !m.touched[s.Name] && ok(s) {
			candidates = append(candidates, i)
		}
	}
	if len(candidates) == 0 {
		return 0, false
	}
	i := candidates[m.g.rng.IntN(len(candidates))]
	m.touched[m.next.Services[i].Name] = true
	return i, true
}

// freePrefix returns a random prefix whose key is free for env and service, and takes it.
func (m *mutation) freePrefix(env int, service string) (string, bool) {
	for _, p := range m.g.rng.Perm(len(prefixes)) {
		s := Service{Env: env, Service: service, Prefix: prefixes[p]}
		if k := s.key(); !m.keys[k] {
			m.keys[k] = true
			return s.Prefix, true
		}
	}
	return "", false
}

func (m *mutation) wasProtected(name string) bool {
	before, existed := m.prev.find(name)
	return existed && before.Protected
}

// attachIn records an attachment added in env this cycle, and says how it is deployed: an
// environment that had no attachment before the cycle takes its mode with its first one.
func (m *mutation) attachIn(env int) string {
	if !m.prev.attachedIn(env) && !m.moded[env] {
		m.moded[env] = true
		m.next.setBatched(env, m.g.rng.IntN(2) == 0)
	}
	if m.next.batched(env) {
		return "deploy = false, with the divio_deployment of " + Environments[env].String()
	}
	return "deploy = true"
}

func (m *mutation) addService() bool {
	if len(m.next.Services) >= maxServices {
		return false
	}
	return m.add(m.g.rng.IntN(len(Environments)), m.g.rng.IntN(3) == 0)
}

// add adds a new service to env, with an attachment if attached.
func (m *mutation) add(env int, attached bool) bool {
	service := identifiers[m.g.rng.IntN(len(identifiers))]
	if m.g.rng.IntN(3) == 0 {
		service = simulator.ServicePostgres15 // what upgrades start from, more often
	}
	prefix, ok := m.freePrefix(env, service)
	if !ok {
		return false
	}
	m.g.names++
	// New services are never protected at once: one whose provisioning the soak stalls must be
	// replaceable, which deletion_protection rightly refuses (the user's step, not the soak's);
	// toggleProtection protects existing ones.
	s := Service{Name: fmt.Sprintf("s%d", m.g.names), Env: env, Service: service, Prefix: prefix, Attached: attached}
	m.next.Services = append(m.next.Services, s)
	m.touched[s.Name] = true
	how := ""
	if attached {
		how = ", " + m.attachIn(env)
	}
	m.changes = append(m.changes, fmt.Sprintf("add %s: %s %s on %s (attached %t%s, protected %t)",
		s.Name, s.Service, s.Prefix, Environments[s.Env], s.Attached, how, s.Protected))
	return true
}

// attachBeside attaches a service (an existing one, or a new one) in the environment of a service
// that has no attachment and keeps none: the deployment that attaches the one attaches the other
// too, by Divio's rule, although no attachment says so; removeService and replaceService later
// destroy such a service, which the application then uses.
func (m *mutation) attachBeside() bool {
	var beside []Service
	for _, s := range m.prev.Services {
		if after, kept := m.next.find(s.Name); kept && !s.Attached && !after.Attached {
			beside = append(beside, after)
		}
	}
	if len(beside) == 0 {
		return false
	}
	free := beside[m.g.rng.IntN(len(beside))]
	m.touched[free.Name] = true // it stays as it is this cycle
	if i, ok := m.pick(func(s Service) bool { return s.Env == free.Env && !s.Attached }); ok {
		m.attachAt(i)
	} else if len(m.next.Services) >= maxServices {
		return false
	} else if !m.add(free.Env, true) {
		return false
	}
	m.changes[len(m.changes)-1] += fmt.Sprintf(", beside %s, which has no attachment", free.Name)
	return true
}

// removeService removes a service, and with it its attachment if it has one. One that a deployment
// attached without an attachment is detached first, with a deployment.
func (m *mutation) removeService() bool {
	if len(m.next.Services) <= minServices {
		return false
	}
	upgraded := m.g.rng.IntN(2) == 0
	i, ok := m.pick(func(s Service) bool {
		before, existed := m.prev.find(s.Name)
		return existed && !before.Protected && (!upgraded || isUpgraded(s))
	})
	if !ok {
		return false
	}
	s := m.next.Services[i]
	m.next.Services = slices.Delete(m.next.Services, i, i+1)
	m.changes = append(m.changes, fmt.Sprintf("remove %s (attached %t)", s.Name, s.Attached))
	m.forgetCopiesOf(s.Name, false)
	return true
}

// forgetCopiesOf drops the copy_data_from of the services copied from name (from its
// divio_service_backup only, with backupOnly), whose reference would otherwise name a resource that
// goes, or an instance of another engine. A copy_data_from changed after the create changes nothing
// at Divio: the plan shows an update that does nothing.
func (m *mutation) forgetCopiesOf(name string, backupOnly bool) {
	for i := range m.next.Services {
		if s := &m.next.Services[i]; s.CopyFrom == name && (s.CopyBackup || !backupOnly) {
			s.CopyFrom, s.CopyBackup = "", false
		}
	}
}

// replaceService changes the service to another engine (or type), keeping the prefix if it is free
// for the new type (same type: the replacement's own key), else with a new prefix: a new, empty
// instance replaces the old one. An attachment of the service is replaced with it. (A newer version
// of the engine is upgrade's, a new prefix alone rename's: both keep the instance's data.)
func (m *mutation) replaceService() bool {
	upgraded := m.g.rng.IntN(2) == 0
	i, ok := m.pick(func(s Service) bool {
		_, existed := m.prev.find(s.Name)
		return existed && !m.wasProtected(s.Name) && (!upgraded || isUpgraded(s))
	})
	if !ok {
		return false
	}
	s := &m.next.Services[i]
	own := s.key()
	var others []string
	for _, id := range identifiers { // weighted as identifiers is
		if engine(id) != engine(s.Service) {
			others = append(others, id)
		}
	}
	service := others[m.g.rng.IntN(len(others))]
	prefix := s.Prefix
	if candidate := (Service{Env: s.Env, Service: service, Prefix: prefix}); m.g.rng.IntN(3) == 0 || (m.keys[candidate.key()] && candidate.key() != own) {
		if prefix, ok = m.freePrefix(s.Env, service); !ok {
			return false
		}
	} else {
		m.keys[candidate.key()] = true
	}
	m.changes = append(m.changes, fmt.Sprintf("replace %s: %s %s -> %s %s (attached %t)", s.Name, s.Service, s.Prefix, service, prefix, s.Attached))
	s.Service, s.Prefix = service, prefix
	s.CopyFrom, s.CopyBackup = "", false // the replacement starts empty
	if !backupable(service) {
		s.Backup = 0 // the API backs up DATABASE and STORAGE instances only
	}
	m.forgetCopiesOf(s.Name, false)
	return true
}

// upgrade moves a service to the newer version of its engine (postgres-15 to postgres-16): an update
// in place, which copies the data into a new instance and swaps the two, with one deployment if the
// application uses the old one. Protected services too: the data stays.
func (m *mutation) upgrade() bool {
	i, ok := m.pick(func(s Service) bool {
		_, existed := m.prev.find(s.Name)
		return existed && upgrades[s.Service] != ""
	})
	if !ok {
		return false
	}
	s := &m.next.Services[i]
	m.changes = append(m.changes, fmt.Sprintf("upgrade %s: %s -> %s, prefix %s on %s (attached %t, protected %t, final_backup %t)",
		s.Name, s.Service, upgrades[s.Service], s.Prefix, Environments[s.Env], s.Attached, s.Protected, !s.NoFinalBackup))
	s.Service = upgrades[s.Service]
	return true
}

// rename gives a service a new prefix, free before and after the cycle: the same instance, with its
// data, renamed in place.
func (m *mutation) rename() bool {
	i, ok := m.pick(func(s Service) bool { _, existed := m.prev.find(s.Name); return existed })
	if !ok {
		return false
	}
	s := &m.next.Services[i]
	prefix, ok := m.freePrefix(s.Env, s.Service)
	if !ok {
		return false
	}
	m.changes = append(m.changes, fmt.Sprintf("rename %s: %s %s -> %s on %s (attached %t, protected %t)",
		s.Name, s.Service, s.Prefix, prefix, Environments[s.Env], s.Attached, s.Protected))
	s.Prefix = prefix
	return true
}

// copyService adds a service filled with a copy of another's data (copy_data_from), in the source's
// environment or the other one of its application: from a fresh backup of its instance, or from its
// divio_service_backup. The source existed before the cycle and stays as it is during it; the copy
// runs the source's service or the newer version of its engine.
func (m *mutation) copyService() bool {
	if len(m.next.Services) >= maxServices {
		return false
	}
	fromBackup := m.g.rng.IntN(3) == 0
	i, ok := m.pick(func(s Service) bool {
		before, existed := m.prev.find(s.Name)
		return existed && backupable(s.Service) && (!fromBackup || before.Backup > 0 && s.Backup == before.Backup)
	})
	if !ok {
		return false
	}
	source := m.next.Services[i]
	var envs []int
	for env, e := range Environments {
		if e.App == Environments[source.Env].App {
			envs = append(envs, env)
		}
	}
	env := envs[m.g.rng.IntN(len(envs))]
	service := source.Service
	if newer := upgrades[service]; newer != "" && m.g.rng.IntN(2) == 0 {
		service = newer
	}
	prefix, ok := m.freePrefix(env, service)
	if !ok {
		return false
	}
	m.g.names++
	s := Service{Name: fmt.Sprintf("s%d", m.g.names), Env: env, Service: service, Prefix: prefix, Attached: m.g.rng.IntN(3) == 0,
		CopyFrom: source.Name, CopyBackup: fromBackup}
	m.next.Services = append(m.next.Services, s)
	m.touched[s.Name] = true
	how := ""
	if s.Attached {
		how = ", " + m.attachIn(env)
	}
	from := "a fresh backup of " + source.Name
	if fromBackup {
		from = "divio_service_backup." + source.Name
	}
	m.changes = append(m.changes, fmt.Sprintf("add %s: %s %s on %s, copy_data_from %s (%s %s on %s) (attached %t%s)",
		s.Name, s.Service, s.Prefix, Environments[env], from, source.Service, source.Prefix, Environments[source.Env], s.Attached, how))
	return true
}

func (m *mutation) attach() bool {
	i, ok := m.pick(func(s Service) bool { return !s.Attached })
	if !ok {
		return false
	}
	m.attachAt(i)
	return true
}

func (m *mutation) attachAt(i int) {
	s := &m.next.Services[i]
	s.Attached = true
	m.changes = append(m.changes, fmt.Sprintf("attach %s (%s)", s.Name, m.attachIn(s.Env)))
}

func (m *mutation) detach() bool {
	i, ok := m.pick(func(s Service) bool { return s.Attached })
	if !ok {
		return false
	}
	m.next.Services[i].Attached = false
	m.changes = append(m.changes, "detach "+m.next.Services[i].Name)
	return true
}

func (m *mutation) toggleProtection() bool {
	i, ok := m.pick(func(s Service) bool { _, existed := m.prev.find(s.Name); return existed })
	if !ok {
		return false
	}
	s := &m.next.Services[i]
	s.Protected = !s.Protected
	m.changes = append(m.changes, fmt.Sprintf("set %s deletion_protection = %t", s.Name, s.Protected))
	return true
}

// UpdateTimeout bounds a service's update: an upgrade takes seconds here, a few polls per step, and
// one whose new instance the soak stalls in provisioning must fail the apply, not hold it for the
// default 20 minutes.
const UpdateTimeout = "90s"

// HCL renders the configuration. Environments are found through the data sources, as a user
// would, so that their reads meet the faults too.
func (c Config) HCL() string { return c.render(Timeouts{}) }

// HCLWithDeployTimeout renders the configuration with the create timeout of every attachment and
// divio_deployment set to timeout: shorter than a deployment, their applies stop waiting while it
// goes on.
func (c Config) HCLWithDeployTimeout(timeout string) string {
	return c.render(Timeouts{Deploy: timeout})
}

// Timeouts are the shortened timeouts of an apply that is to stop waiting while something goes on
// at Divio; "" keeps the usual one.
type Timeouts struct {
	Deploy        string // create of the attachments and divio_deployments
	ServiceUpdate string // update of every divio_service: an upgrade
	CopyCreate    string // create of the divio_services with copy_data_from
}

// HCLWithTimeouts renders the configuration with the timeouts t shortens.
func (c Config) HCLWithTimeouts(t Timeouts) string { return c.render(t) }

func (c Config) render(t Timeouts) string {
	timeouts := ""
	if t.Deploy != "" {
		timeouts = fmt.Sprintf("\n  timeouts = {\n    create = %q\n  }\n", t.Deploy)
	}
	var b strings.Builder
	b.WriteString("terraform {\n  required_providers {\n    divio = { source = \"divio/divio\" }\n  }\n}\n\nprovider \"divio\" {}\n")
	apps := map[string]bool{}
	for _, e := range Environments {
		app := strings.ReplaceAll(e.App, "-", "_")
		if !apps[app] {
			apps[app] = true
			fmt.Fprintf(&b, "\ndata \"divio_application\" %q {\n  slug = %q\n}\n", app, e.App)
		}
		fmt.Fprintf(&b, "\ndata \"divio_environment\" %q {\n  application_id = data.divio_application.%s.id\n  slug           = %q\n}\n",
			e.dataName(), app, e.Slug)
	}
	for _, s := range c.Services {
		create, update := CreateTimeout, UpdateTimeout
		if s.CopyFrom != "" && t.CopyCreate != "" {
			create = t.CopyCreate
		}
		if t.ServiceUpdate != "" {
			update = t.ServiceUpdate
		}
		fmt.Fprintf(&b, "\nresource \"divio_service\" %q {\n  environment_id      = data.divio_environment.%s.id\n  service             = %q\n  prefix              = %q\n  deletion_protection = %t\n  final_backup        = %t\n%s\n  timeouts = {\n    create = %q\n    update = %q\n  }\n}\n",
			s.Name, Environments[s.Env].dataName(), s.Service, s.Prefix, s.Protected, !s.NoFinalBackup, s.copyHCL(), create, update)
		b.WriteString(s.backupHCL())
		if s.Attached {
			fmt.Fprintf(&b, "\nresource \"divio_service_attachment\" %q {\n  service_id = divio_service.%s.id\n  deploy     = %t\n%s}\n",
				s.Name, s.Name, !c.batched(s.Env), timeouts)
		}
	}
	for _, env := range c.Deployments() {
		var ids []string
		for _, s := range c.Services {
			if s.Env == env && s.Attached {
				ids = append(ids, "divio_service_attachment."+s.Name+".id")
			}
		}
		fmt.Fprintf(&b, "\nresource \"divio_deployment\" %q {\n  environment_id = data.divio_environment.%s.id\n  triggers = {\n    attachments = join(\",\", sort([%s]))\n  }\n%s}\n",
			Environments[env].dataName(), Environments[env].dataName(), strings.Join(ids, ", "), timeouts)
	}
	return b.String()
}

// copyHCL renders a service's copy_data_from.
func (s Service) copyHCL() string {
	switch {
	case s.CopyFrom == "":
		return ""
	case s.CopyBackup:
		return fmt.Sprintf("\n  copy_data_from = {\n    backup_id = divio_service_backup.%s.id\n  }\n", s.CopyFrom)
	}
	return fmt.Sprintf("\n  copy_data_from = {\n    service_id = divio_service.%s.id\n  }\n", s.CopyFrom)
}

// Operations are what an apply from one configuration to another does of issue 22's operations.
type Operations struct {
	Upgrades []Service // services moved to a newer version of their engine
	Renames  []Service // services given a new prefix, keeping their service
	Copies   []Service // services added with copy_data_from
}

// OperationsOf returns the operations of an apply from before (what the state holds) to after.
func OperationsOf(before, after Config) Operations {
	var ops Operations
	for _, s := range after.Services {
		prev, existed := before.find(s.Name)
		switch {
		case !existed && s.CopyFrom != "":
			ops.Copies = append(ops.Copies, s)
		case !existed || engine(prev.Service) != engine(s.Service):
		case prev.Service != s.Service:
			ops.Upgrades = append(ops.Upgrades, s)
		case prev.Prefix != s.Prefix:
			ops.Renames = append(ops.Renames, s)
		}
	}
	return ops
}
