package devenv

import (
	"context"
	"os"
	"path/filepath"
	"testing"

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
