package provider

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/divio/terraform-provider-divio/internal/divio"
	"github.com/divio/terraform-provider-divio/internal/simulator"
)

// TestAccSecretsNeverLeak runs a whole stack (data sources, services provisioned and attached,
// credentials handed to another provider, outputs, an error, destroy) with every log at TRACE, and
// fails if the API token or any environment variable value shows up in a log line of Terraform or
// of the provider, or in the state.
//
// Both logs go to one file: terraform-plugin-testing points Terraform's own log at
// TF_ACC_LOG_PATH, and the in-process providers' tflog sink (tfsdklog's test sink, registered for
// each provider server it starts) appends to the same file.
//
// It sets environment variables, so it cannot run in parallel; Go runs it while the parallel
// tests wait.
func TestAccSecretsNeverLeak(t *testing.T) {
	token := "leak-canary-" + randomHex(t)
	env := newTestEnv(t, func(o *simulator.Options) { o.Tokens = []string{token} })
	if env.Sim != nil {
		env.Token = token
	} else {
		token = env.Token // the real API's: the one secret that must never leak there
	}

	logPath := filepath.Join(t.TempDir(), "terraform-and-provider.log")
	for name, value := range map[string]string{
		"TF_ACC_LOG_PATH":      logPath, // Terraform's log and the providers' test sink
		"TF_ACC_LOG":           "TRACE", // Terraform's level
		"TF_LOG":               "TRACE", // the providers' sink level
		"TF_LOG_SDK":           "TRACE",
		"TF_LOG_SDK_PROTO":     "TRACE",
		"TF_LOG_SDK_FRAMEWORK": "TRACE",
	} {
		t.Setenv(name, value)
	}

	client := env.client(t)
	envID := env.demoTest()
	stack := leakStack(env)
	// The values exist only once the services are provisioned: read them after the apply, before
	// the destroy removes them.
	var secrets []string
	collectSecrets := func() []string {
		secrets = append([]string{token}, slices.Collect(maps.Values(envValues(t, client, envID)))...)
		return secrets
	}

	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   ephemeralResourcesSupported,
		ProtoV6ProviderFactories: testAccEchoProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: env.config(stack),
				ConfigStateChecks: []statecheck.StateCheck{
					echoHoldsTheCredentials(t, client, envID, env.prefix("DEFAULT")),
					statecheck.ExpectKnownValue("divio_service_attachment.db", tfjsonpath.New("status"), knownvalue.StringExact(divio.StatusAttached)),
					stateHoldsNone(collectSecrets),
				},
			},
			{
				// Error paths log and report too.
				Config: env.config(stack + `
ephemeral "divio_service_credentials" "missing" {
  service_id = "no-such-instance"
}
`),
				ExpectError: regexp.MustCompile(`Service instance not found`),
			},
		},
		CheckDestroy: func(*terraform.State) error {
			live, err := env.ownInstances(envID)
			if err != nil {
				return err
			}
			if len(live) > 0 {
				return fmt.Errorf("destroy left %d instances: %+v", len(live), live)
			}
			return logHoldsNone(logPath, secrets)
		},
	})
}

const leakStackConfig = `
data "divio_application" "app" {
  slug = "demo-app"
}

data "divio_environment" "test" {
  application_id = data.divio_application.app.id
  slug           = "test"
}

data "divio_region" "app" {
  name = "aws-eu-central-1"
}

resource "divio_service" "db" {
  environment_id = data.divio_environment.test.id
  service        = "postgres-15"
}

# Provisioned, not attached: added after the deployment that attaches db, which would attach it too.
resource "divio_service" "media" {
  environment_id = data.divio_environment.test.id
  service        = "s3"
  prefix         = "MEDIA"
  depends_on     = [divio_service_attachment.db]
}

resource "divio_service_attachment" "db" {
  service_id = divio_service.db.id
}

ephemeral "divio_service_credentials" "db" {
  service_id = divio_service.db.id
}

# Only the names and a hash go to the state: enough to check that the values came through.
provider "echo" {
  data = {
    names      = keys(ephemeral.divio_service_credentials.db.variables)
    dsn_sha256 = sha256(ephemeral.divio_service_credentials.db.variables["DEFAULT_DATABASE_DSN"])
  }
}

resource "echo" "credentials" {}

output "db_env_var_names" {
  value = divio_service.db.env_var_names
}

output "db_deployment" {
  value = divio_service_attachment.db.deployment_id
}

output "media_status" {
  value = divio_service.media.status
}

output "region_vendor" {
  value = data.divio_region.app.vendor
}
`

// leakStack is leakStackConfig with the test's prefixes (testEnv.prefix), which against a
// simulator of the test's own are DEFAULT and MEDIA themselves.
func leakStack(env *testEnv) string {
	db := env.prefix("DEFAULT")
	if db == "DEFAULT" {
		return leakStackConfig
	}
	return strings.NewReplacer(
		`service        = "postgres-15"`, `service        = "postgres-15"`+"\n  prefix         = "+strconv.Quote(db),
		`prefix         = "MEDIA"`, `prefix         = `+strconv.Quote(env.prefix("MEDIA")),
		`["DEFAULT_DATABASE_DSN"]`, `[`+strconv.Quote(db+"_DATABASE_DSN")+`]`,
	).Replace(leakStackConfig)
}

// echoHoldsTheCredentials checks that the variables of the database with prefix went through to
// echo (the test would prove nothing if they never left the API) and are the API's.
func echoHoldsTheCredentials(t *testing.T, client *divio.Client, envID, prefix string) statecheck.StateCheck {
	return stateCheckFunc(func(state *tfjson.State) error {
		dsnName := prefix + "_DATABASE_DSN"
		dsn := envValues(t, client, envID, dsnName)[dsnName]
		names := []any{dsnName}
		if prefix == "DEFAULT" {
			names = []any{"DATABASE_URL", dsnName}
		}
		want := map[string]any{
			"names":      names,
			"dsn_sha256": fmt.Sprintf("%x", sha256.Sum256([]byte(dsn))),
		}
		for _, res := range allResources(state.Values.RootModule) {
			if res.Type == "echo" {
				// Not printed: on failure it may hold the very secrets.
				if got := res.AttributeValues["data"]; !reflect.DeepEqual(got, want) {
					return fmt.Errorf("echo does not hold the database's variable names and the hash of its DSN (%v)", want)
				}
				return nil
			}
		}
		return fmt.Errorf("no echo resource in the state")
	})
}

// logHoldsNone fails if a secret is in the log, or if the log lacks the lines of Terraform (or
// OpenTofu) or of the provider: a check of a log that captured nothing could not fail.
func logHoldsNone(logPath string, secrets []string) error {
	raw, err := os.ReadFile(logPath)
	if err != nil {
		return fmt.Errorf("reading the captured log: %w", err)
	}
	return textHoldsNone(withoutTestConfigurations(string(raw)), secrets)
}

// cliVersionLine begins the log of the CLI that ran the test: Terraform logs "Terraform
// version: 1.11.4", OpenTofu "OpenTofu version: 1.12.6".
var cliVersionLine = regexp.MustCompile(`(Terraform|OpenTofu) version: `)

func textHoldsNone(log string, secrets []string) error {
	if !cliVersionLine.MatchString(log) {
		return fmt.Errorf("the captured log (%d bytes) has no line that matches %q: the capture is broken", len(log), cliVersionLine)
	}
	for _, marker := range []string{"Divio API request", "divio_service_credentials"} {
		if !strings.Contains(log, marker) {
			return fmt.Errorf("the captured log (%d bytes) has no line with %q: the capture is broken", len(log), marker)
		}
	}
	if len(secrets) < 3 {
		return fmt.Errorf("only %d secrets to look for: the token and at least two variable values expected", len(secrets))
	}
	for _, secret := range secrets {
		if i := strings.Index(log, secret); secret != "" && i >= 0 {
			line := log[strings.LastIndex(log[:i], "\n")+1 : i]
			return fmt.Errorf("a secret (%d characters) is in the log, after: %q", len(secret), line)
		}
	}
	return nil
}

// logEntryStart matches the timestamp that begins each log entry; an entry's fields may go on
// over further lines.
var logEntryStart = regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT`)

// withoutTestConfigurations drops the entries in which terraform-plugin-testing logs the
// configuration it writes for each step: the test's own input, which holds the token because a
// user may write it into the provider block. Every other entry, the harness's included, stays.
func withoutTestConfigurations(log string) string {
	starts := logEntryStart.FindAllStringIndex(log, -1)
	var kept strings.Builder
	kept.WriteString(log[:firstOr(starts, len(log))])
	for i, start := range starts {
		end := len(log)
		if i+1 < len(starts) {
			end = starts[i+1][0]
		}
		entry := log[start[0]:end]
		if !strings.Contains(entry, "sdk.helper_resource: Setting Terraform configuration:") {
			kept.WriteString(entry)
		}
	}
	return kept.String()
}

func firstOr(starts [][]int, none int) int {
	if len(starts) == 0 {
		return none
	}
	return starts[0][0]
}

func randomHex(t *testing.T) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestTextHoldsNone checks the leak check itself on the logs of both CLIs: that it recognises
// each one's log, finds a secret in either, and refuses a log without a CLI's lines.
func TestTextHoldsNone(t *testing.T) {
	const provider = "2026-11-24T05:45:58.600Z [DEBUG] provider: Divio API request: method=GET\n" +
		"2026-11-24T05:45:58.601Z [TRACE] provider: ephemeral divio_service_credentials opened\n"
	terraformLog := "2026-11-24T05:45:58.557Z [INFO]  Terraform version: 1.14.9\n" + provider
	openTofuLog := "2026-11-24T05:45:58.514Z [INFO]  OpenTofu version: 1.12.6\n" + provider
	secrets := []string{"the-token", "postgres://user:pw@db/x", "s3://key:secret@bucket"}
	leak := "2026-11-24T05:45:58.602Z [DEBUG] provider: header Authorization=Token the-token\n"

	for _, tc := range []struct {
		name, log, wantErr string
	}{
		{"Terraform's log", terraformLog, ""},
		{"OpenTofu's log", openTofuLog, ""},
		{"a leak in Terraform's log", terraformLog + leak, `a secret (9 characters) is in the log, after: "2026-11-24T05:45:58.602Z [DEBUG] provider: header Authorization=Token "`},
		{"a leak in OpenTofu's log", openTofuLog + leak, `a secret (9 characters) is in the log, after: "2026-11-24T05:45:58.602Z [DEBUG] provider: header Authorization=Token "`},
		{"no CLI's lines", "2026-11-24T05:45:58.514Z [INFO]  Go runtime version: go1.26.8\n" + provider, "has no line that matches"},
		{"no provider's lines", terraformLog[:strings.Index(terraformLog, "\n")+1], `has no line with "Divio API request"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := textHoldsNone(tc.log, secrets)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("want no error, got %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("want an error with %q, got %v", tc.wantErr, err)
			}
		})
	}
}
