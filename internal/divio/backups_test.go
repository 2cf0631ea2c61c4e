package divio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// provisioned adds a DEFAULT instance of service to the live environment and provisions it;
// the fake API provisions at once.
func provisioned(t *testing.T, c *Client, service string) *ServiceInstance {
	t.Helper()
	ctx := context.Background()
	inst, err := c.CreateServiceInstance(ctx, CreateServiceInstanceRequest{Environment: demoLive, Service: service, Prefix: "DEFAULT"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ProvisionServiceInstance(ctx, inst.UUID); err != nil {
		t.Fatal(err)
	}
	return inst
}

func mustBackup(t *testing.T, c *Client, r CreateBackupRequest) *Backup {
	t.Helper()
	b, err := c.CreateBackup(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every call, in the order a user meets them, each against its contract path.
func TestBackupCalls(t *testing.T) {
	c, api := startFakeAPI(t, func(api *fakeAPI) { api.backupDelay = 30 * time.Millisecond })
	ctx := context.Background()
	db, files := provisioned(t, c, postgres), provisioned(t, c, s3)
	deleteAt := time.Now().Add(time.Hour)

	// POST /apps/v3/backups/
	b := mustBackup(t, c, CreateBackupRequest{Environment: demoLive, Services: []string{db.UUID, files.UUID}, Notes: "before the upgrade", ScheduledForDeletionAt: deleteAt})
	if b.State != BackupStatePending || b.Completed() || b.Notes != "before the upgrade" || len(b.ServiceInstanceBackups) != 2 ||
		b.ScheduledForDeletionAt == nil || !b.ScheduledForDeletionAt.Equal(deleteAt.Truncate(time.Microsecond)) {
		t.Errorf("created %+v", b)
	}
	if n := api.count("GET /apps/v3/backups/"); n != 0 {
		t.Errorf("a create answered at once listed backups %d times, want 0", n)
	}

	// GET /apps/v3/backups/<uuid>/, polled
	done, err := c.WaitForBackup(ctx, b.UUID)
	if err != nil || !done.Succeeded() || done.State != BackupStateCompleted {
		t.Fatalf("wait: %+v, %v", done, err)
	}
	if got, err := c.GetBackup(ctx, b.UUID); err != nil || got.UUID != b.UUID || got.Environment != demoLive {
		t.Errorf("get: %+v, %v", got, err)
	}

	// GET /apps/v3/service-instance-backups/<uuid>/
	var instances []string
	for _, id := range done.ServiceInstanceBackups {
		part, err := c.GetServiceInstanceBackup(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if part.Backup != b.UUID || part.EndedAt == nil || part.Errors != "" || part.Size == nil || part.Prefix != "DEFAULT" {
			t.Errorf("part %+v", part)
		}
		instances = append(instances, part.ServiceInstance+"="+part.ServiceType)
	}
	slices.Sort(instances)
	if want := []string{db.UUID + "=" + TypeDatabase, files.UUID + "=" + TypeStorage}; !sameSet(instances, want) {
		t.Errorf("parts hold %v, want %v", instances, want)
	}

	// GET /apps/v3/backups/?environment=<uuid>, newest first
	later := mustBackup(t, c, CreateBackupRequest{Environment: demoLive, Services: []string{db.UUID}})
	listed, err := c.ListBackups(ctx, demoLive)
	if err != nil || len(listed) != 2 || listed[0].UUID != later.UUID || listed[1].UUID != b.UUID {
		t.Errorf("list: %+v, %v; want %s then %s", listed, err, later.UUID, b.UUID)
	}
	if other, err := c.ListBackups(ctx, demoTest); err != nil || len(other) != 0 {
		t.Errorf("another environment's list: %+v, %v", other, err)
	}

	// POST /apps/v3/backup-restores/, then GET /apps/v3/backup-restores/<uuid>/, polled
	restore, err := c.CreateRestore(ctx, CreateRestoreRequest{Backup: b.UUID, ServiceInstanceBackups: b.ServiceInstanceBackups, Notes: "roll back"})
	if err != nil || restore.UUID == "" || restore.Finished {
		t.Fatalf("restore: %+v, %v", restore, err)
	}
	finished, err := c.WaitForRestore(ctx, restore.UUID)
	if err != nil || !finished.Succeeded() || finished.Backup != b.UUID {
		t.Errorf("wait for restore: %+v, %v", finished, err)
	}
	if got := api.restoreRequests(); len(got) != 1 || got[0].Notes != "roll back" || len(got[0].Entries) != 2 {
		t.Errorf("the API restored %+v", got)
	}

	// DELETE /apps/v3/backups/<uuid>/, twice
	for range 2 {
		if err := c.DeleteBackup(ctx, b.UUID); err != nil {
			t.Errorf("delete: %v", err)
		}
	}
	if _, err := c.GetBackup(ctx, b.UUID); !errors.Is(err, ErrNotFound) {
		t.Errorf("get after delete: %v, want ErrNotFound", err)
	}
	if got := api.backupIDs(); len(got) != 1 || got[0] != later.UUID {
		t.Errorf("the API keeps %v, want only %s", got, later.UUID)
	}
}

// A part restored into another instance: one that works, and the API's refusals, typed.
func TestRestoreIntoAnotherInstance(t *testing.T) {
	c, api := startFakeAPI(t, nil)
	ctx := context.Background()
	db, files := provisioned(t, c, postgres), provisioned(t, c, s3)
	b := mustBackup(t, c, CreateBackupRequest{Environment: demoLive, Services: []string{db.UUID}})
	if _, err := c.WaitForBackup(ctx, b.UUID); err != nil {
		t.Fatal(err)
	}
	part := b.ServiceInstanceBackups[0]
	target := mustCreate(t, c, "NEW")
	restoreInto := func(target string) error {
		r, err := c.CreateRestore(ctx, CreateRestoreRequest{Backup: b.UUID, ServiceInstanceBackups: []string{part}, Targets: map[string]string{part: target}})
		if err == nil {
			_, err = c.WaitForRestore(ctx, r.UUID)
		}
		return err
	}

	if err := restoreInto(target.UUID); !errors.Is(err, ErrConflict) {
		t.Errorf("into a NEW instance: %v, want ErrConflict (not functional)", err)
	}
	if err := restoreInto(files.UUID); !errors.Is(err, ErrValidation) {
		t.Errorf("a database backup into storage: %v, want ErrValidation", err)
	}
	if err := c.ProvisionServiceInstance(ctx, target.UUID); err != nil {
		t.Fatal(err)
	}
	if err := restoreInto(target.UUID); err != nil {
		t.Errorf("into the provisioned instance: %v", err)
	}
	restores := api.restoreRequests()
	if want := []fakeRestoreEntry{{ServiceInstanceBackup: part, ServiceInstance: target.UUID}}; len(restores) != 1 || !slices.Equal(restores[0].Entries, want) {
		t.Errorf("the API restored %+v, want one restore of %+v", restores, want)
	}

	sent := api.totalRequests()
	_, err := c.CreateRestore(ctx, CreateRestoreRequest{Backup: b.UUID, ServiceInstanceBackups: []string{part}, Targets: map[string]string{"another-part": target.UUID}})
	if err == nil || !strings.Contains(err.Error(), "another-part") || api.totalRequests() != sent {
		t.Errorf("a target for a part not restored: %v, want an error naming it, without a request", err)
	}
}

// recordBodies keeps the body of every POST to path, then passes the request on.
func recordBodies(next http.Handler, path string, bodies *[]string) http.Handler {
	var mu sync.Mutex
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == path {
			raw, _ := io.ReadAll(r.Body)
			mu.Lock()
			*bodies = append(*bodies, string(raw))
			mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(raw))
		}
		next.ServeHTTP(w, r)
	})
}

// The bodies are the ones divio-cli sends (cloud.py create_backup, create_backup_restore).
func TestBackupRequestBodies(t *testing.T) {
	var backups, restores []string
	c := serveWrapped(t, newFakeAPI(), func(h http.Handler) http.Handler {
		return recordBodies(recordBodies(h, "/apps/v3/backups/", &backups), "/apps/v3/backup-restores/", &restores)
	})
	db := provisioned(t, c, postgres)
	deleteAt := time.Date(2030, 1, 2, 4, 5, 6, 123456789, time.FixedZone("CET", 3600))

	bare := mustBackup(t, c, CreateBackupRequest{Environment: demoLive, Services: []string{db.UUID}})
	mustBackup(t, c, CreateBackupRequest{Environment: demoLive, Services: []string{db.UUID}, Notes: "Divio CLI pull", ScheduledForDeletionAt: deleteAt})
	if _, err := c.WaitForBackup(context.Background(), bare.UUID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateRestore(context.Background(), CreateRestoreRequest{Backup: bare.UUID, ServiceInstanceBackups: bare.ServiceInstanceBackups}); err != nil {
		t.Fatal(err)
	}
	target := mustCreate(t, c, "NEW")
	if err := c.ProvisionServiceInstance(context.Background(), target.UUID); err != nil {
		t.Fatal(err)
	}
	part := bare.ServiceInstanceBackups[0]
	if _, err := c.CreateRestore(context.Background(), CreateRestoreRequest{Backup: bare.UUID, ServiceInstanceBackups: []string{part}, Targets: map[string]string{part: target.UUID}}); err != nil {
		t.Fatal(err)
	}

	tests := []struct{ got, want string }{
		{backups[0], `{"environment":"` + demoLive + `","services":["` + db.UUID + `"],"trigger":"MANUAL"}`},
		{backups[1], `{"environment":"` + demoLive + `","services":["` + db.UUID + `"],"trigger":"MANUAL","notes":"Divio CLI pull","scheduled_for_deletion_at":"2030-01-02T03:05:06.123456Z"}`},
		{restores[0], `{"backup":"` + bare.UUID + `","service_instance_restores":[{"service_instance_backup":"` + part + `"}]}`},
		{restores[1], `{"backup":"` + bare.UUID + `","service_instance_restores":[{"service_instance_backup":"` + part + `","service_instance":"` + target.UUID + `"}]}`},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("sent %s\nwant %s", tt.got, tt.want)
		}
	}
}

func TestBackupFailuresAreTyped(t *testing.T) {
	c, api := startFakeAPI(t, func(api *fakeAPI) { api.backupDelay = 20 * time.Millisecond })
	ctx := context.Background()
	db := provisioned(t, c, postgres)
	good := mustBackup(t, c, CreateBackupRequest{Environment: demoLive, Services: []string{db.UUID}})
	if _, err := c.WaitForBackup(ctx, good.UUID); err != nil {
		t.Fatal(err)
	}
	fresh := mustCreate(t, c, "FRESH")
	broker, err := c.CreateServiceInstance(ctx, CreateServiceInstanceRequest{Environment: demoLive, Service: rabbitmq, Prefix: "DEFAULT"})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		run     func() error
		check   func(error) bool
		wantErr string
	}{
		{"backup failed on the API's side", func() error {
			api.set(func(api *fakeAPI) { api.failNextBackup = true })
			b := mustBackup(t, c, CreateBackupRequest{Environment: demoLive, Services: []string{db.UUID}})
			_, err := c.WaitForBackup(ctx, b.UUID)
			var failed *BackupFailedError
			if !errors.As(err, &failed) || failed.Backup.UUID != b.UUID || len(failed.Parts) != 1 || failed.Parts[0].ServiceInstance != db.UUID {
				t.Errorf("failed backup: %#v", err)
			}
			return err
		}, nil, "completed with success FAILURE: DATABASE DEFAULT (instance " + db.UUID + "): Injected failure (fail-next-backup)"},
		{"restore failed on the API's side", func() error {
			api.set(func(api *fakeAPI) { api.failNextRestore = true })
			r, err := c.CreateRestore(ctx, CreateRestoreRequest{Backup: good.UUID, ServiceInstanceBackups: good.ServiceInstanceBackups})
			if err != nil {
				return err
			}
			_, err = c.WaitForRestore(ctx, r.UUID)
			var failed *RestoreFailedError
			if !errors.As(err, &failed) || failed.Restore.UUID != r.UUID || failed.Restore.Backup != good.UUID {
				t.Errorf("failed restore: %#v", err)
			}
			return err
		}, nil, "of backup " + good.UUID + " finished with success FAILURE: Injected failure (fail-next-restore)"},
		{"backup deleted while waited for", func() error {
			b := mustBackup(t, c, CreateBackupRequest{Environment: demoLive, Services: []string{db.UUID}})
			if err := c.DeleteBackup(ctx, b.UUID); err != nil {
				return err
			}
			_, err := c.WaitForBackup(ctx, b.UUID)
			return err
		}, func(err error) bool { return errors.Is(err, ErrNotFound) }, "404"},
		{"backup of an instance not provisioned", func() error {
			_, err := c.CreateBackup(ctx, CreateBackupRequest{Environment: demoLive, Services: []string{fresh.UUID}})
			return err
		}, func(err error) bool { return errors.Is(err, ErrConflict) }, "is NEW"},
		{"backup of a message queue", func() error {
			_, err := c.CreateBackup(ctx, CreateBackupRequest{Environment: demoLive, Services: []string{broker.UUID}})
			var apiErr *APIError
			if !errors.As(err, &apiErr) || len(apiErr.FieldErrors["services"]) != 1 {
				t.Errorf("want a field error on services: %v", err)
			}
			return err
		}, func(err error) bool { return errors.Is(err, ErrValidation) }, "only DATABASE and STORAGE instances can be backed up"},
		{"restore into a removed instance", func() error {
			if err := c.DeleteServiceInstance(ctx, db.UUID); err != nil {
				return err
			}
			_, err := c.CreateRestore(ctx, CreateRestoreRequest{Backup: good.UUID, ServiceInstanceBackups: good.ServiceInstanceBackups})
			return err
		}, func(err error) bool { return errors.Is(err, ErrConflict) }, "has been removed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || (tt.check != nil && !tt.check(err)) {
				t.Errorf("err = %v, want one saying %q", err, tt.wantErr)
			}
		})
	}
}

// postFault is what happens to the first POSTs of a backup: how their answer is lost.
type postFault int

const (
	dropAfterApplying      postFault = iota // applied, then the connection closes without an answer
	gatewayAfterApplying                    // applied, then a gateway answers 502
	refuseWithoutApplying                   // answered 503 without being applied
	gatewayWithoutApplying                  // answered 502 by a gateway without being applied
)

// faultyBackupPosts makes the first n backup creates suffer fault; during each, it runs
// meanwhile (if set), as another client would.
func faultyBackupPosts(next http.Handler, n int32, fault postFault, meanwhile func()) http.Handler {
	var posts atomic.Int32
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/apps/v3/backups/" || posts.Add(1) > n {
			next.ServeHTTP(w, r)
			return
		}
		if meanwhile != nil {
			meanwhile()
		}
		switch fault {
		case dropAfterApplying:
			next.ServeHTTP(httptest.NewRecorder(), r)
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
		case gatewayAfterApplying:
			next.ServeHTTP(httptest.NewRecorder(), r)
			w.WriteHeader(http.StatusBadGateway)
		case refuseWithoutApplying:
			w.WriteHeader(http.StatusServiceUnavailable)
		case gatewayWithoutApplying:
			w.WriteHeader(http.StatusBadGateway)
		}
	})
}

// rawBackup creates a backup as another program would, unknown to this package.
func rawBackup(t *testing.T, endpoint, envID, instance, notes string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"environment": envID, "services": []string{instance}, "trigger": "MANUAL", "notes": notes})
	req, _ := http.NewRequest(http.MethodPost, endpoint+"/apps/v3/backups/", bytes.NewReader(body))
	req.Header.Set("Authorization", "Token "+fakeToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b Backup
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("raw backup: %d %v", resp.StatusCode, err)
	}
	return b.UUID
}

// A create whose answers were lost leaves exactly one backup of its own, the one it returns,
// and touches nobody else's: not an identical one this process made before, not one another
// program made just before, not a different one made meanwhile.
func TestCreateBackupKeepsOneAfterLostAnswers(t *testing.T) {
	tests := []struct {
		name          string
		lost          int32
		fault         postFault
		wantLookup    bool
		strangerFirst bool // an identical backup made by another program just before the call
		wantErr       bool
	}{
		{"first answer dropped", 1, dropAfterApplying, true, true, false},
		{"three answers dropped", 3, dropAfterApplying, true, true, false},
		{"every answer dropped", 100, dropAfterApplying, true, true, false},
		{"a gateway's 502 after applying", 1, gatewayAfterApplying, true, true, false},
		{"a 503 without applying: nothing to look for", 1, refuseWithoutApplying, false, true, false},
		// Nothing applied, but the 502s say it may have: the earlier identical backup is not taken.
		{"every attempt a 502 that did not apply", 100, gatewayWithoutApplying, true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI()
			direct := httptest.NewServer(api) // for the other clients, whose answers arrive
			t.Cleanup(direct.Close)
			db := provisioned(t, newClientFor(t, direct.URL, fakeToken), postgres)
			files := provisioned(t, newClientFor(t, direct.URL, fakeToken), s3)
			request := CreateBackupRequest{Environment: demoLive, Services: []string{db.UUID}, Notes: "nightly"}

			// An identical backup this process made earlier, and maybe one another program made.
			others := []string{mustBackup(t, newClientFor(t, direct.URL, fakeToken), request).UUID}
			if tt.strangerFirst {
				others = append(others, rawBackup(t, direct.URL, demoLive, db.UUID, "nightly"))
				time.Sleep(100 * time.Millisecond) // well before the call, on any clock
			}
			var mu sync.Mutex
			var meanwhile []string // different backups another program makes during the call
			server := httptest.NewServer(faultyBackupPosts(api, tt.lost, tt.fault, func() {
				mu.Lock()
				defer mu.Unlock()
				if len(meanwhile) == 0 {
					meanwhile = append(meanwhile, rawBackup(t, direct.URL, demoLive, db.UUID, "someone else's"),
						rawBackup(t, direct.URL, demoLive, files.UUID, "nightly"))
				}
			}))
			t.Cleanup(server.Close)
			c := newClientFor(t, server.URL, fakeToken)
			api.resetCounts()

			got, err := c.CreateBackup(context.Background(), request)
			if (err != nil) != tt.wantErr {
				t.Fatalf("create after lost answers: %+v, %v; want an error: %v", got, err, tt.wantErr)
			}
			mu.Lock()
			defer mu.Unlock()
			left := api.backupIDs()
			want := slices.Concat(others, meanwhile)
			if got != nil {
				want = append(want, got.UUID)
			}
			if !sameSet(left, want) {
				t.Errorf("the API holds %v, want exactly %v (the returned %s and the others untouched)", left, want, got.UUID)
			}
			if looked := api.count("GET /apps/v3/backups/") > 0; looked != tt.wantLookup {
				t.Errorf("looked for lost backups: %v, want %v", looked, tt.wantLookup)
			}
		})
	}
}

// Identical creates in parallel, as Terraform runs resources, with answers lost: each returns
// its own backup, and exactly those exist.
func TestParallelIdenticalCreatesKeepTheirOwn(t *testing.T) {
	api := newFakeAPI()
	c := serveWrapped(t, api, func(h http.Handler) http.Handler { return faultyBackupPosts(h, 3, dropAfterApplying, nil) })
	db := provisioned(t, c, postgres)

	const n = 4
	got := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			b, err := c.CreateBackup(context.Background(), CreateBackupRequest{Environment: demoLive, Services: []string{db.UUID}, Notes: "same"})
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = b.UUID
		})
	}
	wg.Wait()
	left := api.backupIDs()
	if !sameSet(left, got) || len(slices.Compact(slices.Sorted(slices.Values(got)))) != n {
		t.Errorf("creates returned %v, the API holds %v: want %d distinct backups, each held", got, left, n)
	}
}

// Answers lost at random on every path, creates included, as the simulator's
// `--drop-response-rate` loses them: each create still leaves exactly the backup it returns.
func TestCreateBackupUnderDroppedResponses(t *testing.T) {
	api := newFakeAPI()
	drops := dropAtRandom(api, 3)
	c := serveWrapped(t, api, func(http.Handler) http.Handler { return drops })
	db := provisioned(t, c, postgres)
	api.resetCounts()
	drops.setRate(0.4)

	const n = 12
	var got []string
	for range n {
		got = append(got, mustBackup(t, c, CreateBackupRequest{Environment: demoLive, Services: []string{db.UUID}, Notes: "soak"}).UUID)
	}
	drops.setRate(0)
	posts := api.count("POST /apps/v3/backups/")
	if posts <= n {
		t.Fatalf("%d creates took %d POSTs: no create lost an answer, the test proves nothing", n, posts)
	}
	if left := api.backupIDs(); !sameSet(left, got) {
		t.Errorf("creates returned %v, the API holds %v", got, left)
	}
	t.Logf("%d creates: %d POSTs, %d DELETEs, %d answers dropped in all", n, posts, api.count("DELETE /apps/v3/backups/{id}/"), drops.dropped())
}

// A create waiting for its turn gives up with its context, naming the request it did not send.
func TestCreateBackupWaitsForItsTurnWithinItsContext(t *testing.T) {
	c, api := startFakeAPI(t, nil)
	release, err := ownBackups.turn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = c.CreateBackup(ctx, CreateBackupRequest{Environment: demoLive, Services: []string{"any"}})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "POST /apps/v3/backups/") {
		t.Errorf("err = %v, want the deadline, naming POST /apps/v3/backups/", err)
	}
	if n := api.totalRequests(); n != 0 {
		t.Errorf("sent %d requests while another create had the turn", n)
	}
}
