package devenv

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/divio/terraform-provider-divio/internal/simulator"
)

// TestProviderRunsUnderDevOverrides builds the provider and plans a data source through the real
// terraform binary: the path that make demo, the benchmark and the soak test stand on.
func TestProviderRunsUnderDevOverrides(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the provider")
	}
	ctx := context.Background()
	root, err := ModuleRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := BuildProvider(ctx, root, dir); err != nil {
		t.Fatal(err)
	}
	cliConfig, err := WriteCLIConfig(dir, map[string]string{ProviderAddress: dir})
	if err != nil {
		t.Fatal(err)
	}
	sim, err := StartSimulator(simulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()

	work := t.TempDir()
	config := `
terraform {
  required_providers {
    divio = { source = "divio/divio" }
  }
}
data "divio_region" "aws" { name = "aws-eu-central-1" }
output "vendor" { value = data.divio_region.aws.vendor }
`
	if err := os.WriteFile(filepath.Join(work, "main.tf"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	tf, err := Terraform(work, cliConfig, sim.URL, simulator.DemoToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := tf.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	outputs, err := tf.Output(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(outputs["vendor"].Value); got != `"aws"` {
		t.Errorf("vendor output = %s, want \"aws\"", got)
	}
}

// A restart refuses connections while down, then serves the same state on the same address, with
// and without a data file.
func TestSimulatorRestart(t *testing.T) {
	for _, file := range []string{"", filepath.Join(t.TempDir(), "sim.json")} {
		testSimulatorRestart(t, simulator.Options{DataFile: file})
	}
}

func testSimulatorRestart(t *testing.T, opts simulator.Options) {
	sim, err := StartSimulator(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	before := len(sim.Instances())
	get := func() error {
		resp, err := http.Get(sim.URL + "/apps/v3/regions/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	down := make(chan error, 1)
	go func() { down <- sim.Restart(300 * time.Millisecond) }()
	time.Sleep(100 * time.Millisecond)
	if err := get(); err == nil {
		t.Error("the simulator answered while restarting")
	}
	if err := <-down; err != nil {
		t.Fatal(err)
	}
	if err := get(); err != nil {
		t.Errorf("after the restart: %v", err)
	}
	if after := len(sim.Instances()); after != before {
		t.Errorf("%d instances after the restart, %d before", after, before)
	}
}
