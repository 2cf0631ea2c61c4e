package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/divio/terraform-provider-divio/internal/divio"
	"github.com/divio/terraform-provider-divio/internal/simulator"
)

// What the acceptance tests share: testEnv, where a test runs (its own in-process simulator, or
// the real Divio API), with the set-up and checks that run the same test in both modes; the
// configurations and API calls more than one test file uses; and errorText. Serving, reading and
// changing the simulator itself is sim_helpers_test.go's; the names the tests use, and their ids,
// acc_names_test.go's; the provider factories, provider_test.go's.

// testEnv is where an acceptance test runs: the real Divio API when DIVIO_API_URL and
// DIVIO_API_TOKEN are set, otherwise a simulator of its own, in-process, with no delays, so that
// tests can run in parallel without seeing each other's services.
type testEnv struct {
	URL   string
	Token string
	// Sim is nil against the real API.
	Sim *simulator.Simulator
	// t is the test the environment serves: its instances' prefixes carry its tag against the
	// real API (testEnv.prefix).
	t *testing.T
}

func newTestEnv(t *testing.T, opts ...func(*simulator.Options)) *testEnv {
	t.Helper()
	if useRealAPI() {
		e := &testEnv{URL: os.Getenv(envEndpoint), Token: os.Getenv(envToken), t: t}
		t.Cleanup(e.deleteOwnBackups)
		return e
	}
	return newSimulatorEnv(t, opts...)
}

// newSimulatorEnv serves a simulator of the test's own, also when the suite runs against the
// real API: for tests of what runs against any API, such as the sweepers.
func newSimulatorEnv(t *testing.T, opts ...func(*simulator.Options)) *testEnv {
	t.Helper()
	o := simulator.Options{}
	for _, opt := range opts {
		opt(&o)
	}
	sim, url := serveSimulator(t, o, nil)
	return &testEnv{URL: url, Token: simulator.DemoToken, Sim: sim, t: t}
}

// requireSim returns the simulator, or skips, against the real API, a test that needs a simulator
// of its own: its admin API (a forced state, an injected fault, a stall or its clock), or an
// environment that no one else deploys meanwhile (an instance left marked, an exact count of
// deployments), or what only the demo data holds (DEFAULT, legacy-app). The tests that run
// against the real API read what they check through it (testEnv's checks below).
func (e *testEnv) requireSim(t *testing.T) *simulator.Simulator {
	t.Helper()
	if e.Sim == nil {
		t.Skip("needs a simulator of its own (its admin API, faults or clock, or an environment no one else deploys); skipped against the real Divio API")
	}
	return e.Sim
}

// config prefixes a test configuration with the provider block for this environment. Against
// the real API the token comes from DIVIO_API_TOKEN, so that it is never written into a config.
func (e *testEnv) config(body string) string {
	if e.Sim == nil {
		if strings.TrimSpace(body) == "" {
			return "# nothing: every resource of the test is removed\n" // a step needs a config
		}
		return body
	}
	return fmt.Sprintf("provider \"divio\" {\n  endpoint  = %q\n  api_token = %q\n}\n\n%s", e.URL, e.Token, body)
}

// client is an API client of the test's simulator, for set-up and for reading what tests expect.
func (e *testEnv) client(t *testing.T) *divio.Client {
	t.Helper()
	p := testProvider() // polled and retried as quickly as the provider under test
	c, err := divio.New(divio.Config{Endpoint: e.URL, Token: e.Token, Poll: p.poll, RetryWaitMin: p.retryWaitMin})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// addTestInstance adds an instance and, if provision, waits until it is functional. Its prefix is
// testPrefixOf(t, prefix), so that on a real account the sweepers know it for a test's, and the
// test knows it for its own.
func addTestInstance(t *testing.T, client *divio.Client, envID, identifier, prefix string, provision bool) *divio.ServiceInstance {
	t.Helper()
	ctx := context.Background()
	prefix = testPrefixOf(t, prefix)
	inst, err := client.CreateServiceInstance(ctx, divio.CreateServiceInstanceRequest{
		Environment: envID, Service: testServiceID(t, identifier), Prefix: prefix,
	})
	if err != nil {
		t.Fatalf("creating %s %s: %v", identifier, prefix, err)
	}
	if !provision {
		return inst
	}
	if err := client.ProvisionServiceInstance(ctx, inst.UUID); err != nil {
		t.Fatal(err)
	}
	inst, err = client.WaitForInstance(ctx, inst.UUID, "be provisioned", (*divio.ServiceInstance).Functional)
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// errorText matches the parts of a message in order, each of which Terraform may have wrapped
// over several lines: between two words it allows only white space. That serves resources and
// data sources alike: terraform-plugin-testing, like the tests' own CLI runs, calls Terraform with
// -no-color, which prints a diagnostic plain, without the │ ruler of its boxed form (Terraform
// 1.5.7, 1.11 and 1.14, OpenTofu 1.12).
func errorText(parts ...string) *regexp.Regexp {
	quoted := make([]string, len(parts))
	for i, part := range parts {
		words := strings.Fields(part)
		for j, w := range words {
			words[j] = regexp.QuoteMeta(w)
		}
		quoted[i] = strings.Join(words, `\s+`)
	}
	return regexp.MustCompile(strings.Join(quoted, `[\s\S]*`))
}

// demoTest is the id of demo-app/test, where most tests add their instances.
func (e *testEnv) demoTest() string {
	return testEnvironmentID(e.t, simulator.DemoApp, simulator.EnvTest)
}

// prefix is testPrefixOf for the environment's test.
func (e *testEnv) prefix(name string) string { return testPrefixOf(e.t, name) }

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

// The checks below run the same test in both modes. Against a simulator of the test's own they
// read its records, which show every environment and fields the API does not; against the real
// API they read through the API, and see only the test's own instances (isOwnInstance) in
// demo-app/test.

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
// the test gives it (testEnv.prefix). Against a simulator of the test's own it checks the
// simulator's record, as the simulator-only tests do; against the real API what the API shows,
// where an instance that awaits attachment (PENDING_ATTACHMENT) may be ATTACHED already: any
// deployment of the shared environment, another test's too, attaches it (the contract's rule 1).
func (e *testEnv) expectLiveInstance(service, prefix, status string) resource.TestCheckFunc {
	if e.Sim != nil {
		return func(*terraform.State) error {
			in, err := onlySimInstance(e.Sim)
			if err != nil {
				return err
			}
			want := simulator.Instance{
				UUID: in.UUID, Environment: demoTestEnvID, Region: simulator.RegionID(simulator.RegionAWSEUCentral1),
				Service: simulator.ServiceID(service), Prefix: prefix, Type: in.Type, Status: status,
				CreatedAt: in.CreatedAt,
			}
			if in != want {
				return fmt.Errorf("simulator instance:\n got %+v\nwant %+v", in, want)
			}
			return nil
		}
	}
	return func(*terraform.State) error {
		in, err := e.onlyLiveInstance()
		if err != nil {
			return err
		}
		want := divio.ServiceInstance{
			UUID: in.UUID, Environment: e.demoTest(), Region: testRegionID(e.t, simulator.RegionAWSEUCentral1),
			Service: testServiceID(e.t, service), Prefix: e.prefix(prefix), Type: in.Type, Status: status,
			CreatedAt: in.CreatedAt,
		}
		if status == divio.StatusPendingAttachment && in.Status == divio.StatusAttached {
			want.Status = in.Status
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
		id, err := e.onlyLiveInstanceID()
		if err != nil {
			return err
		}
		return resource.TestCheckResourceAttr(serviceAddr, "id", id)(s)
	}
}

// onlyLiveInstanceID returns the id of the test's only live instance: the only one in its own
// simulator (onlySimInstance), or the only one of the test's in demo-app/test through the API.
func (e *testEnv) onlyLiveInstanceID() (string, error) {
	if e.Sim != nil {
		in, err := onlySimInstance(e.Sim)
		return in.UUID, err
	}
	in, err := e.onlyLiveInstance()
	return in.UUID, err
}

// checkNoInstanceLeft checks that none of the test's instances is left: in any environment of its
// own simulator, or in demo-app/test against the real API.
func (e *testEnv) checkNoInstanceLeft() resource.TestCheckFunc {
	return func(*terraform.State) error {
		if e.Sim != nil {
			if live := liveInstances(e.Sim); len(live) > 0 {
				return fmt.Errorf("instances left after destroy: %+v", live)
			}
			return nil
		}
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

// stringList is a list of exactly these strings.
func stringList(values ...string) knownvalue.Check {
	checks := make([]knownvalue.Check, len(values))
	for i, v := range values {
		checks[i] = knownvalue.StringExact(v)
	}
	return knownvalue.ListExact(checks)
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

// expectInstance checks through the API that an instance has a status. (An instance awaits
// attachment only in an environment that no one else deploys: tests of that run against a
// simulator of their own, with expectSimInstance.)
func (e *testEnv) expectInstance(id, status string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		in, err := e.instance(id)
		if err != nil {
			return fmt.Errorf("reading instance %s: %w", id, err)
		}
		if in.Status != status {
			return fmt.Errorf("instance %s is %s, want %s", id, in.Status, status)
		}
		return nil
	}
}

// expectDeployments checks how many deployments the test's simulator ran in all. Against the
// real API, where other tests (and sweeps) deploy the same environments, it checks nothing: the
// count of an environment's deployments is not the test's to know there.
func (e *testEnv) expectDeployments(want int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if e.Sim == nil {
			return nil
		}
		if got := len(testDeployments(e.Sim)); got != want {
			return fmt.Errorf("the simulator ran %d deployments, want %d", got, want)
		}
		return nil
	}
}

// expectLastDeploymentIn checks that attribute holds the id of the newest deployment of the
// test's simulator; against the real API, that it holds a deployment of envID that succeeded, or,
// for an attachment's deployment_id, nothing when another test's deployment attached the instance.
func (e *testEnv) expectLastDeploymentIn(envID, addr, attribute string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		if e.Sim != nil {
			deps := testDeployments(e.Sim)
			if len(deps) == 0 {
				return fmt.Errorf("the simulator ran no deployment")
			}
			return resource.TestCheckResourceAttr(addr, attribute, deps[len(deps)-1].UUID)(s)
		}
		rs, ok := s.RootModule().Resources[addr]
		if !ok {
			return fmt.Errorf("no %s in the state", addr)
		}
		id := rs.Primary.Attributes[attribute]
		if id == "" && attribute == "deployment_id" {
			// Another test's deployment of the shared environment attached the instance first (every
			// deployment attaches what awaits attachment), so none of Terraform's was needed.
			return nil
		}
		d, err := e.client(e.t).GetDeployment(context.Background(), id)
		if err != nil {
			return fmt.Errorf("%s.%s = %q: reading the deployment: %w", addr, attribute, id, err)
		}
		if d.Environment != envID || !d.Succeeded() {
			return fmt.Errorf("%s.%s is deployment %s of environment %s, %s; want a successful one of %s", addr, attribute, id, d.Environment, d.Status, envID)
		}
		return nil
	}
}

// checkNothingAttached is a CheckDestroy: none of the test's instances in envID is in use any
// more; against a simulator of the test's own, none in any environment.
func (e *testEnv) checkNothingAttached(envID string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if e.Sim != nil {
			for _, in := range testInstances(e.Sim) {
				if in.Status == simulator.StatusAttached || in.Status == simulator.StatusPendingDetachment {
					return fmt.Errorf("instance %s is still %s after destroy", in.UUID, in.Status)
				}
			}
			return nil
		}
		own, err := e.ownInstances(envID)
		if err != nil {
			return err
		}
		for _, in := range own {
			if in.InUse() {
				return fmt.Errorf("instance %s is still %s after destroy", in.UUID, in.Status)
			}
		}
		return nil
	}
}

// addInstance is addTestInstance in the test's environment; against the real API it removes the
// instance once the test is over (removeWhenDone).
func (e *testEnv) addInstance(envID, identifier, name string, provision bool) *divio.ServiceInstance {
	e.t.Helper()
	client := e.client(e.t)
	inst := addTestInstance(e.t, client, envID, identifier, name, provision)
	e.removeWhenDone(envID, inst.UUID)
	return inst
}

// removeWhenDone removes, against the real API, an instance that the test added through the API,
// once the test is over: detached first (by a deployment) if it is in use, as a sweep would. A
// simulator of the test's own needs no cleaning.
func (e *testEnv) removeWhenDone(envID, id string) {
	if e.Sim != nil {
		return
	}
	client := e.client(e.t)
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), defaultTimeout)
		defer cancel()
		in, err := client.GetServiceInstance(ctx, id)
		if errors.Is(err, divio.ErrNotFound) || err == nil && in.Status == divio.StatusRemoved {
			return
		}
		if err == nil && in.InUse() {
			_, err = newDeployer(client, newAPICache(client), 0).Detach(ctx, envID, id)
		}
		if err == nil {
			err = client.DeleteServiceInstance(ctx, id)
		}
		if err != nil {
			e.t.Errorf("removing test instance %s: %v (make sweep removes it)", id, err)
		}
	})
}

// The data sources read what the account holds: the demo data's records exactly against a
// simulator of the test's own; against the real API, which may hold more (regions, catalog
// entries, environments) and name them its own way, the test's records among them, by id.

// listOf is ListExact against a simulator of the test's own, SetPartial against the real API.
func (e *testEnv) listOf(checks ...knownvalue.Check) knownvalue.Check {
	if e.Sim == nil {
		return knownvalue.SetPartial(checks)
	}
	return knownvalue.ListExact(checks)
}

// mapOf is MapExact against a simulator of the test's own, MapPartial against the real API.
func (e *testEnv) mapOf(checks map[string]knownvalue.Check) knownvalue.Check {
	if e.Sim == nil {
		return knownvalue.MapPartial(checks)
	}
	return knownvalue.MapExact(checks)
}

// objectOf is ObjectExact against a simulator of the test's own; against the real API only the
// attributes named by keys are checked (ids and identifiers, not the account's wording).
func (e *testEnv) objectOf(checks map[string]knownvalue.Check, keys ...string) knownvalue.Check {
	if e.Sim != nil {
		return knownvalue.ObjectExact(checks)
	}
	partial := map[string]knownvalue.Check{}
	for _, k := range keys {
		partial[k] = checks[k]
	}
	return knownvalue.ObjectPartial(partial)
}

// inSim is text against a simulator of the test's own, and short, its beginning, against the
// real API: for messages that list what the account holds.
func (e *testEnv) inSim(text, short string) string {
	if e.Sim == nil {
		return short
	}
	return text
}

// stringInSim is StringExact(v) against a simulator of the test's own, NotNull against the real
// API: for names the account chooses.
func (e *testEnv) stringInSim(v string) knownvalue.Check {
	if e.Sim == nil {
		return knownvalue.NotNull()
	}
	return knownvalue.StringExact(v)
}

// nullInSim is Null against a simulator of the test's own, and anything against the real API:
// for what others change there, such as an environment's last deployment.
func nullInSim(e *testEnv) knownvalue.Check {
	if e.Sim == nil {
		return anyValue{}
	}
	return knownvalue.Null()
}

type anyValue struct{}

func (anyValue) CheckValue(any) error { return nil }
func (anyValue) String() string       { return "anything" }

// notes are the notes of a backup the test takes: the text itself against a simulator of the
// test's own; against the real API behind testStem and the test's tag, so that the sweepers
// delete it (isTestBackup) and the test tells its own backups from the others'.
func (e *testEnv) notes(text string) string {
	if e.Sim != nil {
		return text
	}
	return testStem + testTag(e.t) + " " + text
}

// ownBackups lists through the API the test's backups in demo-app/test that are not final
// backups (those are the test's when they are of its instances), oldest first.
func (e *testEnv) ownBackups() ([]divio.Backup, error) {
	all, err := e.client(e.t).ListBackups(context.Background(), e.demoTest())
	if err != nil {
		return nil, err
	}
	all = slices.DeleteFunc(all, func(b divio.Backup) bool {
		return finalBackupInstance(b.Notes) != nil || e.Sim == nil && !strings.HasPrefix(b.Notes, e.notes(""))
	})
	slices.SortStableFunc(all, func(a, b divio.Backup) int { return a.CreatedAt.Compare(*b.CreatedAt) })
	return all, nil
}

// onlyBackup returns the test's one backup that is not a final backup, and its part.
func (e *testEnv) onlyBackup() (divio.Backup, divio.ServiceInstanceBackup, error) {
	backups, err := e.ownBackups()
	if err != nil {
		return divio.Backup{}, divio.ServiceInstanceBackup{}, err
	}
	if len(backups) != 1 || len(backups[0].ServiceInstanceBackups) != 1 {
		return divio.Backup{}, divio.ServiceInstanceBackup{}, fmt.Errorf("want one backup of one instance, got %+v", backups)
	}
	part, err := e.client(e.t).GetServiceInstanceBackup(context.Background(), backups[0].ServiceInstanceBackups[0])
	if err != nil {
		return divio.Backup{}, divio.ServiceInstanceBackup{}, err
	}
	return backups[0], *part, nil
}

// expectStateIsOnlyBackup checks that the state holds the test's one backup: a completed,
// successful backup of its one live instance, as the simulator's records or the API have it.
func (e *testEnv) expectStateIsOnlyBackup() resource.TestCheckFunc {
	return func(s *terraform.State) error {
		if e.Sim != nil {
			b, part, in, err := onlySuccessfulBackup(e.Sim)
			if err != nil {
				return err
			}
			return checkBackupState(s, b.UUID, in.UUID, demoTestEnvID, part.UUID, *part.Size, b.CreatedAt, b.Notes)
		}
		b, part, err := e.onlyBackup()
		if err != nil {
			return err
		}
		in, err := e.onlyLiveInstance()
		if err != nil {
			return err
		}
		if part.ServiceInstance != in.UUID || b.State != divio.BackupStateCompleted || b.Success == nil || *b.Success != divio.BackupSuccess {
			return fmt.Errorf("backup %+v of %+v: want a completed, successful backup of instance %s", b, part, in.UUID)
		}
		return checkBackupState(s, b.UUID, in.UUID, e.demoTest(), part.UUID, *part.Size, *b.CreatedAt, b.Notes)
	}
}

// checkBackupState checks that the state's divio_service_backup holds a backup's values.
func checkBackupState(s *terraform.State, id, serviceID, environmentID, partID string, size int64, createdAt time.Time, notes string) error {
	return resource.ComposeAggregateTestCheckFunc(
		resource.TestCheckResourceAttr(backupAddr, "id", id),
		resource.TestCheckResourceAttr(backupAddr, "service_id", serviceID),
		resource.TestCheckResourceAttr(backupAddr, "environment_id", environmentID),
		resource.TestCheckResourceAttr(backupAddr, "service_instance_backup_id", partID),
		resource.TestCheckResourceAttr(backupAddr, "size", fmt.Sprint(size)),
		resource.TestCheckResourceAttr(backupAddr, "created_at", createdAt.UTC().Format(time.RFC3339)),
		resource.TestCheckResourceAttr(backupAddr, "notes", notes),
	)(s)
}

// checkOnlyFinalBackupsLeft is CheckDestroy for configurations with a divio_service_backup: it
// deleted its backup, the service's final backup is all that is left of the test's, and no
// instance is left (checkNoInstanceLeft). Against a simulator of the test's own it counts every
// backup in it.
func (e *testEnv) checkOnlyFinalBackupsLeft() resource.TestCheckFunc {
	return func(s *terraform.State) error {
		if e.Sim != nil {
			if left := backupsOtherThanFinal(e.Sim); len(left) > 0 {
				return fmt.Errorf("backups left after destroy: %+v", left)
			}
			return e.checkNoInstanceLeft()(s)
		}
		left, err := e.ownBackups()
		if err != nil {
			return err
		}
		if len(left) > 0 {
			return fmt.Errorf("backups left after destroy: %+v", left)
		}
		return e.checkNoInstanceLeft()(s)
	}
}

// rememberLiveInstance keeps the id of the test's only live instance in *id.
func (e *testEnv) rememberLiveInstance(id *string) resource.TestCheckFunc {
	return func(*terraform.State) (err error) {
		*id, err = e.onlyLiveInstanceID()
		return err
	}
}

// ownEntries checks, against the real API, that a list of instances (objects with a prefix) holds
// exactly n of the test's: with listOf's SetPartial, that nothing else of the test's is listed,
// such as its removed instances or those of another environment. Against a simulator of the
// test's own listOf's ListExact says so already.
func (e *testEnv) ownEntries(n int) knownvalue.Check {
	if e.Sim != nil {
		return anyValue{}
	}
	return ownEntries{suffix: "_" + testTag(e.t), want: n}
}

type ownEntries struct {
	suffix string
	want   int
}

func (c ownEntries) CheckValue(v any) error {
	list, ok := v.([]any)
	if !ok {
		return fmt.Errorf("want a list, got %T", v)
	}
	n := 0
	for _, entry := range list {
		if obj, ok := entry.(map[string]any); ok {
			if p, ok := obj["prefix"].(string); ok && strings.HasPrefix(p, testStem) && strings.HasSuffix(p, c.suffix) {
				n++
			}
		}
	}
	if n != c.want {
		return fmt.Errorf("%d of the test's instances listed, want %d", n, c.want)
	}
	return nil
}

func (c ownEntries) String() string { return fmt.Sprintf("%d of the test's instances", c.want) }

// deleteOwnBackups deletes, once a test against the real API is over, the backups it left in
// demo-app's environments: those with its notes (testEnv.notes) and the final backups of its
// instances, which divio_service keeps after removing them. Nothing else it adds outlives it, so
// that a sweep finds nothing of a test that passed.
func (e *testEnv) deleteOwnBackups() {
	ctx, cancel := context.WithTimeout(context.Background(), defaultTimeout)
	defer cancel()
	client := e.client(e.t)
	for _, envID := range []string{e.demoTest(), testEnvironmentID(e.t, simulator.DemoApp, simulator.EnvLive)} {
		backups, err := client.ListBackups(ctx, envID)
		if err != nil {
			e.t.Errorf("listing the backups of %s to delete the test's: %v", envID, err)
			continue
		}
		for _, b := range backups {
			in := finalBackupInstance(b.Notes)
			own := strings.HasPrefix(b.Notes, e.notes("")) || in != nil && isOwnInstance(e.t, in)
			if !own || b.Environment != envID {
				continue
			}
			if _, err := client.WaitForBackup(ctx, b.UUID); err != nil {
				e.t.Logf("backup %s: %v", b.UUID, err) // deleted all the same
			}
			if err := client.DeleteBackup(ctx, b.UUID); err != nil && !errors.Is(err, divio.ErrNotFound) {
				e.t.Errorf("deleting the test's backup %s: %v (make sweep deletes it)", b.UUID, err)
			}
		}
	}
}

// The configurations the tests share.

const serviceAddr = "divio_service.db"

// serviceConfig is a divio_service "db" in demo-app's test environment with extra arguments.
// Against the real API its prefix, DEFAULT unless extra sets one, is the test's (testEnv.prefix).
func serviceConfig(env *testEnv, service, extra string) string {
	return env.config(fmt.Sprintf(`
resource "divio_service" "db" {
  environment_id = %q
  service        = %q
%s
}
`, env.demoTest(), service, env.withPrefixes(extra)))
}

// createTimeout is the argument that sets a resource's create timeout, such as "1s".
func createTimeout(d string) string {
	return fmt.Sprintf("  timeouts = {\n    create = %q\n  }", d)
}

const attachmentAddr = "divio_service_attachment.a"

// attachmentConfig is a divio_service_attachment "a" of serviceID with extra arguments.
func attachmentConfig(env *testEnv, serviceID, extra string) string {
	return env.config(fmt.Sprintf(`
resource "divio_service_attachment" "a" {
  service_id = %q
%s
}
`, serviceID, extra))
}

const backupAddr = "divio_service_backup.db"

// backupConfig is a database "db" in demo-app's test environment and a divio_service_backup "db"
// of it with extra arguments.
func backupConfig(env *testEnv, extra string) string {
	return serviceConfig(env, "postgres-15", "") + fmt.Sprintf(`
resource "divio_service_backup" "db" {
  service_id = divio_service.db.id
%s
}
`, extra)
}

// Set-up, reads and checks that more than one test file uses.

// addAttachableInstances adds n provisioned postgres instances (prefixes DB_1, DB_2, ...) to an
// environment through the API, for the attachments under test to attach.
func addAttachableInstances(t *testing.T, env *testEnv, envID string, n int) []string {
	t.Helper()
	client := env.client(t)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = addTestInstance(t, client, envID, simulator.ServicePostgres15, fmt.Sprintf("DB_%d", i+1), true).UUID
		env.removeWhenDone(envID, ids[i])
	}
	return ids
}

// deployOutsideTerraform deploys an environment through the API, as a push to its branch or the
// Control Panel would, and waits for the deployment.
func deployOutsideTerraform(t *testing.T, env *testEnv, envID string) {
	t.Helper()
	client, ctx := env.client(t), context.Background()
	dep, err := client.CreateDeployment(ctx, envID)
	if err == nil {
		dep, err = client.WaitForDeployment(ctx, dep.UUID)
	}
	if err != nil || !dep.Succeeded() {
		t.Fatalf("deploying environment %s outside Terraform: %+v, %v", envID, dep, err)
	}
}

// attachTestInstance attaches a provisioned instance with a deployment, through the API, and
// returns the deployment.
func attachTestInstance(t *testing.T, client *divio.Client, inst *divio.ServiceInstance) *divio.Deployment {
	t.Helper()
	ctx := context.Background()
	if err := client.AttachServiceInstance(ctx, inst.UUID); err != nil {
		t.Fatal(err)
	}
	dep, err := client.CreateDeployment(ctx, inst.Environment)
	if err != nil {
		t.Fatal(err)
	}
	if dep, err = client.WaitForDeployment(ctx, dep.UUID); err != nil {
		t.Fatal(err)
	}
	return dep
}

// addTestBackup backs an instance up through the API and returns the instance's part of the
// backup.
func addTestBackup(t *testing.T, client *divio.Client, inst *divio.ServiceInstance) *divio.ServiceInstanceBackup {
	t.Helper()
	ctx := context.Background()
	backup, err := client.CreateBackup(ctx, divio.CreateBackupRequest{Environment: inst.Environment, Services: []string{inst.UUID}})
	if err != nil {
		t.Fatal(err)
	}
	if backup, err = client.WaitForBackup(ctx, backup.UUID); err != nil {
		t.Fatal(err)
	}
	if len(backup.ServiceInstanceBackups) != 1 {
		t.Fatalf("backup %s has parts %v, want one", backup.UUID, backup.ServiceInstanceBackups)
	}
	part, err := client.GetServiceInstanceBackup(ctx, backup.ServiceInstanceBackups[0])
	if err != nil {
		t.Fatal(err)
	}
	return part
}

// finalBackupOf returns the successful final backup of instance id as the API has it, failing
// unless there is exactly one and it holds the instance.
func finalBackupOf(ctx context.Context, client *divio.Client, envID, id string) (*divio.Backup, error) {
	backups, err := client.ListBackups(ctx, envID)
	if err != nil {
		return nil, err
	}
	var found []divio.Backup
	for _, b := range backups {
		if isFinalBackup(&b, id) && b.Succeeded() {
			found = append(found, b)
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("want one successful final backup of instance %s, got %d: %+v", id, len(found), found)
	}
	b := &found[0]
	if len(b.ServiceInstanceBackups) != 1 {
		return nil, fmt.Errorf("final backup %+v holds more than the instance", b)
	}
	part, err := client.GetServiceInstanceBackup(ctx, b.ServiceInstanceBackups[0])
	if err != nil {
		return nil, err
	}
	if part.ServiceInstance != id || part.Size == nil {
		return nil, fmt.Errorf("final backup %s holds %+v, want instance %s with a size", b.UUID, part, id)
	}
	return b, nil
}

// envValues reads an environment's variables from the API: those named, or all when none is.
func envValues(t *testing.T, client *divio.Client, envID string, names ...string) map[string]string {
	t.Helper()
	vars, err := client.ListEnvironmentVariables(context.Background(), envID)
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]string{}
	for _, v := range vars {
		if len(names) == 0 || slices.Contains(names, v.Name) {
			values[v.Name] = v.Value
		}
	}
	if len(values) == 0 || len(names) > 0 && len(values) != len(names) {
		t.Fatalf("environment %s has variables %v, want %v", envID, slices.Collect(maps.Keys(values)), names)
	}
	return values
}

// stateHoldsNone fails if any of the secrets occurs anywhere in the state (resources of the
// types skipped aside, such as echo, whose purpose is to hold them), outputs included.
func stateHoldsNone(secrets func() []string, skipTypes ...string) statecheck.StateCheck {
	return stateCheckFunc(func(state *tfjson.State) error {
		values := secrets()
		if len(values) == 0 {
			return fmt.Errorf("no secrets to look for: the check could not fail")
		}
		if state.Values == nil {
			return nil
		}
		var kept []any
		for _, outputs := range state.Values.Outputs {
			kept = append(kept, outputs)
		}
		for _, res := range allResources(state.Values.RootModule) {
			if !slices.Contains(skipTypes, res.Type) {
				kept = append(kept, res)
			}
		}
		raw, err := json.Marshal(kept)
		if err != nil {
			return err
		}
		for _, secret := range values {
			if secret != "" && strings.Contains(string(raw), secret) {
				return fmt.Errorf("the state holds a secret value (%d characters)", len(secret))
			}
		}
		return nil
	})
}

func allResources(m *tfjson.StateModule) []*tfjson.StateResource {
	if m == nil {
		return nil
	}
	all := slices.Clone(m.Resources)
	for _, child := range m.ChildModules {
		all = append(all, allResources(child)...)
	}
	return all
}

type stateCheckFunc func(*tfjson.State) error

func (f stateCheckFunc) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	resp.Error = f(req.State)
}
