package provider

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/divio/terraform-provider-divio/internal/divio"
	"github.com/divio/terraform-provider-divio/internal/simulator"
)

var deployerTestEnvID = simulator.EnvironmentID("demo-app", "test")

// newTestDeployer serves a simulator whose deployments last deployDelay, and returns a deployer
// that gathers for 20ms against it.
func newTestDeployer(t *testing.T, deployDelay time.Duration) (*deployer, *divio.Client, *simulator.Simulator) {
	t.Helper()
	sim, err := simulator.New(simulator.Options{DeployDelay: deployDelay})
	if err != nil {
		t.Fatalf("starting the simulator: %v", err)
	}
	server := httptest.NewServer(sim)
	t.Cleanup(func() {
		server.Close()
		_ = sim.Close()
	})
	client, err := divio.New(divio.Config{
		Endpoint:     server.URL,
		Token:        simulator.DemoToken,
		RetryWaitMin: time.Millisecond,
		Poll:         divio.PollConfig{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond, Factor: 1.5},
	})
	if err != nil {
		t.Fatal(err)
	}
	return newDeployer(client, newAPICache(client), 20*time.Millisecond), client, sim
}

type deployResult struct {
	deployment *divio.Deployment
	err        error
}

// deployConcurrently calls Deploy n times at once and returns the results once all are back.
func deployConcurrently(ctx context.Context, d *deployer, n int) []deployResult {
	results := make([]deployResult, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			dep, err := d.Deploy(ctx, deployerTestEnvID)
			results[i] = deployResult{dep, err}
		})
	}
	wg.Wait()
	return results
}

// waitForWorkingDeployment returns once the simulator runs a deployment.
func waitForWorkingDeployment(t *testing.T, sim *simulator.Simulator) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		for _, dep := range testDeployments(sim) {
			if dep.Status == simulator.DeploymentWorking {
				return
			}
		}
	}
	t.Fatal("no deployment started")
}

func TestDeployerConcurrentCallersShareOneDeployment(t *testing.T) {
	d, client, sim := newTestDeployer(t, 50*time.Millisecond)
	inst := addTestInstance(t, client, deployerTestEnvID, simulator.ServicePostgres15, "DEFAULT", true)
	if err := client.AttachServiceInstance(t.Context(), inst.UUID); err != nil {
		t.Fatal(err)
	}

	results := deployConcurrently(t.Context(), d, 10)

	if got := len(testDeployments(sim)); got != 1 {
		t.Fatalf("10 concurrent callers started %d deployments, want 1", got)
	}
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("caller %d: %v", i, r.err)
		}
		if r.deployment.UUID != testDeployments(sim)[0].UUID || r.deployment.Status != divio.DeploymentSuccess {
			t.Errorf("caller %d got deployment %+v, want the simulator's only one, succeeded", i, r.deployment)
		}
	}
	if got := simInstanceOf(t, sim, inst.UUID).Status; got != simulator.StatusAttached {
		t.Errorf("the marked instance is %s after the deployment, want ATTACHED", got)
	}
}

func TestDeployerCallersDuringADeploymentShareTheNextOne(t *testing.T) {
	d, _, sim := newTestDeployer(t, 150*time.Millisecond)

	var first []deployResult
	done := make(chan struct{})
	go func() {
		first = deployConcurrently(t.Context(), d, 3)
		close(done)
	}()
	waitForWorkingDeployment(t, sim)
	second := deployConcurrently(t.Context(), d, 5)
	<-done

	deps := testDeployments(sim)
	if len(deps) != 2 {
		t.Fatalf("callers during a running deployment led to %d deployments in all, want 2", len(deps))
	}
	if !deps[1].StartedAt.After(*deps[0].EndedAt) && !deps[1].StartedAt.Equal(*deps[0].EndedAt) {
		t.Errorf("the second deployment started at %v, before the first ended at %v", deps[1].StartedAt, *deps[0].EndedAt)
	}
	for i, r := range first {
		if r.err != nil || r.deployment.UUID != deps[0].UUID {
			t.Errorf("first caller %d: %+v, %v; want deployment %s", i, r.deployment, r.err, deps[0].UUID)
		}
	}
	for i, r := range second {
		if r.err != nil || r.deployment.UUID != deps[1].UUID {
			t.Errorf("second caller %d: %+v, %v; want deployment %s", i, r.deployment, r.err, deps[1].UUID)
		}
	}
}

func TestDeployerWaitsOutADeploymentStartedElsewhere(t *testing.T) {
	d, client, sim := newTestDeployer(t, 100*time.Millisecond)
	outside, err := client.CreateDeployment(t.Context(), deployerTestEnvID)
	if err != nil {
		t.Fatal(err)
	}

	dep, err := d.Deploy(t.Context(), deployerTestEnvID)
	if err != nil {
		t.Fatalf("Deploy while another deployment ran: %v", err)
	}
	if dep.UUID == outside.UUID {
		t.Fatal("Deploy returned the deployment started before it was called, which does not include the caller's changes")
	}
	deps := testDeployments(sim)
	if len(deps) != 2 || deps[1].UUID != dep.UUID || deps[1].StartedAt.Before(*deps[0].EndedAt) {
		t.Errorf("deployments %+v: want the outside one, then Deploy's, started after the first ended", deps)
	}
}

func TestDeployerFailureReachesEveryMember(t *testing.T) {
	d, client, sim := newTestDeployer(t, 50*time.Millisecond)
	inst := addTestInstance(t, client, deployerTestEnvID, simulator.ServicePostgres15, "DEFAULT", true)
	if err := client.AttachServiceInstance(t.Context(), inst.UUID); err != nil {
		t.Fatal(err)
	}
	sim.FailNextDeploy()

	for i, r := range deployConcurrently(t.Context(), d, 4) {
		var failed *divio.DeploymentFailedError
		if !errors.As(r.err, &failed) || failed.Deployment.Status != divio.DeploymentFailure {
			t.Errorf("caller %d: err %v, want a *DeploymentFailedError with status FAILURE", i, r.err)
		}
	}
	if got := len(testDeployments(sim)); got != 1 {
		t.Errorf("%d deployments, want 1", got)
	}
	if got := simInstanceOf(t, sim, inst.UUID).Status; got == simulator.StatusAttached {
		t.Error("a failed deployment attached the instance")
	}
}

func TestDeployerCancelledCallerReturnsWithoutBreakingTheOthers(t *testing.T) {
	d, _, sim := newTestDeployer(t, 200*time.Millisecond)
	// The first caller opens the batch, whose work must not end with this caller's context.
	ctx, cancel := context.WithCancel(t.Context())
	cancelled := make(chan error, 1)
	go func() {
		_, err := d.Deploy(ctx, deployerTestEnvID)
		cancelled <- err
	}()
	time.Sleep(5 * time.Millisecond)
	others := make(chan []deployResult, 1)
	go func() { others <- deployConcurrently(t.Context(), d, 3) }()

	waitForWorkingDeployment(t, sim)
	cancel()
	select {
	case err := <-cancelled:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the cancelled caller got %v, want context.Canceled", err)
		}
	case <-time.After(100 * time.Millisecond):
		t.Fatal("the cancelled caller did not return promptly")
	}

	for i, r := range <-others {
		if r.err != nil || r.deployment.Status != divio.DeploymentSuccess {
			t.Errorf("caller %d: %+v, %v; want the deployment succeeded", i, r.deployment, r.err)
		}
	}
	if got := len(testDeployments(sim)); got != 1 {
		t.Errorf("%d deployments, want 1", got)
	}
}

// The performance goal: 50 attachments of one environment applied with Terraform's default
// parallelism of 10 start at most 6 deployments. Each worker is a Terraform slot that marks an
// instance (a request's worth of time) and then waits for the deployment.
func TestDeployerFiftyCallersTenAtATimeStartAtMostSixDeployments(t *testing.T) {
	d, _, sim := newTestDeployer(t, 50*time.Millisecond)
	jobs := make(chan struct{}, 50)
	for range 50 {
		jobs <- struct{}{}
	}
	close(jobs)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			for range jobs {
				time.Sleep(2 * time.Millisecond)
				if _, err := d.Deploy(t.Context(), deployerTestEnvID); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	got := len(testDeployments(sim))
	t.Logf("50 callers, 10 at a time: %d deployments", got)
	if got > 6 {
		t.Errorf("50 callers, 10 at a time, started %d deployments, want at most 6", got)
	}
}

func TestDeployerSkipsABatchEveryoneLeft(t *testing.T) {
	d, _, sim := newTestDeployer(t, 0)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := d.Deploy(ctx, deployerTestEnvID); !errors.Is(err, context.Canceled) {
		t.Fatalf("Deploy with a cancelled context: %v, want context.Canceled", err)
	}
	time.Sleep(60 * time.Millisecond) // past the gathering window
	if got := len(testDeployments(sim)); got != 0 {
		t.Errorf("%d deployments started for callers that all gave up, want 0", got)
	}
}

func simInstanceOf(t *testing.T, sim *simulator.Simulator, id string) simulator.Instance {
	t.Helper()
	for _, in := range testInstances(sim) {
		if in.UUID == id {
			return in
		}
	}
	t.Fatalf("the simulator has no instance %s", id)
	return simulator.Instance{}
}
