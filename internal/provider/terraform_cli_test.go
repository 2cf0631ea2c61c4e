package provider

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"
)

// terraformCLI runs the terraform binary of the acceptance tests (TF_ACC_TERRAFORM_PATH, else the one
// on PATH) in a folder of its own against this package's provider, served in-process, for what
// terraform-plugin-testing does not show: the warnings of a plan, and commands such as a targeted
// plan or a replacement that tests need to run step by step.
type terraformCLI struct {
	t       *testing.T
	dir     string
	bin     string
	environ []string
}

// diagnostic is one of the diagnostics that `terraform plan -json` prints.
type diagnostic struct {
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Detail   string `json:"detail"`
}

func (d diagnostic) String() string { return d.Severity + ": " + d.Summary + ": " + d.Detail }

// newTerraformCLI serves testProvider(), changed by the options given, to terraform.
func newTerraformCLI(t *testing.T, options ...func(*DivioProvider)) *terraformCLI {
	t.Helper()
	provider := testProvider()
	for _, option := range options {
		option(provider)
	}
	bin := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("terraform"); err != nil {
			t.Skip("terraform is not on PATH and TF_ACC_TERRAFORM_PATH is not set")
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	reattach := make(chan *plugin.ReattachConfig, 1)
	closed := make(chan struct{})
	go func() {
		err := tf6server.Serve(providerAddress(), providerserver.NewProtocol6(provider),
			tf6server.WithDebug(ctx, reattach, closed),
			tf6server.WithGoPluginLogger(hclog.NewNullLogger()),
			tf6server.WithLoggingSink(t))
		if err != nil {
			t.Errorf("serving the provider: %v", err)
		}
	}()
	config := <-reattach
	t.Cleanup(func() {
		cancel()
		<-closed
	})
	info, err := json.Marshal(map[string]any{providerAddress(): map[string]any{
		"Protocol": config.Protocol, "ProtocolVersion": config.ProtocolVersion, "Pid": config.Pid, "Test": config.Test,
		"Addr": map[string]string{"Network": config.Addr.Network(), "String": config.Addr.String()},
	}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cliConfig := filepath.Join(dir, ".terraformrc")
	if err := os.WriteFile(cliConfig, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	environ := []string{"TF_REATTACH_PROVIDERS=" + string(info), "TF_CLI_CONFIG_FILE=" + cliConfig, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1"}
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(name, "TF_") && name != envEndpoint && name != envToken && name != envZone {
			environ = append(environ, kv)
		}
	}
	return &terraformCLI{t: t, dir: dir, bin: bin, environ: environ}
}

// providerAddress is the registry address the provider is served as: that of OpenTofu's registry
// when the tests run OpenTofu, as terraform-plugin-testing does.
func providerAddress() string {
	host := "registry.terraform.io"
	if h := os.Getenv("TF_ACC_PROVIDER_HOST"); h != "" {
		host = h
	}
	return host + "/divio/divio"
}

// write replaces the folder's configuration.
func (c *terraformCLI) write(config string) {
	c.t.Helper()
	body := fmt.Sprintf("terraform {\n  required_providers {\n    divio = {\n      source = %q\n    }\n  }\n}\n\n%s", strings.TrimPrefix(providerAddress(), "registry.terraform.io/"), config)
	if err := os.WriteFile(filepath.Join(c.dir, "main.tf"), []byte(body), 0o600); err != nil {
		c.t.Fatal(err)
	}
}

// run runs a terraform command and returns its output; failed reports a non-zero exit.
func (c *terraformCLI) run(args ...string) (output string, failed bool) {
	c.t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Dir, cmd.Env = c.dir, c.environ
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		c.t.Fatalf("terraform %s: %v", strings.Join(args, " "), err)
	}
	return string(out), err != nil
}

// mustRun runs a command that must succeed.
func (c *terraformCLI) mustRun(args ...string) string {
	c.t.Helper()
	out, failed := c.run(args...)
	if failed {
		c.t.Fatalf("terraform %s failed:\n%s", strings.Join(args, " "), out)
	}
	return out
}

// apply writes config and applies it, initialising the folder the first time.
func (c *terraformCLI) apply(config string, args ...string) []diagnostic {
	c.t.Helper()
	c.write(config)
	c.init()
	return diagnostics(c.mustRun(append([]string{"apply", "-auto-approve", "-json", "-input=false"}, args...)...))
}

// plan writes config and plans it; failed reports a plan that failed.
func (c *terraformCLI) plan(config string, args ...string) (diags []diagnostic, failed bool) {
	c.t.Helper()
	c.write(config)
	c.init()
	out, failed := c.run(append([]string{"plan", "-json", "-input=false"}, args...)...)
	return diagnostics(out), failed
}

func (c *terraformCLI) init() {
	c.t.Helper()
	if _, err := os.Stat(filepath.Join(c.dir, ".terraform.lock.hcl")); err == nil {
		return
	}
	c.mustRun("init", "-input=false", "-no-color")
}

// diagnostics reads the diagnostics out of terraform's -json output.
func diagnostics(out string) []diagnostic {
	var diags []diagnostic
	scanner := bufio.NewScanner(strings.NewReader(out))
	scanner.Buffer(nil, 1<<20)
	for scanner.Scan() {
		var line struct {
			Type       string      `json:"type"`
			Diagnostic *diagnostic `json:"diagnostic"`
		}
		if json.Unmarshal(scanner.Bytes(), &line) == nil && line.Type == "diagnostic" && line.Diagnostic != nil {
			diags = append(diags, *line.Diagnostic)
		}
	}
	return diags
}

// withSummary returns the diagnostics with the given summary.
func withSummary(diags []diagnostic, summary string) []diagnostic {
	var out []diagnostic
	for _, d := range diags {
		if d.Summary == summary {
			out = append(out, d)
		}
	}
	return out
}

// interruptApply starts `terraform apply` of config, sends it SIGINT (Ctrl-C) once when() is true,
// and returns its output once it has exited. Terraform then stops the provider's operations, which
// return what they have, and saves the state.
func (c *terraformCLI) interruptApply(config string, when func() bool) string {
	c.t.Helper()
	return c.signalApply(config, os.Interrupt, when)
}

// killApply is interruptApply with SIGKILL: terraform dies at once and saves nothing.
func (c *terraformCLI) killApply(config string, when func() bool) string {
	c.t.Helper()
	return c.signalApply(config, os.Kill, when)
}

func (c *terraformCLI) signalApply(config string, sig os.Signal, when func() bool) string {
	c.t.Helper()
	c.write(config)
	c.init()
	cmd := exec.Command(c.bin, "apply", "-auto-approve", "-json", "-input=false")
	cmd.Dir, cmd.Env = c.dir, c.environ
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	// Its exit status says nothing: an interrupted apply exits 1 whatever happened.
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	deadline := time.After(time.Minute)
	for !when() {
		select {
		case <-done:
			c.t.Fatalf("terraform apply ended before the signal:\n%s", out.String())
		case <-deadline:
			_ = cmd.Process.Kill()
			c.t.Fatalf("the moment to signal terraform apply never came:\n%s", out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := cmd.Process.Signal(sig); err != nil {
		c.t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		c.t.Fatalf("terraform apply did not stop after %v:\n%s", sig, out.String())
	}
	return out.String()
}

// planIsEmpty reports whether a plan of the folder's configuration changes nothing.
func (c *terraformCLI) planIsEmpty() (bool, string) {
	c.t.Helper()
	cmd := exec.Command(c.bin, "plan", "-detailed-exitcode", "-no-color", "-input=false")
	cmd.Dir, cmd.Env = c.dir, c.environ
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 2 {
		return false, string(out)
	}
	if err != nil {
		c.t.Fatalf("terraform plan: %v\n%s", err, out)
	}
	return true, string(out)
}

// newTerraformCLIWithBuiltProvider runs terraform against a build of the provider that terraform
// starts itself, as a plugin (dev_overrides), rather than one served in-process: for what depends on
// the provider being terraform's child process, such as telling a destroy run (destroyRun).
func newTerraformCLIWithBuiltProvider(t *testing.T) *terraformCLI {
	t.Helper()
	c := newTerraformCLI(t)
	bin := filepath.Join(t.TempDir(), "terraform-provider-divio")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/divio/terraform-provider-divio").CombinedOutput(); err != nil {
		t.Fatalf("building the provider: %v\n%s", err, out)
	}
	cliConfig := filepath.Join(c.dir, ".terraformrc")
	overrides := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    %q = %q\n  }\n  direct {}\n}\n", providerAddress(), filepath.Dir(bin))
	if err := os.WriteFile(cliConfig, []byte(overrides), 0o600); err != nil {
		t.Fatal(err)
	}
	c.environ = slices.DeleteFunc(c.environ, func(kv string) bool { return strings.HasPrefix(kv, "TF_REATTACH_PROVIDERS=") })
	// terraform init would look the overridden provider up in the registry; no lock file is needed,
	// and an empty one keeps init from running.
	if err := os.WriteFile(filepath.Join(c.dir, ".terraform.lock.hcl"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}
