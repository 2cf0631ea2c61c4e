package provider

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestDestroys(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		want bool
	}{
		{args: []string{"terraform", "destroy"}, want: true},
		{args: []string{"/usr/bin/terraform", "-chdir=live", "destroy", "-auto-approve"}, want: true},
		{args: []string{"tofu", "destroy", "-target=divio_service.db"}, want: true},
		{args: []string{"terraform", "apply", "-destroy"}, want: true},
		{args: []string{"terraform", "apply", "-destroy=true", "-auto-approve"}, want: true},
		{args: []string{"terraform", "plan", "--destroy", "-out=plan"}, want: true},
		{args: []string{"terraform", "apply", "-destroy=false"}, want: false},
		{args: []string{"terraform", "apply"}, want: false},
		{args: []string{"terraform", "plan", "-out=destroy"}, want: false},
		{args: []string{"terraform", "apply", "destroy.tfplan"}, want: false}, // a saved plan: no refresh plan runs
		{args: []string{"terraform", "import", "divio_service.destroy", "id"}, want: false},
		{args: []string{"terraform", "plan"}, env: map[string]string{"TF_CLI_ARGS_plan": "-destroy -no-color"}, want: true},
		{args: []string{"terraform", "apply"}, env: map[string]string{"TF_CLI_ARGS": "-destroy"}, want: true},
		{args: []string{"terraform", "apply"}, env: map[string]string{"TF_CLI_ARGS_plan": "-destroy"}, want: false},
		{args: []string{"go", "test", "./..."}, want: false},
		{args: []string{"terraform"}, want: false},
		{args: nil, want: false},
	}
	for _, tt := range tests {
		got := destroys(tt.args, func(name string) string { return tt.env[name] })
		if got != tt.want {
			t.Errorf("destroys(%q, %v) = %v, want %v", tt.args, tt.env, got, tt.want)
		}
	}
}

// The command line read is the parent's: a child started by this test reads this process's own.
func TestParentCommandLine(t *testing.T) {
	if os.Getenv("DIVIO_TEST_PRINT_PARENT_COMMAND_LINE") == "1" {
		fmt.Print(strings.Join(parentCommandLine(), "\x00"))
		os.Exit(0)
	}
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skipf("the parent's command line is not read on %s", runtime.GOOS)
	}
	child := exec.Command(os.Args[0], "-test.run=^TestParentCommandLine$")
	child.Env = append(os.Environ(), "DIVIO_TEST_PRINT_PARENT_COMMAND_LINE=1")
	out, err := child.Output()
	if err != nil {
		t.Fatalf("the child: %v", err)
	}
	if got := strings.Split(string(out), "\x00"); !slices.Equal(got, os.Args) {
		t.Errorf("the child read %q, want this process's %q", got, os.Args)
	}
}
