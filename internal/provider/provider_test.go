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
