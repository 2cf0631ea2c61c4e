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

// newTestDeployer returns a deployer that gathers for 20ms, as one provider process, against a
// simulator whose deployments last deployDelay.
func newTestDeployer(t *testing.T, deployDelay time.Duration) (*deployer, *divio.Client, *simulator.Simulator) {
	t.Helper()
	client, sim := simulatorClient(t, simulator.Options{DeployDelay: deployDelay}, time.Millisecond, nil)
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

func TestDeployerConcurrentAttachmentsShareOneDeployment(t *testing.T) {
	d, client, sim := newTestDeployer(t, 50*time.Millisecond)
	ids := addProvisioned(t, client, demoTestEnvID, 4)

	results := attachConcurrently(t.Context(), d, demoTestEnvID, ids)

	deps := testDeployments(sim)
	if len(deps) != 1 {
		t.Fatalf("4 concurrent attachments started %d deployments, want 1", len(deps))
	}
	for i, r := range results {
		if r.err != nil || r.outcome.Deployment == nil || r.outcome.Deployment.UUID != deps[0].UUID {
			t.Errorf("caller %d: %+v, %v; want deployment %s", i, r.outcome, r.err, deps[0].UUID)
		}
	}
	expectStatus(t, sim, simulator.StatusAttached, ids...)
}

// An instance already attached, whose variables the application has, needs no deployment; one that
// reads ATTACHED without them (a deployment that did not give them) is deployed again.
func TestDeployerDeploysOnlyWhatNeedsIt(t *testing.T) {
	d, client, sim := newTestDeployer(t, 0)
	ids := addProvisioned(t, client, demoTestEnvID, 1)
	if _, err := d.Attach(t.Context(), demoTestEnvID, ids[0]); err != nil {
		t.Fatal(err)
	}
	out, err := d.Attach(t.Context(), demoTestEnvID, ids[0])
	if err != nil || out.Deployment != nil || out.Pending {
		t.Errorf("attaching an attached instance: %+v, %v; want no deployment, nothing pending", out, err)
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
	expectStatus(t, sim, simulator.StatusAttached, more[0])
	out, err = d.Attach(t.Context(), simulator.EnvironmentID("demo-app", "live"), more[0])
	if err != nil || out.Deployment == nil {
		t.Errorf("attaching it again: %+v, %v; want a deployment that gives the variables", out, err)
	}
}

// A deployment that was running before the instances were added does not attach them (it acts on
// the instances as they stood when it started): the batch waits for it, then deploys once.
func TestDeployerWaitsOutADeploymentStartedBeforeItsInstances(t *testing.T) {
	d, client, sim := newTestDeployer(t, 100*time.Millisecond)
	outside, err := client.CreateDeployment(t.Context(), demoTestEnvID)
	if err != nil {
		t.Fatal(err)
	}
	ids := addProvisioned(t, client, demoTestEnvID, 2)

	results := attachConcurrently(t.Context(), d, demoTestEnvID, ids)
	deps := testDeployments(sim)
	if len(deps) != 2 || deps[0].UUID != outside.UUID || deps[1].StartedAt.Before(*deps[0].EndedAt) {
		t.Fatalf("deployments %+v: want the outside one, then one started after it ended", deps)
	}
	for i, r := range results {
		if r.err != nil || r.outcome.Deployment.UUID != deps[1].UUID {
			t.Errorf("caller %d: %+v, %v; want deployment %s", i, r.outcome, r.err, deps[1].UUID)
		}
	}
	expectStatus(t, sim, simulator.StatusAttached, ids...)
}

// A deployment started by someone else (a git push, another workspace) after the instance was added
// attaches it, as every deployment attaches what awaits attachment: the batch follows it and starts
// none of its own (as the Divio CLI follows a running deployment instead of starting one). A
// DETACHED instance is asked to be attached again first, and then the same holds.
func TestDeployerFollowsAnOutsideDeploymentThatAttachesItsInstance(t *testing.T) {
	for _, detachedFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("detached first: %v", detachedFirst), func(t *testing.T) {
			d, client, sim := newTestDeployer(t, 100*time.Millisecond)
			ids := addProvisioned(t, client, demoTestEnvID, 1)
			if detachedFirst {
				detached := simulator.StatusDetached
				if err := sim.SetInstance(ids[0], simulator.InstancePatch{Status: &detached}); err != nil {
					t.Fatal(err)
				}
				if err := client.AttachServiceInstance(t.Context(), ids[0]); err != nil {
					t.Fatal(err)
				}
			}
			outside, err := client.CreateDeployment(t.Context(), demoTestEnvID)
			if err != nil {
				t.Fatal(err)
			}
			out, err := d.Attach(t.Context(), demoTestEnvID, ids[0])
			if err != nil || out.Deployment == nil || out.Deployment.UUID != outside.UUID {
				t.Fatalf("attach: %+v, %v; want the outside deployment %s", out, err, outside.UUID)
			}
			if got := len(testDeployments(sim)); got != 1 {
				t.Errorf("%d deployments, want only the outside one", got)
			}
			expectStatus(t, sim, simulator.StatusAttached, ids...)
		})
	}
}

// Workspaces are provider processes of their own: four applying three attachments each to one
// environment at the same moment take one deployment when every instance was added before the first
// started (it attaches them all), and at most two when each workspace adds its instances as it goes:
// the first, and one for what was added while it ran.
func TestDeployerWorkspacesShareDeployments(t *testing.T) {
	envID := simulator.EnvironmentID("bench-app-1", "live")
	for _, addedFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("all added before the first deployment: %v", addedFirst), func(t *testing.T) {
			client, sim := simulatorClient(t, simulator.Options{Dataset: simulator.DatasetBench, DeployDelay: 200 * time.Millisecond}, time.Millisecond, nil)
			var wg sync.WaitGroup
			start := make(chan struct{})
			add := func(w int) []string {
				ids := make([]string, 3)
				for i := range ids {
					ids[i] = addTestInstance(t, client, envID, simulator.ServicePostgres15, fmt.Sprintf("W%dI%d", w, i), true).UUID
				}
				return ids
			}
			for w := range 4 {
				var ids []string
				if addedFirst {
					ids = add(w)
				}
				d := deployerFor(client) // a process of its own
				wg.Go(func() {
					<-start
					if !addedFirst {
						ids = add(w)
					}
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
			if addedFirst {
				want = 1
			}
			t.Logf("4 workspaces, 12 attachments: %d deployments", got)
			if got > want || got == 0 {
				t.Errorf("4 workspaces took %d deployments, want at most %d", got, want)
			}
			expectEveryInstanceIn(t, sim, envID, simulator.StatusAttached)
		})
	}
}

func TestDeployerFailureReachesEveryMember(t *testing.T) {
	d, client, sim := newTestDeployer(t, 50*time.Millisecond)
	ids := addProvisioned(t, client, demoTestEnvID, 3)
	sim.FailNextDeploy()

	for i, r := range attachConcurrently(t.Context(), d, demoTestEnvID, ids) {
		var failed *divio.DeploymentFailedError
		if !errors.As(r.err, &failed) || !failed.Deployment.Failed() || !r.outcome.Pending {
			t.Errorf("caller %d: %+v, %v; want a *DeploymentFailedError, the attachment still pending", i, r.outcome, r.err)
		}
	}
	if got := len(testDeployments(sim)); got != 1 {
		t.Errorf("%d deployments, want 1", got)
	}
	expectStatus(t, sim, simulator.StatusPendingAttachment, ids...)
}

func TestDeployerCancelledCallerReturnsWithoutBreakingTheOthers(t *testing.T) {
	client, sim := simulatorClient(t, simulator.Options{DeployDelay: 3 * time.Second}, time.Millisecond, nil)
	d := slowGatherer(client)
	ids := addProvisioned(t, client, demoTestEnvID, 4)
	ctx, cancel := context.WithCancel(t.Context())
	cancelled := make(chan deployResult, 1)
	go func() {
		out, err := d.Attach(ctx, demoTestEnvID, ids[0])
		cancelled <- deployResult{out, err}
	}()
	others := make(chan []deployResult, 1)
	go func() { others <- attachConcurrently(t.Context(), d, demoTestEnvID, ids[1:]) }()

	waitUntil(t, "a deployment runs", func() bool { return workingDeployment(sim) != nil })
	cancel()
	select {
	case r := <-cancelled:
		if !errors.Is(r.err, context.Canceled) || !r.outcome.Pending || r.outcome.Deployment == nil {
			t.Errorf("the cancelled caller got %+v, %v; want context.Canceled, the attachment pending, with the running deployment", r.outcome, r.err)
		}
	case <-time.After(2 * time.Second): // the deployment lasts 3s
		t.Fatal("the cancelled caller did not return before the deployment ended")
	}
	for i, r := range <-others {
		if r.err != nil || !r.outcome.Deployment.Succeeded() {
			t.Errorf("caller %d: %+v, %v; want the deployment succeeded", i, r.outcome, r.err)
		}
	}
	if got := len(testDeployments(sim)); got != 1 {
		t.Errorf("%d deployments, want 1", got)
	}
	expectStatus(t, sim, simulator.StatusAttached, ids...) // the one who left too: the deployment attached it
}

// Everyone gives up (Ctrl-C) while the batch waits for a deployment started elsewhere, before one of
// its own started: the batch starts none, and takes back the detachments it asked for, so that no
// later deployment detaches the instances unasked.
func TestDeployerTakesBackTheDetachmentsOfABatchEveryoneLeft(t *testing.T) {
	client, sim := simulatorClient(t, simulator.Options{DeployDelay: 3 * time.Second}, time.Millisecond, nil)
	d := slowGatherer(client)
	ids := addProvisioned(t, client, demoTestEnvID, 2)
	attached := simulator.StatusAttached
	for _, id := range ids {
		if err := sim.SetInstance(id, simulator.InstancePatch{Status: &attached}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.CreateDeployment(t.Context(), demoTestEnvID); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for { // once both detachments are asked for
			pending := 0
			for _, id := range ids {
				if expectSimInstance(sim, id, simulator.StatusPendingDetachment)(nil) == nil {
					pending++
				}
			}
			if pending == len(ids) {
				cancel()
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	results := make([]deployResult, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			out, err := d.Detach(ctx, demoTestEnvID, id)
			results[i] = deployResult{out, err}
		})
	}
	wg.Wait()
	for i, r := range results {
		if !errors.Is(r.err, context.Canceled) || r.outcome.Pending {
			t.Errorf("caller %d: %+v, %v; want context.Canceled, the detachment taken back", i, r.outcome, r.err)
		}
	}
	expectStatus(t, sim, simulator.StatusAttached, ids...)
	waitUntil(t, "no deployment runs", func() bool { return workingDeployment(sim) == nil })
	if got := len(testDeployments(sim)); got != 1 {
		t.Errorf("%d deployments, want only the outside one", got)
	}
	expectStatus(t, sim, simulator.StatusAttached, ids...)
}

func TestDeployerDetaches(t *testing.T) {
	d, client, sim := newTestDeployer(t, 0)
	ids := addProvisioned(t, client, demoTestEnvID, 1)
	if _, err := d.Attach(t.Context(), demoTestEnvID, ids[0]); err != nil {
		t.Fatal(err)
	}
	out, err := d.Detach(t.Context(), demoTestEnvID, ids[0])
	if err != nil || out.Deployment == nil {
		t.Fatalf("detach: %+v, %v", out, err)
	}
	expectStatus(t, sim, simulator.StatusDetached, ids...)
	// An instance that awaits attachment is not in use: there is nothing to detach, and no
	// deployment (Divio's next deployment attaches it all the same, which the attachment's Delete
	// says).
	if err := client.AttachServiceInstance(t.Context(), ids[0]); err != nil {
		t.Fatal(err)
	}
	out, err = d.Detach(t.Context(), demoTestEnvID, ids[0])
	if err != nil || out.Deployment != nil || out.Instance == nil || !out.Instance.AwaitsAttachment() {
		t.Errorf("detaching an instance that awaits attachment: %+v, %v; want no deployment, the instance as it awaits", out, err)
	}
	if got := len(testDeployments(sim)); got != 2 {
		t.Errorf("%d deployments, want 2", got)
	}
	expectStatus(t, sim, simulator.StatusPendingAttachment, ids...)
}

// divio_deployment's deployment: one that starts after the call, whatever runs.
func TestDeployerDeployStartsAfterTheCall(t *testing.T) {
	d, client, sim := newTestDeployer(t, 100*time.Millisecond)
	outside, err := client.CreateDeployment(t.Context(), demoTestEnvID)
	if err != nil {
		t.Fatal(err)
	}
	dep, err := d.Deploy(t.Context(), demoTestEnvID)
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
				if _, err := d.Deploy(t.Context(), demoTestEnvID); err != nil {
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
	if _, err := d.Deploy(ctx, demoTestEnvID); !errors.Is(err, context.Canceled) {
		t.Fatalf("Deploy with a cancelled context: %v, want context.Canceled", err)
	}
	time.Sleep(60 * time.Millisecond) // past the gathering window
	if got := len(testDeployments(sim)); got != 0 {
		t.Errorf("%d deployments started for callers that all gave up, want 0", got)
	}
}

// A deployment whose answer was lost is not started again: the batch finds it (the environment's
// newest) and follows it as its own. Without that, a retried POST after a quick deployment had
// ended started a second one that changed nothing.
func TestDeployerFindsItsDeploymentAfterALostAnswer(t *testing.T) {
	var dropped atomic.Bool
	// A blind retry of the POST would come after the deployment (30ms) has ended, and start a second one.
	client, sim := simulatorClient(t, simulator.Options{DeployDelay: 30 * time.Millisecond}, 50*time.Millisecond, func(sim *simulator.Simulator) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && r.URL.Path == "/apps/v3/deployments/" && dropped.CompareAndSwap(false, true) {
				sim.ServeHTTP(httptest.NewRecorder(), r) // applied; its answer lost on the way back
				if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
					_ = conn.Close()
				}
				return
			}
			sim.ServeHTTP(w, r)
		})
	})
	ids := addProvisioned(t, client, demoTestEnvID, 1)
	out, err := deployerFor(client).Attach(t.Context(), demoTestEnvID, ids[0])
	deps := testDeployments(sim)
	if err != nil || len(deps) != 1 || out.Deployment == nil || out.Deployment.UUID != deps[0].UUID {
		t.Fatalf("attach after a lost answer: %+v, %v; deployments %+v; want the one deployment", out, err, deps)
	}
	expectStatus(t, sim, simulator.StatusAttached, ids...)
}

// The only caller gives up (Ctrl-C) while the request its change waits on is on its way. A
// detachment, made all the same, is taken back, and no deployment starts. An attachment cannot be
// taken back (an instance that awaits attachment cannot be detached): the caller learns that it is
// pending, and the environment's next deployment attaches it.
func TestDeployerTakesBackADetachmentSentAsEveryoneLeft(t *testing.T) {
	for _, attach := range []bool{false, true} {
		t.Run(fmt.Sprintf("attach: %v", attach), func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			request := "/detach/"
			if attach {
				request = "/attach/"
			}
			client, sim := simulatorClient(t, simulator.Options{}, time.Millisecond, func(sim *simulator.Simulator) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, request) {
						cancel() // Ctrl-C while the request is on its way
						time.Sleep(50 * time.Millisecond)
					}
					sim.ServeHTTP(w, r)
				})
			})
			ids := addProvisioned(t, client, demoTestEnvID, 1)
			from, want := simulator.StatusAttached, simulator.StatusAttached
			if attach {
				from, want = simulator.StatusDetached, simulator.StatusPendingAttachment
			}
			if err := sim.SetInstance(ids[0], simulator.InstancePatch{Status: &from}); err != nil {
				t.Fatal(err)
			}
			var out deployOutcome
			var err error
			if attach {
				out, err = deployerFor(client).Attach(ctx, demoTestEnvID, ids[0])
			} else {
				out, err = deployerFor(client).Detach(ctx, demoTestEnvID, ids[0])
			}
			if !errors.Is(err, context.Canceled) || out.Pending != attach {
				t.Errorf("%+v, %v; want context.Canceled, pending %v", out, err, attach)
			}
			expectStatus(t, sim, want, ids...)
			if got := len(testDeployments(sim)); got != 0 {
				t.Errorf("%d deployments, want 0", got)
			}
		})
	}
}

// A detachment whose deployment (started elsewhere) fails is dropped: the instance stays attached
// (the contract's rule 3). The batch that waited for it asks again before it deploys, so that its
// own deployment detaches rather than changing nothing.
func TestDeployerAsksAgainAfterAFailedDeploymentUndidTheDetachment(t *testing.T) {
	d, client, sim := newTestDeployer(t, 100*time.Millisecond)
	ids := addProvisioned(t, client, demoTestEnvID, 1)
	if _, err := d.Attach(t.Context(), demoTestEnvID, ids[0]); err != nil {
		t.Fatal(err)
	}
	if err := client.DetachServiceInstance(t.Context(), ids[0]); err != nil {
		t.Fatal(err)
	}
	sim.FailNextDeploy()
	if _, err := client.CreateDeployment(t.Context(), demoTestEnvID); err != nil {
		t.Fatal(err)
	}
	out, err := d.Detach(t.Context(), demoTestEnvID, ids[0])
	deps := testDeployments(sim)
	if err != nil || out.Deployment == nil || len(deps) != 3 || out.Deployment.UUID != deps[2].UUID || deps[1].Status != simulator.DeploymentFailure {
		t.Fatalf("detach after a failed deployment: %+v, %v; deployments %+v; want its own, after the failed one", out, err, deps)
	}
	expectStatus(t, sim, simulator.StatusDetached, ids...)
}

// The same, when the failed deployment ends between the batch's requests and its look-up of the
// running deployment: the batch sees the last deployment failed, and asks again before deploying.
func TestDeployerAsksAgainWhenTheLastDeploymentFailedMeanwhile(t *testing.T) {
	var held atomic.Bool
	client, sim := simulatorClient(t, simulator.Options{DeployDelay: 200 * time.Millisecond}, time.Millisecond, func(sim *simulator.Simulator) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && r.URL.Path == "/apps/v3/deployments/" && held.CompareAndSwap(false, true) {
				// The batch has asked: let the failing deployment end before it looks.
				for !slices.ContainsFunc(testDeployments(sim), func(d simulator.Deployment) bool { return d.Status == simulator.DeploymentFailure }) {
					time.Sleep(5 * time.Millisecond)
				}
			}
			sim.ServeHTTP(w, r)
		})
	})
	ids := addProvisioned(t, client, demoTestEnvID, 1)
	attached := simulator.StatusAttached
	if err := sim.SetInstance(ids[0], simulator.InstancePatch{Status: &attached}); err != nil {
		t.Fatal(err)
	}
	if err := client.DetachServiceInstance(t.Context(), ids[0]); err != nil { // a run cut short asked for it
		t.Fatal(err)
	}
	sim.FailNextDeploy()
	if _, err := client.CreateDeployment(t.Context(), demoTestEnvID); err != nil {
		t.Fatal(err)
	}
	out, err := deployerFor(client).Detach(t.Context(), demoTestEnvID, ids[0])
	deps := testDeployments(sim)
	if err != nil || len(deps) != 2 || out.Deployment == nil || out.Deployment.UUID != deps[1].UUID || sim.DeploymentPlanned(deps[1].UUID) != 1 {
		t.Fatalf("detach: %+v, %v; deployments %+v; want a second deployment that detaches", out, err, deps)
	}
	expectStatus(t, sim, simulator.StatusDetached, ids...)
}
