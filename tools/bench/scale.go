package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/divio/terraform-provider-divio/internal/simulator"
	"github.com/divio/terraform-provider-divio/tools/devenv"
)

// scaleResult is one environment of goals (2) to (4): its services applied without latency, then
// planned with it.
type scaleResult struct {
	Services    int    `json:"services"`
	Environment string `json:"environment"` // application/environment slugs

	ApplySeconds            float64        `json:"apply_seconds"`
	ApplyRequests           int            `json:"apply_requests"`
	ApplyRequestsPerService float64        `json:"apply_requests_per_service"`
	ApplyRequestsByPath     map[string]int `json:"apply_requests_by_path"`

	Latency      duration  `json:"latency"`
	DivioSeconds []float64 `json:"divio_plan_seconds"`
	NoopSeconds  []float64 `json:"noop_plan_seconds"`
	Ratio        float64   `json:"ratio_divio_to_noop"`
	PlanRequests int       `json:"plan_requests"` // the most of the runs
	// The same plans without latency: what the provider's CPU adds, latency aside.
	DivioSecondsNoLatency []float64 `json:"divio_plan_seconds_without_latency"`
	NoopSecondsNoLatency  []float64 `json:"noop_plan_seconds_without_latency"`
	// RoundTrips is the plan's critical path: what the latency added to the divio plan beyond
	// what it added to the no-op plan, in latencies.
	RoundTrips int `json:"critical_path_round_trips"`

	divio, noop time.Duration // medians
	waited      time.Duration // what the latency added
}

// scaleCounts are the service counts of goals (2) to (4), each once, in the order given.
func scaleCounts(s settings) []int {
	counts := []int{s.LatencyServices}
	for _, n := range s.ScaleServices {
		if !slices.Contains(counts, n) {
			counts = append(counts, n)
		}
	}
	return counts
}

// scaleBench applies each count of services into an environment of its own, counting requests,
// then sets the simulator's latency and plans each against as many no-op resources. The services
// name their environment by id, so that the plan measures their refresh alone: looking the
// environment up through the data sources would add two round trips that any provider pays.
func scaleBench(ctx context.Context, b *bench) ([]scaleResult, []figure, error) {
	s := b.settings
	counts := scaleCounts(s)
	if len(counts) > 2*len(benchApps) {
		return nil, nil, fmt.Errorf("%d counts of services, but the bench data set has %d environments", len(counts), 2*len(benchApps))
	}
	sim, err := devenv.StartSimulator(simulator.Options{Dataset: "bench"})
	if err != nil {
		return nil, nil, err
	}
	defer sim.Close()

	results := make([]scaleResult, len(counts))
	var divio, noop []*workspace
	for i, n := range counts {
		app, env := benchApps[i%len(benchApps)], []string{"test", "live"}[i/len(benchApps)]
		d, err := newWorkspace(b.tmp, fmt.Sprintf("scale-divio-%d", n), b.cliConfig, sim.URL, divioRequired+servicesHCL(n, fmt.Sprintf("%q", simulator.EnvironmentID(app, env))))
		if err != nil {
			return nil, nil, err
		}
		o, err := newWorkspace(b.tmp, fmt.Sprintf("scale-noop-%d", n), b.cliConfig, sim.URL, planNoopConfig("noop_thing", n, 1))
		if err != nil {
			return nil, nil, err
		}
		progress("applying %d services in %s/%s, counting requests", n, app, env)
		sim.ResetCounters()
		elapsed, err := d.apply(ctx, tfexec.Parallelism(s.Parallelism))
		if err != nil {
			return nil, nil, err
		}
		counters := sim.Counters()
		results[i] = scaleResult{
			Services: n, Environment: app + "/" + env, Latency: s.Latency,
			ApplySeconds: elapsed.Seconds(), ApplyRequests: counters.Total, ApplyRequestsByPath: counters.Requests,
			ApplyRequestsPerService: float64(counters.Total) / float64(n),
		}
		if _, err := o.apply(ctx); err != nil {
			return nil, nil, err
		}
		divio, noop = append(divio, d), append(noop, o)
	}

	// plans times each pair of workspaces in turn, runs times; requests counts the divio plans'.
	plans := func(requests []int) (divioTimes, noopTimes [][]time.Duration, err error) {
		divioTimes, noopTimes = make([][]time.Duration, len(counts)), make([][]time.Duration, len(counts))
		for run := 1; run <= s.Runs; run++ {
			for i := range counts {
				sim.ResetCounters()
				d, err := divio[i].plan(ctx)
				if err != nil {
					return nil, nil, err
				}
				requests[i] = max(requests[i], sim.Counters().Total)
				o, err := noop[i].plan(ctx)
				if err != nil {
					return nil, nil, err
				}
				divioTimes[i], noopTimes[i] = append(divioTimes[i], d), append(noopTimes[i], o)
			}
		}
		return divioTimes, noopTimes, nil
	}
	progress("plans without latency, %d runs", s.Runs)
	divioFast, noopFast, err := plans(make([]int, len(counts)))
	if err != nil {
		return nil, nil, err
	}
	sim.SetFaults(simulator.Faults{Latency: time.Duration(s.Latency)})
	progress("plans at %s latency, %d runs", time.Duration(s.Latency), s.Runs)
	requests := make([]int, len(counts))
	divioTimes, noopTimes, err := plans(requests)
	if err != nil {
		return nil, nil, err
	}
	for i := range results {
		r := &results[i]
		r.PlanRequests = requests[i]
		r.DivioSeconds, r.NoopSeconds = secondsList(divioTimes[i]), secondsList(noopTimes[i])
		r.DivioSecondsNoLatency, r.NoopSecondsNoLatency = secondsList(divioFast[i]), secondsList(noopFast[i])
		r.divio, r.noop = median(divioTimes[i]), median(noopTimes[i])
		r.Ratio = r.divio.Seconds() / r.noop.Seconds()
		r.waited = (r.divio - median(divioFast[i])) - (r.noop - median(noopFast[i]))
		r.RoundTrips = int(math.Round(float64(r.waited) / float64(s.Latency)))
	}
	return results, scaleFigures(results, s), nil
}

func scaleFigures(results []scaleResult, s settings) []figure {
	latency := time.Duration(s.Latency)
	var figures []figure
	for _, r := range results {
		if r.Services == s.LatencyServices {
			figures = append(figures, targetFigure(fmt.Sprintf("(2) plan of %d services in one environment at %s latency, divio / minimal no-op", r.Services, latency),
				r.Ratio, "x", fmt.Sprintf("%.2fx (%.2f s; no-op %.2f s; %d requests)", r.Ratio, r.divio.Seconds(), r.noop.Seconds(), r.PlanRequests), "<= 1.6x", r.Ratio <= 1.6))
		}
	}
	var applies []scaleResult
	for _, r := range results {
		if slices.Contains(s.ScaleServices, r.Services) {
			applies = append(applies, r)
		}
	}
	slices.SortFunc(applies, func(a, b scaleResult) int { return a.Services - b.Services })
	for _, r := range applies {
		figures = append(figures, contextFigure(fmt.Sprintf("(3) apply of %d services in one environment: API requests per service", r.Services),
			r.ApplyRequestsPerService, "requests", fmt.Sprintf("%.2f (%d requests, %.1f s)", r.ApplyRequestsPerService, r.ApplyRequests, r.ApplySeconds)))
	}
	if len(applies) > 0 {
		smallest, largest := applies[0], applies[len(applies)-1]
		growth := largest.ApplyRequestsPerService / smallest.ApplyRequestsPerService
		figures = append(figures,
			targetFigure(fmt.Sprintf("(3) requests per service at %d", largest.Services), largest.ApplyRequestsPerService, "requests",
				fmt.Sprintf("%.2f", largest.ApplyRequestsPerService), "<= 5", largest.ApplyRequestsPerService <= 5),
			targetFigure(fmt.Sprintf("(3) requests per service, %d / %d services (flat in N)", largest.Services, smallest.Services), growth, "x",
				fmt.Sprintf("%.2fx", growth), "<= 1.1x", growth <= 1.1))
	}
	for _, r := range applies {
		peerTrips := int(math.Ceil(float64(r.Services) / float64(s.Parallelism)))
		figures = append(figures, targetFigure(
			fmt.Sprintf("(4) refresh of %d services at %s: ours / one GET per resource (parallelism %d)", r.Services, latency, s.Parallelism),
			float64(r.RoundTrips), "round trips",
			fmt.Sprintf("%d requests, %d round trips (%.2f s waited) / %d requests, %d round trips (%.2f s)",
				r.PlanRequests, r.RoundTrips, r.waited.Seconds(), r.Services, peerTrips, (time.Duration(peerTrips)*latency).Seconds()),
			"no more round trips", r.RoundTrips <= peerTrips))
	}
	return figures
}
