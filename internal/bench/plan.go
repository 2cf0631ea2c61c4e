package main

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/divio/terraform-provider-divio/internal/devenv"
	"github.com/divio/terraform-provider-divio/internal/simulator"
)

// planResults are the raw numbers behind figures (1), (2) and (4).
type planResults struct {
	Resources    int `json:"resources"`
	Environments int `json:"environments"`

	DivioSeconds []float64 `json:"divio_plan_seconds"`
	NoopSeconds  []float64 `json:"noop_plan_seconds"`
	DataSeconds  []float64 `json:"terraform_data_plan_seconds"`
	Ratio        float64   `json:"ratio_divio_to_noop"`

	// RequestsPerPlan is the simulator's request count of each timed divio plan; RequestsByPath
	// breaks down the last one.
	RequestsPerPlan     []int          `json:"requests_per_plan"`
	RequestsByPath      map[string]int `json:"requests_by_path"`
	RequestsPerResource float64        `json:"requests_per_resource"`

	Divio processResults `json:"divio_process"`
	Noop  processResults `json:"noop_process"`
}

// processResults are what a provider process started by the benchmark showed.
type processResults struct {
	StartupSeconds []float64 `json:"startup_seconds"`
	PeakRSSBytes   int64     `json:"peak_rss_bytes"`
	PlanSeconds    float64   `json:"reattached_plan_seconds"`

	startup time.Duration // median of the start-ups
}

// planBench applies n services (and as many no-op and terraform_data resources) once, then
// plans each of them runs times, interleaved so that a slow moment of the shared machine hits
// all three alike.
func planBench(ctx context.Context, b *bench) (*planResults, []figure, error) {
	sim, err := devenv.StartSimulator(simulator.Options{Dataset: "bench"})
	if err != nil {
		return nil, nil, err
	}
	defer sim.Close()

	environments := 2 * len(benchApps)
	n := b.settings.Resources
	configs := []struct{ name, config string }{
		{"divio", planDivioConfig(n)},
		{"noop", planNoopConfig(n, environments)},
		{"terraform_data", planDataConfig(n, environments)},
	}
	var ws []*workspace
	for _, c := range configs {
		w, err := newWorkspace(b.tmp, "plan-"+c.name, b.cliConfig, sim.URL, c.config)
		if err != nil {
			return nil, nil, err
		}
		progress("applying %d %s resources", n, c.name)
		if _, err := w.apply(ctx); err != nil {
			return nil, nil, err
		}
		ws = append(ws, w)
	}
	divio, noop, data := ws[0], ws[1], ws[2]

	res := &planResults{Resources: n, Environments: environments}
	var divioTimes, noopTimes, dataTimes []time.Duration
	for run := 1; run <= b.settings.Runs; run++ {
		progress("plan run %d of %d", run, b.settings.Runs)
		sim.ResetCounters()
		d, err := divio.plan(ctx)
		if err != nil {
			return nil, nil, err
		}
		counters := sim.Counters()
		res.RequestsPerPlan = append(res.RequestsPerPlan, counters.Total)
		res.RequestsByPath = counters.Requests
		divioTimes = append(divioTimes, d)
		if d, err = noop.plan(ctx); err != nil {
			return nil, nil, err
		}
		noopTimes = append(noopTimes, d)
		if d, err = data.plan(ctx); err != nil {
			return nil, nil, err
		}
		dataTimes = append(dataTimes, d)
	}
	res.DivioSeconds, res.NoopSeconds, res.DataSeconds = secondsList(divioTimes), secondsList(noopTimes), secondsList(dataTimes)
	res.Ratio = median(divioTimes).Seconds() / median(noopTimes).Seconds()
	res.RequestsPerResource = float64(maxOf(res.RequestsPerPlan)) / float64(n)

	progress("starting the providers %d times each in debug mode; one plan through each", b.settings.Runs)
	providerEnv := []string{"DIVIO_API_URL=" + sim.URL, "DIVIO_API_TOKEN=" + simulator.DemoToken}
	if res.Divio, err = measureProcess(ctx, b.divioBin, divio, b.settings.Runs, providerEnv); err != nil {
		return nil, nil, err
	}
	if res.Noop, err = measureProcess(ctx, b.noopBin, noop, b.settings.Runs, nil); err != nil {
		return nil, nil, err
	}
	return res, planFigures(res, divioTimes, noopTimes, dataTimes, b.settings), nil
}

// measureProcess starts bin in debug mode runs times to time its start-up, and has Terraform
// plan w through the last one, whose peak memory is then read. env is what the provider
// process needs: attached to, it does not see Terraform's environment.
func measureProcess(ctx context.Context, bin string, w *workspace, runs int, env []string) (processResults, error) {
	var res processResults
	var startups []time.Duration
	for i := 0; i < runs; i++ {
		p, err := startProvider(ctx, bin, env...)
		if err != nil {
			return res, err
		}
		startups = append(startups, p.startup)
		if i < runs-1 {
			if err := p.stop(); err != nil {
				return res, err
			}
			continue
		}
		planned, err := w.plan(ctx, tfexec.Reattach(p.reattach))
		if err == nil {
			res.PeakRSSBytes, err = p.peakRSS()
		}
		if stopErr := p.stop(); err == nil {
			err = stopErr
		}
		if err != nil {
			return res, err
		}
		res.PlanSeconds = planned.Seconds()
	}
	res.StartupSeconds, res.startup = secondsList(startups), median(startups)
	return res, nil
}

func planFigures(res *planResults, divio, noop, data []time.Duration, s settings) []figure {
	n, runs := res.Resources, s.Runs
	requests := maxOf(res.RequestsPerPlan)
	mib := func(bytes int64) float64 { return float64(bytes) / (1 << 20) }
	return []figure{
		contextFigure(fmt.Sprintf("(1) plan of %d divio_service, refresh included (median of %d)", n, runs),
			median(divio).Seconds(), "s", fmt.Sprintf("%.2f s", median(divio).Seconds())),
		contextFigure(fmt.Sprintf("(1) plan of %d noop_thing (median of %d)", n, runs),
			median(noop).Seconds(), "s", fmt.Sprintf("%.2f s", median(noop).Seconds())),
		contextFigure(fmt.Sprintf("(1) plan of %d terraform_data, for context (median of %d)", n, runs),
			median(data).Seconds(), "s", fmt.Sprintf("%.2f s", median(data).Seconds())),
		targetFigure("(1) plan time, divio / no-op provider", res.Ratio, "x",
			fmt.Sprintf("%.2fx", res.Ratio), "<= 1.3x", res.Ratio <= 1.3),
		targetFigure("(2) API requests per managed resource during the plan", res.RequestsPerResource, "requests",
			fmt.Sprintf("%.3f (%d requests, %d resources)", res.RequestsPerResource, requests, n), "<= 0.1", res.RequestsPerResource <= 0.1),
		contextFigure(fmt.Sprintf("(4) divio provider start-up to reattach line (median of %d)", runs),
			res.Divio.startup.Seconds(), "s", fmt.Sprintf("%.0f ms (no-op: %.0f ms)", ms(res.Divio.startup), ms(res.Noop.startup))),
		contextFigure(fmt.Sprintf("(4) divio provider peak RSS during a plan of %d", n),
			mib(res.Divio.PeakRSSBytes), "MiB", fmt.Sprintf("%.1f MiB (no-op: %.1f MiB)", mib(res.Divio.PeakRSSBytes), mib(res.Noop.PeakRSSBytes))),
	}
}

func maxOf(xs []int) int {
	m := 0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
