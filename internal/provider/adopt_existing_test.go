package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/divio/terraform-provider-divio/internal/devenv"
	"github.com/divio/terraform-provider-divio/internal/simulator"
)

// TestAccAdoptExisting runs examples/adopt-existing as its README does, on the simulator's
// legacy-app, whose services were added outside Terraform: the real CLI and a build of the
// provider, each way ending with the imports applied, an empty plan, and Divio untouched.
func TestAccAdoptExisting(t *testing.T) {
	cli := findAcceptanceCLI(t)
	root, cliConfig := buildProviderForCLI(t)
	want := []string{
		"divio_service.%[1]s", "divio_service.%[2]s", "divio_service_attachment.%[1]s", "divio_service_attachment.%[2]s",
	}

	t.Run("import blocks", func(t *testing.T) {
		if !cli.openTofu && !cli.terraformAtLeast(1, 6) {
			t.Skipf("import blocks with ids from data sources need Terraform 1.6 or newer; this is %s", cli)
		}
		adopt(t, root, "import-blocks", cliConfig, names(want, "database", "storage"), nil)
	})
	t.Run("terraform query", func(t *testing.T) {
		if !cli.terraformAtLeast(1, 14) {
			t.Skipf("terraform query needs Terraform 1.14 or newer; this is %s", cli)
		}
		adopt(t, root, "query", cliConfig, names(want, "live_0", "live_1"), func(ctx context.Context, tf *tfexec.Terraform) error {
			messages, err := tf.QueryJSON(ctx, tfexec.GenerateConfigOut("generated.tf"))
			if err != nil {
				return err
			}
			for m := range messages {
				if m.Err != nil {
					return m.Err
				}
			}
			return nil
		})
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

// adopt copies an example folder, runs prepare in it, then plans, applies and plans again: the
// first plan must only import the resources named in want, the second be empty, and the
// simulator must have run no deployment and changed no instance.
func adopt(t *testing.T, root, folder, cliConfig string, want []string, prepare func(context.Context, *tfexec.Terraform) error) {
	t.Helper()
	ctx := context.Background()
	sim, err := devenv.StartSimulator(simulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	before := sim.Instances()
	deployments := len(sim.Deployments())

	work := t.TempDir()
	if err := os.CopyFS(work, os.DirFS(filepath.Join(root, "examples", "adopt-existing", folder))); err != nil {
		t.Fatal(err)
	}
	tf, err := devenv.Terraform(work, cliConfig, sim.URL, simulator.DemoToken)
	if err != nil {
		t.Fatal(err)
	}
	if prepare != nil {
		if err := prepare(ctx, tf); err != nil {
			t.Fatal(err)
		}
	}

	if _, err := tf.Plan(ctx, tfexec.Out("adopt.plan")); err != nil {
		t.Fatal(err)
	}
	plan, err := tf.ShowPlanFile(ctx, "adopt.plan")
	if err != nil {
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
	if err := tf.Apply(ctx, tfexec.DirOrPlan("adopt.plan")); err != nil {
		t.Fatal(err)
	}
	changes, err := tf.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if changes {
		t.Error("the plan after the imports is not empty")
	}
	if got := len(sim.Deployments()); got != deployments {
		t.Errorf("the simulator ran %d deployments, want none", got-deployments)
	}
	if after := sim.Instances(); !slices.Equal(after, before) {
		t.Errorf("the simulator's instances changed:\nbefore %+v\nafter  %+v", before, after)
	}
}
