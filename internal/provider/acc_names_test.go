package provider

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/divio/terraform-provider-divio/internal/divio"
	"github.com/divio/terraform-provider-divio/internal/simulator"
)

// The acceptance tests name what they use by the demo data's names (README.md, "Running the
// acceptance tests against a real Divio account"): applications demo-app and azure-app with
// environments test and live, regions by name, catalog entries by identifier. Against an
// in-process simulator their ids are the simulator's fixed ones; against the real API (or a
// divio-simulator process named by DIVIO_API_URL, as `make testacc-realapi` runs the suite) they
// are looked up through the API by those names, once per test process. What a test adds there is
// named for the test: its prefixes end with the test's tag (testPrefixOf), by which it tells its
// own instances from the others' (isOwnInstance).

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

func realToken() string { return os.Getenv(envToken) }

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

// accountID is simID, the simulator's fixed id, against an in-process simulator, and the id of key
// on the account (realID) against the real API.
func accountID(t testing.TB, simID, key string) string {
	if !useRealAPI() {
		return simID
	}
	return realID(t, key)
}

// testEnvironmentID is the id of an application's environment ("demo-app", "test").
func testEnvironmentID(t testing.TB, app, env string) string {
	return accountID(t, simulator.EnvironmentID(app, env), "env:"+app+"/"+env)
}

// testApplicationID is the id of an application by slug.
func testApplicationID(t testing.TB, slug string) string {
	return accountID(t, simulator.ApplicationID(slug), "app:"+slug)
}

// testOrganisationID is the id of the organisation that owns the application slug.
func testOrganisationID(t testing.TB, app string) string {
	return accountID(t, simulator.OrganisationID(simulator.DemoOrganisation), "org:"+app)
}

// testRegionID is the id of a region by name.
func testRegionID(t testing.TB, name string) string {
	return accountID(t, simulator.RegionID(name), "region:"+name)
}

// testServiceID is the id of a catalog entry by identifier ("postgres-15").
func testServiceID(t testing.TB, identifier string) string {
	return accountID(t, simulator.ServiceID(identifier), "service:"+identifier)
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

// isOwnInstance tells the test's instances: against a simulator of its own every one outside
// legacy-app; against the real API those whose prefix carries its tag.
func isOwnInstance(t testing.TB, in *divio.ServiceInstance) bool {
	if !useRealAPI() {
		return !legacyEnvironments[in.Environment]
	}
	return isTestInstance(in) && strings.HasSuffix(in.Prefix, "_"+testTag(t))
}
