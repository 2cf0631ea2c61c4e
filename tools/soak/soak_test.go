//go:build soak

package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/divio/terraform-provider-divio/internal/simulator"
	"github.com/divio/terraform-provider-divio/tools/devenv"
)

var (
	cyclesFlag = flag.Int("soak.cycles", envInt("SOAK_CYCLES", 100), "apply/modify/destroy cycles (env SOAK_CYCLES)")
	seedFlag   = flag.Int64("soak.seed", int64(envInt("SOAK_SEED", 0)), "seed of the generator and the faults; 0 = time-based (env SOAK_SEED)")
)

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return def
}

const (
	// maxApplies is one apply and three more after failures: the budget a CI job would give.
	maxApplies = 4
	// destroyEvery cycles, the cycle ends with a full terraform destroy.
	destroyEvery = 10
	// commandTimeout bounds one terraform command; an apply here takes seconds.
	commandTimeout = 5 * time.Minute
)

// faults are what the applies meet: 15% of requests fail with 5xx, 3% are applied but lose their
// answer, a rate limit that parallel applies hit, and some latency.
var faults = simulator.Faults{FailRate: 0.15, DropResponseRate: 0.03, RateLimit: 10, Latency: 5 * time.Millisecond}

// hardFaultOdds is the chance, per cycle and kind, that the cycle also meets a fault the client
// cannot retry away: a failed deployment (an attachment or detachment fails) or a provisioning that
// never ends (a create times out after the instance exists). Those applies fail, and the next ones
// must repair what they left.
const hardFaultOdds = 0.12

// panicMarks are what terraform prints when the provider crashed.
var panicMarks = []string{"panic:", "plugin crashed", "The plugin encountered an error"}

// retryLine matches the provider's debug line for a repeated attempt of one request.
var retryLine = regexp.MustCompile(`Divio API request:.*\battempt=([0-9]+)`)

type stats struct {
	cycles, applies, failedApplies, failedPlans, dirtyPlans int
	destroys, failedDestroys, nonConverged, panics, retries int
	failedDeploysArmed, stalledProvisionsArmed              int
	failedBackupsArmed                                      int
	backupsLeftByKill                                       map[string]bool // ids
	errors                                                  map[string]int  // error summaries of failed commands, ids blanked
	findings                                                Findings

	interruptions         map[string]int // by kind, those that happened
	interruptedCycles     int
	recoveredUnaided      int             // interrupted cycles that converged without a manual step
	namedSteps            int             // steps a failed apply's message named, run (imports after a killed run)
	accidentalDetachments int             // services kept, whose attachment no cycle took away, that a deployment detached
	unchangedDeployments  int             // successful deployments that changed nothing and that no divio_deployment asked for
	requestedIdle         int             // successful deployments that changed nothing, run for a divio_deployment
	attachedByRule        map[string]bool // instances of services without attachment that a deployment attached (Divio's rule)
	removedAfterRule      int             // of those, removed (or replaced) while attached: detached first
	cutShortApplies       int             // applies that warned that work goes on at Divio, left to the next
	workspaceRuns         int
	workspaceProblems     int
	workspaceDeployments  []int // deployments per concurrent-workspaces run

	// Issue 22: upgrades, renames and copies, and the data they carry.
	upgrades, upgradesInUse, renames, copies, copiesFromBackups int // operations the cycles applied
	dataChecks                                                  int // converged cycles whose data was checked
	dataChecked, dataVerified                                   int // instances compared; of those, ones that held a token
	tokensWritten                                               int
	dataLost, dataStray                                         int // instances without the token their history gives them; with data it does not
	leftovers                                                   int // TF_NEW_/TF_OLD_ instances left after a converged apply
	lostVariables                                               int // deployments that left the application without an upgraded or renamed service's variables
	temporaryVariables                                          int // variables of a temporary prefix that a deployment gave the application
}

// soaker runs terraform in one working directory against one simulator.
type soaker struct {
	t       *testing.T
	tf      *tfexec.Terraform
	bin     string            // terraform, for commands run without terraform-exec
	env     map[string]string // their environment, as terraform-exec's
	sim     *devenv.Simulator
	work    string
	logPath string
	keepDir string // where the output of failed commands is kept for reading afterwards
	rng     *rand.Rand
	stats   stats

	cfg         Config // the configuration this cycle applies
	lastOutput  string // of the last command run
	interrupted bool   // this cycle's first apply was cut short
	audit       DeploymentAudit
	detachments Detachments
	// requested are the deployments a divio_deployment of the state ever held: run because the
	// configuration asked for one.
	requested map[string]bool
	// byRule are the instances that AttachedByRule gave at the last check.
	byRule map[string]string
	// counted holds the simulator's counters from before its restarts, which zero them.
	counted simulator.Counters
	// killedApplies are when applies killed by SIGKILL ran: a backup started then may be in no state.
	killedApplies [][2]time.Time
	killed        bool // this cycle's interruption killed terraform

	data    *DataHistory
	dataRng *rand.Rand // the tokens the soak writes anew, apart from the faults' draws
	// applied is what the state holds after the last cycle: its configuration, or none after a
	// destroy (the generator's configuration lives on, and the next cycle adds all of it again).
	applied Config
	ops     Operations      // this cycle's upgrades, renames and copies
	inUse   map[string]bool // services the application used before this cycle: attached, or by Divio's rule
}

// TestSoak is `make soak`: randomised cycles of apply, modify and destroy through the real
// terraform binary against a simulator that injects faults, checking after every cycle that the
// simulator's instances and Terraform's state agree exactly.
func TestSoak(t *testing.T) {
	ctx := context.Background()
	seed := *seedFlag
	if seed == 0 {
		seed = time.Now().UnixNano() % 1_000_000
	}
	t.Logf("soak: %d cycles, seed %d (replay with SOAK_SEED=%d)", *cyclesFlag, seed, seed)

	s := newSoaker(ctx, t, seed)
	gen := NewGenerator(uint64(seed))
	start := time.Now()
	for cycle := 1; cycle <= *cyclesFlag; cycle++ {
		s.cycle(ctx, cycle, gen)
		if s.stats.panics > 0 {
			break // the provider crashed: what follows would only repeat it
		}
	}
	s.report(time.Since(start))
}

func newSoaker(ctx context.Context, t *testing.T, seed int64) *soaker {
	root, err := devenv.ModuleRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if _, err := devenv.BuildProvider(ctx, root, bin); err != nil {
		t.Fatal(err)
	}
	cliConfig, err := devenv.WriteCLIConfig(bin, map[string]string{devenv.ProviderAddress: bin})
	if err != nil {
		t.Fatal(err)
	}
	sim, err := devenv.StartSimulator(simulator.Options{Dataset: simulator.DatasetBench,
		ProvisionDelay: defaultDelays.Provision, DeployDelay: defaultDelays.Deploy, BackupDelay: defaultDelays.Backup, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })

	keepDir, err := os.MkdirTemp("", fmt.Sprintf("divio-soak-%d-", seed))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(keepDir) }) // only if empty: nothing failed
	s := &soaker{t: t, sim: sim, work: t.TempDir(), keepDir: keepDir, rng: rand.New(rand.NewPCG(uint64(seed), 2)),
		requested: map[string]bool{}, data: NewDataHistory(), dataRng: rand.New(rand.NewPCG(uint64(seed), 3)),
		stats: stats{errors: map[string]int{}, interruptions: map[string]int{}, backupsLeftByKill: map[string]bool{}, attachedByRule: map[string]bool{}}}
	s.logPath = filepath.Join(s.work, "provider.log")
	if s.tf, err = devenv.Terraform(s.work, cliConfig, sim.URL, simulator.DemoToken); err != nil {
		t.Fatal(err)
	}
	if s.bin, err = devenv.TerraformBinary(); err != nil {
		t.Fatal(err)
	}
	s.env = devenv.TerraformEnv(cliConfig, sim.URL, simulator.DemoToken)
	s.env["TF_LOG_CORE"], s.env["TF_LOG_PROVIDER"], s.env["TF_LOG_PATH"] = "OFF", "DEBUG", s.logPath
	// The provider logs every request attempt at DEBUG: that is how retries are counted.
	for _, err := range []error{s.tf.SetLogCore("OFF"), s.tf.SetLogProvider("DEBUG"), s.tf.SetLogPath(s.logPath)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// cycle applies the generator's next configuration with faults on until it converges, every
// destroyEvery cycles destroys everything the same way, and checks with faults off. Some cycles'
// first apply is cut short (interrupt), and some run concurrent workspaces beside.
func (s *soaker) cycle(ctx context.Context, n int, gen *Generator) {
	destroy := n%destroyEvery == 0
	before := gen.Config()
	cfg, changes := gen.Next(destroy)
	s.t.Logf("cycle %d: %s", n, strings.Join(changes, "; "))
	s.cfg = cfg
	if err := os.WriteFile(s.mainTF(), []byte(cfg.HCL()), 0o600); err != nil {
		s.t.Fatal(err)
	}
	s.stats.cycles++
	applied := s.applied
	s.inUse = s.usedBefore(applied)
	s.ops = OperationsOf(applied, cfg)
	s.countOperations()

	s.armHardFaults(n)
	s.sim.SetFaults(faults)
	s.interrupted, s.killed = false, false
	started := time.Now()
	s.interrupt(ctx, n)
	if s.killed {
		s.killedApplies = append(s.killedApplies, [2]time.Time{started, time.Now()})
	}
	converged := s.converge(ctx, n, "apply",
		func(ctx context.Context) error { s.stats.applies++; return s.tf.Apply(ctx) },
		func(ctx context.Context) (bool, error) { return s.tf.Plan(ctx) })
	if s.interrupted {
		s.stats.interruptedCycles++
	}
	s.followData(ctx, n, applied, cfg, converged)
	s.applied = cfg
	if converged && destroy {
		cfg = Config{}
		s.stats.destroys++
		converged = s.converge(ctx, n, "destroy",
			func(ctx context.Context) error { return s.tf.Destroy(ctx) },
			func(ctx context.Context) (bool, error) { return s.tf.Plan(ctx, tfexec.Destroy(true)) })
		s.applied = Config{}
		s.data.Forget()
	}
	if n%destroyEvery == 5 {
		for _, p := range s.concurrentWorkspaces(ctx, n) {
			s.stats.workspaceProblems++
			s.t.Errorf("cycle %d: concurrent workspaces: %s", n, p)
		}
	}
	s.sim.SetFaults(simulator.Faults{})
	if !converged {
		s.stats.nonConverged++
		s.t.Errorf("cycle %d did not converge in %d attempts", n, maxApplies)
	}
	s.check(ctx, n, cfg)
	s.auditDeployments(n, before, cfg, applied)
}

// usedBefore returns the services of the state's configuration that the application uses: with an
// attachment, or attached by a deployment without one (as the last check saw them).
func (s *soaker) usedBefore(applied Config) map[string]bool {
	used := map[string]bool{}
	for _, svc := range applied.Services {
		if svc.Attached {
			used[svc.Name] = true
		}
	}
	for _, name := range s.byRule {
		used[name] = true
	}
	return used
}

// countOperations counts this cycle's upgrades, renames and copies.
func (s *soaker) countOperations() {
	st := &s.stats
	st.upgrades += len(s.ops.Upgrades)
	st.renames += len(s.ops.Renames)
	st.copies += len(s.ops.Copies)
	for _, svc := range s.ops.Upgrades {
		if s.inUse[svc.Name] {
			st.upgradesInUse++
		}
	}
	for _, svc := range s.ops.Copies {
		if svc.CopyBackup {
			st.copiesFromBackups++
		}
	}
}

// rewriteOdds is the chance, per service and cycle, that the application writes: the soak gives
// its instance a new token, so that an upgrade or a copy must carry what the instance holds now,
// not what an older backup took.
const rewriteOdds = 0.3

// followData checks, after a converged apply, that each configured service's instance holds the
// token its history gives it, and that no upgrade left a temporary instance behind; then it records
// the history, writes a token into each instance that holds none, and a new one into some others.
// A token found lost is written anew, so that a loss counts once.
func (s *soaker) followData(ctx context.Context, cycle int, before, after Config, converged bool) {
	state, err := s.tf.Show(ctx)
	if err != nil {
		s.t.Fatalf("cycle %d: terraform show: %v", cycle, err)
	}
	want := s.data.Expect(before, after)
	rewrite := map[string]bool{}
	if converged {
		s.stats.dataChecks++
		f := CheckData(after, state, s.sim.InstanceStates(), want)
		s.stats.dataChecked += f.Checked
		s.stats.dataVerified += f.Verified
		s.stats.dataLost += len(f.Lost)
		s.stats.dataStray += len(f.Stray)
		problems := slices.Concat(f.Lost, f.Stray)
		for _, p := range problems {
			name, _, _ := strings.Cut(strings.TrimPrefix(p, "divio_service."), " ")
			rewrite[name] = true
		}
		if len(problems) > 0 {
			s.t.Errorf("cycle %d: data not where its history says:\n  %s", cycle, strings.Join(problems, "\n  "))
		}
		if left := Leftovers(s.sim.Instances()); len(left) > 0 {
			s.stats.leftovers += len(left)
			s.t.Errorf("cycle %d: an upgrade's temporary instances are left after the apply converged:\n  %s", cycle, strings.Join(left, "\n  "))
		}
	}
	s.data.Record(want, stateIDs(state, "divio_service_backup"))
	services := stateIDs(state, "divio_service")
	for _, svc := range after.Services {
		id, ok := services[svc.Name]
		if !ok || !(want[svc.Name] == "" || rewrite[svc.Name] || s.dataRng.Float64() < rewriteOdds) {
			continue
		}
		token := s.data.NewToken(svc.Name, cycle)
		if err := s.sim.SetInstanceData(id, token); err != nil {
			s.t.Logf("cycle %d: no token written into instance %s of %s: %v", cycle, id, svc.Name, err) // not functional: the next cycle
			continue
		}
		s.data.Wrote(svc.Name, token)
		s.stats.tokensWritten++
	}
}

// startedByKilledApply reports whether a backup was started while an apply that SIGKILL ended ran.
func (s *soaker) startedByKilledApply(b simulator.Backup) bool {
	for _, w := range s.killedApplies {
		if !b.CreatedAt.Before(w[0]) && !b.CreatedAt.After(w[1]) {
			return true
		}
	}
	return false
}

func (s *soaker) mainTF() string { return filepath.Join(s.work, "main.tf") }

// auditDeployments counts the deployments since the last cycle that changed nothing, and those
// that detached a service that the cycle kept and did not detach. A deployment that a
// divio_deployment ran is asked for by the configuration, whatever it changes: a change of its
// triggers, or a replacement after a failed or cut-short one, deploys (its documentation says so).
// Those that changed nothing are counted apart, not as faults.
//
// It also checks that no deployment left the application without the variables of a service that it
// used before the cycle and that the cycle upgraded or renamed (applied is what the state held
// before the cycle), and counts the variables of an upgrade's temporary prefixes that one gave it.
func (s *soaker) auditDeployments(cycle int, before, after, applied Config) {
	audited := s.audit.Audit(s.sim.Deployments(), s.sim.DeploymentVariables, s.sim.DeploymentPlanned)
	for _, lost := range LostVariables(applied, after, s.inUse, audited) {
		s.stats.lostVariables++
		s.t.Errorf("cycle %d: %s", cycle, lost)
	}
	for _, v := range TemporaryVariables(audited) {
		s.stats.temporaryVariables++
		s.t.Logf("cycle %d: %s", cycle, v)
	}
	for _, a := range audited {
		switch {
		case !a.Idle():
		case s.requested[a.Deployment.UUID]:
			s.stats.requestedIdle++
			s.t.Logf("cycle %d: deployment %s of environment %s, run for a divio_deployment, changed nothing", cycle, a.Deployment.UUID, a.Deployment.Environment)
		default:
			s.stats.unchangedDeployments++
			s.t.Errorf("cycle %d: deployment %s of environment %s changed nothing; its log:\n%s", cycle, a.Deployment.UUID, a.Deployment.Environment, s.sim.DeploymentLog(a.Deployment.UUID))
		}
	}
	for _, d := range AccidentalDetachments(before, after, audited) {
		s.stats.accidentalDetachments++
		s.t.Errorf("cycle %d: %s", cycle, d)
	}
}

// keepCounters adds the simulator's counters to those kept, before a restart zeroes them.
func (s *soaker) keepCounters() {
	c := s.sim.Counters()
	s.counted.Total += c.Total
	s.counted.Injected5xx += c.Injected5xx
	s.counted.Injected429 += c.Injected429
	s.counted.DroppedResponses += c.DroppedResponses
}

// noteRequested records the deployments that the divio_deployments of the state file hold, tainted
// ones included; it runs after every terraform command, so that a deployment replaced later in the
// cycle is known too.
func (s *soaker) noteRequested() {
	b, err := os.ReadFile(filepath.Join(s.work, "terraform.tfstate"))
	if err != nil {
		return // no state yet
	}
	var st struct {
		Resources []struct {
			Mode, Type string
			Instances  []struct {
				Attributes struct {
					ID string `json:"id"`
				} `json:"attributes"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		s.t.Logf("reading the state file: %v", err) // mid-write: the next command's reading catches up
		return
	}
	for _, r := range st.Resources {
		if r.Mode == "managed" && r.Type == "divio_deployment" {
			for _, in := range r.Instances {
				s.requested[in.Attributes.ID] = true
			}
		}
	}
}

// keepOutput keeps the output of a command run without terraform-exec, for reading afterwards.
func (s *soaker) keepOutput(what, output string) {
	s.noteRequested()
	s.lastOutput = output
	for _, mark := range panicMarks {
		if strings.Contains(output, mark) {
			s.stats.panics++
			s.t.Errorf("%s: the provider crashed (%q):\n%s", what, mark, output)
			break
		}
	}
	s.countRetries()
}

// runIn runs a terraform command through terraform-exec in another working folder.
func (s *soaker) runIn(ctx context.Context, tf *tfexec.Terraform, command string) error {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	switch command {
	case "apply":
		return tf.Apply(ctx)
	case "destroy":
		return tf.Destroy(ctx)
	}
	return fmt.Errorf("unknown command %q", command)
}

// armHardFaults makes, at random, the next deployment fail or the next provisioning stall. An armed
// fault that the cycle does not trigger stays armed for the next one.
func (s *soaker) armHardFaults(cycle int) {
	if s.rng.Float64() < hardFaultOdds {
		s.stats.failedDeploysArmed++
		s.sim.FailNextDeploy()
		s.t.Logf("cycle %d: the next deployment will fail", cycle)
	}
	if s.rng.Float64() < hardFaultOdds {
		s.stats.stalledProvisionsArmed++
		s.sim.StallNextProvision()
		s.t.Logf("cycle %d: the next provisioning will stall", cycle)
	}
	// A failed final backup keeps its instance; a failed divio_service_backup is replaced.
	if s.rng.Float64() < hardFaultOdds {
		s.stats.failedBackupsArmed++
		s.sim.FailNextBackup()
		s.t.Logf("cycle %d: the next backup will fail", cycle)
	}
}

// converge runs change until it succeeds and a following plan is empty, at most maxApplies times.
func (s *soaker) converge(ctx context.Context, cycle int, what string, change func(context.Context) error, plan func(context.Context) (bool, error)) bool {
	stepped := false
	for attempt := 1; attempt <= maxApplies; attempt++ {
		if err := s.run(ctx, cycle, what, change); err != nil {
			if what == "destroy" {
				s.stats.failedDestroys++
			} else {
				s.stats.failedApplies++
				stepped = s.recover(ctx, cycle, s.lastOutput) || stepped
			}
			continue
		}
		if cutShort.MatchString(s.lastOutput) {
			// An apply that warns that provisioning or an attachment goes on at Divio leaves the
			// rest to the next apply, by design: not a dirty plan, one more attempt.
			s.stats.cutShortApplies++
			continue
		}
		var changed bool
		err := s.run(ctx, cycle, "plan after "+what, func(ctx context.Context) (err error) {
			changed, err = plan(ctx)
			return err
		})
		switch {
		case err != nil:
			s.stats.failedPlans++
		case changed:
			// A successful apply followed by changes is a perpetual diff or a lost update.
			s.stats.dirtyPlans++
			s.t.Errorf("cycle %d: the plan after a successful %s has changes", cycle, what)
		default:
			if s.interrupted && what == "apply" && !stepped {
				s.stats.recoveredUnaided++
			}
			return true
		}
	}
	return false
}

// run runs one terraform command, looks for crashes in its output, counts the provider's retries
// and keeps the output of a failure.
func (s *soaker) run(ctx context.Context, cycle int, what string, command func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	var out bytes.Buffer
	s.tf.SetStdout(&out)
	s.tf.SetStderr(&out)
	err := command(ctx)
	s.tf.SetStdout(nil)
	s.tf.SetStderr(nil)
	s.countRetries()
	s.noteRequested()

	text := out.String()
	if err != nil {
		text += "\n" + err.Error()
	}
	s.lastOutput = text
	for _, mark := range panicMarks {
		if strings.Contains(text, mark) {
			s.stats.panics++
			s.t.Errorf("cycle %d: %s: the provider crashed (%q):\n%s", cycle, what, mark, text)
			break
		}
	}
	if err != nil {
		summary := errorSummary(text)
		s.stats.errors[what+": "+summary]++
		file := filepath.Join(s.keepDir, fmt.Sprintf("cycle-%03d-%s.txt", cycle, strings.ReplaceAll(what, " ", "-")))
		_ = os.WriteFile(file, []byte(text), 0o600)
		s.t.Logf("cycle %d: %s failed: %s", cycle, what, summary)
	}
	return err
}

// cutShort matches the warnings of an apply that left work going on at Divio for the next apply:
// provisioning, or a backup. (An attachment cut short is an error, and is not recorded.)
var cutShort = regexp.MustCompile(`Warning: (Service instance (still provisioning|stuck in provisioning)|Backup still running)`)

var (
	errorLine = regexp.MustCompile(`(?m)^[│ ]*Error: (.+)$`)
	idPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
)

// errorSummary is the distinct error summaries of terraform's output, ids blanked so that the
// same failure counts once however often it occurs.
func errorSummary(text string) string {
	var summaries []string
	for _, m := range errorLine.FindAllStringSubmatch(text, -1) {
		summary := idPattern.ReplaceAllString(strings.TrimSpace(m[1]), "<id>")
		if !slices.Contains(summaries, summary) {
			summaries = append(summaries, summary)
		}
	}
	if len(summaries) == 0 {
		first, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
		return first
	}
	slices.Sort(summaries)
	return strings.Join(summaries, " | ")
}

// countRetries counts the attempts beyond the first in the provider's log, then empties the log.
func (s *soaker) countRetries() {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return // no log: the command did not start the provider
	}
	for _, m := range retryLine.FindAllSubmatch(b, -1) {
		if n, _ := strconv.Atoi(string(m[1])); n > 1 {
			s.stats.retries++
		}
	}
	_ = os.Truncate(s.logPath, 0)
}

// check compares the simulator with Terraform's state and the configuration applied.
func (s *soaker) check(ctx context.Context, cycle int, cfg Config) {
	state, err := s.tf.Show(ctx)
	if err != nil {
		s.t.Fatalf("cycle %d: terraform show: %v", cycle, err)
	}
	instances := s.sim.Instances()
	f := Check(cfg, state, instances, &s.detachments)
	s.detachments.Observe(state, instances)
	s.countAttachedByRule(cfg, state, instances)
	backupFindings, killed := CheckBackups(cfg, state, instances, s.sim.Backups(), s.sim.Deployments(), s.startedByKilledApply)
	f.merge(backupFindings)
	for _, id := range killed {
		s.stats.backupsLeftByKill[id] = true
	}
	if f.Total() == 0 {
		return
	}
	s.t.Errorf("cycle %d: the simulator and Terraform's state disagree:\n  %s", cycle, strings.Join(f.Problems, "\n  "))
	total := &s.stats.findings
	total.Duplicates += f.Duplicates
	total.Orphans += f.Orphans
	total.Ghosts += f.Ghosts
	total.Attachments += f.Attachments
	total.Drift += f.Drift
}

// countAttachedByRule counts the instances of services without attachment that a deployment
// attached, and those of them that were removed (or replaced) since the last check, which their
// removal detached first.
func (s *soaker) countAttachedByRule(cfg Config, state *tfjson.State, instances []simulator.Instance) {
	removed := instanceIDs(instances, true)
	for id := range s.byRule {
		if removed[id] {
			s.stats.removedAfterRule++
		}
	}
	s.byRule = AttachedByRule(cfg, state, instances)
	for id := range s.byRule {
		s.stats.attachedByRule[id] = true
	}
}

func (s *soaker) report(elapsed time.Duration) {
	s.keepCounters()
	st, c := s.stats, s.counted
	var b strings.Builder
	fmt.Fprintf(&b, "soak summary (%s)\n", elapsed.Round(time.Second))
	fmt.Fprintf(&b, "  cycles             %d (%d full destroys)\n", st.cycles, st.destroys)
	fmt.Fprintf(&b, "  applies            %d\n", st.applies)
	fmt.Fprintf(&b, "  API requests       %d\n", c.Total)
	fmt.Fprintf(&b, "  injected faults    %d (5xx %d, 429 %d, lost responses %d)\n",
		c.Injected5xx+c.Injected429+c.DroppedResponses, c.Injected5xx, c.Injected429, c.DroppedResponses)
	fmt.Fprintf(&b, "  hard faults        %d failed deployments, %d stalled provisionings, %d failed backups armed\n", st.failedDeploysArmed, st.stalledProvisionsArmed, st.failedBackupsArmed)
	fmt.Fprintf(&b, "  retries            %d (by the provider's client; net/http itself replays some idempotent requests whose answer was lost)\n", st.retries)
	fmt.Fprintf(&b, "  deployments        %d\n", len(s.sim.Deployments()))
	backups := s.sim.Backups()
	fmt.Fprintf(&b, "  backups            %d at the end, %d of them final backups of removed instances; %d left outside the state by SIGKILL of terraform\n",
		len(backups), FinalBackups(s.sim.Instances(), backups), len(st.backupsLeftByKill))
	fmt.Fprintf(&b, "  failed applies     %d\n", st.failedApplies)
	fmt.Fprintf(&b, "  failed destroys    %d\n", st.failedDestroys)
	fmt.Fprintf(&b, "  failed plans       %d\n", st.failedPlans)
	fmt.Fprintf(&b, "  dirty plans        %d (changes right after a successful apply)\n", st.dirtyPlans)
	fmt.Fprintf(&b, "  non-converging     %d\n", st.nonConverged)
	fmt.Fprintf(&b, "  panics             %d\n", st.panics)
	fmt.Fprintf(&b, "  duplicates         %d\n", st.findings.Duplicates)
	fmt.Fprintf(&b, "  orphans            %d\n", st.findings.Orphans)
	fmt.Fprintf(&b, "  ghosts             %d\n", st.findings.Ghosts)
	fmt.Fprintf(&b, "  attachment errors  %d\n", st.findings.Attachments)
	fmt.Fprintf(&b, "  drift              %d\n", st.findings.Drift)
	fmt.Fprintf(&b, "  interruptions      %d cycles began with one; %d of them converged with no manual step\n", st.interruptedCycles, st.recoveredUnaided)
	for _, kind := range slices.Sorted(maps.Keys(st.interruptions)) {
		fmt.Fprintf(&b, "    %3d x %s\n", st.interruptions[kind], kind)
	}
	fmt.Fprintf(&b, "  named steps run    %d (the import a killed run's next plan names)\n", st.namedSteps)
	fmt.Fprintf(&b, "  cut-short applies  %d (warned that provisioning or a backup goes on; the next apply finished it)\n", st.cutShortApplies)
	fmt.Fprintf(&b, "  attached by rule   %d instances of services without attachment that a deployment attached; %d of them removed or replaced while attached\n",
		len(st.attachedByRule), st.removedAfterRule)
	fmt.Fprintf(&b, "  accidental detachments %d (services kept and not detached by the configuration that a deployment detached)\n", st.accidentalDetachments)
	fmt.Fprintf(&b, "  idle deployments   %d (successful deployments that changed nothing, that no divio_deployment asked for)\n", st.unchangedDeployments)
	fmt.Fprintf(&b, "  asked-for idle     %d (deployments of divio_deployments that changed nothing: new triggers, or a replacement after a cut-short one)\n", st.requestedIdle)
	fmt.Fprintf(&b, "  workspace runs     %d (4 workspaces x 3 attachments, 6 of the services added while the first deployment runs; deployments each, want 2: %v; problems %d)\n",
		st.workspaceRuns, st.workspaceDeployments, st.workspaceProblems)
	fmt.Fprintf(&b, "  upgrades           %d (%d of services the application used), renames %d, copies %d (%d from a divio_service_backup)\n",
		st.upgrades, st.upgradesInUse, st.renames, st.copies, st.copiesFromBackups)
	fmt.Fprintf(&b, "  data tokens lost   %d (instances without the token their history gives them: an upgrade's the old instance's, a rename's its own, a copy's its source's)\n", st.dataLost)
	fmt.Fprintf(&b, "  stray data         %d (instances holding data their history does not give them)\n", st.dataStray)
	fmt.Fprintf(&b, "  data checked       %d converged cycles, %d instances, %d of them holding a token; %d tokens written\n",
		st.dataChecks, st.dataChecked, st.dataVerified, st.tokensWritten)
	fmt.Fprintf(&b, "  upgrade leftovers  %d (TF_NEW_/TF_OLD_ instances left once an apply converged)\n", st.leftovers)
	fmt.Fprintf(&b, "  variables lost     %d (deployments that left the application without the variables of a service it used through an upgrade or a rename)\n", st.lostVariables)
	fmt.Fprintf(&b, "  temporary variables %d (TF_NEW_/TF_OLD_ variables a deployment gave the application; harmless)\n", st.temporaryVariables)
	fmt.Fprintf(&b, "  copy backups       %d at the end (taken by upgrades and copies to copy data with, kept as on-demand backups)\n", CopyBackups(backups))
	if len(st.errors) > 0 {
		b.WriteString("  errors of failed commands (output kept in " + s.keepDir + "):\n")
		for _, e := range slices.Sorted(maps.Keys(st.errors)) {
			fmt.Fprintf(&b, "    %3d x %s\n", st.errors[e], e)
		}
	}
	s.t.Log(b.String())

	var failed []string
	if st.findings.Duplicates > 0 || st.findings.Orphans > 0 {
		failed = append(failed, fmt.Sprintf("%d duplicates, %d orphans", st.findings.Duplicates, st.findings.Orphans))
	}
	if n := st.findings.Ghosts + st.findings.Attachments + st.findings.Drift; n > 0 {
		failed = append(failed, fmt.Sprintf("%d other disagreements between state and simulator", n))
	}
	if st.accidentalDetachments > 0 || st.unchangedDeployments > 0 || st.workspaceProblems > 0 {
		failed = append(failed, fmt.Sprintf("%d accidental detachments, %d deployments that changed nothing, %d problems of concurrent workspaces",
			st.accidentalDetachments, st.unchangedDeployments, st.workspaceProblems))
	}
	if st.panics > 0 {
		failed = append(failed, fmt.Sprintf("%d panics", st.panics))
	}
	if st.dataLost > 0 || st.dataStray > 0 || st.leftovers > 0 || st.lostVariables > 0 {
		failed = append(failed, fmt.Sprintf("%d data tokens lost, %d instances with stray data, %d upgrade leftovers, %d deployments that lost an upgraded or renamed service's variables",
			st.dataLost, st.dataStray, st.leftovers, st.lostVariables))
	}
	if st.nonConverged > 0 || st.dirtyPlans > 0 {
		failed = append(failed, fmt.Sprintf("%d cycles did not converge, %d plans had changes after a successful apply", st.nonConverged, st.dirtyPlans))
	}
	if len(failed) > 0 {
		s.t.Fatal(errors.New("soak failed: " + strings.Join(failed, "; ")))
	}
}
