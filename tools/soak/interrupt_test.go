//go:build soak

package soak

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
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
// with nothing to provision or deploy cannot be interrupted there.
type interruption struct {
	name   string
	weight int
	run    func(ctx context.Context, s *soaker) bool
}

var interruptions = []interruption{
	{"SIGINT during provisioning", 3, func(ctx context.Context, s *soaker) bool {
		return s.signalApply(ctx, simulator.Delays{Provision: 2 * time.Second, Deploy: defaultDelays.Deploy}, syscall.SIGINT, s.provisioning)
	}},
	{"SIGINT during a deployment", 3, func(ctx context.Context, s *soaker) bool {
		return s.signalApply(ctx, simulator.Delays{Provision: defaultDelays.Provision, Deploy: 2 * time.Second}, syscall.SIGINT, s.deploying)
	}},
	{"timeout during a deployment", 2, func(ctx context.Context, s *soaker) bool { return s.timeoutDuringDeployment(ctx) }},
	{sigkillInterruption, 2, func(ctx context.Context, s *soaker) bool {
		busy := func() bool { return s.provisioning() || s.deploying() }
		return s.signalApply(ctx, simulator.Delays{Provision: 2 * time.Second, Deploy: 2 * time.Second}, syscall.SIGKILL, busy)
	}},
	{"API restart of 5s", 2, func(ctx context.Context, s *soaker) bool { return s.restartDuringApply(ctx, 5*time.Second) }},
	{"API restart of 60s", 1, func(ctx context.Context, s *soaker) bool { return s.restartDuringApply(ctx, time.Minute) }},
}

// interrupt picks an interruption at random, runs it against the cycle's configuration, and counts
// it if it happened; the cycle's normal applies follow, and must repair what it left.
func (s *soaker) interrupt(ctx context.Context, cycle int) {
	if s.rng.Float64() >= interruptOdds {
		return
	}
	total := 0
	for _, in := range interruptions {
		total += in.weight
	}
	pick := s.rng.IntN(total)
	for _, in := range interruptions {
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
	s.sim.SetDelays(delays)
	cmd, out := s.terraformCmd(ctx, "apply", "-auto-approve", "-input=false", "-no-color")
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	sent := false
	for !sent {
		select {
		case <-done:
			s.keepOutput("interrupted apply", out.String())
			return false
		case <-time.After(20 * time.Millisecond):
			if busy() {
				target := cmd.Process.Pid
				if sig == syscall.SIGKILL {
					target = -target // the process group
				}
				_ = syscall.Kill(target, sig)
				sent = true
			}
		}
	}
	select {
	case <-done:
	case <-time.After(commandTimeout):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		s.t.Errorf("terraform apply did not end within %s of %v", commandTimeout, sig)
	}
	s.keepOutput("interrupted apply", out.String())
	return true
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
