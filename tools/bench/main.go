// Command bench is `make bench`: it measures the provider through the real terraform binary
// against the in-process simulator and prints a table of figures against the goals of issue 14:
//
//  1. terraform plan (refresh included) of 1000 divio_service over 8 environments, against a
//     no-op framework provider that it builds (tools/bench/noop): its minimal resource, and a
//     no-op resource with divio_service's schema; the provider's CPU and peak RSS, and what the
//     levers kept in the provider buy;
//  2. a plan of 300 services in one environment with the simulator answering after 150 ms;
//  3. API requests per service of an apply of N services in one environment (100 and 1000);
//  4. the refresh of 100 and 1000 services at 150 ms against one GET per resource;
//
// and, for context, (3b): an apply of 50 services and attachments with one divio_deployment and
// realistic delays against the floor of one provisioning plus one deployment; and the goals of
// issue 22:
//
//  5. the apply that upgrades an attached postgres-15 divio_service to postgres-16, against the floor
//     of one provisioning, one backup, one restore and one deployment, and its deployments.
//
// It writes the same figures, the raw numbers and the machine as JSON under tools/bench/results/, and
// the table into README.md between its bench-table markers.
//
//	go run ./tools/bench [-runs 5] [-n 1000] [-latency-n 300] [-scale-n 100,1000] [-apply-n 50] [-parts plan,scale,apply,upgrade]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/divio/terraform-provider-divio/tools/devenv"
)

type settings struct {
	Resources int `json:"resources"`
	Runs      int `json:"runs"`
	// LatencyServices are planned in one environment at Latency (goal 2); ScaleServices are
	// applied in one environment each (goal 3) and planned at Latency (goal 4).
	LatencyServices int      `json:"latency_services"`
	ScaleServices   []int    `json:"scale_services"`
	Latency         duration `json:"latency"`
	ApplyServices   int      `json:"apply_services"`
	Parallelism     int      `json:"parallelism"`
	ProvisionDelay  duration `json:"provision_delay"`
	DeployDelay     duration `json:"deploy_delay"`
	// Upgrade are the simulator's delays during the upgrade (goal 5).
	Upgrade upgradeSettings `json:"upgrade"`
}

type upgradeSettings struct {
	ProvisionDelay duration `json:"provision_delay"`
	BackupDelay    duration `json:"backup_delay"` // a backup's, and a restore's
	DeployDelay    duration `json:"deploy_delay"`
}

// allParts are the parts of a whole run, the only one that writes the README's table.
var allParts = []string{"plan", "scale", "apply", "upgrade"}

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
	// upgradeLogDir, if set, receives Terraform's and the provider's debug logs of the timed
	// upgrades (goal 5).
	upgradeLogDir string
}

// method explains how the figures are taken; it is printed and kept in the JSON.
var method = []string{
	"Every figure runs the real terraform binary through terraform-exec, with dev_overrides pointing at providers built from this tree (no init, no registry), against an in-process simulator with the bench data set.",
	"(1) Each workspace is applied once; then divio, noop_thing, noop_service, noop_attributes and terraform_data are planned in turn, runs times, so that a slow moment of the shared machine hits all alike. terraform plan refreshes every resource. The divio configuration looks up its 8 environments through divio_application and divio_environment data sources and spreads the services round-robin over them. Ratio = median divio / median noop_thing (3 plain attributes); noop_service has divio_service's very schema (its Schema method), so divio / noop_service is what the provider's own code adds; noop_attributes has the same attributes without their defaults, plan modifiers and validators, so noop_attributes / noop_thing is what the schema's size alone costs.",
	"(1) CPU and peak RSS: the provider is started by the benchmark with -debug (terraform-plugin-go's managed debug mode; go-plugin skips the magic-cookie check there), and Terraform plans through it via tfexec.Reattach. A reattached provider is not stopped by Terraform, so its VmHWM from /proc/<pid>/status after the plan is the peak RSS of one process that served exactly one plan; its CPU is utime+stime from /proc/<pid>/stat before and after, terraform's getrusage(RUSAGE_CHILDREN) around the command. The no-op provider is measured the same way. Both providers turn their SDKs' logs off unless TF_LOG asks for them (internal/pluginserver). Levers: the same measurement with one lever turned off through the environment the provider reads (GOGC=100 and GOMEMLIMIT=off for the GC lever).",
	"(2) A simulator whose every answer waits for the latency; the services are applied at zero latency, planned runs times against as many noop_thing (which make no requests), interleaved, then the same with the latency. Ratio = median divio / median noop_thing, with the latency.",
	"(3) Each count of services, which name their environment by id, is applied into an environment of its own (default provisioning, zero delays, terraform apply -parallelism 10) on the simulator of (2) before its latency is set; requests per service = the simulator's request count during the apply / services, data source requests included. Flat = the largest count's figure no higher than 1.1 x the smallest's.",
	"(4) The plans of (3)'s environments at the latency, as in (2). Ours: the simulator's request count of the plan, and its critical path in round trips = what the latency added to the median divio plan, less what it added to the median noop plan (each against the same plans run times without latency), / latency, rounded. A refresh that reads each resource with its own GET (as the Heroku and Render providers do) costs N requests, and N / parallelism round trips on the critical path, since Terraform runs parallelism operations at a time.",
	"(3b) A simulator with the given provisioning and deployment delays: n services with provision = false, their attachments with deploy = false and one divio_deployment depending on them, in one environment, terraform apply with -parallelism; deployments are those the simulator recorded in that environment; the apply must leave every instance ATTACHED. Floor = one provisioning delay + one deployment delay. (The simulator's deployment attaches NEW instances without waiting for provisioning, so the floor there is the deployment delay alone.)",
	"(5) A simulator without delays, where a postgres-15 divio_service and its divio_service_attachment (deploy = true) are applied in each of two environments, one with final_backup = false and one with true, and the instance is given data; then the simulator's delays are set, and the apply that changes service to postgres-16 is timed in each, one after the other: terraform apply of a workspace of two resources and two data sources, Terraform's start-up, refresh and plan included. The apply must leave one instance, a new ATTACHED postgres-16 one holding the old one's data. Floor = provisioning delay + backup delay (the copy's backup) + backup delay (its restore: the simulator's backup delay is a restore's too) + deployment delay, the issue's floor. With final_backup = true the old instance is backed up once more before its removal, which can only start once the deployment has detached it: that variant's own floor adds one backup delay. The goal (<= 1.1x) is judged on final_backup = false, whose work is exactly the issue's floor; the default is shown against its own floor. Deployments are those the simulator recorded in the environment during the apply (goal: 1 in each). Where the time beyond the floor went: the simulator's records of each piece of work (work in the results file; a provisioning's and a restore's end are their start + their delay), and the gaps between the apply's start, the pieces in turn and its end; -upgrade-log keeps Terraform's and the provider's debug logs, which show the requests in each gap.",
}

func main() {
	s := settings{}
	flag.IntVar(&s.Resources, "n", 1000, "divio_service resources to plan over 8 environments (goal 1)")
	flag.IntVar(&s.Runs, "runs", 5, "timed plans of each provider, and provider start-ups")
	flag.IntVar(&s.LatencyServices, "latency-n", 300, "services in one environment to plan with latency (goal 2)")
	scale := flag.String("scale-n", "100,1000", "services in one environment to apply (goal 3) and refresh with latency (goal 4), comma-separated")
	flag.DurationVar((*time.Duration)(&s.Latency), "latency", 150*time.Millisecond, "the simulator's latency (goals 2 and 4)")
	flag.IntVar(&s.ApplyServices, "apply-n", 50, "services and attachments to apply with one divio_deployment (3b)")
	flag.IntVar(&s.Parallelism, "parallelism", 10, "terraform -parallelism, Terraform's default")
	flag.DurationVar((*time.Duration)(&s.ProvisionDelay), "provision-delay", 2*time.Second, "simulated provisioning time (3b)")
	flag.DurationVar((*time.Duration)(&s.DeployDelay), "deploy-delay", 3*time.Second, "simulated deployment time (3b)")
	flag.DurationVar((*time.Duration)(&s.Upgrade.ProvisionDelay), "upgrade-provision-delay", 5*time.Second, "simulated provisioning time (goal 5)")
	flag.DurationVar((*time.Duration)(&s.Upgrade.BackupDelay), "upgrade-backup-delay", 5*time.Second, "simulated time of a backup, and of a restore (goal 5)")
	flag.DurationVar((*time.Duration)(&s.Upgrade.DeployDelay), "upgrade-deploy-delay", 5*time.Second, "simulated deployment time (goal 5)")
	parts := flag.String("parts", strings.Join(allParts, ","), "which parts to run: plan (goal 1), scale (goals 2 to 4), apply (3b), upgrade (goal 5)")
	readme := flag.Bool("readme", true, "write the table into README.md between its bench-table markers")
	profileDir := flag.String("profile", "", "also write CPU and heap profiles of the provider during a plan into this directory")
	upgradeLogDir := flag.String("upgrade-log", "", "write Terraform's and the provider's debug logs of the timed upgrades into this directory (goal 5; logging slows them a little)")
	flag.Parse()
	var err error
	if s.ScaleServices, err = parseCounts(*scale); err != nil {
		fmt.Fprintln(os.Stderr, "bench: -scale-n:", err)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err = run(ctx, s, strings.Split(*parts, ","), *profileDir, *upgradeLogDir, *readme)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: %s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func parseCounts(list string) ([]int, error) {
	var counts []int
	for _, field := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a count of services", field)
		}
		counts = append(counts, n)
	}
	return counts, nil
}

func run(ctx context.Context, s settings, parts []string, profileDir, upgradeLogDir string, readme bool) error {
	started := time.Now()
	b, err := prepare(ctx, s)
	if err != nil {
		return err
	}
	defer os.RemoveAll(b.tmp)
	if b.profileDir, err = outputDir(profileDir); err != nil {
		return err
	}
	if b.upgradeLogDir, err = outputDir(upgradeLogDir); err != nil {
		return err
	}

	r := &report{Started: started.UTC(), Settings: s, Method: method}
	loadBefore := loadAverage()
	if slices.Contains(parts, "plan") {
		plan, figures, err := planBench(ctx, b)
		if err != nil {
			return err
		}
		r.Plan, r.Figures = plan, append(r.Figures, figures...)
	}
	if slices.Contains(parts, "scale") {
		scale, figures, err := scaleBench(ctx, b)
		if err != nil {
			return err
		}
		r.Scale, r.Figures = scale, append(r.Figures, figures...)
	}
	if slices.Contains(parts, "apply") {
		apply, figures, err := applyBench(ctx, b)
		if err != nil {
			return err
		}
		r.Apply, r.Figures = apply, append(r.Figures, figures...)
	}
	if slices.Contains(parts, "upgrade") {
		upgrade, figures, err := upgradeBench(ctx, b)
		if err != nil {
			return err
		}
		r.Upgrade, r.Figures = upgrade, append(r.Figures, figures...)
	}
	// The README shows whole runs only.
	readme = readme && !slices.ContainsFunc(allParts, func(p string) bool { return !slices.Contains(parts, p) })

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
	fmt.Println("\nWrote", path)
	if readme {
		if err := updateREADME(b.root, r, path); err != nil {
			return err
		}
		fmt.Println("Wrote the table into README.md")
	}
	return nil
}

// outputDir makes the directory that a flag names, if it names one, and returns its absolute path.
func outputDir(dir string) (string, error) {
	if dir == "" {
		return "", nil
	}
	abs, err := filepath.Abs(dir)
	if err == nil {
		err = os.MkdirAll(abs, 0o755)
	}
	return abs, err
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
		b.noopBin, err = devenv.Build(ctx, root, "./tools/bench/noop", filepath.Join(noopDir, "terraform-provider-noop"))
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
