package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/divio/terraform-provider-divio/internal/devenv"
)

// Tests that run the CLI as a user does, on a build of the provider through dev_overrides, for
// what terraform-plugin-testing cannot drive: `terraform query -generate-config-out`,
// `terraform apply -invoke`.

// acceptanceCLI is the Terraform (or OpenTofu) CLI the acceptance tests run.
type acceptanceCLI struct {
	path         string
	major, minor int
	openTofu     bool
}

// terraformAtLeast reports whether the CLI is Terraform major.minor or newer.
func (c acceptanceCLI) terraformAtLeast(major, minor int) bool {
	return !c.openTofu && (c.major > major || c.major == major && c.minor >= minor)
}

func (c acceptanceCLI) String() string {
	name := "Terraform"
	if c.openTofu {
		name = "OpenTofu"
	}
	return fmt.Sprintf("%s %d.%d", name, c.major, c.minor)
}

// findAcceptanceCLI skips unless TF_ACC is set, and returns TF_ACC_TERRAFORM_PATH's CLI, else
// the terraform on PATH, putting it first on PATH under the name terraform, where devenv looks.
func findAcceptanceCLI(t *testing.T) acceptanceCLI {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1")
	}
	cli := acceptanceCLI{path: os.Getenv("TF_ACC_TERRAFORM_PATH")}
	if cli.path == "" {
		var err error
		if cli.path, err = exec.LookPath("terraform"); err != nil {
			t.Skip("no terraform on PATH and no TF_ACC_TERRAFORM_PATH")
		}
	}
	text, err := exec.Command(cli.path, "version").Output()
	if err != nil {
		t.Fatalf("%s version: %v", cli.path, err)
	}
	cli.openTofu = strings.HasPrefix(string(text), "OpenTofu")
	var versionJSON struct {
		Version string `json:"terraform_version"`
	}
	out, err := exec.Command(cli.path, "version", "-json").Output()
	if err == nil {
		err = json.Unmarshal(out, &versionJSON)
	}
	if err != nil {
		t.Fatalf("%s version -json: %v", cli.path, err)
	}
	if _, err := fmt.Sscanf(versionJSON.Version, "%d.%d", &cli.major, &cli.minor); err != nil {
		t.Fatalf("version %q: %v", versionJSON.Version, err)
	}
	dir := t.TempDir()
	if err := os.Symlink(cli.path, filepath.Join(dir, "terraform")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return cli
}

// buildProviderForCLI builds the provider and returns the module's root and a CLI
// configuration whose dev_overrides point Terraform and OpenTofu at the build.
func buildProviderForCLI(t *testing.T) (root, cliConfig string) {
	t.Helper()
	ctx := context.Background()
	root, err := devenv.ModuleRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if _, err := devenv.BuildProvider(ctx, root, bin); err != nil {
		t.Fatal(err)
	}
	cliConfig, err = devenv.WriteCLIConfig(bin, map[string]string{
		devenv.ProviderAddress:              bin,
		"registry.opentofu.org/divio/divio": bin,
	})
	if err != nil {
		t.Fatal(err)
	}
	return root, cliConfig
}
