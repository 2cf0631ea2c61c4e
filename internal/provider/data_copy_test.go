package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/divio/terraform-provider-divio/internal/divio"
	"github.com/divio/terraform-provider-divio/internal/simulator"
)

var demoLiveEnvID = simulator.EnvironmentID(simulator.DemoApp, simulator.EnvLive)

// simData is the content the simulator's instance holds (its `data` token).
func simData(t *testing.T, sim *simulator.Simulator, id string) string {
	t.Helper()
	for _, in := range sim.InstanceStates() {
		if in.UUID == id {
			return in.Data
		}
	}
	t.Fatalf("the simulator has no instance %s", id)
	return ""
}

func setSimData(t *testing.T, sim *simulator.Simulator, id, data string) {
	t.Helper()
	if err := sim.SetInstanceData(id, data); err != nil {
		t.Fatal(err)
	}
}

// legacyLiveDatabase is legacy-app/live's DEFAULT postgres-15, of another organisation than demo-app.
func legacyLiveDatabase(t *testing.T, client *divio.Client) *divio.ServiceInstance {
	t.Helper()
	instances, err := client.ListServiceInstances(t.Context(), simulator.EnvironmentID(simulator.LegacyApp, simulator.EnvLive))
	if err != nil {
		t.Fatal(err)
	}
	for i := range instances {
		if instances[i].Type == divio.TypeDatabase {
			return &instances[i]
		}
	}
	t.Fatalf("legacy-app/live has no database: %+v", instances)
	return nil
}

// copyFixture is what the tests copy between, in a simulator of the test's own:
// demo-app/live's DEFAULT postgres-15 holding "live rows", and in demo-app/test a DEFAULT
// postgres-16 holding "test rows" and a mysql-8 (prefix MYSQL) holding "mysql rows".
type copyFixture struct {
	env               *testEnv
	sim               *simulator.Simulator
	client            *divio.Client
	live, test, mysql *divio.ServiceInstance
}

func newCopyFixture(t *testing.T, opts ...func(*simulator.Options)) *copyFixture {
	t.Helper()
	env := newTestEnv(t, opts...)
	f := &copyFixture{env: env, sim: env.requireSim(t), client: env.client(t)}
	f.live = addTestInstance(t, f.client, demoLiveEnvID, simulator.ServicePostgres15, "DEFAULT", true)
	f.test = addTestInstance(t, f.client, demoTestEnvID, simulator.ServicePostgres16, "DEFAULT", true)
	f.mysql = addTestInstance(t, f.client, demoTestEnvID, simulator.ServiceMySQL8, "MYSQL", true)
	f.reset(t)
	return f
}

// reset gives each instance its own data again.
func (f *copyFixture) reset(t *testing.T) {
	t.Helper()
	for inst, data := range map[*divio.ServiceInstance]string{f.live: "live rows", f.test: "test rows", f.mysql: "mysql rows"} {
		setSimData(t, f.sim, inst.UUID, data)
	}
}

// unknownID is an id that names nothing.
const unknownID = "0b5d3a2e-8f1c-4f7a-9a43-2c6f0e8d1b77"

// expectError checks an action's error text: want is its start, then parts it contains.
func expectError(t *testing.T, errs string, want []string) {
	t.Helper()
	if !strings.HasPrefix(errs, want[0]) {
		t.Fatalf("error = %q, want one that starts %q", errs, want[0])
	}
	for _, part := range want[1:] {
		if !strings.Contains(errs, part) {
			t.Errorf("error = %q, want it to contain %q", errs, part)
		}
	}
}

func TestCopyData(t *testing.T) {
	f := newCopyFixture(t)
	sim, client := f.sim, f.client
	d := newProviderData(client, 0)
	live, test16, mysql := f.live, f.test, f.mysql
	test15 := addTestInstance(t, client, demoTestEnvID, simulator.ServicePostgres15, "OLD", true)
	storage := addTestInstance(t, client, demoTestEnvID, simulator.ServiceS3, "DEFAULT", true)
	queue := addTestInstance(t, client, demoLiveEnvID, simulator.ServiceRabbitMQ3, "DEFAULT", true)
	unprovisioned := addTestInstance(t, client, demoTestEnvID, simulator.ServicePostgres15, "LATER", false)
	otherOrganisation := legacyLiveDatabase(t, client)

	// A backup of live taken earlier, whose data live no longer holds.
	setSimData(t, sim, live.UUID, "live, last week")
	earlier := addTestBackup(t, client, live)
	sim.FailNextBackup()
	failedPart := addFailedTestBackup(t, client, test15)

	label := func(inst *divio.ServiceInstance) string { return d.cache.InstanceLabel(t.Context(), inst) }
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T)
		from    dataSource
		target  *divio.ServiceInstance
		// wantData is what the target holds after the copy: the source's on success.
		wantData string
		// wantErr tells the error; nil wants none.
		wantErr func(error) bool
		// wantText are parts of the error's text.
		wantText []string
		// newBackups and newRestores are how many backups and restores the copy leaves.
		newBackups, newRestores int
	}{
		{
			name: "from an instance into one of the same version", from: dataSource{InstanceID: live.UUID}, target: test15,
			wantData: "live rows", newBackups: 1, newRestores: 1,
		},
		{
			name: "from an instance into one of a newer version", from: dataSource{InstanceID: live.UUID}, target: test16,
			wantData: "live rows", newBackups: 1, newRestores: 1,
		},
		{
			name: "from a backup part into another instance", from: dataSource{BackupPartID: earlier.UUID}, target: test15,
			wantData: "live, last week", newRestores: 1,
		},
		{
			name: "from a backup part into its own instance", from: dataSource{BackupPartID: earlier.UUID}, target: live,
			wantData: "live, last week", newRestores: 1,
		},
		{
			name: "into another engine: the API refuses, and the backup taken is deleted", from: dataSource{InstanceID: live.UUID}, target: mysql,
			wantData: "mysql rows", wantErr: isRefused(divio.ErrValidation),
			wantText: []string{"the Divio API refused to write the data of " + label(live) + " into " + label(mysql),
				"same type and engine, in the same or a newer version", "runs mysql-8: a backup of postgres-15", "the backup taken for the copy was deleted"},
		},
		{
			name: "into another type: refused before anything is sent", from: dataSource{InstanceID: live.UUID}, target: storage,
			wantData: "storage files", wantErr: isRefused(divio.ErrValidation),
			wantText: []string{label(live) + " holds DATABASE data, and " + label(storage) + " is a STORAGE instance"},
		},
		{
			name: "a database backup part into storage: refused before anything is sent", from: dataSource{BackupPartID: earlier.UUID}, target: storage,
			wantData: "storage files", wantErr: isRefused(divio.ErrValidation),
			wantText: []string{"service instance backup " + earlier.UUID + " (of backup " + earlier.Backup + ", taken from " + label(live) + ") holds DATABASE data"},
		},
		{
			name: "into itself", from: dataSource{InstanceID: live.UUID}, target: live,
			wantData: "live rows", wantErr: isRefused(divio.ErrValidation),
			wantText: []string{"service instance " + live.UUID + " would be copied into itself"},
		},
		{
			name: "from a type Divio does not back up", from: dataSource{InstanceID: queue.UUID}, target: test15,
			wantData: "test15 rows", wantErr: isRefused(divio.ErrValidation),
			wantText: []string{"is a MESSAGE_QUEUE instance, and Divio backs up, and so copies, only DATABASE and STORAGE instances"},
		},
		{
			name: "from an instance that holds no data yet", from: dataSource{InstanceID: unprovisioned.UUID}, target: test15,
			wantData: "test15 rows", wantErr: isRefused(divio.ErrConflict),
			wantText: []string{label(unprovisioned) + " is NEW: only a provisioned instance"},
		},
		{
			name: "into an instance that holds no data yet", from: dataSource{InstanceID: live.UUID}, target: unprovisioned,
			wantErr:  isRefused(divio.ErrConflict),
			wantText: []string{label(unprovisioned) + " is NEW: data is copied only into a provisioned instance"},
		},
		{
			name: "from another organisation", from: dataSource{InstanceID: otherOrganisation.UUID}, target: test15,
			wantData: "test15 rows", wantErr: isRefused(divio.ErrValidation),
			wantText: []string{"is in application legacy-app, and " + label(test15) + " in application demo-app of another organisation"},
		},
		{
			name: "from a backup part that failed", from: dataSource{BackupPartID: failedPart.UUID}, target: test15,
			wantData: "test15 rows", wantErr: isRefused(divio.ErrConflict),
			wantText: []string{"service instance backup " + failedPart.UUID, "failed when it was taken (Injected failure"},
		},
		{
			name: "from an unknown instance", from: dataSource{InstanceID: unknownID}, target: test15,
			wantData: "test15 rows", wantErr: func(err error) bool { return errors.Is(err, divio.ErrNotFound) },
			wantText: []string{"cannot read service instance " + unknownID + ", to copy its data"},
		},
		{
			name: "from an unknown backup part", from: dataSource{BackupPartID: unknownID}, target: test15,
			wantData: "test15 rows", wantErr: func(err error) bool { return errors.Is(err, divio.ErrNotFound) },
			wantText: []string{"cannot read service instance backup " + unknownID + ", to copy its data"},
		},
		{
			name: "the backup of the source fails", prepare: func(*testing.T) { sim.FailNextBackup() }, from: dataSource{InstanceID: live.UUID}, target: test15,
			wantData: "test15 rows", wantErr: func(err error) bool { var e *divio.BackupFailedError; return errors.As(err, &e) },
			wantText:   []string{"did not complete, so nothing was written into service instance " + test15.UUID, "completed with success FAILURE"},
			newBackups: 1,
		},
		{
			name: "the restore fails", prepare: func(*testing.T) { sim.FailNextRestore() }, from: dataSource{InstanceID: live.UUID}, target: test15,
			wantData: "test15 rows", wantErr: func(err error) bool { var e *divio.RestoreFailedError; return errors.As(err, &e) },
			wantText:   []string{"finished with success FAILURE", "Injected failure"},
			newBackups: 1, newRestores: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.reset(t)
			setSimData(t, sim, test15.UUID, "test15 rows")
			setSimData(t, sim, storage.UUID, "storage files")
			if tc.prepare != nil {
				tc.prepare(t)
			}
			backups, restores := len(sim.Backups()), len(sim.Restores())
			var progress []string
			backup, err := d.copyData(t.Context(), tc.from, tc.target, "refresh", func(format string, args ...any) {
				progress = append(progress, fmt.Sprintf(format, args...))
			})

			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("copyData: %v", err)
			case tc.wantErr != nil && (err == nil || !tc.wantErr(err)):
				t.Fatalf("copyData: error %v (%T), want another", err, err)
			}
			for _, want := range tc.wantText {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if got := simData(t, sim, tc.target.UUID); got != tc.wantData {
				t.Errorf("the target holds %q, want %q", got, tc.wantData)
			}
			if got := len(sim.Backups()) - backups; got != tc.newBackups {
				t.Errorf("the copy left %d new backups, want %d: %+v", got, tc.newBackups, sim.Backups())
			}
			if got := len(sim.Restores()) - restores; got != tc.newRestores {
				t.Errorf("the copy made %d restores, want %d", got, tc.newRestores)
			}
			if err != nil {
				t.Logf("error: %v; progress: %q", err, progress)
				return
			}
			wantRestore(t, sim, backup, tc.from, tc.target, progress)
		})
	}
	// A copy writes only the target: the source keeps its data, and every instance its status.
	if got := simData(t, sim, live.UUID); got != "live rows" {
		t.Errorf("live holds %q", got)
	}
	for _, in := range testInstances(sim) {
		if want := map[bool]string{true: simulator.StatusPendingAttachment, false: simulator.StatusNew}[in.UUID != unprovisioned.UUID]; in.Status != want {
			t.Errorf("instance %s (%s) is %s, want %s", in.UUID, in.Prefix, in.Status, want)
		}
	}
}

// isRefused tells a copyRefusedError that unwraps to kind (divio.ErrValidation or divio.ErrConflict).
func isRefused(kind error) func(error) bool {
	return func(err error) bool {
		var refused *copyRefusedError
		return errors.As(err, &refused) && errors.Is(err, kind)
	}
}

// wantRestore checks the restore that a successful copy made, the backup it returned, and its progress.
func wantRestore(t *testing.T, sim *simulator.Simulator, backup *divio.Backup, from dataSource, target *divio.ServiceInstance, progress []string) {
	t.Helper()
	restores := sim.Restores()
	r := restores[len(restores)-1]
	part := from.BackupPartID
	if from.InstanceID != "" {
		if backup.Notes != "refresh" || len(backup.ServiceInstanceBackups) != 1 {
			t.Errorf("backup %+v, want a fresh backup of the source, with the notes", backup)
		}
		part = backup.ServiceInstanceBackups[0]
	}
	taken := simPart(t, sim, part)
	into := target.UUID
	if taken.ServiceInstance == target.UUID { // restored where it was taken from: the API's default
		into = ""
	}
	if r.Backup != backup.UUID || r.Notes != "refresh" || !slices.Equal(r.ServiceInstanceRestores, []simulator.ServiceInstanceRestore{{ServiceInstanceBackup: part, ServiceInstance: into}}) {
		t.Errorf("restore %+v, want part %s of backup %s into %q, with the notes", r, part, backup.UUID, into)
	}
	what := fmt.Sprintf("the DATABASE %s backup %s into service instance %s", taken.Prefix, backup.UUID, target.UUID)
	want := []string{fmt.Sprintf("Restoring %s (restore %s)", what, r.UUID), fmt.Sprintf("Restore %s of %s succeeded", r.UUID, what)}
	if from.InstanceID != "" {
		want = append([]string{"Backing up service instance " + from.InstanceID, "Backup " + backup.UUID + " of service instance " + from.InstanceID}, want...)
	}
	if len(progress) != len(want) {
		t.Fatalf("progress = %q, want %q", progress, want)
	}
	for i := range want {
		if !strings.HasPrefix(progress[i], want[i]) {
			t.Errorf("progress[%d] = %q, want one that starts %q", i, progress[i], want[i])
		}
	}
}

// simPart is the simulator's service instance backup id.
func simPart(t *testing.T, sim *simulator.Simulator, id string) simulator.ServiceInstanceBackup {
	t.Helper()
	for _, p := range sim.ServiceInstanceBackups() {
		if p.UUID == id {
			return p
		}
	}
	t.Fatalf("the simulator has no service instance backup %s", id)
	return simulator.ServiceInstanceBackup{}
}

// addFailedTestBackup backs an instance up, armed to fail, and returns its failed part.
func addFailedTestBackup(t *testing.T, client *divio.Client, inst *divio.ServiceInstance) *divio.ServiceInstanceBackup {
	t.Helper()
	backup, err := client.CreateBackup(t.Context(), divio.CreateBackupRequest{Environment: inst.Environment, Services: []string{inst.UUID}})
	if err != nil {
		t.Fatal(err)
	}
	var failed *divio.BackupFailedError
	if backup, err = client.WaitForBackup(t.Context(), backup.UUID); !errors.As(err, &failed) {
		t.Fatalf("backup %+v: error %v, want it to fail", backup, err)
	}
	part, err := client.GetServiceInstanceBackup(t.Context(), backup.ServiceInstanceBackups[0])
	if err != nil {
		t.Fatal(err)
	}
	return part
}

// A copy cut short by its context reports the context's error and the backup it took, which runs on.
func TestCopyData_cutShort(t *testing.T) {
	f := newCopyFixture(t, func(o *simulator.Options) { o.BackupDelay = 5 * time.Second })
	sim, live, test := f.sim, f.live, f.test
	d := newProviderData(f.client, 0)

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	backup, err := d.copyData(ctx, dataSource{InstanceID: live.UUID}, test, "", nil)
	if !errors.Is(err, context.DeadlineExceeded) || backup == nil {
		t.Fatalf("copyData = %+v, %v; want the backup taken and the context's error", backup, err)
	}
	if want := "backup " + backup.UUID + " of " + d.cache.InstanceLabel(t.Context(), live) + " did not complete, so nothing was written into service instance " + test.UUID; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q lacks %q", err, want)
	}
	if len(sim.Backups()) != 1 || len(sim.Restores()) != 0 {
		t.Errorf("backups %+v, restores %+v; want the one backup, no restore", sim.Backups(), sim.Restores())
	}
	var diags diag.Diagnostics
	addCopyError(&diags, "copy of the test", err)
	if len(diags) != 1 || diags[0].Summary() != "Copy of the test did not finish" ||
		!strings.Contains(diags[0].Detail(), "context deadline exceeded.\n\nIt ran past the action's timeout: raise `timeouts.invoke` for a large instance. What was started goes on at Divio") {
		t.Errorf("diagnostics %v", diags)
	}
}

// copyData is called as its callers must: one source, a target.
func TestCopyData_misuse(t *testing.T) {
	d := newProviderData(nil, 0)
	target := &divio.ServiceInstance{UUID: "t"}
	for _, tc := range []struct {
		from   dataSource
		target *divio.ServiceInstance
	}{
		{dataSource{}, target},
		{dataSource{InstanceID: "a", BackupPartID: "b"}, target},
		{dataSource{InstanceID: "a"}, nil},
	} {
		if _, err := d.copyData(t.Context(), tc.from, tc.target, "", nil); err == nil || !strings.Contains(err.Error(), "this is a bug in the provider") {
			t.Errorf("copyData(%+v, %v) = %v, want a bug reported", tc.from, tc.target, err)
		}
	}
}
