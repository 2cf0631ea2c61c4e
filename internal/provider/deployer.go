package provider

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

const (
	// defaultGatherWindow is how long a batch waits for one more caller before it deploys:
	// long enough for Terraform to start the other attachments it runs in parallel, short
	// next to a deployment's minutes.
	defaultGatherWindow = 500 * time.Millisecond
	// maxGatherWindows bounds a batch's gathering, so that a steady trickle of callers cannot
	// hold its deployment back.
	maxGatherWindows = 4
	// sharedDeployTimeout bounds the work a batch does for all its members, which does not end
	// with any one member's context; each member stops waiting at its own timeout.
	sharedDeployTimeout = 6 * time.Hour
)

// errNobodyWaiting ends a batch whose members all gave up before it started: nobody wants its
// deployment any more.
var errNobodyWaiting = errors.New("every caller gave up before the deployment started")

// deployer starts the deployments of this provider process. An environment deploys everything
// marked on it at once, and only one deployment of it may run at a time; so callers for the same
// environment gather into a batch that starts one deployment they all wait on, instead of one
// deployment each, one after the other.
type deployer struct {
	client *divio.Client
	cache  *apiCache
	window time.Duration

	mu sync.Mutex
	// last is each environment's newest batch: gathering members, or started (closed).
	last map[string]*deployBatch
}

// deployBatch is the callers that one deployment serves.
type deployBatch struct {
	environmentID string
	// prev is the environment's batch before this one; it must end before this one starts.
	prev *deployBatch
	// joined tells the gathering that a member arrived, restarting its quiet window.
	joined chan struct{}

	// closed and waiting are guarded by deployer.mu.
	closed  bool // started: new callers form the next batch
	waiting int  // members that have not given up

	// done is closed once deployment and err are set; they do not change after.
	done       chan struct{}
	deployment *divio.Deployment
	err        error
}

func newDeployer(client *divio.Client, cache *apiCache, window time.Duration) *deployer {
	if window <= 0 {
		window = defaultGatherWindow
	}
	return &deployer{client: client, cache: cache, window: window, last: map[string]*deployBatch{}}
}

// Deploy runs a deployment of the environment that starts after this call began, and waits
// for it to end. A failed deployment returns *divio.DeploymentFailedError, with the deployment.
func (d *deployer) Deploy(ctx context.Context, environmentID string) (*divio.Deployment, error) {
	b := d.join(ctx, environmentID)
	select {
	case <-b.done:
		return b.deployment, b.err
	case <-ctx.Done():
		d.leave(b)
		return nil, fmt.Errorf("gave up waiting for the deployment of environment %s: %w", environmentID, ctx.Err())
	}
}

// join adds the caller to the environment's gathering batch, or opens one.
func (d *deployer) join(ctx context.Context, environmentID string) *deployBatch {
	d.mu.Lock()
	defer d.mu.Unlock()
	b := d.last[environmentID]
	if b == nil || b.closed {
		b = &deployBatch{environmentID: environmentID, prev: b, joined: make(chan struct{}, 1), done: make(chan struct{})}
		d.last[environmentID] = b
		// The batch's work outlives this caller if it gives up; the values (loggers) are kept.
		go d.run(context.WithoutCancel(ctx), b)
	} else {
		select {
		case b.joined <- struct{}{}:
		default: // a signal is already pending; one is enough
		}
	}
	b.waiting++
	return b
}

func (d *deployer) leave(b *deployBatch) {
	d.mu.Lock()
	b.waiting--
	d.mu.Unlock()
}

// run gathers the batch, waits for the previous one to end, and runs the batch's deployment.
func (d *deployer) run(ctx context.Context, b *deployBatch) {
	defer d.finish(b)
	d.gather(b)
	if b.prev != nil {
		<-b.prev.done
		b.prev = nil // do not keep the chain of every batch alive
		// The previous batch's members are done, so Terraform starts other resources now:
		// those of this environment should find this batch still gathering.
		d.gather(b)
	}
	if !d.close(b) {
		b.err = errNobodyWaiting
		return
	}
	ctx, cancel := context.WithTimeout(ctx, sharedDeployTimeout)
	defer cancel()
	b.deployment, b.err = d.deploy(ctx, b.environmentID)
	// Whatever the outcome, the deployment may have changed the environment's instances.
	d.cache.ForgetInstances(b.environmentID)
}

// gather returns once no member arrived for a window, or maxGatherWindows after it began.
func (d *deployer) gather(b *deployBatch) {
	quiet := time.NewTimer(d.window)
	defer quiet.Stop()
	limit := time.NewTimer(maxGatherWindows * d.window)
	defer limit.Stop()
	for {
		select {
		case <-b.joined:
			quiet.Reset(d.window)
		case <-quiet.C:
			return
		case <-limit.C:
			return
		}
	}
}

// close stops the batch taking members, and reports whether any is still waiting.
func (d *deployer) close(b *deployBatch) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	b.closed = true
	return b.waiting > 0
}

func (d *deployer) finish(b *deployBatch) {
	close(b.done)
	d.mu.Lock()
	if d.last[b.environmentID] == b {
		delete(d.last, b.environmentID)
	}
	d.mu.Unlock()
}

// deploy starts a deployment and waits for it to end.
func (d *deployer) deploy(ctx context.Context, environmentID string) (*divio.Deployment, error) {
	var started *divio.Deployment
	// While another deployment of the environment runs (started outside this process, or by a
	// retry whose first answer was lost) the API refuses a new one: wait, and try again.
	err := d.client.Poll(ctx, "the running deployment of environment "+environmentID+" to end", func(ctx context.Context) (bool, error) {
		var err error
		started, err = d.client.CreateDeployment(ctx, environmentID)
		if errors.Is(err, divio.ErrConflict) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return nil, err
	}
	return d.client.WaitForDeployment(ctx, started.UUID)
}
