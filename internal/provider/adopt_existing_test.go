package provider

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
)

// terraformAtLeast reports whether the CLI is Terraform (not OpenTofu) major.minor or newer, and
// names the CLI for a test's skip message.
func (c *terraformCLI) terraformAtLeast(major, minor int) (ok bool, name string) {
	c.t.Helper()
	var v struct {
		Version string `json:"terraform_version"`
	}
	if err := json.Unmarshal([]byte(c.mustRun("version", "-json")), &v); err != nil {
		c.t.Fatal(err)
	}
	var gotMajor, gotMinor int
	if _, err := fmt.Sscanf(v.Version, "%d.%d", &gotMajor, &gotMinor); err != nil {
		c.t.Fatalf("version %q: %v", v.Version, err)
	}
	if strings.HasPrefix(c.mustRun("version"), "OpenTofu") {
		return false, "OpenTofu " + v.Version
	}
	return gotMajor > major || gotMajor == major && gotMinor >= minor, "Terraform " + v.Version
}

// TestAccAdoptExisting runs examples/adopt-existing as its README does, on the simulator's
// legacy-app, whose services were added outside Terraform: each way ends with the imports
// applied, an empty plan, and Divio untouched.
func TestAccAdoptExisting(t *testing.T) {
	want := []string{
		"divio_service.%[1]s", "divio_service.%[2]s", "divio_service_attachment.%[1]s", "divio_service_attachment.%[2]s",
	}
	t.Run("import blocks", func(t *testing.T) {
		cli := newTerraformCLI(t)
		if ok, name := cli.terraformAtLeast(1, 6); !ok && !strings.HasPrefix(name, "OpenTofu") {
			t.Skipf("import blocks with ids from data sources need Terraform 1.6 or newer; this is %s", name)
		}
		adopt(t, cli, "import-blocks", names(want, "database", "storage"))
	})
	t.Run("terraform query", func(t *testing.T) {
		cli := newTerraformCLI(t)
		if ok, name := cli.terraformAtLeast(1, 14); !ok {
			t.Skipf("terraform query needs Terraform 1.14 or newer; this is %s", name)
		}
		adopt(t, cli, "query", names(want, "live_0", "live_1"))
	})
}

func names(formats []string, first, second string) []string {
	out := make([]string, len(formats))
	for i, f := range formats {
		out[i] = fmt.Sprintf(f, first, second)
	}
	slices.Sort(out)
	return out
}

// adopt copies an example folder, with the test's simulator as the provider's endpoint, and
// runs it: the first plan (after terraform query, in a folder that has a query) must only import
// the resources named in want, and the next be empty; the simulator must have run no deployment
// and changed no instance.
func adopt(t *testing.T, cli *terraformCLI, folder string, want []string) {
	t.Helper()
	env := newTestEnv(t)
	sim := env.requireSim(t)
	before := sim.Instances()
	deployments := len(sim.Deployments())

	example := filepath.Join("..", "..", "examples", "adopt-existing", folder)
	if err := os.CopyFS(cli.dir, os.DirFS(example)); err != nil {
		t.Fatal(err)
	}
	// An override file sets the endpoint and token, so the example's own files run unchanged.
	if err := os.WriteFile(filepath.Join(cli.dir, "provider_override.tf"), []byte(env.config("")), 0o600); err != nil {
		t.Fatal(err)
	}
	cli.init()
	if queries, _ := filepath.Glob(filepath.Join(cli.dir, "*.tfquery.hcl")); len(queries) > 0 {
		cli.mustRun("query", "-generate-config-out=generated.tf", "-no-color")
	}

	cli.mustRun("plan", "-out=adopt.plan", "-input=false", "-no-color")
	var plan tfjson.Plan
	if err := json.Unmarshal([]byte(cli.mustRun("show", "-json", "adopt.plan")), &plan); err != nil {
		t.Fatal(err)
	}
	var imported []string
	for _, rc := range plan.ResourceChanges {
		if rc.Change.Importing == nil || !rc.Change.Actions.NoOp() {
			t.Errorf("%s: planned %v (importing: %v), want only an import", rc.Address, rc.Change.Actions, rc.Change.Importing != nil)
		}
		imported = append(imported, rc.Address)
	}
	slices.Sort(imported)
	if !slices.Equal(imported, want) {
		t.Fatalf("the plan imports %q, want %q", imported, want)
	}
	cli.mustRun("apply", "-input=false", "-no-color", "adopt.plan")
	if out, changes := cli.run("plan", "-detailed-exitcode", "-input=false", "-no-color"); changes {
		t.Errorf("the plan after the imports is not empty:\n%s", out)
	}
	if got := len(sim.Deployments()); got != deployments {
		t.Errorf("the simulator ran %d deployments, want none", got-deployments)
	}
	if after := sim.Instances(); !slices.Equal(after, before) {
		t.Errorf("the simulator's instances changed:\nbefore %+v\nafter  %+v", before, after)
	}
}
