package provider

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/divio/terraform-provider-divio/internal/divio"
	"github.com/divio/terraform-provider-divio/internal/simulator"
)

// The acceptance tests name what they use by the demo data's names (README.md, "Running the
// acceptance tests against a real Divio account"): applications demo-app and azure-app with
// environments test and live, regions by name, catalog entries by identifier. Against an
// in-process simulator their ids are the simulator's fixed ones; against the real API (or a
// divio-simulator process named by DIVIO_API_URL, as `make testacc-realapi` runs the suite) they
// are looked up through the API by those names, once per test process.

// realIDs are the ids of the names above on the account, or why they could not be read.
var realIDs = sync.OnceValues(func() (map[string]string, error) {
	client, err := divio.New(divio.Config{Endpoint: realEndpoint(), Token: realToken(), UserAgent: "terraform-provider-divio-acctest"})
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	ids := map[string]string{}
	regions, err := client.ListRegions(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing the regions: %w", err)
	}
	for _, r := range regions {
		ids["region:"+r.Name] = r.UUID
	}
	services, err := client.ListServices(ctx, divio.ServiceFilter{})
	if err != nil {
		return nil, fmt.Errorf("listing the catalog: %w", err)
	}
	for _, s := range services {
		ids["service:"+s.Identifier] = s.UUID
	}
	for _, slug := range []string{simulator.DemoApp, simulator.AzureApp} {
		apps, err := client.FindApplications(ctx, slug)
		if err != nil {
			return nil, fmt.Errorf("finding application %s: %w", slug, err)
		}
		for _, app := range apps {
			if app.Slug != slug {
				continue
			}
			ids["app:"+slug] = app.UUID
			ids["org:"+slug] = app.Organisation
			envs, err := client.FindEnvironments(ctx, app.UUID, "")
			if err != nil {
				return nil, fmt.Errorf("listing the environments of %s: %w", slug, err)
			}
			for _, env := range envs {
				if env.Application == app.UUID {
					ids["env:"+slug+"/"+env.Slug] = env.UUID
				}
			}
		}
	}
	return ids, nil
})

func realEndpoint() string { return os.Getenv(envEndpoint) }
func realToken() string    { return os.Getenv(envToken) }

// realID is the id of key ("env:demo-app/test") on the account, failing the test when the account
// has none: the README says what the account must hold.
func realID(t testing.TB, key string) string {
	t.Helper()
	ids, err := realIDs()
	if err != nil {
		t.Fatalf("reading the ids of the tests' applications, environments, regions and services through the API: %v", err)
	}
	id, ok := ids[key]
	if !ok {
		what, name, _ := strings.Cut(key, ":")
		t.Fatalf("the account has no %s %q that the token can see; the acceptance tests need the names README.md lists (\"Running the acceptance tests against a real Divio account\")", what, name)
	}
	return id
}

// testEnvironmentID is the id of an application's environment ("demo-app", "test").
func testEnvironmentID(t testing.TB, app, env string) string {
	if !useRealAPI() {
		return simulator.EnvironmentID(app, env)
	}
	return realID(t, "env:"+app+"/"+env)
}

// testApplicationID is the id of an application by slug.
func testApplicationID(t testing.TB, slug string) string {
	if !useRealAPI() {
		return simulator.ApplicationID(slug)
	}
	return realID(t, "app:"+slug)
}

// testOrganisationID is the id of the organisation that owns the application slug.
func testOrganisationID(t testing.TB, app string) string {
	if !useRealAPI() {
		return simulator.OrganisationID(simulator.DemoOrganisation)
	}
	return realID(t, "org:"+app)
}

// testRegionID is the id of a region by name.
func testRegionID(t testing.TB, name string) string {
	if !useRealAPI() {
		return simulator.RegionID(name)
	}
	return realID(t, "region:"+name)
}

// testServiceID is the id of a catalog entry by identifier ("postgres-15").
func testServiceID(t testing.TB, identifier string) string {
	if !useRealAPI() {
		return simulator.ServiceID(identifier)
	}
	return realID(t, "service:"+identifier)
}

// demoTest is the id of demo-app/test, where most tests add their instances.
func (e *testEnv) demoTest() string {
	return testEnvironmentID(e.t, simulator.DemoApp, simulator.EnvTest)
}

// testTag is a short tag of a test's name: against the real API every prefix a test gives an
// instance ends with it, so that tests running at once in one environment never claim the same
// prefix, and each test tells its own instances from the others'.
func testTag(t testing.TB) string {
	h := fnv.New32a()
	h.Write([]byte(t.Name()))
	const digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	v := h.Sum32()
	tag := make([]byte, 5)
	for i := range tag {
		tag[i] = digits[v%32]
		v /= 32
	}
	return string(tag)
}

// testPrefixOf is the prefix a test gives the instance it calls name: name itself against a
// simulator of the test's own (so that tests of DEFAULT assert what users get); against the real
// API testPrefix(name) and the test's tag, e.g. TFACC_DEFAULT_K3Q2B.
func testPrefixOf(t testing.TB, name string) string {
	if !useRealAPI() {
		return name
	}
	return testPrefix(name) + "_" + testTag(t)
}

// prefix is testPrefixOf for the environment's test.
func (e *testEnv) prefix(name string) string { return testPrefixOf(e.t, name) }

// isOwnInstance tells the test's instances: against a simulator of its own every one outside
// legacy-app; against the real API those whose prefix carries its tag.
func isOwnInstance(t testing.TB, in *divio.ServiceInstance) bool {
	if !useRealAPI() {
		return !legacyEnvironments[in.Environment]
	}
	return isTestInstance(in) && strings.HasSuffix(in.Prefix, "_"+testTag(t))
}

// ownInstances lists through the API the test's instances in an environment that are not
// removed, oldest first.
func (e *testEnv) ownInstances(envID string) ([]divio.ServiceInstance, error) {
	client := e.client(e.t)
	all, err := client.ListServiceInstances(context.Background(), envID)
	if err != nil {
		return nil, fmt.Errorf("listing the instances of %s: %w", envID, err)
	}
	all = slices.DeleteFunc(all, func(in divio.ServiceInstance) bool { return in.Environment != envID || !isOwnInstance(e.t, &in) })
	slices.SortStableFunc(all, func(a, b divio.ServiceInstance) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return all, nil
}

// instance reads one instance through the API.
func (e *testEnv) instance(id string) (*divio.ServiceInstance, error) {
	return e.client(e.t).GetServiceInstance(context.Background(), id)
}

// The checks below read through the API what the simulator-only helpers of
// service_resource_test.go read from the simulator's records, so that a test runs the same in
// both modes. They see only the test's own instances (isOwnInstance) in demo-app/test.

// onlyLiveInstance returns the test's one instance in demo-app/test that is not removed.
func (e *testEnv) onlyLiveInstance() (divio.ServiceInstance, error) {
	live, err := e.ownInstances(e.demoTest())
	if err != nil {
		return divio.ServiceInstance{}, err
	}
	if len(live) != 1 {
		return divio.ServiceInstance{}, fmt.Errorf("want exactly 1 instance of the test's that is not REMOVED, got %d: %+v", len(live), live)
	}
	return live[0], nil
}

// expectLiveInstance checks the test's only live instance in demo-app/test; prefix is the name
// the test gives it (testEnv.prefix).
func (e *testEnv) expectLiveInstance(service, prefix, status string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		in, err := e.onlyLiveInstance()
		if err != nil {
			return err
		}
		want := divio.ServiceInstance{
			UUID: in.UUID, Environment: e.demoTest(), Region: testRegionID(e.t, simulator.RegionAWSEUCentral1),
			Service: testServiceID(e.t, service), Prefix: e.prefix(prefix), Type: in.Type, Status: status,
			AttachRequested: false, CreatedAt: in.CreatedAt,
		}
		if in != want {
			return fmt.Errorf("instance read through the API:\n got %+v\nwant %+v", in, want)
		}
		return nil
	}
}

// expectStateIDIsLiveInstance checks that the state tracks the test's only live instance.
func (e *testEnv) expectStateIDIsLiveInstance() resource.TestCheckFunc {
	return func(s *terraform.State) error {
		in, err := e.onlyLiveInstance()
		if err != nil {
			return err
		}
		return resource.TestCheckResourceAttr(serviceAddr, "id", in.UUID)(s)
	}
}

// checkNoInstanceLeft checks that none of the test's instances in demo-app/test is left.
func (e *testEnv) checkNoInstanceLeft() resource.TestCheckFunc {
	return func(*terraform.State) error {
		live, err := e.ownInstances(e.demoTest())
		if err != nil {
			return err
		}
		if len(live) > 0 {
			return fmt.Errorf("instances left after destroy: %+v", live)
		}
		return nil
	}
}

// defaultDatabaseVarNames are the variable names of the test's DATABASE instance it calls DEFAULT:
// DEFAULT's, alias included, against a simulator of its own; its TFACC_ prefix's against the real
// API, where the tests never use DEFAULT itself.
func (e *testEnv) defaultDatabaseVarNames() knownvalue.Check {
	if p := e.prefix("DEFAULT"); p != "DEFAULT" {
		return stringList(p + "_DATABASE_DSN")
	}
	return stringList("DATABASE_URL", "DEFAULT_DATABASE_DSN")
}

var prefixArgument = regexp.MustCompile(`(?m)^(\s*prefix\s*=\s*)"([A-Z][A-Z0-9_]*)"`)

// withPrefixes gives the arguments of a divio_service the test's prefixes against the real API:
// each `prefix = "NAME"` becomes testEnv.prefix(NAME), and arguments without one get
// testEnv.prefix("DEFAULT"), as the real account's DEFAULT instances are never the tests'.
// Against a simulator of the test's own it returns them as they are.
func (e *testEnv) withPrefixes(args string) string {
	if e.prefix("DEFAULT") == "DEFAULT" {
		return args
	}
	if !strings.Contains(args, "prefix") {
		return args + fmt.Sprintf("\n  prefix = %q\n", e.prefix("DEFAULT"))
	}
	return prefixArgument.ReplaceAllStringFunc(args, func(m string) string {
		sub := prefixArgument.FindStringSubmatch(m)
		return sub[1] + strconv.Quote(e.prefix(sub[2]))
	})
}
