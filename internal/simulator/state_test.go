package simulator

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func demoState(t *testing.T) *state {
	t.Helper()
	ds, err := loadDataset(DatasetDemo)
	if err != nil {
		t.Fatal(err)
	}
	return newState(ds)
}

// instanceIn creates an instance in the demo test environment and forces it
// into status.
func instanceIn(t *testing.T, st *state, status string) *instanceRecord {
	t.Helper()
	in, err := st.createInstance(createInstanceRequest{Environment: demoTest, Service: ServiceID(ServicePostgres15), Prefix: "DEFAULT"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	in.Status = status
	if status == StatusProvisioning {
		in.ReadyAt = t0.Add(time.Hour) // still provisioning when the test acts
	}
	if in.provisioned() {
		in.Password = newPassword()
	}
	return in
}

// Whether a deployment of the instance's environment runs while a test acts,
// and whether it started after the instance reached its status (so that its
// plan holds the instance) or before.
const (
	notRunning       = ""
	runningPlanned   = "planned"
	runningUnplanned = "unplanned"
)

// instanceWithDeployment is instanceIn, with a deployment of the environment
// running as running says.
func instanceWithDeployment(t *testing.T, st *state, status, running string) *instanceRecord {
	t.Helper()
	if running == notRunning {
		return instanceIn(t, st, status)
	}
	st.deployDelay = time.Hour
	deploy := func() {
		if _, err := st.createDeployment(createDeploymentRequest{Environment: demoTest}, t0); err != nil {
			t.Fatal(err)
		}
	}
	if running == runningUnplanned {
		deploy()
		return instanceIn(t, st, status)
	}
	in := instanceIn(t, st, status)
	deploy()
	return in
}

// TestInstanceActions walks provision, attach, detach and remove from every
// state: what is already in effect is a no-op, what makes no sense a 409.
func TestInstanceActions(t *testing.T) {
	type op func(st *state, id string) error
	provision := func(st *state, id string) error { _, err := st.provision(id, t0); return err }
	attach := func(st *state, id string) error { _, err := st.attach(id); return err }
	detach := func(st *state, id string) error { _, err := st.detach(id); return err }
	remove := func(st *state, id string) error { return st.remove(id) }

	tests := []struct {
		name       string
		status     string
		running    string
		op         op
		wantStatus string
		wantErr    string // "" none, "conflict", "notfound"
		wantDetail string // part of the conflict's detail
	}{
		{"provision NEW", StatusNew, notRunning, provision, StatusPendingAttachment, "", ""},
		{"provision PROVISIONING is a no-op", StatusProvisioning, notRunning, provision, StatusProvisioning, "", ""},
		{"provision PENDING_ATTACHMENT is a no-op", StatusPendingAttachment, notRunning, provision, StatusPendingAttachment, "", ""},
		{"provision ATTACHED is a no-op", StatusAttached, notRunning, provision, StatusAttached, "", ""},
		{"provision DETACHED is a no-op", StatusDetached, notRunning, provision, StatusDetached, "", ""},
		{"provision REMOVED", StatusRemoved, notRunning, provision, StatusRemoved, "notfound", ""},

		{"attach NEW is a no-op: the next deployment attaches it", StatusNew, notRunning, attach, StatusNew, "", ""},
		{"attach PROVISIONING is a no-op", StatusProvisioning, notRunning, attach, StatusProvisioning, "", ""},
		{"attach PENDING_ATTACHMENT is a no-op", StatusPendingAttachment, notRunning, attach, StatusPendingAttachment, "", ""},
		{"attach ATTACHED is a no-op", StatusAttached, notRunning, attach, StatusAttached, "", ""},
		{"attach DETACHED", StatusDetached, notRunning, attach, StatusPendingAttachment, "", ""},
		{"attach DETACHED while a deployment runs", StatusDetached, runningUnplanned, attach, StatusPendingAttachment, "", ""},
		{"attach PENDING_DETACHMENT cancels the detachment", StatusPendingDetachment, notRunning, attach, StatusAttached, "", ""},
		{"attach PENDING_DETACHMENT that a running deployment does not detach", StatusPendingDetachment, runningUnplanned, attach, StatusAttached, "", ""},
		{"attach PENDING_DETACHMENT that a running deployment detaches", StatusPendingDetachment, runningPlanned, attach, StatusPendingDetachment,
			"conflict", "once that deployment has ended"},
		{"attach REMOVED", StatusRemoved, notRunning, attach, StatusRemoved, "notfound", ""},

		{"detach ATTACHED", StatusAttached, notRunning, detach, StatusPendingDetachment, "", ""},
		{"detach ATTACHED while a deployment runs", StatusAttached, runningPlanned, detach, StatusPendingDetachment, "", ""},
		{"detach PENDING_DETACHMENT is a no-op", StatusPendingDetachment, notRunning, detach, StatusPendingDetachment, "", ""},
		{"detach DETACHED is a no-op", StatusDetached, notRunning, detach, StatusDetached, "", ""},
		{"detach NEW", StatusNew, notRunning, detach, StatusNew, "conflict", "is NEW: it is not attached, and the environment's next deployment attaches it"},
		{"detach PROVISIONING", StatusProvisioning, notRunning, detach, StatusProvisioning, "conflict", "remove the instance"},
		{"detach PENDING_ATTACHMENT", StatusPendingAttachment, notRunning, detach, StatusPendingAttachment, "conflict", "remove the instance"},
		{"detach PENDING_ATTACHMENT that a running deployment attaches", StatusPendingAttachment, runningPlanned, detach, StatusPendingAttachment, "conflict", "remove"},
		{"detach REMOVED", StatusRemoved, notRunning, detach, StatusRemoved, "notfound", ""},

		{"remove NEW", StatusNew, notRunning, remove, StatusRemoved, "", ""},
		{"remove PROVISIONING", StatusProvisioning, notRunning, remove, StatusRemoved, "", ""},
		{"remove PENDING_ATTACHMENT", StatusPendingAttachment, notRunning, remove, StatusRemoved, "", ""},
		{"remove PENDING_ATTACHMENT that a running deployment attaches", StatusPendingAttachment, runningPlanned, remove, StatusRemoved, "", ""},
		{"remove DETACHED", StatusDetached, notRunning, remove, StatusRemoved, "", ""},
		{"remove ATTACHED", StatusAttached, notRunning, remove, StatusAttached, "conflict", "detach it and deploy"},
		{"remove PENDING_DETACHMENT", StatusPendingDetachment, notRunning, remove, StatusPendingDetachment, "conflict", "detachment is pending"},
		{"remove REMOVED", StatusRemoved, notRunning, remove, StatusRemoved, "notfound", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := demoState(t)
			in := instanceWithDeployment(t, st, tt.status, tt.running)
			err := tt.op(st, in.UUID)
			checkErrKind(t, err, tt.wantErr)
			if err != nil && !strings.Contains(err.Error(), tt.wantDetail) {
				t.Errorf("error %q, want it to say %q", err, tt.wantDetail)
			}
			if in.Status != tt.wantStatus {
				t.Errorf("got %s, want %s", in.Status, tt.wantStatus)
			}
		})
	}
}

func checkErrKind(t *testing.T, err error, want string) {
	t.Helper()
	var conflict conflictError
	var got string
	switch {
	case err == nil:
	case errors.As(err, &conflict):
		got = "conflict"
	case errors.Is(err, errNotFound):
		got = "notfound"
	default:
		got = err.Error()
	}
	if got != want {
		t.Errorf("error %q (%v), want %q", got, err, want)
	}
}

// TestDeploymentOutcome: a deployment attaches every instance not yet attached
// when it starts (provisioning the NEW ones), detaches those pending
// detachment, and leaves the rest; a failed one changes nothing but returns
// what it was to detach to ATTACHED (rule 3).
func TestDeploymentOutcome(t *testing.T) {
	tests := []struct {
		status string
		wantOK string // after a successful deployment
	}{
		{StatusNew, StatusAttached},
		{StatusProvisioning, StatusAttached},
		{StatusPendingAttachment, StatusAttached},
		{StatusAttached, StatusAttached},
		{StatusPendingDetachment, StatusDetached},
		{StatusDetached, StatusDetached},
	}
	for _, tt := range tests {
		for _, fail := range []bool{false, true} {
			name := tt.status
			if fail {
				name += "/failed"
			}
			t.Run(name, func(t *testing.T) {
				st := demoState(t)
				in := instanceIn(t, st, tt.status)
				st.FailNextDeploy = fail
				d, err := st.createDeployment(createDeploymentRequest{Environment: demoTest}, t0)
				if err != nil {
					t.Fatal(err)
				}
				wantStatus, wantDeploy := tt.wantOK, DeploymentSuccess
				if fail { // a failed deployment changes nothing, and what it was to detach stays attached (rule 3)
					wantStatus, wantDeploy = tt.status, DeploymentFailure
					if tt.status == StatusPendingDetachment {
						wantStatus = StatusAttached
					}
				}
				if in.Status != wantStatus {
					t.Errorf("instance %s, want %s", in.Status, wantStatus)
				}
				if d.Status != wantDeploy || d.Success == nil || *d.Success == fail || d.EndedAt == nil {
					t.Errorf("deployment %+v, want %s", d.Deployment, wantDeploy)
				}
				if last := st.lastFinishedDeployment(demoTest); last != d {
					t.Errorf("last_finished_deployment %v, want %s", last, d.UUID)
				}
			})
		}
	}
}

func TestDeploymentTouchesOnlyItsEnvironment(t *testing.T) {
	st := demoState(t)
	in := instanceIn(t, st, StatusNew)
	if _, err := st.createDeployment(createDeploymentRequest{Environment: demoLive}, t0); err != nil {
		t.Fatal(err)
	}
	if in.Status != StatusNew {
		t.Errorf("instance in another environment changed: %s", in.Status)
	}
}

func TestTimedTransitions(t *testing.T) {
	st := demoState(t)
	st.provisionDelay, st.deployDelay = 2*time.Second, 3*time.Second
	in := instanceIn(t, st, StatusNew)

	if _, err := st.provision(in.UUID, t0); err != nil {
		t.Fatal(err)
	}
	st.advance(t0.Add(time.Second))
	if in.Status != StatusProvisioning {
		t.Fatalf("after 1s: %s, want PROVISIONING", in.Status)
	}
	if !st.advance(t0.Add(2*time.Second)) || in.Status != StatusPendingAttachment {
		t.Fatalf("after 2s: %s, want PENDING_ATTACHMENT", in.Status)
	}

	d, err := st.createDeployment(createDeploymentRequest{Environment: demoTest}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.createDeployment(createDeploymentRequest{Environment: demoTest}, t0); !errors.As(err, new(conflictError)) {
		t.Errorf("second deployment while one runs: %v, want a conflict", err)
	}
	if _, err := st.createDeployment(createDeploymentRequest{Environment: demoLive}, t0); err != nil {
		t.Errorf("deployment of another environment: %v", err)
	}
	st.advance(t0.Add(2 * time.Second))
	if d.Status != DeploymentWorking || d.Success != nil || in.Status != StatusPendingAttachment {
		t.Fatalf("deployment ended early: %+v, instance %s", d.Deployment, in.Status)
	}
	st.advance(t0.Add(10 * time.Second))
	if d.Status != DeploymentSuccess || !d.EndedAt.Equal(t0.Add(3*time.Second)) || in.Status != StatusAttached {
		t.Errorf("after 10s: %+v, instance %s", d.Deployment, in.Status)
	}
}

// TestStalledProvisioning: a deployment cannot attach an instance whose
// provisioning never ends; it stays PROVISIONING, and the log says so.
func TestStalledProvisioning(t *testing.T) {
	st := demoState(t)
	in := instanceIn(t, st, StatusNew)
	st.StallNextProvision = true
	if _, err := st.provision(in.UUID, t0); err != nil {
		t.Fatal(err)
	}
	st.advance(t0.Add(24 * time.Hour))
	if in.Status != StatusProvisioning {
		t.Fatalf("stalled instance is %s, want PROVISIONING", in.Status)
	}
	d, err := st.createDeployment(createDeploymentRequest{Environment: demoTest}, t0.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if in.Status != StatusProvisioning || !slices.Contains(d.Plan.Attach, in.UUID) {
		t.Errorf("a deployment attached a stalled instance: %s", in.Status)
	}
	if log := d.logText(t0.Add(24 * time.Hour)); !strings.Contains(log, "its provisioning has not finished; it stays PROVISIONING") {
		t.Errorf("log:\n%s", log)
	}
	other, err := st.createInstance(createInstanceRequest{Environment: demoTest, Service: ServiceID(ServicePostgres15), Prefix: "OTHER"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.provision(other.UUID, t0); err != nil || other.Status != StatusPendingAttachment {
		t.Errorf("only the next provisioning stalls; the one after is %s (%v)", other.Status, err)
	}
}

func TestCreateInstanceRules(t *testing.T) {
	req := func(env, identifier, prefix string) createInstanceRequest {
		return createInstanceRequest{Environment: env, Service: ServiceID(identifier), Prefix: prefix}
	}
	tests := []struct {
		name     string
		existing []createInstanceRequest
		req      createInstanceRequest
		field    string // "" = accepted
		contains []string
	}{
		{name: "accepted", req: req(demoTest, ServicePostgres15, "DEFAULT")},
		{name: "missing everything", req: createInstanceRequest{}, field: "prefix", contains: []string{"required"}},
		{name: "unknown environment", req: req("nope", ServicePostgres15, "DEFAULT"), field: "environment", contains: []string{"does not exist"}},
		{name: "unknown service", req: createInstanceRequest{Environment: demoTest, Service: "nope", Prefix: "DEFAULT"}, field: "service", contains: []string{"does not exist"}},
		{name: "lower-case prefix", req: req(demoTest, ServicePostgres15, "default"), field: "prefix", contains: []string{"upper-case"}},
		{name: "prefix starting with a digit", req: req(demoTest, ServicePostgres15, "1DB"), field: "prefix"},
		{name: "prefix too long", req: req(demoTest, ServicePostgres15, "A"+strings.Repeat("B", 30)), field: "prefix"},
		{name: "prefix of 30", req: req(demoTest, ServicePostgres15, "A"+strings.Repeat("B", 29))},
		{name: "wrong region", req: createInstanceRequest{Environment: demoTest, Service: ServiceID(ServicePostgres15), Prefix: "DEFAULT", Region: RegionID(RegionAzureWestEurope)},
			field: "region", contains: []string{RegionAWSEUCentral1}},
		{name: "right region", req: createInstanceRequest{Environment: demoTest, Service: ServiceID(ServicePostgres15), Prefix: "DEFAULT", Region: RegionID(RegionAWSEUCentral1)}},
		{name: "not offered in the region", req: req(azureTest, ServiceS3, "DEFAULT"), field: "service",
			contains: []string{"not offered", RegionAzureWestEurope, "postgres-15, postgres-16, mysql-8, ms-blob"}},
		{name: "duplicate prefix and type", existing: []createInstanceRequest{req(demoTest, ServicePostgres15, "DEFAULT")},
			req: req(demoTest, ServiceMySQL8, "DEFAULT"), field: "prefix", contains: []string{"already exists"}},
		{name: "same prefix, other type", existing: []createInstanceRequest{req(demoTest, ServicePostgres15, "DEFAULT")},
			req: req(demoTest, ServiceS3, "DEFAULT")},
		{name: "same prefix, other environment", existing: []createInstanceRequest{req(demoTest, ServicePostgres15, "DEFAULT")},
			req: req(demoLive, ServicePostgres15, "DEFAULT")},
		{name: "not in the subscription", req: req(demoTest, ServiceElasticsearch8, "DEFAULT"), field: "service",
			contains: []string{"subscription", "does not include an instance", "elasticsearch-8"}},
		{name: "subscription used up within the application, across its environments",
			existing: []createInstanceRequest{req(demoTest, ServiceMySQL8, "A"), req(demoLive, ServiceMySQL8, "B")},
			req:      req(demoTest, ServiceMySQL8, "C"), field: "service",
			contains: []string{"application demo-app", "another instance of MySQL 8 (mysql-8)", "2 included, all in use"}},
		{name: "another application's instances take none of its slots",
			existing: []createInstanceRequest{req(azureTest, ServiceMySQL8, "A")}, // azure-app's only one
			req:      req(demoTest, ServiceMySQL8, "B")},
		{name: "nor its slots another application's",
			existing: []createInstanceRequest{req(demoTest, ServiceMySQL8, "A"), req(demoTest, ServiceMySQL8, "B"), req(azureTest, ServiceMySQL8, "A")},
			req:      req(EnvironmentID(AzureApp, EnvLive), ServiceMySQL8, "B"), field: "service",
			contains: []string{"application azure-app", "1 included, all in use"}},
		{name: "a slot per identifier: postgres-16 is not postgres-15",
			existing: []createInstanceRequest{req(azureTest, ServicePostgres15, "A"), req(azureTest, ServicePostgres15, "B")},
			req:      req(azureTest, ServicePostgres16, "C")},
		{name: "uniqueness is checked before the subscription",
			existing: []createInstanceRequest{req(demoTest, ServiceRabbitMQ3, "DEFAULT")},
			req:      req(demoTest, ServiceRabbitMQ3, "DEFAULT"), field: "prefix"},
		{name: "region offering is checked before the subscription", req: req(azureTest, ServiceElasticsearch8, "DEFAULT"),
			field: "service", contains: []string{"not offered"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := demoState(t)
			for _, e := range tt.existing {
				if _, err := st.createInstance(e, t0); err != nil {
					t.Fatalf("set-up: %v", err)
				}
			}
			in, err := st.createInstance(tt.req, t0)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				_, _, reg, _ := st.data.appOfEnvironment(tt.req.Environment)
				if in.Status != StatusNew || in.Region != reg.UUID || in.Type == "" {
					t.Errorf("created %+v", in.Instance)
				}
				return
			}
			var fe fieldErrors
			if !errors.As(err, &fe) || len(fe[tt.field]) == 0 {
				t.Fatalf("error %v, want one on %q", err, tt.field)
			}
			for _, want := range tt.contains {
				if !strings.Contains(strings.Join(fe[tt.field], " "), want) {
					t.Errorf("message %q does not contain %q", fe[tt.field], want)
				}
			}
		})
	}
}

func TestRemovalFreesSlotAndPrefix(t *testing.T) {
	st := demoState(t)
	// RabbitMQ has one slot in the demo subscription.
	req := createInstanceRequest{Environment: demoTest, Service: ServiceID(ServiceRabbitMQ3), Prefix: "DEFAULT"}
	first, err := st.createInstance(req, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.createInstance(req, t0); err == nil {
		t.Fatal("second instance accepted")
	}
	if err := st.remove(first.UUID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.createInstance(req, t0); err != nil {
		t.Errorf("after removal: %v", err)
	}
}

func TestEnvironmentVariables(t *testing.T) {
	tests := []struct {
		identifier, prefix string
		want               []string
		scheme             string
	}{
		{ServicePostgres15, "DEFAULT", []string{"DEFAULT_DATABASE_DSN", "DATABASE_URL"}, "postgres://"},
		{ServicePostgres15, "OTHER", []string{"OTHER_DATABASE_DSN"}, "postgres://"},
		{ServiceMySQL8, "DEFAULT", []string{"DEFAULT_DATABASE_DSN", "DATABASE_URL"}, "mysql://"},
		{ServiceS3, "DEFAULT", []string{"DEFAULT_STORAGE_DSN"}, "s3://"},
		{ServiceElasticsearch8, "SEARCH", []string{"SEARCH_HAYSTACK_URL"}, "https://"},
		{ServiceRabbitMQ3, "DEFAULT", []string{"DEFAULT_AMQP_BROKER_URL", "BROKER_URL"}, "amqps://"},
		{ServiceRabbitMQ3, "CELERY", []string{"CELERY_AMQP_BROKER_URL"}, "amqps://"},
		{ServiceS3, "MEDIA", []string{"MEDIA_STORAGE_DSN"}, "s3://"},
	}
	for _, tt := range tests {
		t.Run(tt.identifier+"/"+tt.prefix, func(t *testing.T) {
			st := demoState(t)
			st.data.applications[0].included = benchSubscription() // Elasticsearch needs a subscription that includes it
			in, err := st.createInstance(createInstanceRequest{Environment: demoTest, Service: ServiceID(tt.identifier), Prefix: tt.prefix}, t0)
			if err != nil {
				t.Fatal(err)
			}
			for _, status := range instanceStatuses {
				st.setStatus(in, status, t0)
				vars := st.environmentVariables(demoTest, "", "")
				if !in.provisioned() {
					if len(vars) != 0 {
						t.Errorf("%s publishes %v", status, vars)
					}
					continue
				}
				var names []string
				for _, v := range vars {
					names = append(names, v.Name)
					if !strings.HasPrefix(v.Value, tt.scheme) || !strings.Contains(v.Value, in.Password) || !v.IsSensitive || v.Environment != demoTest {
						t.Errorf("%s: variable %+v", status, v)
					}
				}
				if strings.Join(names, ",") != strings.Join(tt.want, ",") {
					t.Errorf("%s: variables %v, want %v", status, names, tt.want)
				}
				if other := st.environmentVariables(demoLive, "", ""); len(other) != 0 {
					t.Errorf("other environment sees %v", other)
				}
			}
		})
	}
}

func TestPasswordIsStable(t *testing.T) {
	st := demoState(t)
	in := instanceIn(t, st, StatusNew)
	if _, err := st.provision(in.UUID, t0); err != nil {
		t.Fatal(err)
	}
	first := st.environmentVariables(demoTest, "", "")[0].Value
	if _, err := st.createDeployment(createDeploymentRequest{Environment: demoTest}, t0); err != nil {
		t.Fatal(err)
	}
	if in.Status != StatusAttached || st.environmentVariables(demoTest, "", "")[0].Value != first {
		t.Errorf("the DSN changed on attachment: %s -> %v", first, st.environmentVariables(demoTest, "", ""))
	}
}

// TestUpgradeNeedsTheRegionsOffering: the platform upgrades only to a version
// its region offers.
func TestUpgradeNeedsTheRegionsOffering(t *testing.T) {
	st := demoState(t)
	st.data.offerings = map[string][]string{"aws": {ServicePostgres15, ServiceS3}} // a copy: the catalog's own is shared
	db := SeedInstanceID(LegacyApp, EnvTest, ServicePostgres15, "DEFAULT")
	_, err := st.upgradeInPlace(db, upgradeRequest{Service: ServicePostgres16})
	var fe fieldErrors
	if !errors.As(err, &fe) || !strings.Contains(strings.Join(fe["service"], " "), "postgres-16 is not offered in region aws-eu-central-1.") {
		t.Errorf("error %v", err)
	}
}
