package provider

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/divio/terraform-provider-divio/internal/divio"
	"github.com/divio/terraform-provider-divio/internal/simulator"
)

// Sweepers remove what failed acceptance runs leave on a real Divio account: service instances,
// detached first, and backups. `make sweep` runs them (README.md). They are safe by construction:
//   - they work only in sweptEnvironments, named below: a -sweep value is "all" of them or one of
//     them, and anything else is refused;
//   - there they touch only service instances whose prefix starts with testStem, and backups
//     whose notes do, which only the tests create (testPrefix): a user's DEFAULT database, or
//     anything else a project has, is never a candidate, and neither is anything outside those
//     environments, whatever the API's filters return;
//   - they run only when DIVIO_API_URL and DIVIO_API_TOKEN name the account (or a simulator):
//     they never fall back to the default endpoint.

// testStem starts the prefix of every service instance, and the notes of every backup, that the
// acceptance tests create on a real account; the sweepers remove nothing else.
const testStem = "TFACC_"

// testPrefix is the prefix for an instance a test calls name. Against a real account it is name
// behind testStem, so that the sweepers can remove the instance if the test leaves it behind
// (DEFAULT is what real projects use). Against a simulator, which serves the test alone, it is
// name itself, so that tests of what DEFAULT does (its DATABASE_URL alias) assert what users get;
// such tests run only against a simulator. The tests add the tag of their name behind it
// (testPrefixOf), so that they keep apart on a shared account.
func testPrefix(name string) string {
	if useRealAPI() {
		return testStem + name
	}
	return name
}

func isTestInstance(in *divio.ServiceInstance) bool { return strings.HasPrefix(in.Prefix, testStem) }

// isTestBackup tells the tests' backups by their notes, which a test that takes a backup on a real
// account starts with testStem; the final backup divio_service takes before it removes a test
// instance is the tests' too, and its notes name the instance's prefix.
func isTestBackup(b *divio.Backup) bool {
	in := finalBackupInstance(b.Notes)
	return strings.HasPrefix(b.Notes, testStem) || in != nil && isTestInstance(in)
}

// sweptEnvironments are the environments the acceptance tests use on a real account, as
// "application/environment" slugs (README.md). legacy-app, a project made before Terraform,
// stands for a user's own services and is never swept.
var sweptEnvironments = []string{
	simulator.DemoApp + "/" + simulator.EnvTest, simulator.DemoApp + "/" + simulator.EnvLive,
	simulator.AzureApp + "/" + simulator.EnvTest, simulator.AzureApp + "/" + simulator.EnvLive,
}

// sweepAll is the -sweep value for every one of sweptEnvironments.
const sweepAll = "all"

func TestMain(m *testing.M) {
	flag.Parse()
	if flag.Lookup("sweep").Value.String() != "" {
		// Checked once, before any sweeper, so that the reason is said once.
		if _, err := sweepClient(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	resource.TestMain(m)
}

func init() {
	// Attached instances must be detached, by a deployment, before they can be removed.
	resource.AddTestSweepers("divio_service_attachment", &resource.Sweeper{
		Name: "divio_service_attachment", F: sweeper(sweepAttachments),
	})
	resource.AddTestSweepers("divio_service", &resource.Sweeper{
		Name: "divio_service", F: sweeper(sweepServices), Dependencies: []string{"divio_service_attachment"},
	})
	resource.AddTestSweepers("divio_service_backup", &resource.Sweeper{
		Name: "divio_service_backup", F: sweeper(sweepBackups),
	})
}

// sweepClient is a client of the account that DIVIO_API_URL and DIVIO_API_TOKEN name.
func sweepClient() (*divio.Client, error) {
	endpoint, token := os.Getenv(envEndpoint), os.Getenv(envToken)
	if endpoint == "" || token == "" {
		return nil, fmt.Errorf("the sweepers remove the acceptance tests' service instances and backups from a Divio account: "+
			"set %s and %s to that account's (or to a simulator's, e.g. http://127.0.0.1:8950 and %s); they never fall back to the default endpoint",
			envEndpoint, envToken, simulator.DemoToken)
	}
	return divio.New(divio.Config{Endpoint: endpoint, Token: token, UserAgent: "terraform-provider-divio-sweeper"})
}

// sweptEnvironment is one of sweptEnvironments, found on the account.
type sweptEnvironment struct {
	name string // "demo-app/test"
	id   string
}

// sweepFunc sweeps one environment.
type sweepFunc func(ctx context.Context, c *divio.Client, env sweptEnvironment) error

// sweeper makes f a terraform-plugin-testing sweeper; its "region" is a -sweep value.
func sweeper(f sweepFunc) resource.SweeperFunc {
	return func(region string) error {
		names, err := environmentsToSweep(region)
		if err != nil {
			return err
		}
		client, err := sweepClient()
		if err != nil {
			return err
		}
		var errs []error
		for _, name := range names {
			errs = append(errs, sweepOne(client, name, f))
		}
		return errors.Join(errs...)
	}
}

// sweepOne sweeps one environment, bounded as a resource's operation is by default.
func sweepOne(client *divio.Client, name string, f sweepFunc) error {
	ctx, cancel := context.WithTimeout(context.Background(), defaultTimeout)
	defer cancel()
	env, err := findSweptEnvironment(ctx, client, name)
	if err != nil {
		return err
	}
	return f(ctx, client, env)
}

func environmentsToSweep(region string) ([]string, error) {
	switch {
	case region == sweepAll:
		return sweptEnvironments, nil
	case slices.Contains(sweptEnvironments, region):
		return []string{region}, nil
	}
	return nil, fmt.Errorf("refusing to sweep %q: the sweepers work only in the acceptance tests' environments, %s; -sweep=%s sweeps all of them",
		region, strings.Join(sweptEnvironments, ", "), sweepAll)
}

func findSweptEnvironment(ctx context.Context, c *divio.Client, name string) (sweptEnvironment, error) {
	appSlug, envSlug, _ := strings.Cut(name, "/")
	apps, err := c.FindApplications(ctx, appSlug)
	if err != nil {
		return sweptEnvironment{}, fmt.Errorf("sweep %s: %w", name, err)
	}
	for _, app := range apps {
		if app.Slug != appSlug { // compared here too: the filter is the API's
			continue
		}
		envs, err := c.FindEnvironments(ctx, app.UUID, envSlug)
		if err != nil {
			return sweptEnvironment{}, fmt.Errorf("sweep %s: %w", name, err)
		}
		for _, env := range envs {
			if env.Slug == envSlug && env.Application == app.UUID {
				return sweptEnvironment{name: name, id: env.UUID}, nil
			}
		}
	}
	return sweptEnvironment{}, fmt.Errorf("sweep %s: the account has no such environment that the API token can see; the acceptance tests use %s (README.md)",
		name, strings.Join(sweptEnvironments, ", "))
}

// testInstancesIn returns the tests' instances in env that are not removed, and the others.
func testInstancesIn(ctx context.Context, c *divio.Client, env sweptEnvironment) (tests, others []divio.ServiceInstance, err error) {
	all, err := c.ListServiceInstances(ctx, env.id)
	if err != nil {
		return nil, nil, fmt.Errorf("sweep %s: %w", env.name, err)
	}
	for _, in := range all {
		switch {
		case in.Environment != env.id: // whatever the API's filter returned, only env's
		case isTestInstance(&in):
			tests = append(tests, in)
		default:
			others = append(others, in)
		}
	}
	return tests, others, nil
}

func describeInstance(in *divio.ServiceInstance) string {
	return fmt.Sprintf("%s %s %s (%s)", in.Prefix, in.Type, in.UUID, in.Status)
}

// sweepAttachments detaches the tests' instances that the application uses, through the provider's
// deployer: it gathers the detachments into one deployment of the environment, and waits out one
// that runs already. That deployment, as any, also attaches whatever awaits attachment in the
// environment (README.md says to keep the test environments for the tests): so the tests' instances
// that await attachment are removed first, as nothing uses them.
func sweepAttachments(ctx context.Context, c *divio.Client, env sweptEnvironment) error {
	tests, _, err := testInstancesIn(ctx, c, env)
	if err != nil {
		return err
	}
	var errs []error
	for _, in := range tests {
		if in.AwaitsAttachment() {
			if err := c.DeleteServiceInstance(ctx, in.UUID); err != nil {
				errs = append(errs, fmt.Errorf("sweep %s: removing %s before the deployment that would attach it: %w", env.name, describeInstance(&in), err))
				continue
			}
			log.Printf("[INFO] sweep %s: removed %s before the deployment that would attach it", env.name, describeInstance(&in))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...) // a deployment now would attach them
	}
	tests = slices.DeleteFunc(tests, func(in divio.ServiceInstance) bool { return !in.InUse() })
	if len(tests) == 0 {
		log.Printf("[INFO] sweep %s: no test instance to detach", env.name)
		return nil
	}
	d := newDeployer(c, newAPICache(c), 0)
	errs = make([]error, len(tests))
	var wg sync.WaitGroup
	for i, in := range tests {
		wg.Go(func() {
			out, err := d.Detach(ctx, env.id, in.UUID)
			switch {
			case err != nil:
				errs[i] = fmt.Errorf("sweep %s: %s was not detached, so it stays in use: %w", env.name, describeInstance(&in), err)
			case out.Deployment == nil:
				log.Printf("[INFO] sweep %s: detached %s without a deployment", env.name, describeInstance(&in))
			default:
				log.Printf("[INFO] sweep %s: detached %s by deployment %s", env.name, describeInstance(&in), out.Deployment.UUID)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// sweepServices removes the tests' instances that nothing uses any more, in whatever state:
// sweepAttachments, its dependency, has detached the others.
func sweepServices(ctx context.Context, c *divio.Client, env sweptEnvironment) error {
	tests, others, err := testInstancesIn(ctx, c, env)
	if err != nil {
		return err
	}
	var errs []error
	removed := 0
	for _, in := range tests {
		if in.InUse() {
			errs = append(errs, fmt.Errorf("sweep %s: %s is still in use, so it was not removed; sweep again once it is detached", env.name, describeInstance(&in)))
			continue
		}
		if err := c.DeleteServiceInstance(ctx, in.UUID); err != nil {
			errs = append(errs, fmt.Errorf("sweep %s: removing %s: %w", env.name, describeInstance(&in), err))
			continue
		}
		removed++
		log.Printf("[INFO] sweep %s: removed %s", env.name, describeInstance(&in))
	}
	kept := make([]string, len(others))
	for i := range others {
		kept[i] = describeInstance(&others[i])
	}
	report := fmt.Sprintf("removed %d test instances; left alone %d that are not the tests'", removed, len(kept))
	if len(kept) > 0 {
		report += ": " + strings.Join(kept, "; ")
	}
	log.Printf("[INFO] sweep %s: %s", env.name, report)
	return errors.Join(errs...)
}

// sweepBackups deletes the tests' backups.
func sweepBackups(ctx context.Context, c *divio.Client, env sweptEnvironment) error {
	backups, err := c.ListBackups(ctx, env.id)
	if err != nil {
		return fmt.Errorf("sweep %s: %w", env.name, err)
	}
	var errs []error
	deleted, others := 0, 0
	for _, b := range backups {
		if b.Environment != env.id || !isTestBackup(&b) {
			others++
			continue
		}
		if err := c.DeleteBackup(ctx, b.UUID); err != nil {
			errs = append(errs, fmt.Errorf("sweep %s: deleting backup %s: %w", env.name, b.UUID, err))
			continue
		}
		deleted++
		log.Printf("[INFO] sweep %s: deleted backup %s (%s, notes %q)", env.name, b.UUID, b.State, b.Notes)
	}
	log.Printf("[INFO] sweep %s: deleted %d test backups; left alone %d others", env.name, deleted, others)
	return errors.Join(errs...)
}

// runSweep runs this test binary as `make sweep` runs the package's tests, with -sweep=region,
// against the API at url (none when url is empty). It returns the output and whether it passed.
func runSweep(t *testing.T, url, region string) (output string, passed bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$", "-sweep="+region, "-sweep-allow-failures")
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return name == envEndpoint || name == envToken || name == envZone
	})
	if url != "" {
		cmd.Env = append(cmd.Env, envEndpoint+"="+url, envToken+"="+simulator.DemoToken)
	}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running the sweepers: %v\n%s", err, out)
	}
	return string(out), err == nil
}

// sweepFixture adds instances to a simulator in the states it is given, and records them.
type sweepFixture struct {
	t      *testing.T
	sim    *simulator.Simulator
	client *divio.Client
	added  []simulator.Instance
}

// add adds an instance to an environment and forces its status.
func (f *sweepFixture) add(envID, service, prefix, status string) {
	f.t.Helper()
	inst, err := f.client.CreateServiceInstance(f.t.Context(), divio.CreateServiceInstanceRequest{
		Environment: envID, Service: simulator.ServiceID(service), Prefix: prefix,
	})
	if err == nil {
		err = f.sim.SetInstance(inst.UUID, simulator.InstancePatch{Status: &status})
	}
	if err != nil {
		f.t.Fatalf("adding %s %s: %v", service, prefix, err)
	}
	f.added = append(f.added, instancesByID(f.sim)[inst.UUID])
}

// addElsewhere adds a test-prefixed instance to legacy-app/test, which the sweepers must never
// touch, in place of its DEFAULT database: its organisation's subscription has no room for more.
func (f *sweepFixture) addElsewhere() {
	f.t.Helper()
	legacyTest := simulator.EnvironmentID(simulator.LegacyApp, simulator.EnvTest)
	for _, in := range f.sim.Instances() {
		if in.Environment == legacyTest && in.Type == simulator.TypeDatabase {
			if err := f.sim.DeleteInstanceOutOfBand(in.UUID); err != nil {
				f.t.Fatal(err)
			}
		}
	}
	f.add(legacyTest, simulator.ServicePostgres15, "TFACC_ELSEWHERE", simulator.StatusDetached)
}

// expectSwept checks every added instance: the tests' in swept environments are removed, the
// others are as they were added.
func (f *sweepFixture) expectSwept(sweptEnvIDs ...string) {
	f.t.Helper()
	now := instancesByID(f.sim)
	for _, want := range f.added {
		if strings.HasPrefix(want.Prefix, testStem) && slices.Contains(sweptEnvIDs, want.Environment) {
			want.Status = simulator.StatusRemoved
		}
		if got := now[want.UUID]; got != want {
			f.t.Errorf("after the sweep:\n got %+v\nwant %+v", got, want)
		}
	}
}

func TestSweepers(t *testing.T) {
	// Provisioning never ends by itself, so that PROVISIONING stays; a deployment lasts long
	// enough that the sweep starts while one runs.
	env := newSimulatorEnv(t, func(o *simulator.Options) { o.ProvisionDelay = time.Hour; o.DeployDelay = 2 * time.Second })
	sim := env.Sim
	client := env.client(t)
	f := &sweepFixture{t: t, sim: sim, client: client}
	demoTest := simulator.EnvironmentID(simulator.DemoApp, simulator.EnvTest)
	demoLive := simulator.EnvironmentID(simulator.DemoApp, simulator.EnvLive)

	// demo-app/test: the tests' instances in every state, and a user's, attached.
	f.add(demoTest, simulator.ServicePostgres15, "TFACC_NEW", simulator.StatusNew)
	f.add(demoTest, simulator.ServicePostgres16, "TFACC_PROVISIONING", simulator.StatusProvisioning)
	f.add(demoTest, simulator.ServicePostgres15, "TFACC_PENDING_ATTACHMENT", simulator.StatusPendingAttachment)
	f.add(demoTest, simulator.ServicePostgres15, "TFACC_ATTACHED", simulator.StatusAttached)
	f.add(demoTest, simulator.ServicePostgres16, "TFACC_PENDING_DETACHMENT", simulator.StatusPendingDetachment)
	f.add(demoTest, simulator.ServiceMySQL8, "TFACC_DETACHED", simulator.StatusDetached)
	f.add(demoTest, simulator.ServiceS3, "DEFAULT", simulator.StatusAttached)
	// demo-app/live: a test's instance that nothing uses, and a user's.
	f.add(demoLive, simulator.ServicePostgres15, "TFACC_UNUSED", simulator.StatusPendingAttachment)
	f.add(demoLive, simulator.ServiceMySQL8, "DEFAULT", simulator.StatusDetached)
	// legacy-app is not a test environment: even a test prefix there is left alone.
	f.addElsewhere()

	ctx := t.Context()
	var keptBackup string
	// A final backup's notes are the provider's: "" stands for them.
	for _, b := range []struct{ prefix, notes string }{{"TFACC_DETACHED", "TFACC_ backup of a test"}, {"TFACC_DETACHED", ""}, {"DEFAULT", "before the upgrade"}} {
		var of divio.ServiceInstance
		for _, in := range f.added {
			if in.Environment == demoTest && in.Prefix == b.prefix {
				of = divio.ServiceInstance{UUID: in.UUID, Type: in.Type, Prefix: in.Prefix}
			}
		}
		if b.notes == "" {
			b.notes = finalBackupNotes(&of)
		}
		backup, err := client.CreateBackup(ctx, divio.CreateBackupRequest{Environment: demoTest, Services: []string{of.UUID}, Notes: b.notes})
		if err != nil {
			t.Fatal(err)
		}
		keptBackup = backup.UUID // the last one, a user's
	}

	// A deployment started elsewhere runs when the sweep begins: the sweep waits it out.
	if _, err := client.CreateDeployment(ctx, demoTest); err != nil {
		t.Fatal(err)
	}
	before := deploymentsByEnvironment(sim)

	out, passed := runSweep(t, env.URL, sweepAll)
	if !passed {
		t.Fatalf("the sweep failed:\n%s", out)
	}
	f.expectSwept(demoTest, demoLive)
	after := deploymentsByEnvironment(sim)
	if after[demoTest] != before[demoTest]+1 || len(after) != len(before) || after[demoLive] != before[demoLive] {
		t.Errorf("deployments by environment: %v before the sweep, %v after; want one more of demo-app/test (%s) only", before, after, demoTest)
	}
	if backups := sim.Backups(); len(backups) != 1 || backups[0].UUID != keptBackup {
		t.Errorf("backups after the sweep: %+v, want only the user's, %s", backups, keptBackup)
	}
	for _, line := range []string{
		"sweep demo-app/test: removed TFACC_NEW DATABASE",
		"sweep demo-app/test: removed TFACC_PROVISIONING DATABASE",
		"sweep demo-app/test: removed TFACC_PENDING_ATTACHMENT DATABASE",
		"before the deployment that would attach it",
		"sweep demo-app/test: detached TFACC_ATTACHED DATABASE",
		"sweep demo-app/test: detached TFACC_PENDING_DETACHMENT DATABASE",
		"sweep demo-app/test: removed 3 test instances; left alone 1 that are not the tests': DEFAULT STORAGE",
		"sweep demo-app/live: removed TFACC_UNUSED DATABASE",
		"sweep demo-app/live: removed 0 test instances; left alone 1 that are not the tests': DEFAULT DATABASE",
		"sweep azure-app/live: removed 0 test instances; left alone 0",
		"sweep demo-app/test: deleted 2 test backups; left alone 1 others",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("the sweep's report lacks %q:\n%s", line, out)
		}
	}

	// Again: nothing left to do, and no deployment.
	if out, passed := runSweep(t, env.URL, sweepAll); !passed || !strings.Contains(out, "sweep demo-app/test: no test instance to detach") {
		t.Fatalf("the second sweep failed or did something:\n%s", out)
	}
	f.expectSwept(demoTest, demoLive)
	if again := deploymentsByEnvironment(sim); !maps.Equal(again, after) {
		t.Errorf("the second sweep deployed: %v, want %v", again, after)
	}
}

// A failed deployment leaves the attached test instance attached, and in the state and the
// report; the others are removed, and the next sweep finishes.
func TestSweepers_failedDeployment(t *testing.T) {
	env := newSimulatorEnv(t)
	sim := env.Sim
	f := &sweepFixture{t: t, sim: sim, client: env.client(t)}
	demoTest := simulator.EnvironmentID(simulator.DemoApp, simulator.EnvTest)
	f.add(demoTest, simulator.ServicePostgres15, "TFACC_ATTACHED", simulator.StatusAttached)
	f.add(demoTest, simulator.ServicePostgres15, "TFACC_DETACHED", simulator.StatusDetached)
	attached, detached := f.added[0], f.added[1]

	sim.FailNextDeploy()
	out, passed := runSweep(t, env.URL, simulator.DemoApp+"/"+simulator.EnvTest)
	if passed || !strings.Contains(out, "TFACC_ATTACHED DATABASE "+attached.UUID+" (ATTACHED) was not detached, so it stays in use") ||
		!strings.Contains(out, "TFACC_ATTACHED DATABASE "+attached.UUID+" (ATTACHED) is still in use, so it was not removed") {
		t.Fatalf("want the sweep to fail and say why:\n%s", out)
	}
	now := instancesByID(sim)
	if got := now[attached.UUID]; got.Status != simulator.StatusAttached {
		t.Errorf("the attached test instance is %s after the failed deployment, want ATTACHED (the contract's rule 3): still in use", got.Status)
	}
	if got := now[detached.UUID]; got.Status != simulator.StatusRemoved {
		t.Errorf("the detached test instance is %s, want REMOVED", got.Status)
	}

	if out, passed := runSweep(t, env.URL, sweepAll); !passed {
		t.Fatalf("the next sweep failed:\n%s", out)
	}
	f.expectSwept(demoTest)
	if got := deploymentsByEnvironment(sim)[demoTest]; got != 2 {
		t.Errorf("%d deployments of demo-app/test, want 2: the failed one and the next", got)
	}
}

// The sweepers refuse what could reach beyond the tests' own: an environment they do not name,
// and an account that the environment does not name.
func TestSweepers_refuse(t *testing.T) {
	env := newSimulatorEnv(t)
	before := len(env.Sim.Deployments())
	f := &sweepFixture{t: t, sim: env.Sim, client: env.client(t)}
	f.addElsewhere()
	for _, tc := range []struct {
		name, url, region, want string
	}{
		{"an environment the tests do not use", env.URL, "legacy-app/test", `refusing to sweep "legacy-app/test": the sweepers work only in the acceptance tests' environments, demo-app/test, demo-app/live, azure-app/test, azure-app/live`},
		{"an application's every environment", env.URL, "demo-app", `refusing to sweep "demo-app"`},
		{"no account named", "", sweepAll, "set DIVIO_API_URL and DIVIO_API_TOKEN to that account's"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, passed := runSweep(t, tc.url, tc.region)
			if passed || !strings.Contains(out, tc.want) {
				t.Errorf("want the sweep to fail with %q:\n%s", tc.want, out)
			}
		})
	}
	f.expectSwept()
	if after := len(env.Sim.Deployments()); after != before {
		t.Errorf("%d deployments after the refused sweeps, want the %d from before", after, before)
	}
}
