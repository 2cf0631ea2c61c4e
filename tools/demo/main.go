// Command demo is `make demo`: it builds the provider, starts a simulator of the Divio API on a
// free loopback port, and runs examples/quickstart (with a day-two upgrade of its database) and
// examples/quickstart-guard through the real terraform binary, with dev_overrides instead of a
// registry, so that it needs no network, no account and no `terraform init`; a configuration that calls a local module (examples/module-testing)
// shows what replaces `terraform init` there: `terraform get`. It cleans up after itself, also on
// failure and on Ctrl-C.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/divio/terraform-provider-divio/internal/simulator"
	"github.com/divio/terraform-provider-divio/tools/devenv"
)

// Short but realistic delays, so that the demo shows waiting for provisioning, deployments and
// backups without making anyone wait long.
const (
	provisionDelay = time.Second
	deployDelay    = 2 * time.Second
	backupDelay    = time.Second
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Stdout)
	interrupted := ctx.Err() != nil
	stop()
	switch {
	case interrupted:
		fmt.Fprintln(os.Stderr, "\ndemo interrupted; the simulator is stopped and its temporary folder removed")
		os.Exit(130)
	case err != nil:
		fmt.Fprintf(os.Stderr, "\ndemo failed: %v\n", err)
		os.Exit(1)
	}
}

// demo holds what the steps share.
type demo struct {
	out       io.Writer
	root      string // the repository
	work      string // the temporary folder that holds everything the demo makes
	cliConfig string
	sim       *devenv.Simulator
	step      int
}

const steps = 10

func (d *demo) heading(title string) {
	d.step++
	fmt.Fprintf(d.out, "\n==> [%d/%d] %s\n", d.step, steps, title)
}

func run(ctx context.Context, out io.Writer) (err error) {
	root, err := devenv.ModuleRoot(ctx)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "divio-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	d := &demo{out: out, root: root, work: work}

	d.heading("Building the provider")
	binDir := filepath.Join(work, "bin")
	if _, err := devenv.BuildProvider(ctx, root, binDir); err != nil {
		return err
	}
	d.cliConfig, err = devenv.WriteCLIConfig(work, map[string]string{devenv.ProviderAddress: binDir})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "built into %s; Terraform finds it through dev_overrides in %s (TF_CLI_CONFIG_FILE),\n", binDir, d.cliConfig)
	fmt.Fprintln(out, "so it warns at every command that development overrides are in effect")

	d.heading("Starting the Divio API simulator")
	dataFile := filepath.Join(work, "simulator.json")
	d.sim, err = devenv.StartSimulator(simulator.Options{DataFile: dataFile, ProvisionDelay: provisionDelay, DeployDelay: deployDelay, BackupDelay: backupDelay})
	if err != nil {
		return fmt.Errorf("starting the simulator: %w", err)
	}
	defer func() {
		fmt.Fprintln(out, "\nstopping the simulator and removing", work)
		err = errors.Join(err, d.sim.Close())
	}()
	fmt.Fprintf(out, "listening on %s (data: %s; provisioning takes %s, a deployment %s, a backup %s)\n", d.sim.URL, dataFile, provisionDelay, deployDelay, backupDelay)

	quickstart, err := d.terraform("quickstart")
	if err != nil {
		return err
	}
	return d.runQuickstart(ctx, quickstart)
}

func (d *demo) runQuickstart(ctx context.Context, tf *tfexec.Terraform) error {
	d.heading("terraform apply: look up demo-app's live environment and region, add Postgres and S3, provision and attach them")
	if err := tf.Apply(ctx); err != nil {
		return fmt.Errorf("terraform apply: %w", err)
	}

	d.heading("The environment variables the services publish to demo-app")
	if err := d.showPublished(ctx, tf); err != nil {
		return err
	}

	d.heading("terraform plan -detailed-exitcode: nothing left to change")
	changes, err := tf.Plan(ctx)
	if err != nil {
		return fmt.Errorf("terraform plan: %w", err)
	}
	if changes {
		return errors.New("terraform plan after apply wants to change something (exit code 2); it should be empty")
	}
	fmt.Fprintln(d.out, "exit code 0: the plan is empty")

	d.heading("Day two: postgres-15 to postgres-16, one line of HCL and one apply, the data kept")
	if err := d.showUpgrade(ctx, tf); err != nil {
		return err
	}

	d.heading("A plan-time guard: adding Azure Blob Storage (ms-blob) to the AWS application")
	if err := d.showGuard(ctx); err != nil {
		return err
	}

	d.heading("A module from a local path: terraform get installs it, without a registry or terraform init")
	if err := d.showLocalModule(ctx); err != nil {
		return err
	}

	d.heading("terraform destroy: detach (one deployment), back up and remove both services")
	var destroyed []string
	for _, in := range d.instances() {
		if in.Status != simulator.StatusRemoved {
			destroyed = append(destroyed, in.UUID)
		}
	}
	before := len(d.deployments())
	if err := tf.Destroy(ctx); err != nil {
		return fmt.Errorf("terraform destroy: %w", err)
	}
	if left := d.instancesLeft(); len(left) > 0 {
		return fmt.Errorf("after destroy the simulator still holds %s", strings.Join(left, ", "))
	}
	if n := len(d.deployments()) - before; n != 1 {
		return fmt.Errorf("the destroy took %d deployments to detach both services, want 1", n)
	}
	fmt.Fprintln(d.out, "both attachments were destroyed together, so one deployment detached both services;")
	fmt.Fprintln(d.out, "the simulator holds no service instance any more; their data outlives them in the final backups:")
	if err := d.showFinalBackups(destroyed); err != nil {
		return err
	}

	d.heading("Done")
	fmt.Fprintln(d.out, "to try your own configuration against the simulator: make simulator, and the provider through")
	fmt.Fprintln(d.out, "dev_overrides as above (README.md, \"Testing your own Terraform code offline\"): no terraform init,")
	fmt.Fprintln(d.out, "and terraform get where the configuration calls modules")
	return nil
}

// terraform copies an example folder into the temporary folder, so that no state file lands in
// the repository, and returns a runner there whose terraform output shows indented.
func (d *demo) terraform(example string) (*tfexec.Terraform, error) {
	dir := filepath.Join(d.work, example)
	if err := copyConfiguration(filepath.Join(d.root, "examples", example), dir); err != nil {
		return nil, err
	}
	tf, err := devenv.Terraform(dir, d.cliConfig, d.sim.URL, simulator.DemoToken)
	if err != nil {
		return nil, err
	}
	tf.SetStdout(indent(d.out))
	tf.SetStderr(indent(d.out))
	return tf, nil
}

// copyConfiguration copies the Terraform files of an example folder, and nothing else.
func copyConfiguration(from, to string) error {
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(to, 0o700); err != nil {
		return err
	}
	for _, e := range entries {
		isConfiguration := strings.HasSuffix(e.Name(), ".tf") || strings.HasSuffix(e.Name(), ".tfvars")
		if e.IsDir() || !isConfiguration {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// showPublished prints the quickstart's outputs, and what the simulator saw: the instances'
// states and the deployments that attached them.
func (d *demo) showPublished(ctx context.Context, tf *tfexec.Terraform) error {
	tf.SetStdout(io.Discard) // `terraform output -json` would print every output's type
	outputs, err := tf.Output(ctx)
	tf.SetStdout(indent(d.out))
	if err != nil {
		return fmt.Errorf("terraform output: %w", err)
	}
	var published map[string][]string
	if err := json.Unmarshal(outputs["environment_variables"].Value, &published); err != nil {
		return fmt.Errorf("reading the environment_variables output: %w", err)
	}
	services := make([]string, 0, len(published))
	for s := range published {
		services = append(services, s)
	}
	sort.Strings(services)
	for _, s := range services {
		fmt.Fprintf(d.out, "  %-9s %s\n", s+":", strings.Join(published[s], ", "))
	}

	fmt.Fprintln(d.out, "as the simulator sees it:")
	for _, in := range d.instances() {
		fmt.Fprintf(d.out, "  instance %s  %-8s prefix %-8s %s\n", in.UUID, in.Type, in.Prefix, in.Status)
	}
	deployments := d.deployments()
	for _, dep := range deployments {
		fmt.Fprintf(d.out, "  deployment %s  %s\n", dep.UUID, dep.Status)
	}
	fmt.Fprintf(d.out, "both attachments were applied together, so they shared %d deployment(s): a deployment attaches every\n", len(deployments))
	fmt.Fprintln(d.out, "instance of the environment that awaits attachment, whoever starts it, and the attachments say in the")
	fmt.Fprintln(d.out, "configuration that demo-app uses them")
	return nil
}

// showGuard plans the guard example, which must fail at plan time, and shows why.
func (d *demo) showGuard(ctx context.Context) error {
	tf, err := d.terraform("quickstart-guard")
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	tf.SetStdout(io.Discard)
	tf.SetStderr(&stderr)
	before := len(d.instances())
	_, err = tf.Plan(ctx)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err == nil:
		return errors.New("the plan of examples/quickstart-guard succeeded; a guard should have refused it")
	case !strings.Contains(stderr.String(), "ms-blob"):
		return fmt.Errorf("the plan of examples/quickstart-guard failed, but not with the guard's message: %w", err)
	case len(d.instances()) != before:
		return errors.New("the refused plan changed the simulator's instances")
	}
	fmt.Fprintln(d.out, "terraform plan failed, as it should, before creating anything:")
	_, _ = io.Copy(indent(d.out), &stderr)
	return nil
}

// localModuleRoot is a root module that calls a module from a local path: examples/module-testing,
// copied beside it. It plans for azure-app, where the quickstart adds nothing.
const localModuleRoot = `# Calls the module in ./services (examples/module-testing), from a local path.
module "services" {
  source      = "./services"
  application = "azure-app"
  environment = "test"
}
`

// showLocalModule shows what a configuration that calls modules needs under dev_overrides: its
// modules installed. terraform validate, plan and test say "Module not installed" and suggest
// terraform init, which would also ask the registry for the provider (and fail offline, or for a
// version not published); terraform get installs the modules, local ones without any network.
func (d *demo) showLocalModule(ctx context.Context) error {
	dir := filepath.Join(d.work, "local-module")
	if err := copyConfiguration(filepath.Join(d.root, "examples", "module-testing"), filepath.Join(dir, "services")); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(localModuleRoot), 0o600); err != nil {
		return err
	}
	tf, err := devenv.Terraform(dir, d.cliConfig, d.sim.URL, simulator.DemoToken)
	if err != nil {
		return err
	}
	tf.SetStderr(indent(d.out))
	fmt.Fprintf(d.out, "%s/main.tf:\n", dir)
	_, _ = io.WriteString(indent(d.out), localModuleRoot)

	notInstalled, err := tf.Validate(ctx)
	if err != nil {
		return fmt.Errorf("terraform validate: %w", err)
	}
	if notInstalled.Valid || !hasDiagnostic(notInstalled, "Module not installed") {
		return errors.New(`terraform validate before terraform get should have failed with "Module not installed"`)
	}
	fmt.Fprintln(d.out, "terraform validate: Error: Module not installed. It suggests terraform init, which would also ask the")
	fmt.Fprintln(d.out, "registry for divio/divio, and fail offline; terraform get installs the modules and nothing else:")

	tf.SetStdout(indent(d.out))
	if err := tf.Get(ctx); err != nil {
		return fmt.Errorf("terraform get: %w", err)
	}
	tf.SetStdout(io.Discard) // validate -json would print its JSON
	installed, err := tf.Validate(ctx)
	if err != nil {
		return fmt.Errorf("terraform validate: %w", err)
	}
	if !installed.Valid {
		return fmt.Errorf("terraform validate after terraform get failed: %s", diagnosticSummaries(installed))
	}
	fmt.Fprintln(d.out, "terraform validate: the configuration is valid")

	var plan bytes.Buffer
	tf.SetStdout(&plan)
	if _, err := tf.Plan(ctx); err != nil {
		return fmt.Errorf("terraform plan: %w", err)
	}
	for line := range strings.Lines(plan.String()) {
		if strings.HasPrefix(line, "Plan: ") {
			fmt.Fprintf(d.out, "terraform plan: %s", line)
		}
	}
	return nil
}

func hasDiagnostic(out *tfjson.ValidateOutput, summary string) bool {
	for _, diag := range out.Diagnostics {
		if diag.Severity == tfjson.DiagnosticSeverityError && diag.Summary == summary {
			return true
		}
	}
	return false
}

func diagnosticSummaries(out *tfjson.ValidateOutput) string {
	var summaries []string
	for _, diag := range out.Diagnostics {
		if diag.Severity == tfjson.DiagnosticSeverityError {
			summaries = append(summaries, diag.Summary)
		}
	}
	return strings.Join(summaries, "; ")
}

// showFinalBackups prints the final backups of the instances the destroy removed: what each holds,
// and until when the simulator keeps it.
func (d *demo) showFinalBackups(removed []string) error {
	var shown int
	for _, id := range removed {
		shown += d.showFinalBackup(id)
	}
	if shown != len(removed) {
		return fmt.Errorf("after destroy the simulator holds %d final backups of the %d services, want one each", shown, len(removed))
	}
	fmt.Fprintln(d.out, "data \"divio_service_backups\" finds them by environment, instance, type or prefix")
	return nil
}

// showFinalBackup prints the final backups of an instance, the successful ones kept until a date,
// and returns how many it printed.
func (d *demo) showFinalBackup(instanceID string) (shown int) {
	parts := map[string]simulator.ServiceInstanceBackup{}
	for _, p := range d.sim.ServiceInstanceBackups() {
		parts[p.UUID] = p
	}
	for _, b := range d.sim.Backups() {
		if b.Success == nil || *b.Success != simulator.BackupSuccess || b.ScheduledForDeletionAt == nil {
			continue
		}
		for _, id := range b.ServiceInstanceBackups {
			if p := parts[id]; p.ServiceInstance == instanceID {
				fmt.Fprintf(d.out, "  backup %s  %-8s prefix %-8s of instance %s, %d bytes, kept until %s\n",
					b.UUID, p.ServiceType, p.Prefix, p.ServiceInstance, *p.Size, b.ScheduledForDeletionAt.Format(time.DateOnly))
				shown++
			}
		}
	}
	return shown
}

// showUpgrade gives the quickstart's database some data, changes its service to postgres-16 and
// applies: the new instance must hold the data and be attached, by one deployment, and the old one
// be removed after its final backup.
func (d *demo) showUpgrade(ctx context.Context, tf *tfexec.Terraform) error {
	old := d.database()
	if old == nil {
		return errors.New("the quickstart's Postgres instance is missing")
	}
	const data = "the orders table, 3 rows"
	if err := d.sim.SetInstanceData(old.UUID, data); err != nil {
		return err
	}
	mainTF := filepath.Join(tf.WorkingDir(), "main.tf")
	b, err := os.ReadFile(mainTF)
	if err != nil {
		return err
	}
	upgraded := strings.Replace(string(b), `service        = "postgres-15"`, `service        = "postgres-16"`, 1)
	if upgraded == string(b) {
		return errors.New(`examples/quickstart/main.tf no longer says service = "postgres-15"`)
	}
	if err := os.WriteFile(mainTF, []byte(upgraded), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "instance %s (postgres-15) holds %q; main.tf now says service = \"postgres-16\"\n", old.UUID, data)

	before := len(d.deployments())
	if err := tf.Apply(ctx); err != nil {
		return fmt.Errorf("terraform apply: %w", err)
	}
	now := d.database()
	held := ""
	for _, in := range d.sim.InstanceStates() {
		if now != nil && in.UUID == now.UUID {
			held = in.Data
		}
	}
	switch {
	case now == nil || now.UUID == old.UUID || now.Service != simulator.ServiceID(simulator.ServicePostgres16) || now.Status != simulator.StatusAttached:
		return fmt.Errorf("after the upgrade the database is %+v; want a new, ATTACHED postgres-16 instance", now)
	case held != data:
		return fmt.Errorf("the new instance holds %q, not the old one's %q", held, data)
	case len(d.deployments())-before != 1:
		return fmt.Errorf("the upgrade took %d deployments, want 1", len(d.deployments())-before)
	}
	fmt.Fprintf(d.out, "instance %s (postgres-16) holds %q and is ATTACHED: the provider provisioned it, restored a\n", now.UUID, held)
	fmt.Fprintln(d.out, "backup of the old one into it, and swapped the two in one deployment; the old one is removed, its data in:")
	if d.showFinalBackup(old.UUID) != 1 {
		return fmt.Errorf("the old instance %s has no final backup", old.UUID)
	}
	return nil
}

// database returns the quickstart environment's Postgres instance that is not removed, if any.
func (d *demo) database() *simulator.Instance {
	for _, in := range d.instances() {
		if in.Type == simulator.TypeDatabase && in.Status != simulator.StatusRemoved {
			return &in
		}
	}
	return nil
}

// instancesLeft names the simulator's instances that are not removed.
func (d *demo) instancesLeft() []string {
	var left []string
	for _, in := range d.instances() {
		if in.Status != simulator.StatusRemoved {
			left = append(left, in.UUID+" ("+in.Status+")")
		}
	}
	return left
}

// indent writes every line it is given indented, so that terraform's output stands apart from
// the demo's headings.
func indent(w io.Writer) io.Writer { return &indenter{w: w, atLineStart: true} }

type indenter struct {
	w           io.Writer
	atLineStart bool
}

func (in *indenter) Write(p []byte) (int, error) {
	for _, line := range bytes.SplitAfter(p, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if in.atLineStart {
			if _, err := in.w.Write([]byte("    ")); err != nil {
				return 0, err
			}
		}
		if _, err := in.w.Write(line); err != nil {
			return 0, err
		}
		in.atLineStart = line[len(line)-1] == '\n'
	}
	return len(p), nil
}

// quickstartEnvironment is where examples/quickstart adds its services: demo-app's live
// environment. The demo shows what happens there, not legacy-app's services that the data set
// starts with.
var quickstartEnvironment = simulator.EnvironmentID(simulator.DemoApp, simulator.EnvLive)

func (d *demo) instances() []simulator.Instance {
	var out []simulator.Instance
	for _, in := range d.sim.Instances() {
		if in.Environment == quickstartEnvironment {
			out = append(out, in)
		}
	}
	return out
}

func (d *demo) deployments() []simulator.Deployment {
	var out []simulator.Deployment
	for _, dep := range d.sim.Deployments() {
		if dep.Environment == quickstartEnvironment {
			out = append(out, dep)
		}
	}
	return out
}
