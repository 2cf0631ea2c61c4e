package main

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/divio/terraform-provider-divio/internal/simulator"
	"github.com/divio/terraform-provider-divio/tools/devenv"
)

// applyResult is one variant of figure (3).
type applyResult struct {
	Variant      string  `json:"variant"`
	Description  string  `json:"description"`
	Environment  string  `json:"environment"` // application/environment slugs
	Services     int     `json:"services"`
	Parallelism  int     `json:"parallelism"`
	Seconds      float64 `json:"seconds"`
	FloorSeconds float64 `json:"floor_seconds"`
	Deployments  int     `json:"deployments"`
	// DeploymentTimes are when each deployment started and ended, in seconds after the apply
	// began: the gaps between them are time the apply spent on something else.
	DeploymentTimes [][2]float64   `json:"deployment_times"`
	Requests        int            `json:"requests"`
	RequestsByPath  map[string]int `json:"requests_by_path"`
}

// applyVariant is one way of writing n services and their attachments to one environment. Only
// (3b) is left: (3a), attachments deploying one by one, was retired as a goal by issue 14, since
// each resource holds one of Terraform's parallel slots while it waits.
type applyVariant struct {
	name, description string
	app, env          string
	maxDeployments    int
	exactDeployments  bool
}

var applyVariants = []applyVariant{
	{
		name:        "b",
		description: "attachments with deploy = false, one divio_deployment depending on them, services with provision = false",
		app:         "bench-app-2", env: "test",
		maxDeployments:   1,
		exactDeployments: true,
	},
}

// applyBench applies each variant in its own environment of a simulator with realistic delays,
// and counts the deployments the simulator saw in that environment.
func applyBench(ctx context.Context, b *bench) ([]applyResult, []figure, error) {
	s := b.settings
	sim, err := devenv.StartSimulator(simulator.Options{Dataset: "bench", ProvisionDelay: time.Duration(s.ProvisionDelay), DeployDelay: time.Duration(s.DeployDelay)})
	if err != nil {
		return nil, nil, err
	}
	defer sim.Close()

	floor := time.Duration(s.ProvisionDelay + s.DeployDelay)
	var results []applyResult
	var figures []figure
	for _, v := range applyVariants {
		w, err := newWorkspace(b.tmp, "apply-"+v.name, b.cliConfig, sim.URL, batchedApplyConfig(s.ApplyServices, v.app, v.env))
		if err != nil {
			return nil, nil, err
		}
		progress("apply (%s): %d services and attachments in %s/%s", v.name, s.ApplyServices, v.app, v.env)
		sim.ResetCounters()
		began := time.Now()
		elapsed, err := w.apply(ctx, tfexec.Parallelism(s.Parallelism))
		if err != nil {
			return nil, nil, err
		}
		envID := simulator.EnvironmentID(v.app, v.env)
		if attached := countAttached(sim, envID); attached != s.ApplyServices {
			return nil, nil, fmt.Errorf("apply (%s) succeeded but %d of %d instances are ATTACHED", v.name, attached, s.ApplyServices)
		}
		counters := sim.Counters()
		r := applyResult{
			Variant:         v.name,
			Description:     v.description,
			Environment:     v.app + "/" + v.env,
			Services:        s.ApplyServices,
			Parallelism:     s.Parallelism,
			Seconds:         elapsed.Seconds(),
			FloorSeconds:    floor.Seconds(),
			DeploymentTimes: deploymentTimes(sim, envID, began),
			Requests:        counters.Total,
			RequestsByPath:  counters.Requests,
		}
		r.Deployments = len(r.DeploymentTimes)
		results = append(results, r)
		figures = append(figures, applyFigures(v, r)...)
	}
	return results, figures, nil
}

func applyFigures(v applyVariant, r applyResult) []figure {
	ratio := r.Seconds / r.FloorSeconds
	deployTarget, deployPass := fmt.Sprintf("<= %d", v.maxDeployments), r.Deployments <= v.maxDeployments
	if v.exactDeployments {
		deployTarget, deployPass = fmt.Sprintf("= %d", v.maxDeployments), r.Deployments == v.maxDeployments
	}
	return []figure{
		targetFigure(fmt.Sprintf("(3%s) apply of %d services + attachments, wall time / floor", v.name, r.Services), ratio, "x",
			fmt.Sprintf("%.2fx (%.1f s; floor %.1f s)", ratio, r.Seconds, r.FloorSeconds), "<= 1.5x", ratio <= 1.5),
		targetFigure(fmt.Sprintf("(3%s) deployments started (parallelism %d)", v.name, r.Parallelism), float64(r.Deployments), "deployments",
			fmt.Sprint(r.Deployments), deployTarget, deployPass),
	}
}

func countAttached(sim *devenv.Simulator, envID string) int {
	n := 0
	for _, in := range sim.Instances() {
		if in.Environment == envID && in.Status == simulator.StatusAttached {
			n++
		}
	}
	return n
}

// deploymentTimes are the deployments of the environment that started since began and have ended.
func deploymentTimes(sim *devenv.Simulator, envID string, began time.Time) [][2]float64 {
	var times [][2]float64
	for _, d := range sim.Deployments() {
		if d.Environment == envID && d.EndedAt != nil && !d.StartedAt.Before(began) {
			times = append(times, [2]float64{d.StartedAt.Sub(began).Seconds(), d.EndedAt.Sub(began).Seconds()})
		}
	}
	return times
}
