package simulator

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Names of the fixed data, so that examples, tests and docs can refer to them.
const (
	DatasetDemo  = "demo"
	DatasetBench = "bench"

	DemoToken          = "demo-token"
	DemoOrganisation   = "demo-org"
	LegacyOrganisation = "legacy-org"
	BenchOrganisation  = "bench-org"
	DemoApp            = "demo-app"
	AzureApp           = "azure-app"
	LegacyApp          = "legacy-app"
	EnvTest            = "test"
	EnvLive            = "live"

	// DemoUser and BenchUser name the user that every accepted token
	// belongs to (GET /iam/v3/me/), in the demo and the bench data set.
	DemoUser  = "demo"
	BenchUser = "bench"

	RegionAWSEUCentral1   = "aws-eu-central-1"
	RegionAWSUSEast1      = "aws-us-east-1"
	RegionAzureWestEurope = "azure-westeurope"
	RegionExoscaleCHDK2   = "exoscale-ch-dk-2"

	ServicePostgres15     = "postgres-15"
	ServicePostgres16     = "postgres-16"
	ServiceMySQL8         = "mysql-8"
	ServiceS3             = "s3"
	ServiceMSBlob         = "ms-blob"
	ServiceSOS            = "sos"
	ServiceElasticsearch8 = "elasticsearch-8"
	ServiceRabbitMQ3      = "rabbitmq-3"
)

// Catalog types.
const (
	TypeDatabase     = "DATABASE"
	TypeStorage      = "STORAGE"
	TypeSearch       = "SEARCH"
	TypeMessageQueue = "MESSAGE_QUEUE"
)

// idNamespace roots every stable id of the data sets; changing it would
// break every example that names an id.
var idNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/divio/terraform-provider-divio/simulator"))

func stableID(kind, name string) string {
	return uuid.NewSHA1(idNamespace, []byte(kind+"/"+name)).String()
}

// RegionID is the stable uuid of the region with the given name.
func RegionID(name string) string { return stableID("region", name) }

// ServiceID is the stable uuid of the catalog entry with the given identifier.
func ServiceID(identifier string) string { return stableID("service", identifier) }

// OrganisationID is the stable uuid of the organisation with the given name.
func OrganisationID(name string) string { return stableID("organisation", name) }

// ApplicationID is the stable uuid of the application with the given slug.
func ApplicationID(slug string) string { return stableID("application", slug) }

// EnvironmentID is the stable uuid of an application's environment.
func EnvironmentID(appSlug, envSlug string) string {
	return stableID("environment", appSlug+"/"+envSlug)
}

// UserID is the stable uuid of the user with the given name (DemoUser, BenchUser).
func UserID(name string) string { return stableID("user", name) }

// SeedInstanceID is the stable uuid of an instance that the data set starts
// with: the one of the service identifier and prefix in an application's
// environment (legacy-app's DEFAULT postgres-15 and s3, in each environment).
func SeedInstanceID(appSlug, envSlug, identifier, prefix string) string {
	return stableID("instance", appSlug+"/"+envSlug+"/"+identifier+"/"+prefix)
}

// SeedDeploymentID is the stable uuid of the finished deployment that
// attached the seeded instances of an application's environment.
func SeedDeploymentID(appSlug, envSlug string) string {
	return stableID("deployment", appSlug+"/"+envSlug)
}

type region struct {
	UUID   string `json:"uuid"`
	Name   string `json:"name"`
	Vendor string `json:"vendor"`
}

type service struct {
	UUID        string `json:"uuid"`
	Name        string `json:"name"`
	Type        string `json:"type"`
	Identifier  string `json:"identifier"`
	Description string `json:"description"`
	// dsnFormat shapes the instance's secret: {user}, {password}, {host}, {name}.
	dsnFormat string
	// engine and version say what a backup restores into and what a platform
	// upgrade may turn an instance into: the same engine, the same or a newer
	// version. Kept here, so that no rule parses an identifier.
	engine  string
	version int
}

type organisation struct {
	UUID      string    `json:"uuid"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

type user struct {
	UUID      string `json:"uuid"`
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

type application struct {
	UUID         string `json:"uuid"`
	Slug         string `json:"slug"`
	Name         string `json:"name"`
	Region       string `json:"region"`
	Organisation string `json:"organisation"`
	// The Divio CLI finds an environment through these to add an instance.
	TestStatus environmentStatus `json:"test_status"`
	LiveStatus environmentStatus `json:"live_status"`
	// included is the number of instances of each service identifier in the
	// application's subscription: subscriptions belong to applications.
	included map[string]int
}

type environmentStatus struct {
	UUID    string `json:"uuid"`
	SiteURL string `json:"site_url"`
}

type environment struct {
	UUID        string      `json:"uuid"`
	Slug        string      `json:"slug"`
	Application string      `json:"application"`
	Branch      string      `json:"branch"`
	SSHEndpoint sshEndpoint `json:"ssh_endpoint"`
}

type sshEndpoint struct {
	Host string `json:"host"`
	Port int    `json:"port"`
	User string `json:"user"`
}

// dataset is the fixed part of the world: what clients can read but not change.
type dataset struct {
	name          string
	user          user
	regions       []region
	catalog       []service
	offerings     map[string][]string // vendor -> service identifiers
	organisations []organisation
	applications  []application
	environments  []environment
	seeds         []seed
}

// seed is an instance that the data set starts with, attached by a finished
// deployment, as in a project made before Terraform.
type seed struct {
	app, env, identifier, prefix string
}

var catalog = []service{
	{Name: "PostgreSQL 15", Type: TypeDatabase, Identifier: ServicePostgres15,
		Description: "Managed PostgreSQL 15 database.",
		dsnFormat:   "postgres://{user}:{password}@{host}:5432/{name}", engine: "postgres", version: 15},
	{Name: "PostgreSQL 16", Type: TypeDatabase, Identifier: ServicePostgres16,
		Description: "Managed PostgreSQL 16 database.",
		dsnFormat:   "postgres://{user}:{password}@{host}:5432/{name}", engine: "postgres", version: 16},
	{Name: "MySQL 8", Type: TypeDatabase, Identifier: ServiceMySQL8,
		Description: "Managed MySQL 8 database.",
		dsnFormat:   "mysql://{user}:{password}@{host}:3306/{name}", engine: "mysql", version: 8},
	{Name: "Amazon S3", Type: TypeStorage, Identifier: ServiceS3,
		Description: "Object storage bucket on Amazon S3.",
		dsnFormat:   "s3://{user}:{password}@{name}.{host}/?auth=s3v4", engine: "s3", version: 1},
	{Name: "Azure Blob Storage", Type: TypeStorage, Identifier: ServiceMSBlob,
		Description: "Object storage container on Azure Blob Storage.",
		dsnFormat:   "ms-blob://{user}:{password}@{host}/{name}", engine: "ms-blob", version: 1},
	{Name: "Exoscale Simple Object Storage", Type: TypeStorage, Identifier: ServiceSOS,
		Description: "Object storage bucket on Exoscale SOS.",
		dsnFormat:   "s3://{user}:{password}@{name}.{host}/?auth=s3v4", engine: "sos", version: 1},
	{Name: "Elasticsearch 8", Type: TypeSearch, Identifier: ServiceElasticsearch8,
		Description: "Managed Elasticsearch 8 cluster.",
		dsnFormat:   "https://{user}:{password}@{host}:9243/{name}", engine: "elasticsearch", version: 8},
	{Name: "RabbitMQ 3", Type: TypeMessageQueue, Identifier: ServiceRabbitMQ3,
		Description: "Managed RabbitMQ 3 message broker.",
		dsnFormat:   "amqps://{user}:{password}@{host}:5671/{name}", engine: "rabbitmq", version: 3},
}

var offeringsByVendor = map[string][]string{
	"aws":      {ServicePostgres15, ServicePostgres16, ServiceMySQL8, ServiceS3, ServiceElasticsearch8, ServiceRabbitMQ3},
	"azure":    {ServicePostgres15, ServicePostgres16, ServiceMySQL8, ServiceMSBlob},
	"exoscale": {ServicePostgres15, ServiceSOS},
}

var regions = []region{
	{Name: RegionAWSEUCentral1, Vendor: "aws"},
	{Name: RegionAWSUSEast1, Vendor: "aws"},
	{Name: RegionAzureWestEurope, Vendor: "azure"},
	{Name: RegionExoscaleCHDK2, Vendor: "exoscale"},
}

// The demo subscriptions, per application, as the contract gives them.
// demo-app's leaves out Elasticsearch on purpose, so that adding it fails the
// way it does on a real account without it.
var (
	demoAppSubscription = map[string]int{
		ServicePostgres15: 4, ServicePostgres16: 2, ServiceMySQL8: 2, ServiceS3: 2, ServiceRabbitMQ3: 1, ServiceElasticsearch8: 0,
	}
	azureAppSubscription  = map[string]int{ServicePostgres15: 2, ServicePostgres16: 1, ServiceMySQL8: 1, ServiceMSBlob: 2}
	legacyAppSubscription = map[string]int{ServicePostgres15: 2, ServicePostgres16: 2, ServiceS3: 2}
)

// benchAllowance stands for the bench's unlimited subscription: large enough
// that no benchmark or soak run meets it, and a real count, so that the
// catalog's available has an honest number to show. `make bench` adds 1400
// postgres instances to one simulator (issue 14's 100, 300 and 1000).
const benchAllowance = 5000

func benchSubscription() map[string]int {
	included := map[string]int{}
	for _, svc := range catalog {
		included[svc.Identifier] = benchAllowance
	}
	return included
}

// Creation times of the fixed records, so that they read the same in every run.
var (
	demoCreated   = time.Date(2025, 1, 15, 9, 0, 0, 0, time.UTC)
	legacyCreated = time.Date(2019, 4, 1, 9, 0, 0, 0, time.UTC)
)

func loadDataset(name string) (*dataset, error) {
	switch name {
	case DatasetDemo:
		return newDataset(DatasetDemo, user{Email: "demo@example.com", FirstName: "Demo", LastName: "User"}, DemoUser,
			orgSpec{name: DemoOrganisation, created: demoCreated, apps: []appSpec{
				{slug: DemoApp, name: "Demo App", region: RegionAWSEUCentral1, included: demoAppSubscription},
				{slug: AzureApp, name: "Azure App", region: RegionAzureWestEurope, included: azureAppSubscription},
			}},
			orgSpec{name: LegacyOrganisation, created: legacyCreated, apps: []appSpec{
				{slug: LegacyApp, name: "Legacy App", region: RegionAWSEUCentral1, included: legacyAppSubscription,
					seeded: []string{ServicePostgres15, ServiceS3}},
			}}), nil
	case DatasetBench:
		var apps []appSpec
		for i := 1; i <= 4; i++ {
			apps = append(apps, appSpec{slug: fmt.Sprintf("bench-app-%d", i), name: fmt.Sprintf("Bench App %d", i),
				region: RegionAWSEUCentral1, included: benchSubscription()})
		}
		return newDataset(DatasetBench, user{Email: "bench@example.com", FirstName: "Bench", LastName: "User"}, BenchUser,
			orgSpec{name: BenchOrganisation, created: demoCreated, apps: apps}), nil
	}
	return nil, fmt.Errorf("unknown dataset %q (want %q or %q)", name, DatasetDemo, DatasetBench)
}

type orgSpec struct {
	name    string
	created time.Time
	apps    []appSpec
}

// appSpec is an application and its subscription; seeded names the services
// of which each of its environments starts with an attached DEFAULT instance.
type appSpec struct {
	slug, name, region string
	included           map[string]int
	seeded             []string
}

func newDataset(name string, u user, userName string, orgs ...orgSpec) *dataset {
	u.UUID = UserID(userName)
	ds := &dataset{name: name, user: u, offerings: offeringsByVendor}
	for _, r := range regions {
		r.UUID = RegionID(r.Name)
		ds.regions = append(ds.regions, r)
	}
	for _, svc := range catalog {
		svc.UUID = ServiceID(svc.Identifier)
		ds.catalog = append(ds.catalog, svc)
	}
	for _, o := range orgs {
		ds.organisations = append(ds.organisations, organisation{
			UUID: OrganisationID(o.name), Name: o.name, CreatedAt: o.created,
		})
		for _, a := range o.apps {
			ds.addApplication(a, OrganisationID(o.name))
		}
	}
	return ds
}

func (ds *dataset) addApplication(a appSpec, orgID string) {
	app := application{
		UUID: ApplicationID(a.slug), Slug: a.slug, Name: a.name, Region: RegionID(a.region), Organisation: orgID,
		TestStatus: environmentStatus{UUID: EnvironmentID(a.slug, EnvTest), SiteURL: "https://" + a.slug + "-test.sim.divio.local"},
		LiveStatus: environmentStatus{UUID: EnvironmentID(a.slug, EnvLive), SiteURL: "https://" + a.slug + ".sim.divio.local"},
		included:   a.included,
	}
	ds.applications = append(ds.applications, app)
	for _, env := range []string{EnvTest, EnvLive} {
		ds.environments = append(ds.environments, environment{
			UUID: EnvironmentID(a.slug, env), Slug: env, Application: app.UUID, Branch: "main",
			SSHEndpoint: sshEndpoint{Host: "ssh." + a.region + ".sim.divio.local", Port: 22, User: a.slug + "-" + env},
		})
		for _, identifier := range a.seeded {
			ds.seeds = append(ds.seeds, seed{app: a.slug, env: env, identifier: identifier, prefix: "DEFAULT"})
		}
	}
}

func (ds *dataset) region(id string) (region, bool) {
	return find(ds.regions, func(r region) bool { return r.UUID == id })
}
func (ds *dataset) service(id string) (service, bool) {
	return find(ds.catalog, func(s service) bool { return s.UUID == id })
}
func (ds *dataset) application(id string) (application, bool) {
	return find(ds.applications, func(a application) bool { return a.UUID == id })
}
func (ds *dataset) environment(id string) (environment, bool) {
	return find(ds.environments, func(e environment) bool { return e.UUID == id })
}

// offers reports whether the region offers the service identifier.
func (ds *dataset) offers(r region, identifier string) bool {
	for _, id := range ds.offerings[r.Vendor] {
		if id == identifier {
			return true
		}
	}
	return false
}

// appOfEnvironment returns the application and region an environment belongs to.
func (ds *dataset) appOfEnvironment(envID string) (environment, application, region, bool) {
	env, ok := ds.environment(envID)
	if !ok {
		return environment{}, application{}, region{}, false
	}
	app, _ := ds.application(env.Application)
	reg, _ := ds.region(app.Region)
	return env, app, reg, true
}

// organisationOf returns the organisation of an environment's application.
func (ds *dataset) organisationOf(envID string) string {
	_, app, _, _ := ds.appOfEnvironment(envID)
	return app.Organisation
}

// dsn renders the secret that an instance publishes; it reads like the real
// thing so that applications and tests can parse it.
func (svc service) dsn(reg region, inst *instanceRecord) string {
	short := strings.SplitN(inst.UUID, "-", 2)[0]
	name := strings.ToLower(strings.ReplaceAll(inst.Prefix, "_", "-")) + "-" + short
	return strings.NewReplacer(
		"{user}", strings.ToLower(inst.Prefix)+"_"+short,
		"{password}", inst.Password,
		"{host}", fmt.Sprintf("%s.%s.%s.sim.divio.local", short, svc.Identifier, reg.Name),
		"{name}", name,
	).Replace(svc.dsnFormat)
}

func find[T any](items []T, match func(T) bool) (T, bool) {
	for _, it := range items {
		if match(it) {
			return it, true
		}
	}
	var zero T
	return zero, false
}

func filter[T any](items []T, keep func(T) bool) []T {
	out := []T{}
	for _, it := range items {
		if keep(it) {
			out = append(out, it)
		}
	}
	return out
}

// DatasetSummary names what a simulator's data set holds, for the command's
// start-up message.
type DatasetSummary struct {
	Name         string
	Applications []ApplicationSummary
}

// ApplicationSummary is an application and its environments.
type ApplicationSummary struct {
	Slug, UUID   string
	Environments []EnvironmentSummary
}

// EnvironmentSummary is one environment of an application.
type EnvironmentSummary struct{ Slug, UUID string }

// Dataset summarises the data set the simulator serves.
func (s *Simulator) Dataset() DatasetSummary {
	sum := DatasetSummary{Name: s.data.name}
	for _, app := range s.data.applications {
		a := ApplicationSummary{Slug: app.Slug, UUID: app.UUID}
		for _, env := range s.data.environments {
			if env.Application == app.UUID {
				a.Environments = append(a.Environments, EnvironmentSummary{Slug: env.Slug, UUID: env.UUID})
			}
		}
		sum.Applications = append(sum.Applications, a)
	}
	return sum
}

// Tokens returns the API tokens the simulator accepts.
func (s *Simulator) Tokens() []string {
	tokens := make([]string, 0, len(s.tokens))
	for _, t := range s.tokens {
		tokens = append(tokens, string(t))
	}
	return tokens
}
