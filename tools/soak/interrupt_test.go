//go:build soak

package soak

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/divio/terraform-provider-divio/internal/simulator"
	"github.com/divio/terraform-provider-divio/tools/devenv"
)

// interruptOdds is the chance that a cycle's first apply is cut short, in one of the ways users'
// runs are: Ctrl-C, a timeout, a killed CI runner, an API that restarts.
const interruptOdds = 0.35

// defaultDelays are the simulator's delays between interruptions: small but real, so that waiters
// poll and deployments overlap as they do in use. An interruption lengthens them so that it can
// land while something provisions or deploys.
var defaultDelays = simulator.Delays{Provision: 50 * time.Millisecond, Deploy: 100 * time.Millisecond, Backup: 50 * time.Millisecond}

// interruption is one way of cutting an apply short. run reports whether it happened: an apply
// with nothing to provision or deploy cannot be interrupted there. applies, when set, says whether
// the cycle's operations give it something to cut short.
type interruption struct {
	name    string
	weight  int
	run     func(ctx context.Context, s *soaker) bool
	applies func(s *soaker) bool
}

var interruptions = []interruption{
	{"SIGINT during provisioning", 3, func(ctx context.Context, s *soaker) bool {
		return s.signalApply(ctx, simulator.Delays{Provision: 2 * time.Second, Deploy: defaultDelays.Deploy}, syscall.SIGINT, s.provisioning)
	}, nil},
	{"SIGINT during a deployment", 3, func(ctx context.Context, s *soaker) bool {
		return s.signalApply(ctx, simulator.Delays{Provision: defaultDelays.Provision, Deploy: 2 * time.Second}, syscall.SIGINT, s.deploying)
	}, nil},
	{"timeout during a deployment", 2, func(ctx context.Context, s *soaker) bool { return s.timeoutDuringDeployment(ctx) }, nil},
	{"SIGKILL of terraform", 2, func(ctx context.Context, s *soaker) bool {
		busy := func() bool { return s.provisioning() || s.deploying() }
		return s.signalApply(ctx, simulator.Delays{Provision: 2 * time.Second, Deploy: 2 * time.Second}, syscall.SIGKILL, busy)
	}, nil},
	{"API restart of 5s", 2, func(ctx context.Context, s *soaker) bool { return s.restartDuringApply(ctx, 5*time.Second) }, nil},
	{"API restart of 60s", 1, func(ctx context.Context, s *soaker) bool { return s.restartDuringApply(ctx, time.Minute) }, nil},
}

// aimedOdds is the chance that a cycle with an upgrade or a copy meets one of aimedInterruptions
// (that applies to it); then interruptOdds of the others.
const aimedOdds = 0.6

// aimedInterruptions cut short an upgrade or a copy (copy_data_from) where each can stop, in the
// ways issue 22 names: Ctrl-C, a timeout, a killed run, a failed deployment, a failed restore, and
// a failed backup. Each applies only to a cycle with something of the kind to cut short.
var aimedInterruptions = []interruption{
	{"SIGINT during an upgrade's or a copy's backup or restore", 3, func(ctx context.Context, s *soaker) bool {
		return s.signalApply(ctx, simulator.Delays{Provision: defaultDelays.Provision, Deploy: defaultDelays.Deploy, Backup: 2 * time.Second}, syscall.SIGINT, s.copying)
	}, upgradesOrCopies},
	{"SIGINT during an upgrade's deployment", 3, func(ctx context.Context, s *soaker) bool {
		swapping := func() bool { return s.deploying() && s.upgradeRenamed() }
		return s.signalApply(ctx, simulator.Delays{Provision: defaultDelays.Provision, Deploy: 2 * time.Second, Backup: defaultDelays.Backup}, syscall.SIGINT, swapping)
	}, upgradesInUse},
	{"timeout during an upgrade or a copy", 3, func(ctx context.Context, s *soaker) bool { return s.timeoutDuringUpgrade(ctx) }, upgradesOrCopies},
	{"SIGKILL of terraform mid-upgrade or mid-copy", 3, func(ctx context.Context, s *soaker) bool { return s.killMidUpgrade(ctx) }, upgradesOrCopies},
	{"failed deployment of an upgrade", 3, func(ctx context.Context, s *soaker) bool {
		return s.failDuringApply(ctx, s.upgradeAdded, s.sim.FailNextDeploy, s.failedDeployments)
	}, upgradesInUse},
	{"failed restore of an upgrade or a copy", 3, func(ctx context.Context, s *soaker) bool {
		return s.failDuringApply(ctx, func() bool { return true }, s.sim.FailNextRestore, s.failedRestores)
	}, upgradesOrCopies},
	{"failed backup of an upgrade (its copy's, or the old instance's final one)", 2, func(ctx context.Context, s *soaker) bool {
		// At the new instance's addition the copy's backup is next; at the renames the final backup.
		when := s.upgradeAdded
		if s.rng.IntN(2) == 0 {
			when = s.upgradeRenamed
		}
		return s.failDuringApply(ctx, when, s.sim.FailNextBackup, s.failedBackups)
	}, func(s *soaker) bool { return len(s.ops.Upgrades) > 0 }},
}

func upgradesOrCopies(s *soaker) bool { return len(s.ops.Upgrades) > 0 || len(s.ops.Copies) > 0 }

// upgradesInUse reports whether the cycle upgrades a service that the application uses: its upgrade
// swaps the instances with a deployment.
func upgradesInUse(s *soaker) bool {
	return slices.ContainsFunc(s.ops.Upgrades, func(svc Service) bool { return s.inUse[svc.Name] || svc.Attached })
}

// interrupt picks an interruption at random, runs it against the cycle's configuration, and counts
// it if it happened; the cycle's normal applies follow, and must repair what it left. A cycle with
// an upgrade or a copy meets one aimed at them more often.
func (s *soaker) interrupt(ctx context.Context, cycle int) {
	var aimed []interruption
	for _, in := range aimedInterruptions {
		if in.applies(s) {
			aimed = append(aimed, in)
		}
	}
	kinds := interruptions
	switch {
	case len(aimed) > 0 && s.rng.Float64() < aimedOdds:
		kinds = aimed
	case s.rng.Float64() >= interruptOdds:
		return
	}
	total := 0
	for _, in := range kinds {
		total += in.weight
	}
	pick := s.rng.IntN(total)
	for _, in := range kinds {
		if pick -= in.weight; pick < 0 {
			happened := in.run(ctx, s)
			s.sim.SetDelays(defaultDelays)
			s.t.Logf("cycle %d: %s (happened: %v)", cycle, in.name, happened)
			if happened {
				s.stats.interruptions[in.name]++
				s.interrupted = true
			}
			return
		}
	}
}

// terraformCmd is a terraform command run directly, for what terraform-exec cannot do: signal it.
// It runs in a process group of its own, so that SIGKILL takes its provider with it, as a killed
// CI runner takes everything it started.
func (s *soaker) terraformCmd(ctx context.Context, args ...string) (*exec.Cmd, *strings.Builder) {
	cmd := exec.CommandContext(ctx, s.bin, args...)
	cmd.Dir = s.work
	for name, value := range s.env {
		cmd.Env = append(cmd.Env, name+"="+value)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	return cmd, out
}

// signalApply starts an apply with the simulator's delays set to delays, sends sig once busy()
// is true, and waits for terraform to end. It reports whether the signal was sent.
func (s *soaker) signalApply(ctx context.Context, delays simulator.Delays, sig syscall.Signal, busy func() bool) bool {
	return s.watchApply(ctx, delays, func(cmd *exec.Cmd) bool {
		if !busy() {
			return false
		}
		s.signal(cmd, sig)
		return true
	})
}

// signal sends sig to a terraform started by terraformCmd: SIGKILL to its process group, as a
// killed CI runner takes everything it started, and records that this cycle killed one.
func (s *soaker) signal(cmd *exec.Cmd, sig syscall.Signal) {
	target := cmd.Process.Pid
	if sig == syscall.SIGKILL {
		target = -target // the process group
		s.killed = true
	}
	_ = syscall.Kill(target, sig)
}

// watchApply starts an apply with the simulator's delays set to delays, calls step every 20ms
// until it reports that it acted, and waits for terraform to end. It reports whether step acted.
func (s *soaker) watchApply(ctx context.Context, delays simulator.Delays, step func(cmd *exec.Cmd) bool) bool {
	s.sim.SetDelays(delays)
	cmd, out := s.terraformCmd(ctx, "apply", "-auto-approve", "-input=false", "-no-color")
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	acted := false
	timeout := time.After(commandTimeout) // once: a timer made in the loop would never fire
	for ended := false; !ended; {
		select {
		case <-done:
			ended = true
		case <-timeout:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
			ended = true
			s.t.Errorf("terraform apply did not end within %s", commandTimeout)
		case <-time.After(20 * time.Millisecond):
			if !acted {
				acted = step(cmd)
			}
		}
	}
	s.keepOutput("interrupted apply", out.String())
	return acted
}

// killMidUpgrade kills terraform at a random moment of an upgrade or a copy: up to 2.5s after the
// first sign of one, with each step lasting a second.
func (s *soaker) killMidUpgrade(ctx context.Context) bool {
	var at time.Time
	return s.watchApply(ctx, simulator.Delays{Provision: time.Second, Deploy: time.Second, Backup: time.Second}, func(cmd *exec.Cmd) bool {
		switch {
		case at.IsZero() && (s.upgradeAdded() || s.copying()):
			at = time.Now().Add(time.Duration(s.rng.Int64N(int64(2500 * time.Millisecond))))
		case !at.IsZero() && time.Now().After(at):
			s.signal(cmd, syscall.SIGKILL)
			return true
		}
		return false
	})
}

// failDuringApply arms a fault once when() holds during an apply, and reports whether the apply
// met it: failures() counts such failures, before and after.
func (s *soaker) failDuringApply(ctx context.Context, when func() bool, arm func(), failures func() int) bool {
	before := failures()
	armed := s.watchApply(ctx, simulator.Delays{Provision: time.Second, Deploy: defaultDelays.Deploy, Backup: 300 * time.Millisecond}, func(*exec.Cmd) bool {
		if when() {
			arm()
			return true
		}
		return false
	})
	return armed && failures() > before
}

// timeoutDuringUpgrade applies with the update timeout of the services, and the create timeout of
// the copies, shorter than an upgrade or a copy takes, and each step lasting a second: the applies
// stop waiting somewhere along the way, which one at random.
func (s *soaker) timeoutDuringUpgrade(ctx context.Context) bool {
	timeout := []string{"2s", "3s", "5s"}[s.rng.IntN(3)]
	s.sim.SetDelays(simulator.Delays{Provision: time.Second, Deploy: 2 * time.Second, Backup: time.Second})
	if err := os.WriteFile(s.mainTF(), []byte(s.cfg.HCLWithTimeouts(Timeouts{ServiceUpdate: timeout, CopyCreate: timeout})), 0o600); err != nil {
		s.t.Fatal(err)
	}
	defer func() { _ = os.WriteFile(s.mainTF(), []byte(s.cfg.HCL()), 0o600) }()
	cmd, out := s.terraformCmd(ctx, "apply", "-auto-approve", "-input=false", "-no-color")
	_ = cmd.Run()
	s.keepOutput("apply with short timeouts", out.String())
	return strings.Contains(out.String(), "deadline exceeded")
}

// upgradeAdded reports whether an upgrade's new instance exists; upgradeRenamed whether an old
// instance has been renamed away (the swap, and the old one's removal, are next).
func (s *soaker) upgradeAdded() bool { return s.liveWithPrefix("TF_NEW_") || s.upgradeRenamed() }

func (s *soaker) upgradeRenamed() bool { return s.liveWithPrefix("TF_OLD_") }

func (s *soaker) liveWithPrefix(start string) bool {
	return slices.ContainsFunc(s.sim.Instances(), func(in simulator.Instance) bool {
		return in.Status != simulator.StatusRemoved && strings.HasPrefix(in.Prefix, start)
	})
}

// copying reports whether a backup that an upgrade or a copy takes, or a restore, runs.
func (s *soaker) copying() bool {
	for _, b := range s.sim.Backups() {
		if copyBackup(b) && b.State != simulator.BackupCompleted {
			return true
		}
	}
	return slices.ContainsFunc(s.sim.Restores(), func(r simulator.Restore) bool { return !r.Finished })
}

// failedDeployments, failedRestores and failedBackups count what failed so far.
func (s *soaker) failedDeployments() int {
	n := 0
	for _, d := range s.sim.Deployments() {
		if d.Status == simulator.DeploymentFailure {
			n++
		}
	}
	return n
}

func (s *soaker) failedRestores() int {
	n := 0
	for _, r := range s.sim.Restores() {
		if r.Finished && (r.Success == nil || *r.Success != simulator.BackupSuccess) {
			n++
		}
	}
	return n
}

func (s *soaker) failedBackups() int {
	n := 0
	for _, b := range s.sim.Backups() {
		if b.Success != nil && *b.Success == simulator.BackupFailure {
			n++
		}
	}
	return n
}

// timeoutDuringDeployment applies with the create timeout of the attachments and divio_deployments
// shorter than a deployment: the applies end while their deployments go on.
func (s *soaker) timeoutDuringDeployment(ctx context.Context) bool {
	s.sim.SetDelays(simulator.Delays{Provision: defaultDelays.Provision, Deploy: 4 * time.Second})
	before := len(s.sim.Deployments())
	if err := os.WriteFile(s.mainTF(), []byte(s.cfg.HCLWithDeployTimeout("1s")), 0o600); err != nil {
		s.t.Fatal(err)
	}
	defer func() { _ = os.WriteFile(s.mainTF(), []byte(s.cfg.HCL()), 0o600) }()
	cmd, out := s.terraformCmd(ctx, "apply", "-auto-approve", "-input=false", "-no-color")
	_ = cmd.Run()
	s.keepOutput("apply with short timeouts", out.String())
	return len(s.sim.Deployments()) > before
}

// restartDuringApply restarts the API while an apply runs: its connections are refused for down.
func (s *soaker) restartDuringApply(ctx context.Context, down time.Duration) bool {
	cmd, out := s.terraformCmd(ctx, "apply", "-auto-approve", "-input=false", "-no-color")
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
		return false
	case <-time.After(500 * time.Millisecond):
	}
	s.keepCounters()
	if err := s.sim.Restart(down); err != nil {
		s.t.Fatalf("restarting the simulator: %v", err)
	}
	s.sim.SetFaults(faults) // a restart forgets them, as it forgets its counters
	<-done
	s.keepOutput("apply across an API restart", out.String())
	return true
}

// provisioning and deploying report whether the simulator provisions an instance or runs a
// deployment in the soak's environments.
func (s *soaker) provisioning() bool {
	for _, in := range s.sim.Instances() {
		if in.Status == simulator.StatusProvisioning {
			return true
		}
	}
	return false
}

func (s *soaker) deploying() bool {
	for _, d := range s.sim.Deployments() {
		if d.Status == simulator.DeploymentWorking {
			return true
		}
	}
	return false
}

var (
	// importHint is the command the plan's "Prefix already in use" error names, and with which
	// address: the recovery a killed run's user is told to run.
	importHint  = regexp.MustCompile(`terraform import 'divio_service\.<name>' ([0-9a-f-]{36})`)
	hintAddress = regexp.MustCompile(`with (divio_service\.[A-Za-z0-9_]+),`)
)

// recover runs the steps a failed apply's messages name: the import of each instance that a killed
// run added but did not save, one per "Prefix already in use" error (a run killed while terraform
// wrote its state file can lose every resource of it). Each is run once: the output holds every
// error twice (terraform prints it, and terraform-exec's error repeats it), and a second import
// of one address fails with "Resource already managed by Terraform". It reports whether it ran any.
func (s *soaker) recover(ctx context.Context, cycle int, output string) bool {
	ran := false
	imported := map[string]bool{}
	for _, block := range strings.Split(output, "Error: ")[1:] { // one error each
		ids, addresses := importHint.FindStringSubmatch(block), hintAddress.FindStringSubmatch(block)
		if ids == nil || addresses == nil || imported[addresses[1]] {
			continue
		}
		address, id := addresses[1], ids[1]
		imported[address] = true
		err := s.run(ctx, cycle, "import named by the error", func(ctx context.Context) error {
			return s.tf.Import(ctx, address, id)
		})
		if err == nil {
			s.stats.namedSteps++
			ran = true
			s.t.Logf("cycle %d: ran the step the error named: terraform import %s %s", cycle, address, id)
		}
	}
	return ran
}

// workspaceEnv is where the concurrent workspaces add their services: an environment of the bench
// data set that the generator leaves alone.
var workspaceEnv = Environment{"bench-app-3", simulator.EnvLive}

// concurrentWorkspaces has four workspaces (working folders with states of their own, each with its
// own provider process) attach three services each in one environment, then destroy everything at
// once. Workspaces 0 and 1 add their services by an apply first, so that they await attachment, then
// attach them together; workspaces 2 and 3 add theirs, with their attachments, once the deployment
// for 0 and 1 runs. A deployment attaches every instance that awaits attachment when it starts,
// whoever starts it (Divio's rule), and what is added while it runs waits for the next: so two
// deployments attach all twelve, the first for workspaces 0 and 1, one for 2 and 3 together. A
// deployment lasts long next to an apply's start, as on Divio, where it takes minutes. Faults are
// off meanwhile: the retries they cause (a 429's Retry-After, backoffs of seconds) would spread "the
// same moment" over several deployments, and every other operation meets them. It returns the
// problems it saw.
func (s *soaker) concurrentWorkspaces(ctx context.Context, cycle int) []string {
	const workspaces, services, early = 4, 3, 2
	if armed := s.sim.Armed(); armed.Any() {
		// A failed deployment or a stalled provisioning meant for the main configuration would
		// meet the workspaces instead.
		s.t.Logf("cycle %d: concurrent workspaces skipped: a fault is armed (%+v)", cycle, armed)
		return nil
	}
	s.stats.workspaceRuns++
	s.sim.SetFaults(simulator.Faults{})
	defer s.sim.SetFaults(faults)
	defer s.sim.SetDelays(defaultDelays)
	var problems []string
	var mu sync.Mutex
	problem := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	dirs := make([]string, workspaces)
	write := func(w int, attach bool) {
		var b strings.Builder
		b.WriteString("terraform {\n  required_providers {\n    divio = { source = \"divio/divio\" }\n  }\n}\n\nprovider \"divio\" {}\n")
		for i := range services {
			// No final backup: a backup failure armed for the main configuration must not land here.
			fmt.Fprintf(&b, "\nresource \"divio_service\" \"s%[1]d\" {\n  environment_id = %[2]q\n  service        = \"postgres-15\"\n  prefix         = \"W%[3]d_C%[4]d_%[1]d\"\n  final_backup   = false\n}\n", i, workspaceEnv.ID(), w, cycle)
			if attach {
				fmt.Fprintf(&b, "\nresource \"divio_service_attachment\" \"s%[1]d\" {\n  service_id = divio_service.s%[1]d.id\n}\n", i)
			}
		}
		if err := os.WriteFile(dirs[w]+"/main.tf", []byte(b.String()), 0o600); err != nil {
			s.t.Fatal(err)
		}
	}
	// start runs the command in the workspaces ws at once, and returns a channel closed when all end.
	start := func(what string, ws []int) <-chan struct{} {
		var wg sync.WaitGroup
		for _, w := range ws {
			wg.Go(func() {
				tf, err := devenv.Terraform(dirs[w], s.env["TF_CLI_CONFIG_FILE"], s.sim.URL, simulator.DemoToken)
				if err == nil {
					err = s.runIn(ctx, tf, what)
				}
				if err != nil {
					problem("workspace %d: %s failed: %v", w, what, err)
				}
			})
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		return done
	}
	each := func(what string, ws []int) { <-start(what, ws) }
	all := make([]int, workspaces)
	for w := range dirs {
		all[w] = w
		dirs[w] = s.t.TempDir()
	}
	for w := range early {
		write(w, false)
	}
	before := s.deploymentsIn(workspaceEnv.ID())
	each("apply", all[:early])
	if n := s.deploymentsIn(workspaceEnv.ID()) - before; n > 0 {
		problem("workspaces adding %d services without attachment ran %d deployments, want none", early*services, n)
	}
	for w := range dirs {
		write(w, true)
	}
	// Long enough for workspaces 2 and 3 to start and add their services while it runs.
	s.sim.SetDelays(simulator.Delays{Provision: defaultDelays.Provision, Deploy: 8 * time.Second})
	before = s.deploymentsIn(workspaceEnv.ID())
	first := start("apply", all[:early])
waitForDeployment:
	for !s.deployingIn(workspaceEnv.ID()) {
		select {
		case <-first:
			problem("workspaces 0 and 1 attaching %d services ended without a deployment seen running", early*services)
			break waitForDeployment
		case <-time.After(20 * time.Millisecond):
		}
	}
	<-start("apply", all[early:])
	<-first
	deployed := s.deploymentsIn(workspaceEnv.ID()) - before
	s.stats.workspaceDeployments = append(s.stats.workspaceDeployments, deployed)
	if deployed != 2 {
		problem("%d workspaces attaching %d services each, %d of them added while the first deployment ran, took %d deployments, want 2",
			workspaces, services, (workspaces-early)*services, deployed)
	}
	for _, in := range s.sim.Instances() {
		if in.Environment == workspaceEnv.ID() && in.Status != simulator.StatusRemoved && in.Status != simulator.StatusAttached {
			problem("instance %s (%s) of a workspace is %s after its apply, want ATTACHED", in.UUID, in.Prefix, in.Status)
		}
	}
	s.sim.SetDelays(simulator.Delays{Provision: defaultDelays.Provision, Deploy: time.Second})
	each("destroy", all)
	for _, in := range s.sim.Instances() {
		if in.Environment == workspaceEnv.ID() && in.Status != simulator.StatusRemoved {
			problem("instance %s (%s) of a workspace is %s after its destroy", in.UUID, in.Prefix, in.Status)
		}
	}
	return problems
}

// deployingIn reports whether a deployment of the environment runs.
func (s *soaker) deployingIn(envID string) bool {
	for _, d := range s.sim.Deployments() {
		if d.Environment == envID && d.Status == simulator.DeploymentWorking {
			return true
		}
	}
	return false
}

func (s *soaker) deploymentsIn(envID string) int {
	n := 0
	for _, d := range s.sim.Deployments() {
		if d.Environment == envID {
			n++
		}
	}
	return n
}
