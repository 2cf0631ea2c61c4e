package provider

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/divio/terraform-provider-divio/internal/divio"
	"github.com/divio/terraform-provider-divio/internal/simulator"
)

// testAccProtoV6ProviderFactories serves the provider in-process to the terraform binary that
// terraform-plugin-testing runs.
var testAccProtoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"divio": providerserver.NewProtocol6WithError(testProvider()),
}

// testProvider polls and gathers quickly against the simulator, which has no delays in tests;
// against the real API it keeps the release defaults.
func testProvider() *DivioProvider {
	p := &DivioProvider{version: "test"}
	if !useRealAPI() {
		p.poll = divio.PollConfig{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond, Factor: 1.5}
		p.retryWaitMin = time.Millisecond
		p.gatherWindow = 20 * time.Millisecond
	}
	return p
}

func useRealAPI() bool {
	return os.Getenv(envEndpoint) != "" && os.Getenv(envToken) != ""
}

// testEnv is where an acceptance test runs: the real Divio API when DIVIO_API_URL and
// DIVIO_API_TOKEN are set, otherwise a simulator of its own, in-process, with no delays, so that
// tests can run in parallel without seeing each other's services.
type testEnv struct {
	URL   string
	Token string
	// Sim is nil against the real API.
	Sim *simulator.Simulator
	// t is the test the environment serves: its instances' prefixes carry its tag against the
	// real API (testEnv.prefix).
	t *testing.T
}

func newTestEnv(t *testing.T, opts ...func(*simulator.Options)) *testEnv {
	t.Helper()
	if useRealAPI() {
		e := &testEnv{URL: os.Getenv(envEndpoint), Token: os.Getenv(envToken), t: t}
		t.Cleanup(e.deleteOwnBackups)
		return e
	}
	return newSimulatorEnv(t, opts...)
}

// newSimulatorEnv serves a simulator of the test's own, also when the suite runs against the
// real API: for tests of what runs against any API, such as the sweepers.
func newSimulatorEnv(t *testing.T, opts ...func(*simulator.Options)) *testEnv {
	t.Helper()
	o := simulator.Options{}
	for _, opt := range opts {
		opt(&o)
	}
	sim, url := serveSimulator(t, o, nil)
	return &testEnv{URL: url, Token: simulator.DemoToken, Sim: sim, t: t}
}

// requireSim returns the simulator, or skips, against the real API, a test that needs a simulator
// of its own: its admin API (a forced state, an injected fault, a stall or its clock), or an
// environment that no one else deploys meanwhile (an instance left marked, an exact count of
// deployments), or what only the demo data holds (DEFAULT, legacy-app). The tests that run
// against the real API read what they check through it (realapi_ids_test.go).
func (e *testEnv) requireSim(t *testing.T) *simulator.Simulator {
	t.Helper()
	if e.Sim == nil {
		t.Skip("needs a simulator of its own (its admin API, faults or clock, or an environment no one else deploys); skipped against the real Divio API")
	}
	return e.Sim
}

// config prefixes a test configuration with the provider block for this environment. Against
// the real API the token comes from DIVIO_API_TOKEN, so that it is never written into a config.
func (e *testEnv) config(body string) string {
	if e.Sim == nil {
		if strings.TrimSpace(body) == "" {
			return "# nothing: every resource of the test is removed\n" // a step needs a config
		}
		return body
	}
	return fmt.Sprintf("provider \"divio\" {\n  endpoint  = %q\n  api_token = %q\n}\n\n%s", e.URL, e.Token, body)
}

// client is an API client of the test's simulator, for set-up and for reading what tests expect.
func (e *testEnv) client(t *testing.T) *divio.Client {
	t.Helper()
	p := testProvider() // polled and retried as quickly as the provider under test
	c, err := divio.New(divio.Config{Endpoint: e.URL, Token: e.Token, Poll: p.poll, RetryWaitMin: p.retryWaitMin})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// addTestInstance adds an instance and, if provision, waits until it is functional. Its prefix is
// testPrefixOf(t, prefix), so that on a real account the sweepers know it for a test's, and the
// test knows it for its own.
func addTestInstance(t *testing.T, client *divio.Client, envID, identifier, prefix string, provision bool) *divio.ServiceInstance {
	t.Helper()
	ctx := context.Background()
	prefix = testPrefixOf(t, prefix)
	inst, err := client.CreateServiceInstance(ctx, divio.CreateServiceInstanceRequest{
		Environment: envID, Service: testServiceID(t, identifier), Prefix: prefix,
	})
	if err != nil {
		t.Fatalf("creating %s %s: %v", identifier, prefix, err)
	}
	if !provision {
		return inst
	}
	if err := client.ProvisionServiceInstance(ctx, inst.UUID); err != nil {
		t.Fatal(err)
	}
	inst, err = client.WaitForInstance(ctx, inst.UUID, "be provisioned", (*divio.ServiceInstance).Functional)
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// errorText matches the parts of a message in order, each of which Terraform may have wrapped
// over several lines: between two words it allows only white space. That serves resources and
// data sources alike: terraform-plugin-testing, like the tests' own CLI runs, calls Terraform with
// -no-color, which prints a diagnostic plain, without the │ ruler of its boxed form (Terraform
// 1.5.7, 1.11 and 1.14, OpenTofu 1.12).
func errorText(parts ...string) *regexp.Regexp {
	quoted := make([]string, len(parts))
	for i, part := range parts {
		words := strings.Fields(part)
		for j, w := range words {
			words[j] = regexp.QuoteMeta(w)
		}
		quoted[i] = strings.Join(words, `\s+`)
	}
	return regexp.MustCompile(strings.Join(quoted, `[\s\S]*`))
}

// skipOnOpenTofu skips a test on OpenTofu, for a feature it lacks (reason says which), so that a
// test of a Terraform-only feature says both of its conditions in one line:
//
//	TerraformVersionChecks: []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_14_0), skipOnOpenTofu("no list resources")},
//
// The version checks alone cannot tell: OpenTofu reports its own version numbers.
func skipOnOpenTofu(reason string) tfversion.TerraformVersionCheck {
	return openTofuCheck{reason: reason}
}

type openTofuCheck struct{ reason string }

func (c openTofuCheck) CheckTerraformVersion(_ context.Context, req tfversion.CheckTerraformVersionRequest, resp *tfversion.CheckTerraformVersionResponse) {
	if testCLIIsOpenTofu() {
		resp.Skip = fmt.Sprintf("OpenTofu %s: %s", req.TerraformVersion, c.reason)
	}
}

// testCLIIsOpenTofu asks, once, the binary that terraform-plugin-testing runs: the one named by
// TF_ACC_TERRAFORM_PATH, else terraform on PATH.
var testCLIIsOpenTofu = sync.OnceValue(func() bool {
	path := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if path == "" {
		path = "terraform"
	}
	return cliIsOpenTofu(path)
})

// cliIsOpenTofu tells from `version`, which prints "OpenTofu v1.12.6" or "Terraform v1.11.4"
// (OpenTofu after any warning about its CLI configuration, also on stdout). A binary that does
// not answer is taken for Terraform: the test then fails on running it.
func cliIsOpenTofu(path string) bool {
	out, err := exec.Command(path, "version").Output()
	return err == nil && openTofuVersionLine.Match(out)
}

var openTofuVersionLine = regexp.MustCompile(`(?m)^OpenTofu v\d`)

func TestCLIIsOpenTofu(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, script string
		want         bool
	}{
		{"OpenTofu", "printf 'OpenTofu v1.12.6\\non linux_amd64\\n'", true},
		{"OpenTofu after a warning", "printf '\\nWarning: Unable to open CLI configuration file\\n\\nOpenTofu v1.12.6\\non linux_amd64\\n'", true},
		{"Terraform", "printf 'Terraform v1.11.4\\non linux_amd64\\n'", false},
		{"a binary that fails", "echo 'OpenTofu v1.12.6'; exit 1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			if err := os.WriteFile(path, []byte("#!/bin/sh\n"+tc.script+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			if got := cliIsOpenTofu(path); got != tc.want {
				t.Errorf("cliIsOpenTofu = %v, want %v", got, tc.want)
			}
		})
	}
	if cliIsOpenTofu(filepath.Join(dir, "missing")) {
		t.Error("a missing binary is taken for OpenTofu")
	}
}

// TestSkipOnOpenTofu replaces the answer about the CLI; it does not run in parallel, so no other
// test sees the replacement.
func TestSkipOnOpenTofu(t *testing.T) {
	asked := testCLIIsOpenTofu
	t.Cleanup(func() { testCLIIsOpenTofu = asked })
	for _, tc := range []struct {
		openTofu bool
		wantSkip string
	}{
		{true, "OpenTofu 1.12.0: no list resources"},
		{false, ""},
	} {
		testCLIIsOpenTofu = func() bool { return tc.openTofu }
		var resp tfversion.CheckTerraformVersionResponse
		skipOnOpenTofu("no list resources").CheckTerraformVersion(context.Background(),
			tfversion.CheckTerraformVersionRequest{TerraformVersion: tfversion.Version1_12_0}, &resp)
		if resp.Skip != tc.wantSkip || resp.Error != nil {
			t.Errorf("on OpenTofu: %v: skip %q (error %v), want %q", tc.openTofu, resp.Skip, resp.Error, tc.wantSkip)
		}
	}
}
