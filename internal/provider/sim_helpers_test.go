package provider

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/divio/terraform-provider-divio/internal/divio"
	"github.com/divio/terraform-provider-divio/internal/simulator"
)

// The in-process simulator as the tests serve, read and change it. Acceptance tests reach theirs
// through testEnv.Sim (acc_helpers_test.go); against the real API they read through the API
// instead, with testEnv's methods.

// serveSimulator serves a simulator of the test's own with opts until the test ends, and returns
// it with its URL. wrap, when not nil, serves in the simulator's place, to inject faults: it is
// given the simulator, to pass requests on to.
func serveSimulator(t *testing.T, opts simulator.Options, wrap func(*simulator.Simulator) http.Handler) (*simulator.Simulator, string) {
	t.Helper()
	sim, err := simulator.New(opts)
	if err != nil {
		t.Fatalf("starting the simulator: %v", err)
	}
	var handler http.Handler = sim
	if wrap != nil {
		handler = wrap(sim)
	}
	server := httptest.NewServer(handler)
	t.Cleanup(func() {
		server.Close()
		_ = sim.Close()
	})
	return sim, server.URL
}

// simulatorClient serves a simulator of the test's own (serveSimulator, with wrap), and returns it
// with a client that polls it quickly and first retries a failed request after retryWaitMin.
func simulatorClient(t *testing.T, opts simulator.Options, retryWaitMin time.Duration, wrap func(*simulator.Simulator) http.Handler) (*divio.Client, *simulator.Simulator) {
	t.Helper()
	sim, url := serveSimulator(t, opts, wrap)
	client, err := divio.New(divio.Config{
		Endpoint:     url,
		Token:        simulator.DemoToken,
		RetryWaitMin: retryWaitMin,
		Poll:         divio.PollConfig{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond, Factor: 1.5},
	})
	if err != nil {
		t.Fatal(err)
	}
	return client, sim
}

// withDeployDelay is a simulator option for newTestEnv: deployments that last d.
func withDeployDelay(d time.Duration) func(*simulator.Options) {
	return func(o *simulator.Options) { o.DeployDelay = d }
}

// demoTestEnvID is the simulator's id of demo-app/test, where most tests add their instances
// (testEnv.demoTest is its id against the real API too).
var demoTestEnvID = simulator.EnvironmentID(simulator.DemoApp, simulator.EnvTest)

// legacyEnvironments are the demo data's environments that start with instances and deployments of
// their own (legacy-app's, a project made before Terraform). Tests add theirs elsewhere and count
// only those.
var legacyEnvironments = map[string]bool{
	simulator.EnvironmentID(simulator.LegacyApp, simulator.EnvTest): true,
	simulator.EnvironmentID(simulator.LegacyApp, simulator.EnvLive): true,
}

// testInstances returns the simulator's instances outside legacy-app, REMOVED ones included.
func testInstances(sim *simulator.Simulator) []simulator.Instance {
	return slices.DeleteFunc(sim.Instances(), func(in simulator.Instance) bool { return legacyEnvironments[in.Environment] })
}

// testDeployments returns the simulator's deployments outside legacy-app, oldest first.
func testDeployments(sim *simulator.Simulator) []simulator.Deployment {
	return slices.DeleteFunc(sim.Deployments(), func(d simulator.Deployment) bool { return legacyEnvironments[d.Environment] })
}

// instancesByID returns every instance of the simulator, legacy-app's and REMOVED ones included,
// by id.
func instancesByID(sim *simulator.Simulator) map[string]simulator.Instance {
	byID := map[string]simulator.Instance{}
	for _, in := range sim.Instances() {
		byID[in.UUID] = in
	}
	return byID
}

// liveInstances returns the simulator's instances outside legacy-app that are not REMOVED.
func liveInstances(sim *simulator.Simulator) []simulator.Instance {
	return slices.DeleteFunc(testInstances(sim), func(in simulator.Instance) bool { return in.Status == simulator.StatusRemoved })
}

// liveInstance tells whether the simulator has instance id, not REMOVED, in any environment.
func liveInstance(sim *simulator.Simulator, id string) bool {
	in, ok := instancesByID(sim)[id]
	return ok && in.Status != simulator.StatusRemoved
}

// onlySimInstance returns the simulator's one instance that is not removed, in any environment but the
// legacy ones, failing if there is not exactly one.
func onlySimInstance(sim *simulator.Simulator) (simulator.Instance, error) {
	live := liveInstances(sim)
	if len(live) != 1 {
		return simulator.Instance{}, fmt.Errorf("want exactly 1 instance that is not REMOVED in the simulator, got %d: %+v", len(live), live)
	}
	return live[0], nil
}

// expectLiveCount checks how many of the simulator's instances outside legacy-app are not REMOVED.
func expectLiveCount(sim *simulator.Simulator, want int) error {
	if live := liveInstances(sim); len(live) != want {
		return fmt.Errorf("want %d live instances, got %d: %+v", want, len(live), live)
	}
	return nil
}

// expectSimInstance checks an instance's status in the simulator.
func expectSimInstance(sim *simulator.Simulator, id, status string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, in := range testInstances(sim) {
			if in.UUID == id {
				if in.Status != status {
					return fmt.Errorf("simulator instance %s is %s, want %s", id, in.Status, status)
				}
				return nil
			}
		}
		return fmt.Errorf("the simulator has no instance %s", id)
	}
}

// expectStatus checks, outside a test step, that the simulator's instances ids have a status.
func expectStatus(t *testing.T, sim *simulator.Simulator, status string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := expectSimInstance(sim, id, status)(nil); err != nil {
			t.Error(err)
		}
	}
}

// expectEveryInstanceIn checks that envID has instances in the simulator, and that every one of
// them has a status.
func expectEveryInstanceIn(t *testing.T, sim *simulator.Simulator, envID, status string) {
	t.Helper()
	n := 0
	for _, in := range sim.Instances() {
		if in.Environment != envID {
			continue
		}
		n++
		if in.Status != status {
			t.Errorf("instance %s (%s) is %s, want %s", in.UUID, in.Prefix, in.Status, status)
		}
	}
	if n == 0 {
		t.Errorf("no instances in environment %s", envID)
	}
}

// workingDeployment returns the simulator's running deployment, if any.
func workingDeployment(sim *simulator.Simulator) *simulator.Deployment {
	for _, d := range testDeployments(sim) {
		if d.Status == simulator.DeploymentWorking {
			return &d
		}
	}
	return nil
}

// deploymentsByEnvironment counts the simulator's deployments of each environment.
func deploymentsByEnvironment(sim *simulator.Simulator) map[string]int {
	counts := map[string]int{}
	for _, d := range sim.Deployments() {
		counts[d.Environment]++
	}
	return counts
}

// waitUntil returns once cond holds, such as a state the simulator reaches by itself, checked
// every 10ms; it fails the test after 30s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// backupsOtherThanFinal returns the simulator's backups that are not final backups.
func backupsOtherThanFinal(sim *simulator.Simulator) []simulator.Backup {
	return slices.DeleteFunc(sim.Backups(), func(b simulator.Backup) bool { return finalBackupInstance(b.Notes) != nil })
}

// onlySimBackup returns the simulator's one backup that is not a final backup, and its part.
func onlySimBackup(sim *simulator.Simulator) (simulator.Backup, simulator.ServiceInstanceBackup, error) {
	backups := backupsOtherThanFinal(sim)
	if len(backups) != 1 || len(backups[0].ServiceInstanceBackups) != 1 {
		return simulator.Backup{}, simulator.ServiceInstanceBackup{}, fmt.Errorf("want one backup of one instance, got %+v", backups)
	}
	for _, part := range sim.ServiceInstanceBackups() {
		if part.UUID == backups[0].ServiceInstanceBackups[0] {
			return backups[0], part, nil
		}
	}
	return simulator.Backup{}, simulator.ServiceInstanceBackup{}, fmt.Errorf("backup %s has no part", backups[0].UUID)
}

// onlySuccessfulBackup returns the simulator's one backup, with its part and instance, if it is a
// completed, successful backup of the simulator's one instance.
func onlySuccessfulBackup(sim *simulator.Simulator) (simulator.Backup, simulator.ServiceInstanceBackup, simulator.Instance, error) {
	b, part, err := onlySimBackup(sim)
	if err != nil {
		return b, part, simulator.Instance{}, err
	}
	in, err := onlySimInstance(sim)
	if err == nil && (part.ServiceInstance != in.UUID || b.State != simulator.BackupCompleted || *b.Success != simulator.BackupSuccess) {
		err = fmt.Errorf("backup %+v of %+v: want a completed, successful backup of instance %s", b, part, in.UUID)
	}
	return b, part, in, err
}

// expectBackupOfOnlyInstance checks that the simulator holds one completed, successful backup of its
// one instance, and the state that backup.
func expectBackupOfOnlyInstance(cli *terraformCLI, sim *simulator.Simulator) error {
	b, _, _, err := onlySuccessfulBackup(sim)
	if err != nil {
		return err
	}
	if state := cli.mustRun("state", "show", "-no-color", backupAddr); !strings.Contains(state, b.UUID) {
		return fmt.Errorf("the state does not hold backup %s:\n%s", b.UUID, state)
	}
	return nil
}
