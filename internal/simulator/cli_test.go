package simulator

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDivioCLICommands replays, request by request, what the Divio CLI
// (divio/divio-cli: cloud.py, cli.py, api_requests.py) sends for the commands
// that once failed against the simulator: the same paths (some without their
// trailing slash), the same query strings (blank filters included), JSON
// bodies, and reads of the fields the CLI reads, which must be there with
// their types.
func TestDivioCLICommands(t *testing.T) {
	app := ApplicationID(LegacyApp)
	tests := []struct {
		command string
		run     func(t *testing.T, c *apiClient, clock *fakeClock)
	}{
		{"divio login", func(t *testing.T, c *apiClient, _ *fakeClock) {
			me := c.get("/iam/v3/me/")
			if me["uuid"] != UserID(DemoUser) || me["email"] != "demo@example.com" || me["first_name"] != "Demo" || me["last_name"] != "User" {
				t.Errorf("me %v", me)
			}
		}},
		{"divio app list", func(t *testing.T, c *apiClient, _ *fakeClock) {
			var orgs []string
			for _, a := range c.get("/apps/v3/applications/")["results"].([]any) {
				org := c.get(fmt.Sprintf("/iam/v3/organisations/%s/", a.(map[string]any)["organisation"]))
				orgs = append(orgs, org["name"].(string))
			}
			if want := []string{DemoOrganisation, DemoOrganisation, LegacyOrganisation}; !slices.Equal(orgs, want) {
				t.Errorf("organisations %v, want %v", orgs, want)
			}
		}},
		{"divio organisations list", func(t *testing.T, c *apiClient, _ *fakeClock) {
			if n := c.get("/iam/v3/organisations/")["count"]; n != 2.0 {
				t.Errorf("count %v", n)
			}
		}},
		{"divio services list -r <region>", func(t *testing.T, c *apiClient, _ *fakeClock) {
			for _, s := range c.get("/apps/v3/services/?region=" + RegionID(RegionExoscaleCHDK2) + "&")["results"].([]any) {
				for _, f := range []string{"uuid", "name", "type", "description"} {
					if _, ok := s.(map[string]any)[f].(string); !ok {
						t.Errorf("service without %s: %v", f, s)
					}
				}
			}
		}},
		{"divio app deploy test", func(t *testing.T, c *apiClient, clock *fakeClock) {
			env := c.cliEnvironment(app, EnvTest)
			current := c.get(fmt.Sprintf("/apps/v3/deployments/?application=%s&environment=%s", app, env["uuid"]))["results"].([]any)[0]
			if d := c.get(fmt.Sprintf("apps/v3/deployments/%s/", current.(map[string]any)["uuid"])); d["ended_at"] == nil {
				t.Fatalf("the seeded deployment is running: %v", d)
			}
			created := c.expect(http.StatusCreated, http.MethodPost, "/apps/v3/deployments/", map[string]any{"environment": env["uuid"]}).object(t)
			var percents []float64
			for d := c.get(fmt.Sprintf("apps/v3/deployments/%s/", created["uuid"])); ; d = c.get(fmt.Sprintf("apps/v3/deployments/%s/", d["uuid"])) {
				percents = append(percents, d["percent"].(float64))
				if d["ended_at"] != nil {
					if d["status"] != DeploymentSuccess {
						t.Errorf("status %v", d["status"])
					}
					break
				}
				clock.Advance(time.Second)
			}
			if want := []float64{0, 33, 66, 100}; !slices.Equal(percents, want) {
				t.Errorf("percents %v, want %v", percents, want)
			}
		}},
		{"divio app deployments list --all-envs", func(t *testing.T, c *apiClient, _ *fakeClock) {
			slugs := c.cliEnvironmentSlugs(app)
			for _, d := range c.get("apps/v3/deployments/?application=" + app)["results"].([]any) {
				row := d.(map[string]any)
				for _, col := range []string{"uuid", "author", "started_at", "ended_at", "status", "success"} {
					if _, ok := row[col]; !ok {
						t.Errorf("no %s in %v", col, row)
					}
				}
				if slugs[row["environment"].(string)] == "" {
					t.Errorf("deployment of an environment not in the application: %v", row)
				}
			}
		}},
		{"divio app deployments get / get-var", func(t *testing.T, c *apiClient, _ *fakeClock) {
			slugs := c.cliEnvironmentSlugs(app)
			id := SeedDeploymentID(LegacyApp, EnvLive)
			d := c.get("apps/v3/deployments/" + id + "/")
			names, _ := d["environment_variables"].([]any)
			if slugs[d["environment"].(string)] != EnvLive || len(names) != 3 {
				t.Errorf("deployment %v", d)
			}
			vars := c.get("apps/v3/deployments/" + id + "/environment-variables")
			value, _ := vars["environment_variables"].(map[string]any)["DATABASE_URL"].(string)
			if slugs[vars["environment"].(string)] != EnvLive || !strings.HasPrefix(value, "postgres://") {
				t.Errorf("environment-variables %v", vars)
			}
		}},
		{"divio app deploy-log test", func(t *testing.T, c *apiClient, _ *fakeClock) {
			env := c.get(fmt.Sprintf("/apps/v3/environments/%s/", c.cliEnvironment(app, EnvTest)["uuid"]))
			id := env["last_finished_deployment"].(map[string]any)["uuid"].(string)
			log := c.get("apps/v3/deployments/" + id + "/logs")
			if log["uuid"] != SeedDeploymentID(LegacyApp, EnvTest) || !strings.Contains(log["logs"].(string), "Deployment succeeded") {
				t.Errorf("log %v", log)
			}
		}},
		{"divio app ssh live", func(t *testing.T, c *apiClient, _ *fakeClock) {
			env := c.cliEnvironment(app, EnvLive)
			if env["last_finished_deployment"] == nil {
				t.Fatal("the CLI offers ssh only once deployed")
			}
			ssh := c.get(fmt.Sprintf("/apps/v3/environments/%s/", env["uuid"]))["ssh_endpoint"].(map[string]any)
			if ssh["port"] != 22.0 || ssh["user"] != "legacy-app-live" || ssh["host"] != "ssh.aws-eu-central-1.sim.divio.local" {
				t.Errorf("ssh_endpoint %v", ssh)
			}
		}},
		{"divio app env-vars get DATABASE_URL", func(t *testing.T, c *apiClient, _ *fakeClock) {
			env := c.cliEnvironment(app, EnvTest)
			results := c.get(fmt.Sprintf("/apps/v3/environment-variables/?environment=%s&name=DATABASE_URL", env["uuid"]))["results"].([]any)
			if len(results) != 1 || results[0].(map[string]any)["name"] != "DATABASE_URL" {
				t.Errorf("results %v", results)
			}
		}},
		{"divio app env-vars list --all-envs", func(t *testing.T, c *apiClient, _ *fakeClock) {
			slugs := c.cliEnvironmentSlugs(app)
			results := c.get("/apps/v3/environment-variables/?application=" + app)["results"].([]any)
			for _, v := range results {
				if slugs[v.(map[string]any)["environment"].(string)] == "" {
					t.Errorf("a variable of another application: %v", v)
				}
			}
			if len(results) != 6 {
				t.Errorf("%d variables, want 6", len(results))
			}
		}},
		{"divio app service-instances add live", func(t *testing.T, c *apiClient, _ *fakeClock) {
			status := c.get("/apps/v3/applications/" + ApplicationID(DemoApp) + "/")["live_status"].(map[string]any)
			in := c.expect(http.StatusCreated, http.MethodPost, "/apps/v3/service-instances/", map[string]any{
				"environment": status["uuid"], "region": RegionID(RegionAWSEUCentral1), "service": ServiceID(ServiceMySQL8), "prefix": "DEFAULT",
			}).object(t)
			if in["environment"] != demoLive || in["service_status"] != StatusNew {
				t.Errorf("instance %v", in)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.command, func(t *testing.T) {
			_, c, clock := testSim(t, Options{DeployDelay: 3 * time.Second})
			tt.run(t, c, clock)
		})
	}
}

// get is a GET that must answer 200 with a JSON object. Like the Divio CLI,
// it takes paths with or without a leading slash.
func (c *apiClient) get(path string) map[string]any {
	c.t.Helper()
	return c.expect(http.StatusOK, http.MethodGet, "/"+strings.TrimPrefix(path, "/"), nil).object(c.t)
}

// cliEnvironment finds an environment the way the Divio CLI does.
func (c *apiClient) cliEnvironment(appID, slug string) map[string]any {
	c.t.Helper()
	return c.get(fmt.Sprintf("/apps/v3/environments/?application=%s&slug=%s", appID, slug))["results"].([]any)[0].(map[string]any)
}

// cliEnvironmentSlugs maps an application's environments to their slugs, as
// the Divio CLI does with a blank slug= before it groups what it lists.
func (c *apiClient) cliEnvironmentSlugs(appID string) map[string]string {
	c.t.Helper()
	slugs := map[string]string{}
	for _, e := range c.get(fmt.Sprintf("/apps/v3/environments/?application=%s&slug=", appID))["results"].([]any) {
		env := e.(map[string]any)
		slugs[env["uuid"].(string)] = env["slug"].(string)
	}
	if len(slugs) != 2 {
		c.t.Fatalf("slug= listed %d environments, want both", len(slugs))
	}
	return slugs
}
