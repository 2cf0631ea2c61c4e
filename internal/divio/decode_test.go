package divio

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests in this file decode answers written in the real API's shapes, as the contract gives
// them (testdata/api/*.json, with fields the client does not know added), served by a plain test
// server rather than the simulator: a change to the simulator cannot hide a decoding bug here.

// fixtureServer answers each request of routes with its file under testdata/api, and anything
// else with 404. A GET is routed as "path?query", any other method as "METHOD path?query"; a
// POST is answered 201, as the API answers a create. A fixture's links name
// https://api.divio.com, which the server rewrites to its own address as the API would. It
// records the requests it was sent, and their bodies.
type fixtureServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string
	bodies   []string
}

func newFixtureServer(t *testing.T, routes map[string]string) *fixtureServer {
	t.Helper()
	s := &fixtureServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.URL.Path + "?" + r.URL.Query().Encode()
		if r.Method != http.MethodGet {
			key = r.Method + " " + key
		}
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.requests = append(s.requests, key)
		if len(body) > 0 {
			s.bodies = append(s.bodies, string(body))
		}
		s.mu.Unlock()
		file, ok := routes[key]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"detail": "Not found."}`))
			return
		}
		answer, err := os.ReadFile(filepath.Join("testdata", "api", file))
		if err != nil {
			t.Errorf("fixture for %s: %v", key, err)
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
		}
		_, _ = w.Write([]byte(strings.ReplaceAll(string(answer), DefaultEndpoint, "http://"+r.Host)))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *fixtureServer) sent() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

func (s *fixtureServer) sentBodies() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bodies...)
}

const (
	appID             = "iqbd4lzcnjczfc42qbidn6safu"
	liveEnvID         = "ofy3f7mxrbaqhgvszdpw5rhnia"
	testEnvID         = "c6qlgm3xjvdxnnbfphsylkykuq"
	runningDeplID     = "b7c1e9f2-8a3d-4c5b-9e6f-7a8b9c0d1e2f"
	finishedDeplID    = "6ee2a0d4-6d0c-4f0e-8c4b-1f2a3b4c5d6e"
	orgID             = "yx3r7pdqgbfwtnrwyvaupqyn4i"
	regionID          = "5tq2f6cnm5f3dkq6xkzggqzpte"
	instanceID        = "2fc5k3rtk5gbpj5h4z7zv6tbsm"
	backupID          = "7kd5fvj6ynbb5pd6wqk6ocfl2a"
	partID            = "q4yb3wqmwzhavmwlcsxyncwf2y"
	scheduledBackupID = "d2hw6qz4mnbx7kfc3vyrtpa5lg"
)

func at(value string) *time.Time {
	t, err := time.Parse(time.RFC3339Nano, value)
	if err != nil {
		panic(err)
	}
	return &t
}

func ptr[T any](v T) *T { return &v }

var (
	runningDeployment = Deployment{
		UUID: runningDeplID, Environment: liveEnvID, BuildMode: "FORCE", Status: DeploymentWorking,
		StartedAt: at("2024-05-03T09:00:00.5Z"), Percent: 42, EnvironmentVariables: []string{},
	}
	finishedDeployment = Deployment{
		UUID: finishedDeplID, Environment: liveEnvID, BuildMode: "AUTO", Status: DeploymentDone, Success: ptr(Verdict(true)),
		StartedAt: at("2024-05-02T10:11:12.345678Z"), EndedAt: at("2024-05-02T10:14:40.000001Z"),
		Percent: 100, EnvironmentVariables: []string{"DEFAULT_DATABASE_DSN", "DATABASE_URL", "DEFAULT_STORAGE_DSN"},
	}
	// doneDeployment is finishedDeployment as GET deployments/<uuid>/ gives it, with every field.
	doneDeployment = func() Deployment {
		d := finishedDeployment
		d.Region, d.IsUsable = regionID, true
		return d
	}()
	attachedInstance = ServiceInstance{
		UUID: instanceID, Environment: liveEnvID, Region: regionID, Service: "b2z6kq4ptnfxdc3wv5gmyahl7e",
		Prefix: DefaultPrefix, Type: TypeDatabase, Status: StatusAttached, CreatedAt: *at("2024-05-01T08:00:00.123456Z"),
	}
	completedBackup = Backup{
		UUID: backupID, Environment: liveEnvID, State: BackupStateCompleted, Success: ptr(BackupSuccess),
		ServiceInstanceBackups: []string{partID}, Notes: "before the upgrade", ScheduledForDeletionAt: at("2024-06-02T09:00:00Z"),
		CreatedAt: at("2024-05-03T09:00:00.05Z"), Trigger: BackupTriggerManual,
	}
	failedDeployment = Deployment{
		UUID: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", Environment: liveEnvID, BuildMode: "AUTO", Status: DeploymentFailed, Success: ptr(Verdict(false)),
		StartedAt: at("2024-04-30T16:20:00Z"), EndedAt: at("2024-04-30T16:22:10Z"),
		Percent: 63.5, EnvironmentVariables: []string{"DEFAULT_DATABASE_DSN", "DATABASE_URL"},
	}
)

func TestDecodesTheRealAPIShapes(t *testing.T) {
	for _, tc := range []struct {
		request string // the API request the case exercises, as the contract writes it
		name    string
		routes  map[string]string // the requests sent (path?query) -> the fixture answering each
		call    func(ctx context.Context, c *Client) (any, error)
		want    any
		// wantBodies, if set, are the request bodies the case must send, in order.
		wantBodies []string
	}{{
		request: "GET /apps/v3/environments/<uuid>/",
		name:    "a deployed environment: last_finished_deployment is the deployment",
		routes:  map[string]string{"/apps/v3/environments/" + liveEnvID + "/?": "environment-live-deployed.json"},
		call:    func(ctx context.Context, c *Client) (any, error) { return c.GetEnvironment(ctx, liveEnvID) },
		want: &Environment{
			UUID: liveEnvID, Slug: "live", Application: appID, Branch: "main",
			LastFinishedDeployment: &finishedDeployment,
			SSHEndpoint:            &SSHEndpoint{Host: "ssh.divio.com", Port: 22, User: "app-ofy3f7mxrbaq"},
		},
	}, {
		request: "GET /apps/v3/environments/?application=<uuid>",
		name:    "environments of an application: one never deployed (null), one deployed",
		routes:  map[string]string{"/apps/v3/environments/?application=" + appID + "&page_size=100": "environments-of-application.json"},
		call:    func(ctx context.Context, c *Client) (any, error) { return c.FindEnvironments(ctx, appID, "") },
		want: []Environment{{
			UUID: testEnvID, Slug: "test", Application: appID, Branch: "develop",
		}, {
			UUID: liveEnvID, Slug: "live", Application: appID, Branch: "main",
			LastFinishedDeployment: &Deployment{
				UUID: finishedDeplID, Environment: liveEnvID, BuildMode: "AUTO", Status: DeploymentFailed, Success: ptr(Verdict(false)),
				StartedAt: at("2024-05-02T10:11:12.345678Z"), EndedAt: at("2024-05-02T10:14:40.000001Z"),
				Percent: 87, EnvironmentVariables: []string{"DEFAULT_DATABASE_DSN", "DATABASE_URL"},
			},
			SSHEndpoint: &SSHEndpoint{Host: "ssh.divio.com", Port: 2222, User: "app-ofy3f7mxrbaq"},
		}},
	}, {
		request: "GET /apps/v3/deployments/<uuid>/",
		name:    "a running deployment: success and ended_at null",
		routes:  map[string]string{"/apps/v3/deployments/" + runningDeplID + "/?": "deployment-running.json"},
		call:    func(ctx context.Context, c *Client) (any, error) { return c.GetDeployment(ctx, runningDeplID) },
		want:    &runningDeployment,
	}, {
		request: "GET /apps/v3/deployments/<uuid>/",
		name:    "a finished deployment: status done, success true",
		routes:  map[string]string{"/apps/v3/deployments/" + finishedDeplID + "/?": "deployment-done.json"},
		call:    func(ctx context.Context, c *Client) (any, error) { return c.GetDeployment(ctx, finishedDeplID) },
		want:    &doneDeployment,
	}, {
		request:    "POST /apps/v3/deployments/",
		name:       "a deployment started: the answer has uuid, environment and build_mode only",
		routes:     map[string]string{"POST /apps/v3/deployments/?": "deployment-created.json"},
		call:       func(ctx context.Context, c *Client) (any, error) { return c.CreateDeployment(ctx, liveEnvID) },
		want:       &Deployment{UUID: finishedDeplID, Environment: liveEnvID, BuildMode: "AUTO"},
		wantBodies: []string{`{"environment":"` + liveEnvID + `"}`},
	}, {
		request: "GET /apps/v3/service-instances/<uuid>/",
		name:    "a service instance",
		routes:  map[string]string{"/apps/v3/service-instances/" + instanceID + "/?": "service-instance.json"},
		call:    func(ctx context.Context, c *Client) (any, error) { return c.GetServiceInstance(ctx, instanceID) },
		want:    &attachedInstance,
	}, {
		request: "GET /apps/v3/service-instances/?environment=<uuid>",
		name:    "an environment's service instances",
		routes:  map[string]string{"/apps/v3/service-instances/?environment=" + liveEnvID + "&page_size=100": "service-instances.json"},
		call:    func(ctx context.Context, c *Client) (any, error) { return c.ListServiceInstances(ctx, liveEnvID) },
		want: []ServiceInstance{attachedInstance, {
			UUID: "w6x2pmvq3hdjzkc7ry5tna4sbe", Environment: liveEnvID, Region: regionID, Service: "h7d3rw2nqcx5ktbz4fympve6ga",
			Prefix: DefaultPrefix, Type: TypeStorage, Status: StatusNew, CreatedAt: *at("2024-05-03T09:30:00Z"),
		}},
	}, {
		request: "PATCH /apps/v3/service-instances/<uuid>/",
		name:    "a service instance renamed in place: 200, the instance with its new prefix",
		routes:  map[string]string{"PATCH /apps/v3/service-instances/" + instanceID + "/?": "service-instance-renamed.json"},
		call: func(ctx context.Context, c *Client) (any, error) {
			return c.RenameServiceInstance(ctx, instanceID, "OLD")
		},
		want: func() *ServiceInstance {
			renamed := attachedInstance
			renamed.Prefix = "OLD"
			return &renamed
		}(),
		wantBodies: []string{`{"prefix":"OLD"}`},
	}, {
		request: "POST /apps/v3/deployments/, then GET /apps/v3/deployments/<uuid>/",
		name:    "a deployment started and followed until done",
		routes: map[string]string{
			"POST /apps/v3/deployments/?":                   "deployment-created.json",
			"/apps/v3/deployments/" + finishedDeplID + "/?": "deployment-done.json",
		},
		call: func(ctx context.Context, c *Client) (any, error) {
			started, err := c.CreateDeployment(ctx, liveEnvID)
			if err != nil {
				return nil, err
			}
			return c.WaitForDeployment(ctx, started.UUID)
		},
		want: &doneDeployment,
	}, {
		request: "GET /apps/v3/regions/",
		name:    "the regions",
		routes:  map[string]string{"/apps/v3/regions/?page_size=100": "regions.json"},
		call:    func(ctx context.Context, c *Client) (any, error) { return c.ListRegions(ctx) },
		want: []Region{
			{UUID: regionID, Name: "aws-eu-central-1", Vendor: "aws"},
			{UUID: "m3c7s2w4xqbzdh5kafnpe6ylvu", Name: "azure-westeurope", Vendor: "azure"},
		},
	}, {
		request: "GET /apps/v3/services/?region=<uuid>&website=<uuid>",
		name:    "the catalog offered to an application, with what its subscription has free",
		routes:  map[string]string{"/apps/v3/services/?page_size=100&region=" + regionID + "&website=" + appID: "services-of-application.json"},
		call: func(ctx context.Context, c *Client) (any, error) {
			return c.ListServices(ctx, ServiceFilter{Region: regionID, Application: appID})
		},
		want: []Service{
			{UUID: "b2z6kq4ptnfxdc3wv5gmyahl7e", Name: "PostgreSQL 16", Type: TypeDatabase, Identifier: "postgres-16", Description: "A PostgreSQL 16 database.", Available: ptr(2)},
			{UUID: "h7d3rw2nqcx5ktbz4fympve6ga", Name: "S3 object storage", Type: TypeStorage, Identifier: "s3", Description: "An S3 bucket for media files.", Available: ptr(0)},
		},
	}, {
		request: "GET /apps/v3/deployments/?application=<uuid>&environment=<uuid>",
		name:    "deployments of an environment, newest first, over two pages",
		routes: map[string]string{
			"/apps/v3/deployments/?application=" + appID + "&environment=" + liveEnvID + "&page_size=100":        "deployments-page-1.json",
			"/apps/v3/deployments/?application=" + appID + "&environment=" + liveEnvID + "&page=2&page_size=100": "deployments-page-2.json",
		},
		call: func(ctx context.Context, c *Client) (any, error) {
			return c.ListDeployments(ctx, DeploymentFilter{Application: appID, Environment: liveEnvID})
		},
		want: []Deployment{runningDeployment, finishedDeployment, failedDeployment},
	}, {
		request: "GET /apps/v3/deployments/?application=<uuid>&environment=<uuid>&page_size=1",
		name:    "the newest deployment: one page of one",
		routes:  map[string]string{"/apps/v3/deployments/?application=" + appID + "&environment=" + liveEnvID + "&page_size=1": "deployments-latest.json"},
		call: func(ctx context.Context, c *Client) (any, error) {
			return c.LatestDeployment(ctx, DeploymentFilter{Application: appID, Environment: liveEnvID})
		},
		want: &runningDeployment,
	}, {
		request: "GET /apps/v3/deployments/?environment=<uuid>&page_size=1",
		name:    "the newest deployment of an environment never deployed: none",
		routes:  map[string]string{"/apps/v3/deployments/?environment=" + testEnvID + "&page_size=1": "deployments-none.json"},
		call: func(ctx context.Context, c *Client) (any, error) {
			return c.LatestDeployment(ctx, DeploymentFilter{Environment: testEnvID})
		},
		want: (*Deployment)(nil),
	}, {
		request: "GET /apps/v3/applications/<uuid>/",
		name:    "an application with test_status and live_status",
		routes:  map[string]string{"/apps/v3/applications/" + appID + "/?": "application.json"},
		call:    func(ctx context.Context, c *Client) (any, error) { return c.GetApplication(ctx, appID) },
		want: &Application{
			UUID: appID, Slug: "my-shop", Name: "My Shop", Region: regionID, Organisation: orgID,
			TestStatus: &EnvironmentStatus{UUID: testEnvID, SiteURL: "https://my-shop-stage.eu.aldryn.io"},
			LiveStatus: &EnvironmentStatus{UUID: liveEnvID, SiteURL: "https://my-shop.eu.aldryn.io"},
		},
	}, {
		request: "GET /apps/v3/deployments/<uuid>/environment-variables",
		name:    "a deployment's environment-variables",
		routes:  map[string]string{"/apps/v3/deployments/" + finishedDeplID + "/environment-variables?": "deployment-environment-variables.json"},
		call: func(ctx context.Context, c *Client) (any, error) {
			return c.GetDeploymentEnvironmentVariables(ctx, finishedDeplID)
		},
		want: &DeploymentEnvironmentVariables{Environment: liveEnvID, Variables: map[string]string{
			"DEFAULT_DATABASE_DSN": "postgres://u:p@db.internal:5432/shop",
			"DATABASE_URL":         "postgres://u:p@db.internal:5432/shop",
			"DEFAULT_STORAGE_DSN":  "s3://key:secret@bucket.s3.amazonaws.com/?auth=s3v4",
			"STAGE":                "live",
		}},
	}, {
		request: "GET /apps/v3/deployments/<uuid>/logs",
		name:    "a deployment's logs",
		routes:  map[string]string{"/apps/v3/deployments/" + finishedDeplID + "/logs?": "deployment-logs.json"},
		call:    func(ctx context.Context, c *Client) (any, error) { return c.GetDeploymentLogs(ctx, finishedDeplID) },
		want: &DeploymentLogs{
			UUID: finishedDeplID,
			Logs: "Step 1/9 : FROM python:3.11\n ---> 1c0d1e2f3a4b\nSuccessfully built 9f8e7d6c5b4a\n",
		},
	}, {
		request: "GET /apps/v3/environment-variables/?environment=<uuid>&application=<uuid>&name=<NAME>",
		name:    "environment variables filtered by environment, application and name",
		routes:  map[string]string{"/apps/v3/environment-variables/?application=" + appID + "&environment=" + liveEnvID + "&name=DATABASE_URL&page_size=100": "environment-variables-filtered.json"},
		call: func(ctx context.Context, c *Client) (any, error) {
			return c.FindEnvironmentVariables(ctx, EnvironmentVariableFilter{Environment: liveEnvID, Application: appID, Name: "DATABASE_URL"})
		},
		want: []EnvironmentVariable{{Name: "DATABASE_URL", Value: "postgres://u:p@db.internal:5432/shop", IsSensitive: true, Environment: liveEnvID}},
	}, {
		request: "GET /iam/v3/organisations/",
		name:    "a page of organisations",
		routes:  map[string]string{"/iam/v3/organisations/?page_size=100": "organisations.json"},
		call:    func(ctx context.Context, c *Client) (any, error) { return c.ListOrganisations(ctx) },
		want: []Organisation{
			{UUID: orgID, Name: "Shop Ltd", CreatedAt: *at("2021-03-04T05:06:07.891011Z")},
			{UUID: "p2gx6v7ldrbrbmt3ahjkvf4x5m", Name: "Ada Lovelace", CreatedAt: *at("2020-01-01T00:00:00Z")},
		},
	}, {
		request: "GET /iam/v3/organisations/<uuid>/",
		name:    "one organisation",
		routes:  map[string]string{"/iam/v3/organisations/" + orgID + "/?": "organisation.json"},
		call:    func(ctx context.Context, c *Client) (any, error) { return c.GetOrganisation(ctx, orgID) },
		want:    &Organisation{UUID: orgID, Name: "Shop Ltd", CreatedAt: *at("2021-03-04T05:06:07.891011Z")},
	}, {
		request: "GET /apps/v3/service-instance-backups/<uuid>/",
		name:    "a service-instance backup as the Divio documentation shows one: errors is a list",
		routes:  map[string]string{"/apps/v3/service-instance-backups/" + partID + "/?": "service-instance-backup.json"},
		call: func(ctx context.Context, c *Client) (any, error) {
			return c.GetServiceInstanceBackup(ctx, partID)
		},
		want: &ServiceInstanceBackup{
			UUID: partID, Backup: backupID, ServiceInstance: instanceID, ServiceType: TypeDatabase,
			QueuedAt: at("2024-05-03T09:00:00.1Z"), StartedAt: at("2024-05-03T09:00:01.2Z"), TakenAt: at("2024-05-03T09:00:02Z"),
			EndedAt: at("2024-05-03T09:00:09.3Z"), Size: ptr(int64(5242880)),
		},
	}, {
		request: "GET /apps/v3/service-instance-backups/<uuid>/",
		name:    "a failed service-instance backup: its errors, and the prefix it was taken under",
		routes:  map[string]string{"/apps/v3/service-instance-backups/z7cm4xq2wnbd6kfh3vyrtpa5le/?": "service-instance-backup-failed.json"},
		call: func(ctx context.Context, c *Client) (any, error) {
			return c.GetServiceInstanceBackup(ctx, "z7cm4xq2wnbd6kfh3vyrtpa5le")
		},
		want: &ServiceInstanceBackup{
			UUID: "z7cm4xq2wnbd6kfh3vyrtpa5le", Backup: scheduledBackupID, ServiceInstance: instanceID, ServiceType: TypeDatabase,
			QueuedAt: at("2024-05-03T02:00:00Z"), StartedAt: at("2024-05-03T02:00:01Z"), EndedAt: at("2024-05-03T02:00:03Z"),
			Errors: "pg_dump: error: connection to server failed", Prefix: DefaultPrefix,
		},
	}, {
		request: "POST /apps/v3/backups/",
		name:    "a backup asked for: 201, the backup, pending",
		routes:  map[string]string{"POST /apps/v3/backups/?": "backup-created.json"},
		call: func(ctx context.Context, c *Client) (any, error) {
			return c.CreateBackup(ctx, CreateBackupRequest{Environment: liveEnvID, Services: []string{instanceID}, Notes: "before the upgrade",
				ScheduledForDeletionAt: time.Date(2024, 6, 2, 9, 0, 0, 0, time.UTC)})
		},
		want: func() *Backup {
			b := completedBackup
			b.State, b.Success = BackupStatePending, nil
			return &b
		}(),
		wantBodies: []string{`{"environment":"` + liveEnvID + `","services":["` + instanceID + `"],"trigger":"MANUAL",` +
			`"notes":"before the upgrade","scheduled_for_deletion_at":"2024-06-02T09:00:00.000000Z"}`},
	}, {
		request: "GET /apps/v3/backups/<uuid>/",
		name:    "a completed backup",
		routes:  map[string]string{"/apps/v3/backups/" + backupID + "/?": "backup-completed.json"},
		call:    func(ctx context.Context, c *Client) (any, error) { return c.GetBackup(ctx, backupID) },
		want:    &completedBackup,
	}, {
		request: "GET /apps/v3/backups/?environment=<uuid>",
		name:    "an environment's backups, newest first: one on demand, one the platform's own",
		routes:  map[string]string{"/apps/v3/backups/?environment=" + liveEnvID + "&page_size=100": "backups-of-environment.json"},
		call:    func(ctx context.Context, c *Client) (any, error) { return c.ListBackups(ctx, liveEnvID) },
		want: []Backup{completedBackup, {
			UUID: scheduledBackupID, Environment: liveEnvID, State: BackupStateCompleted, Success: ptr(BackupFailure),
			ServiceInstanceBackups: []string{"z7cm4xq2wnbd6kfh3vyrtpa5le"}, CreatedAt: at("2024-05-03T02:00:00Z"), Trigger: BackupTriggerScheduled,
		}},
	}, {
		request: "POST /apps/v3/backup-restores/, then GET /apps/v3/backup-restores/<uuid>/",
		name:    "a restore into another instance: the POST answers its uuid only, GET follows it",
		routes: map[string]string{
			"POST /apps/v3/backup-restores/?":                       "backup-restore-created.json",
			"/apps/v3/backup-restores/r5nq2xw7kbdhz3cmfy6ptav4je/?": "backup-restore-finished.json",
		},
		call: func(ctx context.Context, c *Client) (any, error) {
			started, err := c.CreateRestore(ctx, CreateRestoreRequest{Backup: backupID, ServiceInstanceBackups: []string{partID},
				Targets: map[string]string{partID: "n4vbq7xk2mdhw3cz5tyfrpa6le"}})
			if err != nil {
				return nil, err
			}
			return c.WaitForRestore(ctx, started.UUID)
		},
		want: &Restore{UUID: "r5nq2xw7kbdhz3cmfy6ptav4je", Backup: backupID, Finished: true, Success: ptr(BackupSuccess)},
		wantBodies: []string{`{"backup":"` + backupID + `","service_instance_restores":[{"service_instance_backup":"` + partID +
			`","service_instance":"n4vbq7xk2mdhw3cz5tyfrpa6le"}]}`},
	}, {
		request: "GET /iam/v3/me/",
		name:    "me: the token's user",
		routes:  map[string]string{"/iam/v3/me/?": "me.json"},
		call:    func(ctx context.Context, c *Client) (any, error) { return c.CurrentUser(ctx) },
		want:    &User{UUID: "u3w2qkqkjbc6zg5xr7t4bq2yje", Email: "ada@example.com", FirstName: "Ada", LastName: "Lovelace"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Log(tc.request)
			server := newFixtureServer(t, tc.routes)
			got, err := tc.call(context.Background(), newClientFor(t, server.URL, "fixture-token"))
			if err != nil {
				t.Fatalf("%v (requests: %q)", err, server.sent())
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("decoded\n%s\nwant\n%s", asJSON(got), asJSON(tc.want))
			}
			if sent := server.sent(); len(sent) != len(tc.routes) {
				t.Errorf("sent %q, want one request for each of %d routes", sent, len(tc.routes))
			}
			if bodies := server.sentBodies(); tc.wantBodies != nil && !reflect.DeepEqual(bodies, tc.wantBodies) {
				t.Errorf("sent the bodies %q, want %q", bodies, tc.wantBodies)
			}
		})
	}
}

func asJSON(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func TestLastFinishedDeploymentID(t *testing.T) {
	deployed := Environment{LastFinishedDeployment: &finishedDeployment}
	if id := deployed.LastFinishedDeploymentID(); id == nil || *id != finishedDeplID {
		t.Errorf("deployed: LastFinishedDeploymentID() = %v, want %s", id, finishedDeplID)
	}
	var never Environment
	if id := never.LastFinishedDeploymentID(); id != nil {
		t.Errorf("never deployed: LastFinishedDeploymentID() = %q, want nil", *id)
	}
}

// The fields whose type the contract leaves open decode in every form the evidence allows, and a
// deployment is judged from ended_at and success alone, as the contract asks: ended once ended_at
// is set, failed when it ended without success true, whatever its status says.
func TestDecodesOpenShapes(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		body                 string
		finished, failed     bool
		variables, errorText string
	}{
		{name: "running, success false as a boolean field's default", body: `{"status": "working", "success": false, "ended_at": null}`},
		{name: "running, success null", body: `{"status": "working", "success": null, "ended_at": null}`},
		{name: "running, though its status says done", body: `{"status": "done", "success": true, "ended_at": null}`},
		{name: "done", body: `{"status": "done", "success": true, "ended_at": "2024-05-03T09:00:00Z"}`, finished: true},
		{name: "ended, success false", body: `{"status": "failed", "success": false, "ended_at": "2024-05-03T09:00:00Z"}`, finished: true, failed: true},
		{name: "ended, success false whatever the status says", body: `{"status": "done", "success": false, "ended_at": "2024-05-03T09:00:00Z"}`, finished: true, failed: true},
		{name: "ended, success true whatever the status says", body: `{"status": "FAILURE", "success": true, "ended_at": "2024-05-03T09:00:00Z"}`, finished: true},
		{name: "ended, success null: not known to have succeeded", body: `{"status": "done", "success": null, "ended_at": "2024-05-03T09:00:00Z"}`, finished: true, failed: true},
		{name: "ended, success spelled out", body: `{"status": "success", "success": "SUCCESS", "ended_at": "2024-05-03T09:00:00Z"}`, finished: true},
		{name: "ended, failure spelled out", body: `{"status": "", "success": "FAILURE", "ended_at": "2024-05-03T09:00:00Z"}`, finished: true, failed: true},
		{name: "variables as a list", body: `{"environment_variables": ["B_DSN", "A_DSN"]}`, variables: "B_DSN A_DSN"},
		{name: "variables as an object", body: `{"environment_variables": {"B_DSN": "x", "A_DSN": "y"}}`, variables: "A_DSN B_DSN"},
		{name: "variables null", body: `{"environment_variables": null}`},
		{name: "errors as text", body: `{"errors": "disk full"}`, errorText: "disk full"},
		{name: "errors as a list", body: `{"errors": ["disk full", {"code": "E1"}]}`, errorText: `disk full; {"code": "E1"}`},
		{name: "errors null", body: `{"errors": null}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d Deployment
			if err := json.Unmarshal([]byte(tc.body), &d); err != nil {
				t.Fatal(err)
			}
			var part ServiceInstanceBackup
			if err := json.Unmarshal([]byte(tc.body), &part); err != nil {
				t.Fatal(err)
			}
			if d.Finished() != tc.finished || d.Failed() != tc.failed {
				t.Errorf("finished %v, failed %v; want %v, %v", d.Finished(), d.Failed(), tc.finished, tc.failed)
			}
			if got := strings.Join(d.EnvironmentVariables, " "); got != tc.variables {
				t.Errorf("variables %q, want %q", got, tc.variables)
			}
			if string(part.Errors) != tc.errorText {
				t.Errorf("errors %q, want %q", part.Errors, tc.errorText)
			}
		})
	}
	var d Deployment
	if err := json.Unmarshal([]byte(`{"success": 3}`), &d); err == nil {
		t.Errorf("success 3 decoded as %v, want an error", *d.Success)
	}
}
