package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/divio/terraform-provider-divio/internal/divio"
	"github.com/divio/terraform-provider-divio/internal/simulator"
)

var deployerTestEnvID = simulator.EnvironmentID("demo-app", "test")

// testSimulator serves a simulator whose deployments last deployDelay, and returns a client that
// polls it quickly.
func testSimulator(t *testing.T, opts simulator.Options) (*divio.Client, *simulator.Simulator) {
	t.Helper()
	sim, err := simulator.New(opts)
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
	return client, sim
}

// newTestDeployer returns a deployer that gathers for 20ms, as one provider process, against a
// simulator whose deployments last deployDelay.
func newTestDeployer(t *testing.T, deployDelay time.Duration) (*deployer, *divio.Client, *simulator.Simulator) {
	t.Helper()
	client, sim := testSimulator(t, simulator.Options{DeployDelay: deployDelay})
	return deployerFor(client), client, sim
}

func deployerFor(client *divio.Client) *deployer {
	return newDeployer(client, newAPICache(client), 20*time.Millisecond)
}

// slowGatherer gathers for long enough that callers started together join one batch even on a
// loaded machine.
func slowGatherer(client *divio.Client) *deployer {
	return newDeployer(client, newAPICache(client), 300*time.Millisecond)
}

type deployResult struct {
	outcome deployOutcome
	err     error
}

// attachConcurrently attaches every instance at once and returns the results once all are back.
func attachConcurrently(ctx context.Context, d *deployer, envID string, ids []string) []deployResult {
	results := make([]deployResult, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			out, err := d.Attach(ctx, envID, id)
			results[i] = deployResult{out, err}
		})
	}
	wg.Wait()
	return results
}

// addProvisioned adds n provisioned postgres instances with prefixes P0, P1, ...
func addProvisioned(t *testing.T, client *divio.Client, envID string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = addTestInstance(t, client, envID, simulator.ServicePostgres15, fmt.Sprintf("P%d", i), true).UUID
	}
	return ids
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

func expectStatus(t *testing.T, sim *simulator.Simulator, status string, marked bool, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if in := simInstanceOf(t, sim, id); in.Status != status || in.AttachRequested != marked {
			t.Errorf("instance %s is %s (marked %v), want %s (marked %v)", id, in.Status, in.AttachRequested, status, marked)
		}
	}
}

func TestDeployerConcurrentAttachmentsShareOneDeployment(t *testing.T) {
	d, client, sim := newTestDeployer(t, 50*time.Millisecond)
	ids := addProvisioned(t, client, deployerTestEnvID, 4)

	results := attachConcurrently(t.Context(), d, deployerTestEnvID, ids)

	deps := testDeployments(sim)
	if len(deps) != 1 {
		t.Fatalf("4 concurrent attachments started %d deployments, want 1", len(deps))
	}
	for i, r := range results {
		if r.err != nil || r.outcome.Deployment == nil || r.outcome.Deployment.UUID != deps[0].UUID || !r.outcome.Marked {
			t.Errorf("caller %d: %+v, %v; want deployment %s", i, r.outcome, r.err, deps[0].UUID)
		}
	}
	expectStatus(t, sim, simulator.StatusAttached, false, ids...)
}

// An instance already attached, whose variables the application has, needs no deployment; one that
// reads ATTACHED without them (a deployment that did not give them) is deployed again.
func TestDeployerDeploysOnlyWhatNeedsIt(t *testing.T) {
	d, client, sim := newTestDeployer(t, 0)
	ids := addProvisioned(t, client, deployerTestEnvID, 1)
	if _, err := d.Attach(t.Context(), deployerTestEnvID, ids[0]); err != nil {
		t.Fatal(err)
	}
	out, err := d.Attach(t.Context(), deployerTestEnvID, ids[0])
	if err != nil || out.Deployment != nil || out.Marked {
		t.Errorf("attaching an attached instance: %+v, %v; want no deployment, no mark", out, err)
	}
	if got := len(testDeployments(sim)); got != 1 {
		t.Errorf("%d deployments, want 1", got)
	}

	// The next deployment reads ATTACHED but does not give the application the variables.
	more := addProvisioned(t, client, simulator.EnvironmentID("demo-app", "live"), 1)
	sim.DropVariablesNextDeploy()
	_, err = d.Attach(t.Context(), simulator.EnvironmentID("demo-app", "live"), more[0])
	var missing *variablesMissingError
	if !errors.As(err, &missing) || len(missing.Missing) != 1 || missing.Missing[0] != testPrefixOf(t, "P0")+"_DATABASE_DSN" {
		t.Fatalf("attach through a deployment that dropped the variables: %v; want the variables reported missing", err)
	}
	expectStatus(t, sim, simulator.StatusAttached, false, more[0])
	out, err = d.Attach(t.Context(), simulator.EnvironmentID("demo-app", "live"), more[0])
	if err != nil || out.Deployment == nil {
		t.Errorf("attaching it again: %+v, %v; want a deployment that gives the variables", out, err)
	}
}

// A deployment that was running before the instances were marked does not carry them out: the
// batch waits for it, then deploys once.
func TestDeployerWaitsOutADeploymentStartedBeforeItsMarks(t *testing.T) {
	d, client, sim := newTestDeployer(t, 100*time.Millisecond)
	ids := addProvisioned(t, client, deployerTestEnvID, 2)
	outside, err := client.CreateDeployment(t.Context(), deployerTestEnvID)
	if err != nil {
		t.Fatal(err)
	}

	results := attachConcurrently(t.Context(), d, deployerTestEnvID, ids)
	deps := testDeployments(sim)
	if len(deps) != 2 || deps[0].UUID != outside.UUID || deps[1].StartedAt.Before(*deps[0].EndedAt) {
		t.Fatalf("deployments %+v: want the outside one, then one started after it ended", deps)
	}
	for i, r := range results {
		if r.err != nil || r.outcome.Deployment.UUID != deps[1].UUID {
			t.Errorf("caller %d: %+v, %v; want deployment %s", i, r.outcome, r.err, deps[1].UUID)
		}
	}
	expectStatus(t, sim, simulator.StatusAttached, false, ids...)
}

// A deployment started after the instances were marked carries them out: the batch waits for it and
// starts none of its own (as the Divio CLI follows a running deployment instead of starting one).
func TestDeployerFollowsADeploymentThatCarriesItsMarks(t *testing.T) {
	d, client, sim := newTestDeployer(t, 100*time.Millisecond)
	ids := addProvisioned(t, client, deployerTestEnvID, 1)
	if err := client.AttachServiceInstance(t.Context(), ids[0]); err != nil {
		t.Fatal(err)
	}
	outside, err := client.CreateDeployment(t.Context(), deployerTestEnvID)
	if err != nil {
		t.Fatal(err)
	}
	out, err := d.Attach(t.Context(), deployerTestEnvID, ids[0])
	if err != nil || out.Deployment == nil || out.Deployment.UUID != outside.UUID {
		t.Fatalf("attach: %+v, %v; want the outside deployment %s", out, err, outside.UUID)
	}
	if got := len(testDeployments(sim)); got != 1 {
		t.Errorf("%d deployments, want 1", got)
	}
}

// Workspaces are provider processes of their own: four applying three attachments each to one
// environment at the same moment take at most two deployments, the first and one for what was
// marked while it ran; and exactly one when everything was marked before the first started.
func TestDeployerWorkspacesShareDeployments(t *testing.T) {
	envID := simulator.EnvironmentID("bench-app-1", "live")
	for _, markedFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("all marked before the first deployment: %v", markedFirst), func(t *testing.T) {
			client, sim := testSimulator(t, simulator.Options{Dataset: simulator.DatasetBench, DeployDelay: 200 * time.Millisecond})
			var wg sync.WaitGroup
			start := make(chan struct{})
			var all []string
			for w := range 4 {
				ids := make([]string, 3)
				for i := range ids {
					ids[i] = addTestInstance(t, client, envID, simulator.ServicePostgres15, fmt.Sprintf("W%dI%d", w, i), true).UUID
					if markedFirst {
						if err := client.AttachServiceInstance(t.Context(), ids[i]); err != nil {
							t.Fatal(err)
						}
					}
				}
				all = append(all, ids...)
				d := deployerFor(client) // a process of its own
				wg.Go(func() {
					<-start
					for i, r := range attachConcurrently(t.Context(), d, envID, ids) {
						if r.err != nil {
							t.Errorf("workspace %d, attachment %d: %v", w, i, r.err)
						}
					}
				})
			}
			close(start)
			wg.Wait()
			got, want := len(sim.Deployments()), 2
			if markedFirst {
				want = 1
			}
			t.Logf("4 workspaces, 12 attachments: %d deployments", got)
			if got > want || got == 0 {
				t.Errorf("4 workspaces took %d deployments, want at most %d", got, want)
			}
			expectStatusIn(t, sim, envID, simulator.StatusAttached, all)
		})
	}
}

func expectStatusIn(t *testing.T, sim *simulator.Simulator, envID, status string, ids []string) {
	t.Helper()
	for _, in := range sim.Instances() {
		if in.Environment == envID && in.Status != status {
			t.Errorf("instance %s (%s) is %s, want %s", in.UUID, in.Prefix, in.Status, status)
		}
	}
	if len(ids) == 0 {
		t.Error("no instances")
	}
}

func TestDeployerFailureReachesEveryMember(t *testing.T) {
	d, client, sim := newTestDeployer(t, 50*time.Millisecond)
	ids := addProvisioned(t, client, deployerTestEnvID, 3)
	sim.FailNextDeploy()

	for i, r := range attachConcurrently(t.Context(), d, deployerTestEnvID, ids) {
		var failed *divio.DeploymentFailedError
		if !errors.As(r.err, &failed) || failed.Deployment.Status != divio.DeploymentFailure || !r.outcome.Marked {
			t.Errorf("caller %d: %+v, %v; want a *DeploymentFailedError with status FAILURE, marked", i, r.outcome, r.err)
		}
	}
	if got := len(testDeployments(sim)); got != 1 {
		t.Errorf("%d deployments, want 1", got)
	}
	expectStatus(t, sim, simulator.StatusPendingAttachment, true, ids...)
}

func TestDeployerCancelledCallerReturnsWithoutBreakingTheOthers(t *testing.T) {
	client, sim := testSimulator(t, simulator.Options{DeployDelay: 3 * time.Second})
	d := slowGatherer(client)
	ids := addProvisioned(t, client, deployerTestEnvID, 4)
	ctx, cancel := context.WithCancel(t.Context())
	cancelled := make(chan deployResult, 1)
	go func() {
		out, err := d.Attach(ctx, deployerTestEnvID, ids[0])
		cancelled <- deployResult{out, err}
	}()
	others := make(chan []deployResult, 1)
	go func() { others <- attachConcurrently(t.Context(), d, deployerTestEnvID, ids[1:]) }()

	waitForWorkingDeployment(t, sim)
	cancel()
	select {
	case r := <-cancelled:
		if !errors.Is(r.err, context.Canceled) || !r.outcome.Marked || r.outcome.Deployment == nil {
			t.Errorf("the cancelled caller got %+v, %v; want context.Canceled, marked, with the running deployment", r.outcome, r.err)
		}
	case <-time.After(2 * time.Second): // the deployment lasts 3s
		t.Fatal("the cancelled caller did not return before the deployment ended")
	}
	for i, r := range <-others {
		if r.err != nil || r.outcome.Deployment.Status != divio.DeploymentSuccess {
			t.Errorf("caller %d: %+v, %v; want the deployment succeeded", i, r.outcome, r.err)
		}
	}
	if got := len(testDeployments(sim)); got != 1 {
		t.Errorf("%d deployments, want 1", got)
	}
	expectStatus(t, sim, simulator.StatusAttached, false, ids...) // the one who left too: its mark was carried out
}

// Everyone gives up (Ctrl-C) while the batch waits for a deployment started elsewhere, before one of
// its own started: the batch starts none, and undoes its marks, so that no later deployment attaches
// the instances unasked.
func TestDeployerUndoesTheMarksOfABatchEveryoneLeft(t *testing.T) {
	client, sim := testSimulator(t, simulator.Options{DeployDelay: 3 * time.Second})
	d := slowGatherer(client)
	ids := addProvisioned(t, client, deployerTestEnvID, 2)
	if _, err := client.CreateDeployment(t.Context(), deployerTestEnvID); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for { // once both are marked
			marked := 0
			for _, id := range ids {
				if simInstanceOf(t, sim, id).AttachRequested {
					marked++
				}
			}
			if marked == len(ids) {
				cancel()
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	for i, r := range attachConcurrently(ctx, d, deployerTestEnvID, ids) {
		if !errors.Is(r.err, context.Canceled) || r.outcome.Marked {
			t.Errorf("caller %d: %+v, %v; want context.Canceled, the mark undone", i, r.outcome, r.err)
		}
	}
	expectStatus(t, sim, simulator.StatusPendingAttachment, false, ids...)
	waitForNoWorkingDeployment(t, sim)
	if got := len(testDeployments(sim)); got != 1 {
		t.Errorf("%d deployments, want only the outside one", got)
	}
	expectStatus(t, sim, simulator.StatusPendingAttachment, false, ids...)
}

// waitForNoWorkingDeployment returns once the simulator runs no deployment.
func waitForNoWorkingDeployment(t *testing.T, sim *simulator.Simulator) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if !slices.ContainsFunc(testDeployments(sim), func(d simulator.Deployment) bool { return d.Status == simulator.DeploymentWorking }) {
			return
		}
	}
	t.Fatal("a deployment is still running")
}

func TestDeployerDetaches(t *testing.T) {
	d, client, sim := newTestDeployer(t, 0)
	ids := addProvisioned(t, client, deployerTestEnvID, 1)
	if _, err := d.Attach(t.Context(), deployerTestEnvID, ids[0]); err != nil {
		t.Fatal(err)
	}
	out, err := d.Detach(t.Context(), deployerTestEnvID, ids[0])
	if err != nil || out.Deployment == nil {
		t.Fatalf("detach: %+v, %v", out, err)
	}
	expectStatus(t, sim, simulator.StatusDetached, false, ids...)
	// Detaching what is only marked clears the mark, without a deployment.
	if err := client.AttachServiceInstance(t.Context(), ids[0]); err != nil {
		t.Fatal(err)
	}
	if out, err := d.Detach(t.Context(), deployerTestEnvID, ids[0]); err != nil || out.Deployment != nil {
		t.Errorf("detaching a marked instance: %+v, %v; want no deployment", out, err)
	}
	if got := len(testDeployments(sim)); got != 2 {
		t.Errorf("%d deployments, want 2", got)
	}
	expectStatus(t, sim, simulator.StatusDetached, false, ids...)
}

// divio_deployment's deployment: one that starts after the call, whatever runs.
func TestDeployerDeployStartsAfterTheCall(t *testing.T) {
	d, client, sim := newTestDeployer(t, 100*time.Millisecond)
	outside, err := client.CreateDeployment(t.Context(), deployerTestEnvID)
	if err != nil {
		t.Fatal(err)
	}
	dep, err := d.Deploy(t.Context(), deployerTestEnvID)
	if err != nil || dep.UUID == outside.UUID {
		t.Fatalf("Deploy while another deployment ran: %+v, %v; want one of its own", dep, err)
	}
	if deps := testDeployments(sim); len(deps) != 2 || deps[1].UUID != dep.UUID {
		t.Errorf("deployments %+v", deps)
	}
}

// The performance goal: 50 deployments asked for in one environment with Terraform's default
// parallelism of 10 start at most 6. Each worker is a Terraform slot that asks for a deployment
// (after a request's worth of time) and waits for it.
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

// A deployment whose answer was lost is not started again: the batch finds it (the environment's
// newest) and follows it as its own. Without that, a retried POST after a quick deployment had
// ended started a second one that changed nothing.
func TestDeployerFindsItsDeploymentAfterALostAnswer(t *testing.T) {
	sim, err := simulator.New(simulator.Options{DeployDelay: 30 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var dropped atomic.Bool
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/apps/v3/deployments/" && dropped.CompareAndSwap(false, true) {
			sim.ServeHTTP(httptest.NewRecorder(), r) // applied; its answer lost on the way back
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				_ = conn.Close()
			}
			return
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { server.Close(); _ = sim.Close() })
	client, err := divio.New(divio.Config{Endpoint: server.URL, Token: simulator.DemoToken, RetryWaitMin: 50 * time.Millisecond,
		Poll: divio.PollConfig{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond, Factor: 1.5}})
	if err != nil {
		t.Fatal(err)
	}
	ids := addProvisioned(t, client, deployerTestEnvID, 1)
	out, err := deployerFor(client).Attach(t.Context(), deployerTestEnvID, ids[0])
	deps := testDeployments(sim)
	if err != nil || len(deps) != 1 || out.Deployment == nil || out.Deployment.UUID != deps[0].UUID {
		t.Fatalf("attach after a lost answer: %+v, %v; deployments %+v; want the one deployment", out, err, deps)
	}
	expectStatus(t, sim, simulator.StatusAttached, false, ids...)
}

// The only caller gives up (Ctrl-C) while the request that marks its instance is on its way: the
// mark, made all the same, is undone, and no deployment starts.
func TestDeployerUndoesAMarkSentAsEveryoneLeft(t *testing.T) {
	sim, err := simulator.New(simulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/attach/") {
			cancel() // Ctrl-C while the mark is on its way
			time.Sleep(50 * time.Millisecond)
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { server.Close(); _ = sim.Close() })
	client, err := divio.New(divio.Config{Endpoint: server.URL, Token: simulator.DemoToken, RetryWaitMin: time.Millisecond,
		Poll: divio.PollConfig{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond, Factor: 1.5}})
	if err != nil {
		t.Fatal(err)
	}
	ids := addProvisioned(t, client, deployerTestEnvID, 1)
	out, err := deployerFor(client).Attach(ctx, deployerTestEnvID, ids[0])
	if !errors.Is(err, context.Canceled) || out.Marked {
		t.Errorf("attach: %+v, %v; want context.Canceled, and the mark undone", out, err)
	}
	expectStatus(t, sim, simulator.StatusPendingAttachment, false, ids...)
	if got := len(testDeployments(sim)); got != 0 {
		t.Errorf("%d deployments, want 0", got)
	}
}

// A detachment whose deployment (started elsewhere) fails is dropped: the instance stays attached
// (the contract's rule 3). The batch that waited for it marks again before it deploys, so that its
// own deployment detaches rather than changing nothing.
func TestDeployerMarksAgainAfterAFailedDeploymentDroppedTheMark(t *testing.T) {
	d, client, sim := newTestDeployer(t, 100*time.Millisecond)
	ids := addProvisioned(t, client, deployerTestEnvID, 1)
	if _, err := d.Attach(t.Context(), deployerTestEnvID, ids[0]); err != nil {
		t.Fatal(err)
	}
	if err := client.DetachServiceInstance(t.Context(), ids[0]); err != nil {
		t.Fatal(err)
	}
	sim.FailNextDeploy()
	if _, err := client.CreateDeployment(t.Context(), deployerTestEnvID); err != nil {
		t.Fatal(err)
	}
	out, err := d.Detach(t.Context(), deployerTestEnvID, ids[0])
	deps := testDeployments(sim)
	if err != nil || out.Deployment == nil || len(deps) != 3 || out.Deployment.UUID != deps[2].UUID || deps[1].Status != simulator.DeploymentFailure {
		t.Fatalf("detach after a failed deployment: %+v, %v; deployments %+v; want its own, after the failed one", out, err, deps)
	}
	expectStatus(t, sim, simulator.StatusDetached, false, ids...)
}

// The same, when the failed deployment ends between the batch's marks and its look-up of the
// running deployment: the batch sees the last deployment failed, and marks again before deploying.
func TestDeployerMarksAgainWhenTheLastDeploymentFailedMeanwhile(t *testing.T) {
	sim, err := simulator.New(simulator.Options{DeployDelay: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var held atomic.Bool
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/apps/v3/deployments/" && held.CompareAndSwap(false, true) {
			// The batch has marked: let the failing deployment end before it looks.
			for !slices.ContainsFunc(testDeployments(sim), func(d simulator.Deployment) bool { return d.Status == simulator.DeploymentFailure }) {
				time.Sleep(5 * time.Millisecond)
			}
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { server.Close(); _ = sim.Close() })
	client, err := divio.New(divio.Config{Endpoint: server.URL, Token: simulator.DemoToken, RetryWaitMin: time.Millisecond,
		Poll: divio.PollConfig{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond, Factor: 1.5}})
	if err != nil {
		t.Fatal(err)
	}
	ids := addProvisioned(t, client, deployerTestEnvID, 1)
	attached := simulator.StatusAttached
	if err := sim.SetInstance(ids[0], simulator.InstancePatch{Status: &attached}); err != nil {
		t.Fatal(err)
	}
	if err := client.DetachServiceInstance(t.Context(), ids[0]); err != nil { // a run cut short marked it
		t.Fatal(err)
	}
	sim.FailNextDeploy()
	if _, err := client.CreateDeployment(t.Context(), deployerTestEnvID); err != nil {
		t.Fatal(err)
	}
	out, err := deployerFor(client).Detach(t.Context(), deployerTestEnvID, ids[0])
	deps := testDeployments(sim)
	if err != nil || len(deps) != 2 || out.Deployment == nil || out.Deployment.UUID != deps[1].UUID || sim.DeploymentPlanned(deps[1].UUID) != 1 {
		t.Fatalf("detach: %+v, %v; deployments %+v; want a second deployment that detaches", out, err, deps)
	}
	expectStatus(t, sim, simulator.StatusDetached, false, ids...)
}
