package provider

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/divio/terraform-provider-divio/internal/simulator"
)

func TestPlanView_prefixHolders(t *testing.T) {
	key := instanceKey{environment: "env", serviceType: "DATABASE", prefix: "DEFAULT"}
	for _, tc := range []struct {
		name      string
		record    func(v *planView)
		wantFate  instanceFate
		wantKnown bool
		wantOwn   bool
	}{
		{"unknown to this plan", func(*planView) {}, 0, false, false},
		{"read, not planned since: the creating resource's own, replaced", func(v *planView) { v.sawInstance("x", key, "svc") }, fateReplaced, true, true},
		{"kept by another resource", func(v *planView) { v.sawInstance("x", key, "svc"); v.keep("x", key) }, fateKept, true, false},
		{"kept without a read (-refresh=false)", func(v *planView) { v.keep("x", key) }, fateKept, true, false},
		{"replaced", func(v *planView) { v.planInstance("x", key, "", fateReplaced) }, fateReplaced, true, false},
		{"removed", func(v *planView) { v.sawInstance("x", key, "svc"); v.planInstance("x", key, "", fateRemoved) }, fateRemoved, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newPlanView()
			tc.record(v)
			fate, known, own := v.holderFate("x")
			if fate != tc.wantFate || known != tc.wantKnown || own != tc.wantOwn {
				t.Errorf("holderFate = %v, %v, %v; want %v, %v, %v", fate, known, own, tc.wantFate, tc.wantKnown, tc.wantOwn)
			}
		})
	}
}

func TestPlanView_keyClaims(t *testing.T) {
	v := newPlanView()
	key := instanceKey{environment: "env", serviceType: "DATABASE", prefix: "DEFAULT"}
	if earlier := v.claimKey(key, "postgres-15"); len(earlier) != 0 {
		t.Errorf("first claim: earlier = %v", earlier)
	}
	if earlier := v.claimKey(instanceKey{environment: "env", serviceType: "STORAGE", prefix: "DEFAULT"}, "s3"); len(earlier) != 0 {
		t.Errorf("another type, same prefix: earlier = %v", earlier)
	}
	if earlier := v.claimKey(key, "mysql-8"); strings.Join(earlier, ",") != "postgres-15" {
		t.Errorf("second claim: earlier = %v, want [postgres-15]", earlier)
	}
	// A resource that keeps an instance with the key learns of the claims, whichever came first.
	if claimedBy := v.keep("x", key); strings.Join(claimedBy, ",") != "postgres-15,mysql-8" {
		t.Errorf("keep: claimedBy = %v", claimedBy)
	}
}

func TestPlanView_attachments(t *testing.T) {
	v := newPlanView()
	if others, detached := v.planAttachment("a"); others != 0 || detached {
		t.Errorf("first attachment: %d, %v", others, detached)
	}
	if others, _ := v.planAttachment("a"); others != 1 {
		t.Errorf("second attachment of the same instance: others = %d, want 1", others)
	}
	if v.awaitDetachment(t.Context(), "b", time.Millisecond) {
		t.Error("detaching before any detachment was planned")
	}
	go func() {
		time.Sleep(10 * time.Millisecond)
		v.planDetachment("b")
	}()
	if !v.awaitDetachment(t.Context(), "b", time.Minute) {
		t.Error("the detachment planned while waiting was not seen")
	}
	if attaches := v.planDetachment("b"); attaches != 0 {
		t.Errorf("detachment of b again: attaches = %d", attaches)
	}
	if _, detached := v.planAttachment("b"); !detached {
		t.Error("an attachment of an instance whose other attachment is destroyed must learn of it")
	}
	if attaches := v.planDetachment("a"); attaches != 2 {
		t.Errorf("detachment of a: attaches = %d, want 2", attaches)
	}
}

func TestPlanView_subscriptionSlots(t *testing.T) {
	k := slotKey{application: "app", service: "pg"}
	t.Run("plan: creates count together", func(t *testing.T) {
		v := newPlanView()
		for i, want := range []bool{true, true, false} {
			if pending, free, ok := v.claimSlot(k, 2); ok != want || pending != i+1 || free != 2 {
				t.Errorf("claim %d: pending %d, free %d, ok %v; want %d, 2, %v", i+1, pending, free, ok, i+1, want)
			}
		}
	})
	t.Run("plan: a replacement frees its slot", func(t *testing.T) {
		v := newPlanView()
		v.replacing(k)
		if _, free, ok := v.claimSlot(k, 0); !ok || free != 1 {
			t.Errorf("free %d, ok %v; want 1, true", free, ok)
		}
	})
	t.Run("apply: what the walk did before and after the API was asked", func(t *testing.T) {
		v := newPlanView()
		v.removedInstance(k) // a replacement's removal, before its create is planned again
		if _, _, ok := v.claimSlot(k, 1); !ok {
			t.Error("the freed slot, already in the API's count, was refused")
		}
		v.added(k)
		// Another create planned after the first was carried out: the API said 1 before the first.
		if pending, free, ok := v.claimSlot(k, 1); ok || pending != 1 || free != 0 {
			t.Errorf("pending %d, free %d, ok %v; want 1, 0, false", pending, free, ok)
		}
	})
	t.Run("apply: a removal after the API was asked frees a slot", func(t *testing.T) {
		v := newPlanView()
		if _, _, ok := v.claimSlot(k, 1); !ok {
			t.Fatal("the one free slot was refused")
		}
		v.added(k)
		v.removedInstance(k)
		if pending, free, ok := v.claimSlot(k, 1); !ok || pending != 1 || free != 1 {
			t.Errorf("pending %d, free %d, ok %v; want 1, 1, true", pending, free, ok)
		}
	})
}

// Two divio_service of one environment with the same type and prefix: the second is refused at plan
// time, naming both services.
func TestAccPlanView_prefixPlannedTwice(t *testing.T) {
	env := newTestEnv(t)
	postgres := fmt.Sprintf(`
resource "divio_service" "pg" {
  environment_id = %q
  service        = "postgres-15"%s
}
`, env.demoTest(), strings.TrimRight(env.withPrefixes(""), "\n"))
	twoDatabases := env.config(postgres + fmt.Sprintf(`
resource "divio_service" "my" {
  environment_id = %q
  service        = "mysql-8"%s
}
`, env.demoTest(), strings.TrimRight(env.withPrefixes(""), "\n")))
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             env.checkNoInstanceLeft(),
		Steps: []resource.TestStep{
			{
				Config: twoDatabases,
				ExpectError: errorText("Prefix planned twice", "Two divio_service resources of this plan add a DATABASE instance with prefix "+env.prefix("DEFAULT")+" to environment demo-app/test",
					"Only one instance per environment, type and prefix can exist: give one of them another prefix."),
			},
			{
				// Nothing was created, and a configuration with one of them applies.
				Config: env.config(postgres),
				Check:  env.expectLiveInstance(simulator.ServicePostgres15, "DEFAULT", simulator.StatusPendingAttachment),
			},
			{
				// The second one added to an applied configuration: the kept instance holds the prefix.
				Config:      twoDatabases,
				ExpectError: errorText("Prefix already in use", "has prefix "+env.prefix("DEFAULT")+" and stays in this plan, while another divio_service of this plan adds a DATABASE instance with the same prefix (mysql-8)"),
			},
		},
	})
}

// Two attachments of one instance are refused at plan time, and so is a service_id that names no
// instance.
func TestAccPlanView_attachments(t *testing.T) {
	// Parallel before it adds its instance, not in ParallelTest: a test paused there would hold it
	// (and the subscription's room) while the others run.
	t.Parallel()
	env := newTestEnv(t)
	ids := addAttachableInstances(t, env, env.demoTest(), 1)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: env.config(fmt.Sprintf(`
resource "divio_service_attachment" "a" {
  service_id = %[1]q
}

resource "divio_service_attachment" "b" {
  service_id = %[1]q
}
`, ids[0])),
				ExpectError: errorText("Service instance attached twice", "Another divio_service_attachment of this plan attaches service instance "+ids[0]+" (postgres-15, prefix",
					"in environment demo-app/test", "too."),
			},
			{
				Config: env.config(`
resource "divio_service_attachment" "a" {
  service_id = "postgres-15"
}
`),
				ExpectError: errorText(`There is no service instance with id "postgres-15"`, "service_id takes the id of a service instance, not a catalog service",
					"`service_id = divio_service.<name>.id`"),
			},
			{
				Config:      env.config(`resource "divio_service_attachment" "a" { service_id = "0b5d3a2e-8f1c-4f7a-9a43-2c6f0e8d1b77" }`),
				ExpectError: errorText(`There is no service instance with id "0b5d3a2e-8f1c-4f7a-9a43-2c6f0e8d1b77"`),
			},
			{
				// Nothing was attached by the refused plans.
				Config: attachmentConfig(env, ids[0], ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(attachmentAddr, plancheck.ResourceActionCreate)},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					env.expectInstance(ids[0], simulator.StatusAttached),
					env.expectDeployments(1),
				),
			},
		},
	})
}

// The subscription is checked at plan time, counting every create of a service in the plan together,
// and a replacement does not need a free instance of its own.
func TestAccPlanView_subscription(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	azureTest := simulator.EnvironmentID(simulator.AzureApp, simulator.EnvTest)
	// MySQL databases with the given prefixes in demo-app/test, and one in azure-app/test: both
	// applications belong to demo-org, but each has a subscription of its own (demo-app's includes
	// two MySQL instances, azure-app's one).
	queues := func(prefixes ...string) string {
		var b strings.Builder
		for _, p := range prefixes {
			fmt.Fprintf(&b, "resource \"divio_service\" %q {\n  environment_id = %q\n  service        = \"mysql-8\"\n  prefix         = %q\n}\n\n",
				strings.ToLower(p), demoTestEnvID, p)
		}
		fmt.Fprintf(&b, "resource \"divio_service\" \"azure\" {\n  environment_id = %q\n  service        = \"mysql-8\"\n}\n", azureTest)
		return env.config(b.String())
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             env.checkNoInstanceLeft(),
		Steps: []resource.TestStep{
			{
				Config: serviceConfig(env, "elasticsearch-8", `  prefix = "SEARCH"`),
				ExpectError: errorText("Subscription has no free instance of this service",
					"The subscription of application demo-app has no free instance of Elasticsearch 8 (elasticsearch-8) left, and this plan adds 1 to its environments.",
					"Remove an instance of it that is no longer needed from one of application demo-app's environments, or upgrade the application's subscription in the Divio Control Panel, then plan again."),
			},
			{
				// A third in demo-app: refused at plan, naming the application, while azure-app's
				// one fits its own subscription.
				Config:      queues("A", "B", "C"),
				ExpectError: errorText("The subscription of application demo-app has 2 free instances of MySQL 8 (mysql-8) left, and this plan adds 3 to its environments."),
			},
			{
				// Three instances of one service across two applications of one organisation.
				Config: queues("A", "B"),
				Check:  func(*terraform.State) error { return expectLiveCount(sim, 3) },
			},
			{
				// Both slots are taken, but a replacement frees its own first.
				Config: strings.Replace(queues("A", "B"), `prefix         = "B"`, `prefix         = "OTHER"`, 1),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("divio_service.b", plancheck.ResourceActionDestroyBeforeCreate)},
				},
				Check: func(*terraform.State) error { return expectLiveCount(sim, 3) },
			},
			{
				Config:      strings.Replace(queues("A", "B", "C"), `prefix         = "B"`, `prefix         = "OTHER"`, 1),
				ExpectError: errorText("has no free instance of MySQL 8 (mysql-8) left, and this plan adds 1 to its environments."),
			},
		},
	})
}

// The warning that removing an instance in use detaches it first shows only when no attachment of it
// is destroyed in the same run.
func TestAccPlanView_destroyWarning(t *testing.T) {
	env := newTestEnv(t)
	env.requireSim(t)
	cli := newTerraformCLI(t)
	const warning = "Service instance in use is detached first"
	service := fmt.Sprintf(`
resource "divio_service" "db" {
  environment_id = %q
  service        = "postgres-15"
}
`, demoTestEnvID)
	attachment := `
resource "divio_service_attachment" "db" {
  service_id = divio_service.db.id
}
`
	cli.apply(env.config(service + attachment))

	for _, tc := range []struct {
		name   string
		config string
		args   []string
	}{
		{"terraform destroy", service + attachment, []string{"-destroy"}},
		{"both removed from the configuration", "", nil},
		{"only the attachment removed", service, nil},
	} {
		diags, failed := cli.plan(env.config(tc.config), tc.args...)
		if failed || len(withSummary(diags, warning)) > 0 {
			t.Errorf("%s: failed %v, diagnostics %v; want no warning", tc.name, failed, diags)
		}
	}
}

// A deployment attaches every instance of its environment that awaits attachment, whoever starts
// it: a plan that deploys an environment names, once, the instances that no divio_service_attachment
// covers (a divio_service without one); after the apply, the next plan is empty; and removing such a
// service, now attached, detaches it with a deployment first, as its plan says.
func TestAccPlanView_deploymentAttachesUncovered(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	cli := newTerraformCLI(t)
	db := fmt.Sprintf(`
resource "divio_service" "db" {
  environment_id = %q
  service        = "postgres-15"
}
`, demoTestEnvID)
	queueService := fmt.Sprintf(`
resource "divio_service" "queue" {
  environment_id = %q
  service        = "rabbitmq-3"
  prefix         = "QUEUE"
}
`, demoTestEnvID)
	services := db + queueService
	attachDB := `
resource "divio_service_attachment" "db" {
  service_id = divio_service.db.id
}
`
	const warning = "Deployment attaches services that no attachment covers"
	cli.apply(env.config(queueService))
	queue := ""
	for _, in := range liveInstances(sim) {
		if in.Prefix == "QUEUE" {
			queue = in.UUID
		}
	}
	expectWarning := func(what, config, reason string) {
		t.Helper()
		diags, failed := cli.plan(env.config(config))
		warnings := withSummary(diags, warning)
		if failed || len(warnings) != 1 ||
			!strings.HasPrefix(warnings[0].Detail, "This plan deploys environment demo-app/test ("+demoTestEnvID+") ("+reason) ||
			!strings.Contains(warnings[0].Detail, "so this deployment also attaches these, which no divio_service_attachment of this configuration covers:\n\n"+
				"  - service instance "+queue+" (rabbitmq-3, prefix QUEUE) in environment demo-app/test ("+demoTestEnvID+") (PENDING_ATTACHMENT, variables QUEUE_AMQP_BROKER_URL)\n\n") {
			t.Errorf("%s: want one warning naming the queue %s, got failed %v, %v", what, queue, failed, diags)
		}
	}
	// The database and its attachment added together: the attachment's service_id is known only
	// once the database exists, but every instance the plan adds is in demo-app/test.
	expectWarning("a new database attached", services+attachDB, "to attach a service instance that this apply adds)")
	cli.apply(env.config(services))
	expectWarning("an existing database attached", services+attachDB, "to attach service instance ")
	attachQueue := "\nresource \"divio_service_attachment\" \"queue\" {\n  service_id = divio_service.queue.id\n  deploy     = false\n}\n"
	if diags, failed := cli.plan(env.config(services + attachDB + attachQueue)); failed || len(withSummary(diags, warning)) > 0 {
		t.Errorf("with an attachment of the queue: failed %v, %v; want no warning", failed, diags)
	}

	cli.apply(env.config(services + attachDB))
	expectStatus(t, sim, simulator.StatusAttached, queue)
	if empty, plan := cli.planIsEmpty(); !empty {
		t.Errorf("the plan after the apply is not empty:\n%s", plan)
	}

	diags, failed := cli.plan(env.config(db + attachDB))
	if detached := withSummary(diags, "Service instance in use is detached first"); failed || len(detached) != 1 ||
		!strings.Contains(detached[0].Detail, "the apply first detaches it with a deployment of the environment, after which the application no longer receives QUEUE_AMQP_BROKER_URL. Then it removes it.") {
		t.Errorf("want the warning that the queue is detached first, got failed %v, %v", failed, diags)
	}
	before := len(testDeployments(sim))
	cli.apply(env.config(db + attachDB))
	if got := len(testDeployments(sim)); got != before+1 {
		t.Errorf("%d deployments to remove the attached queue, want 1", got-before)
	}
	if in := instancesByID(sim)[queue]; in.Status != simulator.StatusRemoved {
		t.Errorf("the queue is %s, want REMOVED", in.Status)
	}
}

// A resource's own instance never trips the prefix check: not when it is tainted, replaced on
// request, targeted, or applied from a saved plan (a process of its own).
func TestAccPlanView_ownInstance(t *testing.T) {
	env := newTestEnv(t)
	sim := env.requireSim(t)
	cli := newTerraformCLI(t)
	config := serviceConfig(env, "postgres-15", "")
	cli.apply(config)
	first, err := onlySimInstance(sim)
	if err != nil {
		t.Fatal(err)
	}
	noPrefixDiagnostics := func(what string, diags []diagnostic) {
		t.Helper()
		for _, d := range diags {
			if strings.Contains(d.Summary, "Prefix") {
				t.Errorf("%s: %v", what, d)
			}
		}
	}

	cli.mustRun("taint", serviceAddr)
	diags, failed := cli.plan(config)
	noPrefixDiagnostics("plan of a tainted service", diags)
	if failed {
		t.Fatalf("plan of a tainted service failed: %v", diags)
	}
	diags, failed = cli.plan(config, "-target="+serviceAddr, "-out=tainted.tfplan")
	noPrefixDiagnostics("targeted plan of a tainted service", diags)
	if failed {
		t.Fatalf("targeted plan failed: %v", diags)
	}
	noPrefixDiagnostics("apply of the saved plan", diagnostics(cli.mustRun("apply", "-json", "tainted.tfplan")))
	second, err := onlySimInstance(sim)
	if err != nil || second.UUID == first.UUID {
		t.Fatalf("after replacing the tainted service: %+v, %v; want a new instance", second, err)
	}

	noPrefixDiagnostics("apply -replace", cli.apply(config, "-replace="+serviceAddr))
	if third, err := onlySimInstance(sim); err != nil || third.UUID == second.UUID {
		t.Fatalf("after -replace: %+v, %v; want a new instance", third, err)
	}
}
