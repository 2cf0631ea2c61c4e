package provider

import (
	"os"
	"strings"
	"sync"
)

// destroyRun reports whether the Terraform (or OpenTofu) command that started this provider process
// destroys what it manages: `terraform destroy`, or `plan` or `apply` with -destroy.
//
// Such a command first runs a normal plan, only to refresh the state (hashicorp/terraform#32208):
// each resource is planned as if the configuration were applied, and an error there fails the
// destroy, although what that plan would create, keep or change is thrown away. The protocol does
// not say which walk a plan belongs to, and each walk gets a provider process of its own, so this
// process asks the command that started it: Terraform runs providers as its own child processes
// (go-plugin), with its own environment. The checks that guard what a plan creates, keeps or
// changes are skipped in such a run (see skipsPlanChecks); the checks of what the destroy removes
// run in its own plan, where the planned state is null.
//
// It is safe because nothing is created in a destroy run, and because when the command line cannot
// be read (Windows, a provider served for a debugger or a test, a wrapper that hides it) the answer
// is false: the checks run and behave as in any plan, as before; `-refresh=false` then gets a
// destroy past them.
func destroyRun() bool {
	destroyRunOnce.Do(func() {
		destroyRunAnswer = destroys(parentCommandLine(), os.Getenv)
	})
	return destroyRunAnswer
}

var (
	destroyRunOnce   sync.Once
	destroyRunAnswer bool
)

// destroys reports whether a terraform or tofu command line, with the arguments the TF_CLI_ARGS
// environment variables add, destroys: its subcommand is destroy, or plan or apply with -destroy.
func destroys(args []string, getenv func(string) string) bool {
	if len(args) < 2 {
		return false
	}
	subcommand := ""
	var options []string
	for _, arg := range args[1:] {
		switch {
		case subcommand != "":
			options = append(options, arg)
		case !strings.HasPrefix(arg, "-"): // after global options such as -chdir=dir
			subcommand = arg
		}
	}
	switch subcommand {
	case "destroy":
		return true
	case "plan", "apply":
	default:
		return false
	}
	options = append(options, strings.Fields(getenv("TF_CLI_ARGS"))...)
	options = append(options, strings.Fields(getenv("TF_CLI_ARGS_"+subcommand))...)
	for _, option := range options {
		switch strings.TrimPrefix(option, "-") {
		case "-destroy", "-destroy=true", "destroy", "destroy=true":
			return true
		}
	}
	return false
}
