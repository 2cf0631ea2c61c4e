package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/divio/terraform-provider-divio/internal/simulator"
	"github.com/divio/terraform-provider-divio/tools/devenv"
)

// planResults are the raw numbers behind figures (1), (2) and (4).
type planResults struct {
	Resources    int `json:"resources"`
	Environments int `json:"environments"`

	DivioSeconds []float64 `json:"divio_plan_seconds"`
	NoopSeconds  []float64 `json:"noop_plan_seconds"`
	// NoopServiceSeconds are plans of a no-op resource with divio_service's schema.
	NoopServiceSeconds []float64 `json:"noop_service_plan_seconds"`
	// NoopAttributesSeconds are plans of a no-op resource with divio_service's attributes and none
	// of their defaults, plan modifiers or validators.
	NoopAttributesSeconds []float64 `json:"noop_attributes_plan_seconds"`
	DataSeconds           []float64 `json:"terraform_data_plan_seconds"`
	Ratio                 float64   `json:"ratio_divio_to_noop"`
	// AttributesRatio is what the size of divio_service's schema costs a resource that does
	// nothing: the floor of Ratio for any provider with these attributes.
	AttributesRatio float64 `json:"ratio_noop_attributes_to_noop"`
	// SchemaRatio compares with the no-op resource of divio_service's schema: what the Divio
	// provider's own code adds, the schema's cost to the framework and Terraform aside.
	SchemaRatio float64 `json:"ratio_divio_to_noop_service"`

	// RequestsPerPlan is the simulator's request count of each timed divio plan; RequestsByPath
	// breaks down the last one.
	RequestsPerPlan     []int          `json:"requests_per_plan"`
	RequestsByPath      map[string]int `json:"requests_by_path"`
	RequestsPerResource float64        `json:"requests_per_resource"`

	Divio processResults `json:"divio_process"`
	Noop  processResults `json:"noop_process"`
	// Levers are the provider measured again with one lever turned off.
	Levers []leverResult `json:"levers"`
}

// lever is a setting of the provider that the benchmark can turn off through the environment.
type lever struct {
	name, buys string
	off        []string // the environment that turns it off
}

var levers = []lever{
	{"GC target (internal/pluginserver: GOGC 800, soft memory limit 128 MiB)", "less CPU in garbage collection, for more memory", []string{"GOGC=100", "GOMEMLIMIT=off"}},
}

type leverResult struct {
	Lever              string  `json:"lever"`
	Buys               string  `json:"buys"`
	ProviderCPUSeconds float64 `json:"provider_cpu_seconds_without"`
	PeakRSSBytes       int64   `json:"peak_rss_bytes_without"`
}

// processResults are what a provider process started by the benchmark showed.
type processResults struct {
	StartupSeconds []float64 `json:"startup_seconds"`
	PeakRSSBytes   int64     `json:"peak_rss_bytes"`
	PlanSeconds    float64   `json:"reattached_plan_seconds"`
	// CPU time of that plan, in the provider and in terraform: on a busy shared machine CPU
	// time says where the work is better than wall time does.
	ProviderCPUSeconds  float64 `json:"provider_cpu_seconds"`
	TerraformCPUSeconds float64 `json:"terraform_cpu_seconds"`

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
		{"noop", planNoopConfig("noop_thing", n, environments)},
		{"noop_service", planNoopConfig("noop_service", n, environments)},
		{"noop_attributes", planNoopConfig("noop_attributes", n, environments)},
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
	divio, noop, noopService, noopAttributes, data := ws[0], ws[1], ws[2], ws[3], ws[4]

	res := &planResults{Resources: n, Environments: environments}
	var divioTimes, noopTimes, noopServiceTimes, noopAttributesTimes, dataTimes []time.Duration
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
		if d, err = noopService.plan(ctx); err != nil {
			return nil, nil, err
		}
		noopServiceTimes = append(noopServiceTimes, d)
		if d, err = noopAttributes.plan(ctx); err != nil {
			return nil, nil, err
		}
		noopAttributesTimes = append(noopAttributesTimes, d)
		if d, err = data.plan(ctx); err != nil {
			return nil, nil, err
		}
		dataTimes = append(dataTimes, d)
	}
	res.DivioSeconds, res.NoopSeconds, res.DataSeconds = secondsList(divioTimes), secondsList(noopTimes), secondsList(dataTimes)
	res.NoopServiceSeconds, res.NoopAttributesSeconds = secondsList(noopServiceTimes), secondsList(noopAttributesTimes)
	res.Ratio = median(divioTimes).Seconds() / median(noopTimes).Seconds()
	res.AttributesRatio = median(noopAttributesTimes).Seconds() / median(noopTimes).Seconds()
	res.SchemaRatio = median(divioTimes).Seconds() / median(noopServiceTimes).Seconds()
	res.RequestsPerResource = float64(maxOf(res.RequestsPerPlan)) / float64(n)

	if err := measureProcesses(ctx, b, res, divio, noop, sim.URL); err != nil {
		return nil, nil, err
	}
	return res, planFigures(res, divioTimes, noopTimes, noopServiceTimes, noopAttributesTimes, dataTimes, b.settings), nil
}

// measureProcesses fills in figure (4) and the CPU figures of (1) by running both providers
// itself, and profiles a plan if asked to.
func measureProcesses(ctx context.Context, b *bench, res *planResults, divio, noop *workspace, simURL string) error {
	var err error
	progress("starting the providers %d times each in debug mode; one plan through each", b.settings.Runs)
	providerEnv := []string{"DIVIO_API_URL=" + simURL, "DIVIO_API_TOKEN=" + simulator.DemoToken}
	if res.Divio, err = measureProcess(ctx, b.divioBin, divio, b.settings.Runs, providerEnv); err != nil {
		return err
	}
	if res.Noop, err = measureProcess(ctx, b.noopBin, noop, b.settings.Runs, nil); err != nil {
		return err
	}
	for _, l := range levers {
		progress("one plan without the lever %s", l.name)
		without, err := measureProcess(ctx, b.divioBin, divio, 1, append(providerEnv, l.off...))
		if err != nil {
			return err
		}
		res.Levers = append(res.Levers, leverResult{Lever: l.name, Buys: l.buys, ProviderCPUSeconds: without.ProviderCPUSeconds, PeakRSSBytes: without.PeakRSSBytes})
	}
	if b.profileDir != "" {
		return profilePlan(ctx, b, divio, providerEnv)
	}
	return nil
}

// measureProcess starts bin in debug mode runs times to time its start-up, and has Terraform
// plan w through the last one, whose peak memory is then read. env is what the provider
// process needs: attached to, it does not see Terraform's environment.
func measureProcess(ctx context.Context, bin string, w *workspace, runs int, env []string) (processResults, error) {
	var res processResults
	var startups []time.Duration
	for i := 0; i < runs; i++ {
		p, err := startProvider(ctx, bin, nil, env)
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
		providerCPU, err := p.cpuTime()
		if err != nil {
			return res, err
		}
		terraformCPU := childrenCPUTime()
		planned, err := w.plan(ctx, tfexec.Reattach(p.reattach))
		res.TerraformCPUSeconds = (childrenCPUTime() - terraformCPU).Seconds()
		if err == nil {
			res.PeakRSSBytes, err = p.peakRSS()
		}
		if cpu, cpuErr := p.cpuTime(); err == nil {
			res.ProviderCPUSeconds, err = (cpu - providerCPU).Seconds(), cpuErr
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

func mib(bytes int64) float64 { return float64(bytes) / (1 << 20) }

func planFigures(res *planResults, divio, noop, noopService, noopAttributes, data []time.Duration, s settings) []figure {
	n, runs := res.Resources, s.Runs
	requests := maxOf(res.RequestsPerPlan)
	rssRatio := float64(res.Divio.PeakRSSBytes) / float64(res.Noop.PeakRSSBytes)
	where := fmt.Sprintf("%d divio_service over %d environments", n, res.Environments)
	return []figure{
		contextFigure(fmt.Sprintf("(1) plan of %s, refresh included (median of %d)", where, runs),
			median(divio).Seconds(), "s", fmt.Sprintf("%.2f s", median(divio).Seconds())),
		contextFigure(fmt.Sprintf("(1) plan of %d noop_thing, a minimal no-op framework resource", n),
			median(noop).Seconds(), "s", fmt.Sprintf("%.2f s", median(noop).Seconds())),
		contextFigure(fmt.Sprintf("(1) plan of %d noop_service, a no-op resource with divio_service's schema", n),
			median(noopService).Seconds(), "s", fmt.Sprintf("%.2f s", median(noopService).Seconds())),
		contextFigure(fmt.Sprintf("(1) plan of %d noop_attributes, a no-op resource with divio_service's attributes and none of their defaults, plan modifiers or validators", n),
			median(noopAttributes).Seconds(), "s", fmt.Sprintf("%.2f s", median(noopAttributes).Seconds())),
		contextFigure(fmt.Sprintf("(1) plan of %d terraform_data, for context", n),
			median(data).Seconds(), "s", fmt.Sprintf("%.2f s", median(data).Seconds())),
		targetFigure("(1) plan time, divio / minimal no-op", res.Ratio, "x",
			fmt.Sprintf("%.2fx", res.Ratio), "<= 1.6x", res.Ratio <= 1.6),
		contextFigure("(1) plan time, no-op with divio_service's attributes / minimal no-op: what the schema's size costs any provider", res.AttributesRatio, "x",
			fmt.Sprintf("%.2fx", res.AttributesRatio)),
		targetFigure("(1) plan time, divio / no-op with the same schema", res.SchemaRatio, "x",
			fmt.Sprintf("%.2fx", res.SchemaRatio), "<= 1.05x", res.SchemaRatio <= 1.05),
		targetFigure(fmt.Sprintf("(1) provider peak RSS during one plan of %d, divio / minimal no-op", n), rssRatio, "x",
			fmt.Sprintf("%.2fx (%.1f MiB; no-op %.1f MiB)", rssRatio, mib(res.Divio.PeakRSSBytes), mib(res.Noop.PeakRSSBytes)), "<= 1.2x", rssRatio <= 1.2),
		contextFigure("(1) CPU of that plan: provider / terraform", res.Divio.ProviderCPUSeconds, "s",
			fmt.Sprintf("%.2f s / %.2f s (no-op: %.2f s / %.2f s)", res.Divio.ProviderCPUSeconds, res.Divio.TerraformCPUSeconds, res.Noop.ProviderCPUSeconds, res.Noop.TerraformCPUSeconds)),
		contextFigure("(1) API requests per resource during the plan", res.RequestsPerResource, "requests",
			fmt.Sprintf("%.3f (%d requests)", res.RequestsPerResource, requests)),
		contextFigure(fmt.Sprintf("(1) provider start-up to serving (median of %d)", runs),
			res.Divio.startup.Seconds(), "s", fmt.Sprintf("%.0f ms (no-op: %.0f ms)", ms(res.Divio.startup), ms(res.Noop.startup))),
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

// profilePlan has Terraform plan w through the profiling build of the provider
// (tools/bench/profiled), which writes its profiles into the profile directory when stopped.
func profilePlan(ctx context.Context, b *bench, w *workspace, env []string) error {
	progress("profiling one plan of the provider into %s", b.profileDir)
	bin, err := devenv.Build(ctx, b.root, "./tools/bench/profiled", filepath.Join(b.tmp, "profiled", "terraform-provider-divio"))
	if err != nil {
		return err
	}
	cpu, heap := filepath.Join(b.profileDir, "cpu.pprof"), filepath.Join(b.profileDir, "heap.pprof")
	p, err := startProvider(ctx, bin, []string{"-cpuprofile", cpu, "-heapprofile", heap}, env)
	if err != nil {
		return err
	}
	_, err = w.plan(ctx, tfexec.Reattach(p.reattach))
	if stopErr := p.stop(); err == nil {
		err = stopErr
	}
	if err == nil {
		progress("read them with: go tool pprof -top %s", cpu)
	}
	return err
}
