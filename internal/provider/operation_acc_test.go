package provider

import (
	"fmt"
	"strings"
	"testing"

	"github.com/divio/terraform-provider-divio/internal/simulator"
)

// A destroy is never blocked by a check of what a plan would create (issue 20, item 1): terraform
// destroy and terraform apply -destroy first run a normal plan, only to refresh, and an error there
// failed the destroy. The configuration here trips every such check; a plain plan refuses it, naming
// each, and both destroys remove what the state holds, with the provider started by terraform as a
// plugin, as users run it.
func TestAccDestroy_notBlockedByCreateGuards(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	cli := newTerraformCLIWithBuiltProvider(t)
	outside := addTestInstance(t, env.client(t), demoTestEnvID, simulator.ServicePostgres15, "EXTRA", false)
	base := fmt.Sprintf(`
resource "divio_service" "db" {
  environment_id = %q
  service        = "postgres-15"
}

resource "divio_service_attachment" "db" {
  service_id = divio_service.db.id
}
`, demoTestEnvID)
	newService := func(name, service, prefix string) string {
		return fmt.Sprintf("\nresource \"divio_service\" %q {\n  environment_id = %q\n  service        = %q\n  prefix         = %q\n}\n", name, demoTestEnvID, service, prefix)
	}
	guarded := base +
		newService("extra", "postgres-15", "EXTRA") + // an instance outside the state holds the prefix
		newService("twin_a", "mysql-8", "TWIN") + newService("twin_b", "postgres-16", "TWIN") + // one prefix planned twice
		newService("search", "elasticsearch-8", "SEARCH") + // demo-app's subscription has none
		newService("blob", "ms-blob", "BLOB") + // not offered on AWS
		"\nresource \"divio_service_attachment\" \"db_again\" {\n  service_id = divio_service.db.id\n}\n" // attached twice
	guards := []string{"Prefix already in use", "Prefix planned twice", "Subscription has no free instance of this service",
		"Service not offered in this region", "Service instance attached twice"}

	for _, destroy := range [][]string{{"destroy"}, {"apply", "-destroy"}} {
		command := "terraform " + strings.Join(destroy, " ")
		cli.apply(env.config(base))
		cli.write(env.config(guarded))
		out, failed := cli.run("plan", "-no-color", "-input=false")
		for _, guard := range guards {
			if !failed || !strings.Contains(out, "Error: "+guard) {
				t.Errorf("before %s: a plain plan does not refuse with %q (failed %v):\n%s", command, guard, failed, out)
			}
		}
		if out, failed := cli.run(append(destroy, "-auto-approve", "-no-color", "-input=false")...); failed {
			t.Fatalf("%s failed:\n%s", command, out)
		}
		if live := liveInstances(sim); len(live) != 1 || live[0].UUID != outside.UUID {
			t.Errorf("after %s: %+v, want only the instance outside the state, %s", command, live, outside.UUID)
		}
	}
}
