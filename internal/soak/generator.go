// Package soak drives the real terraform binary through randomised apply/modify/destroy cycles
// against a simulator that injects faults, and checks that the provider neither duplicates nor
// loses service instances (`make soak`, the test behind the build tag soak). The configuration
// generator and the checks live here, untagged, so that their unit tests run with `go test`.
package soak

import (
	"fmt"
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
// one instance per (environment, type, prefix), so postgres-15 and mysql-8 share prefixes.
var ServiceTypes = map[string]string{
	simulator.ServicePostgres15: simulator.TypeDatabase,
	simulator.ServiceMySQL8:     simulator.TypeDatabase,
	simulator.ServiceS3:         simulator.TypeStorage,
	simulator.ServiceRabbitMQ3:  simulator.TypeMessageQueue,
}

// identifiers is ServiceTypes' keys in a fixed order, so that a seed always gives the same run.
var identifiers = []string{simulator.ServicePostgres15, simulator.ServiceMySQL8, simulator.ServiceS3, simulator.ServiceRabbitMQ3}

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
}

// key identifies the instance the simulator allows only once.
func (s Service) key() string {
	return fmt.Sprintf("%d/%s/%s", s.Env, ServiceTypes[s.Service], s.Prefix)
}

// Config is one generation of the configuration.
type Config struct {
	Services []Service
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
	changes []string
}

// Next mutates the configuration with one to three random changes and returns it with a line per
// change. Every change is one Terraform can apply in one run:
//   - a service is removed or replaced (prefix or service changed) only if it was neither attached
//     nor protected, since the provider refuses both at plan time, by design;
//   - deletion_protection is toggled only on a service that is neither removed nor replaced;
//   - a new or replaced instance takes an (environment, type, prefix) that no instance had before
//     the cycle, except a replacement's own, because creates and deletes run in parallel.
//
// With clearProtection (before a full destroy) it also turns every deletion_protection off.
func (g *Generator) Next(clearProtection bool) (Config, []string) {
	m := &mutation{g: g, prev: g.cfg, touched: map[string]bool{}, keys: map[string]bool{}}
	m.next.Services = slices.Clone(g.cfg.Services)
	for _, s := range m.prev.Services {
		m.keys[s.key()] = true
	}
	ops := []func() bool{m.addService, m.removeService, m.replaceService, m.attach, m.detach, m.toggleProtection,
		m.backUp, m.dropBackup, m.retrigger, m.toggleFinalBackup}
	// Bounded, in case no change is possible: a cycle that changes nothing still applies and checks.
	for want, tries := 1+g.rng.IntN(3), 0; want > 0 && tries < 100; tries++ {
		if ops[g.rng.IntN(len(ops))]() {
			want--
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

// freePrefix returns a random prefix whose key is free for env and service (or equal to own),
// and takes it.
func (m *mutation) freePrefix(env int, service, own string) (string, bool) {
	for _, p := range m.g.rng.Perm(len(prefixes)) {
		s := Service{Env: env, Service: service, Prefix: prefixes[p]}
		if k := s.key(); !m.keys[k] || k == own {
			m.keys[k] = true
			return s.Prefix, true
		}
	}
	return "", false
}

func (m *mutation) wasAttachedOrProtected(name string) bool {
	before, existed := m.prev.find(name)
	return existed && (before.Attached || before.Protected)
}

func (m *mutation) addService() bool {
	if len(m.next.Services) >= maxServices {
		return false
	}
	env := m.g.rng.IntN(len(Environments))
	service := identifiers[m.g.rng.IntN(len(identifiers))]
	prefix, ok := m.freePrefix(env, service, "")
	if !ok {
		return false
	}
	m.g.names++
	// New services are never protected at once: one whose provisioning the soak stalls must be
	// replaceable, which deletion_protection rightly refuses (the user's step, not the soak's);
	// toggleProtection protects existing ones.
	s := Service{Name: fmt.Sprintf("s%d", m.g.names), Env: env, Service: service, Prefix: prefix,
		Attached: m.g.rng.IntN(3) == 0}
	m.next.Services = append(m.next.Services, s)
	m.touched[s.Name] = true
	m.changes = append(m.changes, fmt.Sprintf("add %s: %s %s on %s (attached %t, protected %t)",
		s.Name, s.Service, s.Prefix, Environments[s.Env], s.Attached, s.Protected))
	return true
}

// removeService removes a service, and with it its attachment if it has one.
func (m *mutation) removeService() bool {
	if len(m.next.Services) <= minServices {
		return false
	}
	i, ok := m.pick(func(s Service) bool {
		before, existed := m.prev.find(s.Name)
		return existed && !before.Protected
	})
	if !ok {
		return false
	}
	s := m.next.Services[i]
	m.next.Services = slices.Delete(m.next.Services, i, i+1)
	m.changes = append(m.changes, fmt.Sprintf("remove %s (attached %t)", s.Name, s.Attached))
	return true
}

// replaceService changes the prefix, or the service keeping the prefix if it is free for the new
// type (same type: the replacement's own key).
func (m *mutation) replaceService() bool {
	i, ok := m.pick(func(s Service) bool {
		_, existed := m.prev.find(s.Name)
		return existed && !m.wasAttachedOrProtected(s.Name)
	})
	if !ok {
		return false
	}
	s := &m.next.Services[i]
	own := s.key()
	service := s.Service
	if m.g.rng.IntN(2) == 0 {
		service = identifiers[m.g.rng.IntN(len(identifiers))]
	}
	prefix := s.Prefix
	if candidate := (Service{Env: s.Env, Service: service, Prefix: prefix}); service == s.Service || (m.keys[candidate.key()] && candidate.key() != own) {
		if prefix, ok = m.freePrefix(s.Env, service, ""); !ok {
			return false
		}
	} else {
		m.keys[candidate.key()] = true
	}
	m.changes = append(m.changes, fmt.Sprintf("replace %s: %s %s -> %s %s", s.Name, s.Service, s.Prefix, service, prefix))
	s.Service, s.Prefix = service, prefix
	if !backupable(service) {
		s.Backup = 0 // the API backs up DATABASE and STORAGE instances only
	}
	return true
}

func (m *mutation) attach() bool {
	i, ok := m.pick(func(s Service) bool { return !s.Attached })
	if !ok {
		return false
	}
	m.next.Services[i].Attached = true
	m.changes = append(m.changes, "attach "+m.next.Services[i].Name)
	return true
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

// HCL renders the configuration. Environments are found through the data sources, as a user
// would, so that their reads meet the faults too.
func (c Config) HCL() string {
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
		fmt.Fprintf(&b, "\nresource \"divio_service\" %q {\n  environment_id      = data.divio_environment.%s.id\n  service             = %q\n  prefix              = %q\n  deletion_protection = %t\n  final_backup        = %t\n\n  timeouts = {\n    create = %q\n  }\n}\n",
			s.Name, Environments[s.Env].dataName(), s.Service, s.Prefix, s.Protected, !s.NoFinalBackup, CreateTimeout)
		b.WriteString(s.backupHCL())
		if s.Attached {
			fmt.Fprintf(&b, "\nresource \"divio_service_attachment\" %q {\n  service_id = divio_service.%s.id\n  deploy     = true\n}\n", s.Name, s.Name)
		}
	}
	return b.String()
}
