package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/divio/terraform-provider-divio/internal/simulator"
	"github.com/divio/terraform-provider-divio/tools/devenv"
)

// The import files tfplugindocs puts in a resource's docs, beside resource.tf, and the oldest
// Terraform (major, minor) each needs.
var importFiles = map[string][2]int{
	"import.sh":              {1, 0},
	"import-by-string-id.tf": {1, 5},
	"import-by-identity.tf":  {1, 12},
}

func isImportFile(name string) bool {
	_, ok := importFiles[name]
	return ok
}

// isConfiguration says whether a file is read by terraform: configuration, variables, tests and
// queries.
func isConfiguration(name string) bool {
	for _, suffix := range []string{".tf", ".tfvars", ".tftest.hcl", ".tfquery.hcl"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}

// applyAndDestroy runs an example as its docs say, against a simulator of its own whose
// provisioning and deployments finish at once.
func (c *checker) applyAndDestroy(ctx context.Context, example, dir string, want expectation, r *result) error {
	if err := copyExample(filepath.Join(c.root, "examples", example), dir); err != nil {
		return err
	}
	sim, err := devenv.StartSimulator(simulator.Options{})
	if err != nil {
		return fmt.Errorf("starting the simulator: %w", err)
	}
	defer sim.Close()
	tf, err := devenv.Terraform(dir, c.cliConfig, sim.URL, simulator.DemoToken)
	if err != nil {
		return err
	}
	tf.SetStdout(&r.log)
	tf.SetStderr(&r.log)
	before := sim.Instances()

	r.step("validate")
	if err := validate(ctx, tf); err != nil {
		return err
	}
	if want.validateOnly != "" {
		r.step("apply skipped: " + want.validateOnly)
		return nil
	}
	if want.planError != "" {
		r.step("plan refused")
		_, err := tf.Plan(ctx)
		switch {
		case err == nil:
			return fmt.Errorf("terraform plan succeeded; it should fail with %q", want.planError)
		case !strings.Contains(err.Error(), want.planError):
			return fmt.Errorf("terraform plan failed, but without %q", want.planError)
		}
		return checkNothingLeft(before, sim.Instances(), "the refused plan")
	}

	r.step("apply")
	if err := tf.Apply(ctx); err != nil {
		return fmt.Errorf("terraform apply failed (%s)", firstLine(err))
	}
	r.step("empty plan")
	if err := expectEmptyPlan(ctx, tf); err != nil {
		return err
	}
	if want.change != nil {
		r.step(fmt.Sprintf("%s -> %s, apply", want.change.from, want.change.to))
		if err := editExample(dir, *want.change); err != nil {
			return err
		}
		if err := tf.Apply(ctx); err != nil {
			return fmt.Errorf("terraform apply after %s -> %s failed (%s)", want.change.from, want.change.to, firstLine(err))
		}
		r.step("empty plan")
		if err := expectEmptyPlan(ctx, tf); err != nil {
			return err
		}
	}
	if err := c.reimport(ctx, tf, sim, example, dir, want, r); err != nil {
		return err
	}
	if want.protected {
		if err := destroyProtected(ctx, tf, dir, r); err != nil {
			return err
		}
	}
	r.step("destroy")
	if err := tf.Destroy(ctx); err != nil {
		return fmt.Errorf("terraform destroy failed (%s)", firstLine(err))
	}
	return checkNothingLeft(before, sim.Instances(), "terraform destroy")
}

// validate fails when terraform validate finds the configuration invalid; its diagnostics go to
// the example's log.
func validate(ctx context.Context, tf *tfexec.Terraform) error {
	out, err := tf.Validate(ctx)
	if err != nil {
		return fmt.Errorf("terraform validate failed (%s)", firstLine(err))
	}
	if !out.Valid {
		var msgs []string
		for _, d := range out.Diagnostics {
			if d.Severity == tfjson.DiagnosticSeverityError {
				msgs = append(msgs, d.Summary+": "+d.Detail)
			}
		}
		return fmt.Errorf("terraform validate: %s", strings.Join(msgs, "; "))
	}
	return nil
}

func expectEmptyPlan(ctx context.Context, tf *tfexec.Terraform) error {
	changes, err := tf.Plan(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("terraform plan failed (%s)", firstLine(err))
	case changes:
		return errors.New("terraform plan wants to change something; it should be empty")
	}
	return nil
}

// destroyProtected checks that destroy is refused while deletion_protection is set, then turns it
// off and applies, as the docs tell users to.
func destroyProtected(ctx context.Context, tf *tfexec.Terraform, dir string, r *result) error {
	const refusal = "Service instance is protected from deletion"
	r.step("destroy refused")
	err := tf.Destroy(ctx)
	switch {
	case err == nil:
		return errors.New("terraform destroy succeeded; deletion_protection should have refused it")
	case !strings.Contains(err.Error(), refusal):
		return fmt.Errorf("terraform destroy failed, but without %q", refusal)
	}
	r.step("protection off and apply")
	if err := unprotect(dir); err != nil {
		return err
	}
	if err := tf.Apply(ctx); err != nil {
		return fmt.Errorf("terraform apply of deletion_protection = false failed (%s)", firstLine(err))
	}
	return nil
}

var protectionOn = regexp.MustCompile(`(deletion_protection\s*=\s*)true`)

func unprotect(dir string) error {
	changed, err := rewriteExample(dir, func(b []byte) []byte { return protectionOn.ReplaceAll(b, []byte("${1}false")) })
	if err == nil && !changed {
		err = errors.New("the example is expected to set deletion_protection = true, and does not")
	}
	return err
}

// editExample makes a change the example's docs ask for in its .tf files, and fails when none of
// them holds the text to change.
func editExample(dir string, e edit) error {
	changed, err := rewriteExample(dir, func(b []byte) []byte { return bytes.ReplaceAll(b, []byte(e.from), []byte(e.to)) })
	if err == nil && !changed {
		err = fmt.Errorf("the example is expected to hold %s, and does not", e.from)
	}
	return err
}

// rewriteExample rewrites the example's .tf files with rewrite, and reports whether it changed any.
func rewriteExample(dir string, rewrite func([]byte) []byte) (changed bool, err error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return changed, err
		}
		if after := rewrite(b); !bytes.Equal(after, b) {
			if err := os.WriteFile(f, after, 0o600); err != nil {
				return changed, err
			}
			changed = true
		}
	}
	return changed, err
}

// reimport takes each resource an import file names out of the state and imports it again as
// the file shows, with the real id in place of its placeholder. The apply after it brings only what
// lives in the configuration alone (timeouts, deletion_protection, a deployment's triggers): it
// must add no service instance and, but for an imported divio_deployment, start no deployment; the
// plan after it must be empty.
func (c *checker) reimport(ctx context.Context, tf *tfexec.Terraform, sim *devenv.Simulator, example, dir string, want expectation, r *result) error {
	for _, name := range slices.Sorted(maps.Keys(importFiles)) {
		b, err := os.ReadFile(filepath.Join(c.root, "examples", example, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if need := importFiles[name]; !atLeast(c.tfVersion, need) {
			r.step(fmt.Sprintf("%s skipped (needs Terraform %d.%d)", name, need[0], need[1]))
			continue
		}
		r.step(name)
		instances, deployments := sim.Instances(), len(sim.Deployments())
		if err := importAsShown(ctx, tf, dir, name, string(b), &r.log); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := checkNothingLeft(instances, sim.Instances(), "the import"); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if started := len(sim.Deployments()) - deployments; started > 0 && !want.importDeploys {
			return fmt.Errorf("%s: the apply after the import started %d deployment(s)", name, started)
		}
		if err := expectEmptyPlan(ctx, tf); err != nil {
			return fmt.Errorf("after %s: %w", name, err)
		}
	}
	return nil
}

var (
	importCommand = regexp.MustCompile(`(?m)^terraform import (\S+) (<[^>]+>)\s*$`)
	importTo      = regexp.MustCompile(`\bto\s*=\s*(\S+)`)
	placeholder   = regexp.MustCompile(`<([a-z ]+) id>`)
)

// importAsShown imports the resource(s) an import file names, as the file shows, and applies.
func importAsShown(ctx context.Context, tf *tfexec.Terraform, dir, name, text string, log io.Writer) error {
	state, err := showState(ctx, tf, log)
	if err != nil {
		return err
	}
	if name == "import.sh" {
		commands := importCommand.FindAllStringSubmatch(text, -1)
		if len(commands) == 0 {
			return errors.New("no `terraform import <address> <placeholder>` line")
		}
		for _, cmd := range commands {
			address := cmd[1]
			id, err := placeholderValue(state, address, cmd[2])
			if err != nil {
				return err
			}
			if err := tf.StateRm(ctx, address); err != nil {
				return fmt.Errorf("terraform state rm %s failed (%s)", address, firstLine(err))
			}
			if err := tf.Import(ctx, address, id); err != nil {
				return fmt.Errorf("terraform import %s failed (%s)", address, firstLine(err))
			}
		}
		if err := tf.Apply(ctx); err != nil {
			return fmt.Errorf("terraform apply after the import failed (%s)", firstLine(err))
		}
		return nil
	}

	targets := importTo.FindAllStringSubmatch(text, -1)
	if len(targets) != 1 {
		return fmt.Errorf("want one import block, found %d", len(targets))
	}
	address := targets[0][1]
	var failed error
	filled := placeholder.ReplaceAllStringFunc(text, func(p string) string {
		v, err := placeholderValue(state, address, p)
		failed = errors.Join(failed, err)
		return v
	})
	if failed != nil {
		return failed
	}
	if err := tf.StateRm(ctx, address); err != nil {
		return fmt.Errorf("terraform state rm %s failed (%s)", address, firstLine(err))
	}
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, []byte(filled), 0o600); err != nil {
		return err
	}
	defer os.Remove(file)
	if err := tf.Apply(ctx); err != nil {
		return fmt.Errorf("terraform apply of the import block failed (%s)", firstLine(err))
	}
	return nil
}

// showState reads the state without copying its JSON into the example's log.
func showState(ctx context.Context, tf *tfexec.Terraform, log io.Writer) (*tfjson.State, error) {
	tf.SetStdout(io.Discard)
	defer tf.SetStdout(log)
	state, err := tf.Show(ctx)
	if err != nil {
		return nil, fmt.Errorf("terraform show failed (%s)", firstLine(err))
	}
	return state, nil
}

// placeholderValue is what stands for a placeholder such as "<instance id>": the resource's
// environment_id for "<environment id>", else its id.
func placeholderValue(state *tfjson.State, address, p string) (string, error) {
	attr := "id"
	if p == "<environment id>" {
		attr = "environment_id"
	}
	if state.Values != nil {
		for _, res := range state.Values.RootModule.Resources {
			if res.Address == address {
				if v, ok := res.AttributeValues[attr].(string); ok && v != "" {
					return v, nil
				}
			}
		}
	}
	return "", fmt.Errorf("the state holds no %s of %s for %s", attr, address, p)
}

// checkNothingLeft fails when the simulator holds a service instance that it did not hold before.
func checkNothingLeft(before, after []simulator.Instance, what string) error {
	had := map[string]bool{}
	for _, in := range before {
		had[in.UUID] = true
	}
	var left []string
	for _, in := range after {
		if in.Status != simulator.StatusRemoved && !had[in.UUID] {
			left = append(left, fmt.Sprintf("%s (%s %s, %s)", in.UUID, in.Service, in.Prefix, in.Status))
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("after %s the simulator still holds %s", what, strings.Join(left, ", "))
	}
	return nil
}

// copyExample copies the files terraform reads from an example folder and its subfolders (a
// module's tests/), and nothing else: no state, no .terraform, no import file.
func copyExample(from, to string) error {
	return filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		switch {
		case d.IsDir() && d.Name() == ".terraform":
			return filepath.SkipDir
		case d.IsDir():
			return os.MkdirAll(filepath.Join(to, rel), 0o700)
		case !isConfiguration(d.Name()) || isImportFile(d.Name()):
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o600)
	})
}

func terraformVersion(ctx context.Context, dir, cliConfig string) ([2]int, error) {
	tf, err := devenv.Terraform(dir, cliConfig, "", "")
	if err != nil {
		return [2]int{}, err
	}
	v, _, err := tf.Version(ctx, true)
	if err != nil {
		return [2]int{}, fmt.Errorf("terraform version: %w", err)
	}
	s := v.Segments()
	return [2]int{s[0], s[1]}, nil
}

// firstLine is the first line of a terraform-exec error, "exit status 1" and the like: the rest
// repeats terraform's output, which the example's log holds already.
func firstLine(err error) string {
	line, _, _ := strings.Cut(err.Error(), "\n")
	return line
}
