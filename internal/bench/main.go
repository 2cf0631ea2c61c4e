// Command bench is `make bench`: it measures the provider through the real terraform binary
// against the in-process simulator and prints a table of figures against the targets of issue 6:
//
//  1. terraform plan (refresh included) of 200 applied divio_service, against 200 resources of a
//     no-op framework provider that it builds (internal/bench/noop), terraform_data beside them;
//  2. API requests per managed resource during that plan;
//  3. apply of 50 services and their attachments in one environment, with realistic provisioning
//     and deployment delays, in two variants, against the floor of one provisioning plus one
//     deployment, and the deployments it started;
//  4. the provider's start-up time and peak memory during a plan.
//
// It writes the same figures, the raw numbers and the machine as JSON under bench/results/.
//
//	go run ./internal/bench [-runs 5] [-n 200] [-apply-n 50]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/divio/terraform-provider-divio/internal/devenv"
)

type settings struct {
	Resources      int      `json:"resources"`
	Runs           int      `json:"runs"`
	ApplyServices  int      `json:"apply_services"`
	Parallelism    int      `json:"parallelism"`
	ProvisionDelay duration `json:"provision_delay"`
	DeployDelay    duration `json:"deploy_delay"`
}

// bench is what every part of the benchmark shares.
type bench struct {
	settings  settings
	root      string // the module
	tmp       string // working directories and binaries, removed at the end
	divioBin  string
	noopBin   string
	cliConfig string // dev_overrides for both providers
	// profileDir, if set, receives CPU and heap profiles of the provider during one more plan.
	profileDir string
}

// method explains how the figures are taken; it is printed and kept in the JSON.
var method = []string{
	"Every figure runs the real terraform binary through terraform-exec, with dev_overrides pointing at providers built from this tree (no init, no registry), against an in-process simulator with the bench data set.",
	"(1) Each workspace is applied once; then divio, noop_thing, noop_service and terraform_data are planned in turn, runs times, so that a slow moment of the shared machine hits all alike. terraform plan refreshes every resource. The divio configuration looks up its 8 environments through divio_application and divio_environment data sources and spreads the services round-robin over them. Ratio = median divio / median noop_thing (3 plain attributes); noop_service has divio_service's very schema (its Schema method), so divio / noop_service is what the provider's own code adds.",
	"(2) The simulator's request counter is reset before each divio plan; the figure is the highest count of the runs divided by the resources, data source requests included.",
	"(3) A simulator with the given provisioning and deployment delays; each variant in its own environment, terraform apply with -parallelism; deployments are those the simulator recorded in that environment; the apply must leave every instance ATTACHED. Floor = one provisioning delay + one deployment delay. (The simulator's deployment attaches NEW instances without waiting for provisioning, so variant b's own floor there is the deployment delay alone.)",
	"(4) The provider is started by the benchmark with -debug (providerserver.ServeOpts.Debug: terraform-plugin-go's managed debug mode); go-plugin skips the magic-cookie check in that mode, so no handshake variables are needed. Start-up = exec until the TF_REATTACH_PROVIDERS line is printed (the provider is then listening). Terraform plans through the last of those processes via tfexec.Reattach; since a reattached provider is not stopped by Terraform, its VmHWM from /proc/<pid>/status after the plan is the peak RSS of one process that served exactly one plan. The no-op provider is measured the same way. The CPU figures of (1) come from the same reattached plans: the provider's utime+stime from /proc/<pid>/stat before and after, terraform's from getrusage(RUSAGE_CHILDREN) around the command. Both providers turn their SDKs' logs off unless TF_LOG asks for them (internal/pluginlog), so they compare alike.",
}

func main() {
	s := settings{}
	flag.IntVar(&s.Resources, "n", 200, "divio_service resources to plan (figures 1, 2, 4)")
	flag.IntVar(&s.Runs, "runs", 5, "timed plans of each provider, and provider start-ups")
	flag.IntVar(&s.ApplyServices, "apply-n", 50, "services and attachments to apply (figure 3)")
	flag.IntVar(&s.Parallelism, "parallelism", 10, "terraform apply -parallelism (figure 3)")
	flag.DurationVar((*time.Duration)(&s.ProvisionDelay), "provision-delay", 2*time.Second, "simulated provisioning time (figure 3)")
	flag.DurationVar((*time.Duration)(&s.DeployDelay), "deploy-delay", 3*time.Second, "simulated deployment time (figure 3)")
	profileDir := flag.String("profile", "", "also write CPU and heap profiles of the provider during a plan into this directory")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, s, *profileDir)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: %s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func run(ctx context.Context, s settings, profileDir string) error {
	started := time.Now()
	b, err := prepare(ctx, s)
	if err != nil {
		return err
	}
	if profileDir != "" {
		if b.profileDir, err = filepath.Abs(profileDir); err == nil {
			err = os.MkdirAll(b.profileDir, 0o755)
		}
		if err != nil {
			return err
		}
	}
	defer os.RemoveAll(b.tmp)

	r := &report{Started: started.UTC(), Settings: s, Method: method}
	loadBefore := loadAverage()
	plan, figures, err := planBench(ctx, b)
	if err != nil {
		return err
	}
	r.Plan, r.Figures = plan, figures
	apply, figures, err := applyBench(ctx, b)
	if err != nil {
		return err
	}
	r.Apply, r.Figures = apply, append(r.Figures, figures...)

	r.Machine = describeMachine(ctx, b.root, terraformVersion(ctx, b))
	r.Machine.LoadAverage = [2]string{loadBefore, loadAverage()}
	r.Duration = time.Since(started).Round(time.Second).String()
	path, err := writeReport(b.root, r)
	if err != nil {
		return err
	}
	fmt.Println()
	printTable(os.Stdout, r.Figures)
	fmt.Printf("\n%s, %d cores, load average %s at the start and %s at the end; %s, Terraform %s; tree %s; took %s\n",
		r.Machine.CPU, r.Machine.Cores, r.Machine.LoadAverage[0], r.Machine.LoadAverage[1], r.Machine.Go, r.Machine.Terraform, r.Machine.Commit, r.Duration)
	fmt.Println("\nMethod:")
	for _, m := range method {
		fmt.Println("  -", m)
	}
	fmt.Println("\nFor the README:")
	fmt.Print(markdownTable(r.Figures))
	fmt.Println("\nWrote", path)
	return nil
}

// prepare builds both providers into a temporary directory and writes the dev_overrides that
// point Terraform at them.
func prepare(ctx context.Context, s settings) (*bench, error) {
	root, err := devenv.ModuleRoot(ctx)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "divio-bench-")
	if err != nil {
		return nil, err
	}
	b := &bench{settings: s, root: root, tmp: tmp}
	divioDir, noopDir := filepath.Join(tmp, "divio"), filepath.Join(tmp, "noop")
	progress("building the provider and the no-op provider")
	if b.divioBin, err = devenv.BuildProvider(ctx, root, divioDir); err == nil {
		b.noopBin, err = devenv.Build(ctx, root, "./internal/bench/noop", filepath.Join(noopDir, "terraform-provider-noop"))
	}
	if err == nil {
		b.cliConfig, err = devenv.WriteCLIConfig(tmp, map[string]string{devenv.ProviderAddress: divioDir, noopAddress: noopDir})
	}
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	return b, nil
}

func terraformVersion(ctx context.Context, b *bench) string {
	w, err := newWorkspace(b.tmp, "version", b.cliConfig, "http://127.0.0.1:1", "")
	if err != nil {
		return "unknown"
	}
	v, _, err := w.tf.Version(ctx, true)
	if err != nil {
		return "unknown"
	}
	return v.String()
}
