// Package devenv runs the real terraform binary against a freshly built provider and a local
// simulator, with no registry and no `terraform init`: the harness of `make demo`, the benchmark
// and the soak test.
package devenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/divio/terraform-provider-divio/internal/simulator"
)

// ProviderAddress is the registry address that dev_overrides points at the local build.
const ProviderAddress = "registry.terraform.io/divio/divio"

// ModuleRoot returns the directory of this module's go.mod, so that commands work from anywhere
// inside the repository.
func ModuleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the terraform-provider-divio module: run this from the repository")
	}
	return filepath.Dir(gomod), nil
}

// BuildProvider builds the provider from the module at root into dir and returns the binary's
// path. dir is what dev_overrides names.
func BuildProvider(ctx context.Context, root, dir string) (string, error) {
	return Build(ctx, root, ".", filepath.Join(dir, "terraform-provider-divio"))
}

// Build builds the package pkg of the module at root into the file out.
func Build(ctx context.Context, root, pkg, out string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return out, nil
}

// WriteCLIConfig writes a Terraform CLI configuration into dir whose dev_overrides make
// terraform use the providers in providerDirs (address -> directory) instead of a registry, and
// returns its path, for TF_CLI_CONFIG_FILE. The user's ~/.terraformrc is never touched.
func WriteCLIConfig(dir string, providerDirs map[string]string) (string, error) {
	var b strings.Builder
	b.WriteString("provider_installation {\n  dev_overrides {\n")
	for address, providerDir := range providerDirs {
		fmt.Fprintf(&b, "    %q = %q\n", address, providerDir)
	}
	b.WriteString("  }\n  direct {}\n}\n")
	path := filepath.Join(dir, "terraformrc")
	return path, os.WriteFile(path, []byte(b.String()), 0o600)
}

// Simulator is a simulator serving on a free loopback port.
type Simulator struct {
	*simulator.Simulator
	URL    string
	opts   simulator.Options
	addr   string
	server *http.Server
}

// StartSimulator starts a simulator with opts on 127.0.0.1 and a free port.
func StartSimulator(opts simulator.Options) (*Simulator, error) {
	s := &Simulator{opts: opts, addr: "127.0.0.1:0"}
	if err := s.start(); err != nil {
		return nil, err
	}
	s.URL = "http://" + s.addr
	return s, nil
}

func (s *Simulator) start() error {
	sim, err := simulator.New(s.opts)
	if err != nil {
		return err
	}
	s.Simulator = sim
	if err := s.serve(); err != nil {
		_ = sim.Close()
		return err
	}
	return nil
}

func (s *Simulator) serve() error {
	listener, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	s.addr = listener.Addr().String()
	server := &http.Server{Handler: s.Simulator}
	s.server = server
	go func() { _ = server.Serve(listener) }()
	return nil
}

// Restart stops serving for down, as a restart of the API looks to its clients: refused
// connections meanwhile, and what was under way carried on. With a data file the simulator itself
// is stopped and started again from it; without one it keeps its state in memory. It needs no other
// use of the simulator while it runs.
func (s *Simulator) Restart(down time.Duration) error {
	if err := s.server.Close(); err != nil {
		return err
	}
	if s.opts.DataFile == "" {
		time.Sleep(down)
		return s.serve()
	}
	if err := s.Simulator.Close(); err != nil {
		return err
	}
	time.Sleep(down)
	return s.start()
}

// Close stops serving, then stops the simulator, which saves its data file last.
func (s *Simulator) Close() error {
	return errors.Join(s.server.Close(), s.Simulator.Close())
}

// Terraform returns a terraform-exec runner in workDir that uses the CLI configuration at
// cliConfig and talks to the API at endpoint with token.
func Terraform(workDir, cliConfig, endpoint, token string) (*tfexec.Terraform, error) {
	bin, err := TerraformBinary()
	if err != nil {
		return nil, err
	}
	tf, err := tfexec.NewTerraform(workDir, bin)
	if err != nil {
		return nil, err
	}
	if err := tf.SetEnv(TerraformEnv(cliConfig, endpoint, token)); err != nil {
		return nil, err
	}
	return tf, nil
}

// TerraformBinary is the terraform on PATH.
func TerraformBinary() (string, error) {
	bin, err := exec.LookPath("terraform")
	if err != nil {
		return "", errors.New("terraform is not on PATH: install Terraform 1.5 or newer")
	}
	return bin, nil
}

// TerraformEnv is the environment terraform runs in: this process's, without its TF_ variables,
// with the CLI configuration at cliConfig and the API at endpoint with token.
func TerraformEnv(cliConfig, endpoint, token string) map[string]string {
	env := map[string]string{
		"TF_CLI_CONFIG_FILE": cliConfig,
		"DIVIO_API_URL":      endpoint,
		"DIVIO_API_TOKEN":    token,
		"CHECKPOINT_DISABLE": "1",
	}
	for _, kv := range os.Environ() {
		name, value, _ := strings.Cut(kv, "=")
		if _, set := env[name]; !set && !strings.HasPrefix(name, "TF_") {
			env[name] = value
		}
	}
	return env
}

// StartSimulatorProcess starts the divio-simulator binary bin on a free loopback port, with no
// delays and its data in dataFile, and returns the URL it prints once it listens. Its other output
// is dropped; its errors go to stderr.
func StartSimulatorProcess(ctx context.Context, bin, dataFile string, stderr io.Writer) (*exec.Cmd, string, error) {
	cmd := exec.CommandContext(ctx, bin, "--listen", "127.0.0.1:0", "--data", dataFile,
		"--provision-delay", "0", "--deploy-delay", "0", "--backup-delay", "0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	found := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			if url, ok := strings.CutPrefix(lines.Text(), "divio-simulator listening on "); ok {
				url, _, _ = strings.Cut(url, " ")
				found <- url
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		close(found)
	}()
	select {
	case url, ok := <-found:
		if ok {
			return cmd, url, nil
		}
		return nil, "", errors.Join(errors.New("divio-simulator ended without saying where it listens"), cmd.Wait())
	case <-time.After(30 * time.Second):
		return nil, "", errors.Join(errors.New("divio-simulator did not say where it listens within 30s"), StopSimulatorProcess(cmd))
	}
}

// StopSimulatorProcess stops the simulator as Ctrl-C does, so that it saves its data file.
func StopSimulatorProcess(cmd *exec.Cmd) error {
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		return err
	}
	return cmd.Wait()
}

// SimulatorRecords are a simulator's service instances and backups.
type SimulatorRecords struct {
	Instances []simulator.Instance
	Backups   []simulator.Backup
}

// ReadDataFile reads what a stopped divio-simulator saved in dataFile, and what the demo data set
// it started from holds when new, so that a check can tell what a run added.
func ReadDataFile(dataFile string) (seeded, saved SimulatorRecords, err error) {
	records := func(opts simulator.Options) (SimulatorRecords, error) {
		sim, err := simulator.New(opts)
		if err != nil {
			return SimulatorRecords{}, err
		}
		return SimulatorRecords{Instances: sim.Instances(), Backups: sim.Backups()}, sim.Close()
	}
	if seeded, err = records(simulator.Options{}); err != nil {
		return seeded, saved, err
	}
	if saved, err = records(simulator.Options{DataFile: dataFile}); err != nil {
		err = fmt.Errorf("reading the simulator's data file: %w", err)
	}
	return seeded, saved, err
}
