package divio

import (
	"context"
	"fmt"
	"time"
)

// PollConfig shapes how waiters poll: the first wait is Initial, each next one Factor times
// longer, never longer than Max.
type PollConfig struct {
	Initial time.Duration
	Max     time.Duration
	Factor  float64
}

// DefaultPoll notices a change soon after it happens: a poller sees it at most about (Factor-1)
// of the time waited so far, plus Initial, late (0.35s for a 5s backup), and never more than Max late on a long wait, at
// one request every Max seconds. Starting small costs about 40 requests more per long wait (the
// polls before the interval reaches Max, some 38s in) and saves about a second per short one,
// which an upgrade's four waits in a row feel.
var DefaultPoll = PollConfig{Initial: 100 * time.Millisecond, Max: 2 * time.Second, Factor: 1.05}

func (p PollConfig) withDefaults() PollConfig {
	p.Initial = orDefault(p.Initial, DefaultPoll.Initial)
	p.Max = max(orDefault(p.Max, DefaultPoll.Max), p.Initial)
	if p.Factor < 1 {
		p.Factor = DefaultPoll.Factor
	}
	return p
}

// Poll calls check until it reports done or fails, waiting between calls as the client's
// PollConfig says; it gives up when ctx ends, with an error that names what it waited for.
func (c *Client) Poll(ctx context.Context, what string, check func(ctx context.Context) (done bool, err error)) error {
	wait := c.poll.Initial
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up waiting for %s: %w", what, ctx.Err())
		case <-timer.C:
		}
		done, err := check(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("gave up waiting for %s: %w", what, ctx.Err())
			}
			return err
		}
		if done {
			return nil
		}
		timer.Reset(wait)
		wait = min(time.Duration(float64(wait)*c.poll.Factor), c.poll.Max)
	}
}

// WaitForInstance polls an instance until until(instance) is true, and returns it then. An
// instance that disappears while waited for ends the wait with an ErrNotFound error.
func (c *Client) WaitForInstance(ctx context.Context, id, what string, until func(*ServiceInstance) bool) (*ServiceInstance, error) {
	return pollFor(ctx, c, fmt.Sprintf("service instance %s to %s", id, what), func(ctx context.Context) (*ServiceInstance, error) {
		return c.GetServiceInstance(ctx, id)
	}, until)
}

// WaitForDeployment polls a deployment until it ends. A deployment that ends in failure
// returns a *DeploymentFailedError along with the deployment.
func (c *Client) WaitForDeployment(ctx context.Context, id string) (*Deployment, error) {
	return c.WaitForDeploymentProgress(ctx, id, nil)
}

// WaitForDeploymentProgress is WaitForDeployment that hands every reading of the deployment to
// progress (if not nil), for callers that report its percent.
func (c *Client) WaitForDeploymentProgress(ctx context.Context, id string, progress func(*Deployment)) (*Deployment, error) {
	d, err := pollFor(ctx, c, "deployment "+id+" to finish", func(ctx context.Context) (*Deployment, error) {
		d, err := c.GetDeployment(ctx, id)
		if err == nil && progress != nil {
			progress(d)
		}
		return d, err
	}, (*Deployment).Finished)
	if err != nil {
		return d, err
	}
	if d.Failed() {
		return d, &DeploymentFailedError{Deployment: d}
	}
	return d, nil
}

// pollFor polls get until done says so, and returns what get read last.
func pollFor[T any](ctx context.Context, c *Client, what string, get func(context.Context) (*T, error), done func(*T) bool) (*T, error) {
	var obj *T
	err := c.Poll(ctx, what, func(ctx context.Context) (bool, error) {
		latest, err := get(ctx)
		if err != nil {
			return false, err
		}
		obj = latest
		return done(obj), nil
	})
	return obj, err
}
