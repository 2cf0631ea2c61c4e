package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/divio/terraform-provider-divio/internal/simulator"
	"github.com/divio/terraform-provider-divio/tools/devenv"
)

// noopAddress is the address that the no-op provider serves (tools/bench/noop).
const noopAddress = "registry.terraform.io/bench/noop"

// benchApps are the applications of the simulator's bench data set; each has a test and a live
// environment.
var benchApps = []string{"bench-app-1", "bench-app-2", "bench-app-3", "bench-app-4"}

// workspace is one Terraform working directory with its configuration.
type workspace struct {
	name string
	tf   *tfexec.Terraform
}

// newWorkspace writes config as main.tf into a new directory under root and returns a runner
// that talks to the simulator at simURL.
func newWorkspace(root, name, cliConfig, simURL, config string) (*workspace, error) {
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(config), 0o600); err != nil {
		return nil, err
	}
	tf, err := devenv.Terraform(dir, cliConfig, simURL, simulator.DemoToken)
	if err != nil {
		return nil, err
	}
	return &workspace{name: name, tf: tf}, nil
}

// write replaces the configuration.
func (w *workspace) write(config string) error {
	return os.WriteFile(filepath.Join(w.tf.WorkingDir(), "main.tf"), []byte(config), 0o600)
}

// apply applies the configuration and returns how long it took.
func (w *workspace) apply(ctx context.Context, opts ...tfexec.ApplyOption) (time.Duration, error) {
	start := time.Now()
	if err := w.tf.Apply(ctx, opts...); err != nil {
		return 0, fmt.Errorf("%s: terraform apply: %w", w.name, err)
	}
	return time.Since(start), nil
}

// plan runs terraform plan (refresh included) and returns how long it took. A plan that is not
// empty means the applied resources do not round-trip, which would make the timing meaningless.
func (w *workspace) plan(ctx context.Context, opts ...tfexec.PlanOption) (time.Duration, error) {
	start := time.Now()
	changes, err := w.tf.Plan(ctx, opts...)
	elapsed := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("%s: terraform plan: %w", w.name, err)
	}
	if changes {
		return 0, fmt.Errorf("%s: terraform plan after apply is not empty: a resource does not round-trip", w.name)
	}
	return elapsed, nil
}

// The configurations below are generated rather than templated: each is a few lines of HCL
// around a count.

const divioRequired = `terraform {
  required_providers {
    divio = { source = "divio/divio" }
  }
}
`

// benchEnvironmentsHCL looks up every environment of the bench data set through the data
// sources, as a real configuration would, into local.environments (a list of ids).
func benchEnvironmentsHCL() string {
	return fmt.Sprintf(`
data "divio_application" "app" {
  for_each = toset(%s)
  slug     = each.key
}

data "divio_environment" "env" {
  for_each       = { for pair in setproduct(%[1]s, ["test", "live"]) : join("/", pair) => pair }
  application_id = data.divio_application.app[each.value[0]].id
  slug           = each.value[1]
}

locals {
  environments = [for key in sort(keys(data.divio_environment.env)) : data.divio_environment.env[key].id]
}
`, hclList(benchApps))
}

func hclList(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// planDivioConfig is n postgres services spread round-robin over the bench environments, each
// with its own prefix (uniqueness is per environment, type and prefix).
func planDivioConfig(n int) string {
	return divioRequired + benchEnvironmentsHCL() + fmt.Sprintf(`
resource "divio_service" "db" {
  count          = %d
  environment_id = local.environments[count.index %% length(local.environments)]
  service        = "postgres-15"
  prefix         = format("DB_%%03d", count.index + 1)
}
`, n)
}

// planNoopConfig is the same n resources, with the same arguments, of the no-op provider's
// resource of type typ: noop_thing (3 plain attributes), noop_service (divio_service's schema) or
// noop_attributes (its attributes alone).
func planNoopConfig(typ string, n, environments int) string {
	return fmt.Sprintf(`terraform {
  required_providers {
    noop = { source = "bench/noop" }
  }
}

resource "%s" "db" {
  count          = %d
  environment_id = "environment-${count.index %% %d}"
  service        = "postgres-15"
  prefix         = format("DB_%%03d", count.index + 1)
}
`, typ, n, environments)
}

// planDataConfig is the same n resources as Terraform's built-in terraform_data.
func planDataConfig(n, environments int) string {
	return fmt.Sprintf(`resource "terraform_data" "db" {
  count = %d
  input = {
    environment_id = "environment-${count.index %% %d}"
    service        = "postgres-15"
    prefix         = format("DB_%%03d", count.index + 1)
  }
}
`, n, environments)
}

// environmentLookupHCL looks up one environment through the data sources, as a real
// configuration would, into data.divio_environment.env.
func environmentLookupHCL(app, env string) string {
	return fmt.Sprintf(`
data "divio_application" "app" {
  slug = %q
}

data "divio_environment" "env" {
  application_id = data.divio_application.app.id
  slug           = %q
}
`, app, env)
}

// servicesHCL is n postgres services in the environment that the expression environmentID names,
// with args added to each.
func servicesHCL(n int, environmentID string, args ...string) string {
	extra := ""
	for _, a := range args {
		extra += "\n  " + a
	}
	return fmt.Sprintf(`
resource "divio_service" "db" {
  count          = %d
  environment_id = %s
  service        = "postgres-15"
  prefix         = format("DB_%%03d", count.index + 1)%s
}
`, n, environmentID, extra)
}

// batchedApplyConfig is n services and their attachments in one environment: the services stay
// NEW, the attachments (deploy = false) deploy nothing, and one divio_deployment after all of them
// provisions and attaches everything, as a deployment attaches every instance of its environment
// that awaits attachment.
func batchedApplyConfig(n int, app, env string) string {
	return divioRequired + environmentLookupHCL(app, env) + servicesHCL(n, "data.divio_environment.env.id", "provision      = false") + fmt.Sprintf(`
resource "divio_service_attachment" "db" {
  count      = %d
  service_id = divio_service.db[count.index].id
  deploy     = false
}

resource "divio_deployment" "all" {
  environment_id = data.divio_environment.env.id
  depends_on     = [divio_service_attachment.db]
}
`, n)
}
