// Command examplecheck is `make examples-check`: it runs every example under examples/ the way its
// docs say, through the real terraform binary, against a simulator started for it with no delays,
// and a fresh build of the provider through dev_overrides (no registry, no network, no
// `terraform init`). Each example is validated, applied, planned again (the plan must be empty),
// imported again as its import files show, and destroyed, and must leave no service instance
// behind; an example that must fail is checked to fail with its message, and changing nothing.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/divio/terraform-provider-divio/tools/devenv"
)

// expectation is what an example's docs promise beyond "applies, plans empty, destroys".
type expectation struct {
	// planError: the plan must fail with this message, before anything is created.
	planError string
	// protected: the example sets deletion_protection = true, so destroy must be refused; the
	// check then does what the docs say (set it to false and apply) and destroys.
	protected bool
	// importDeploys: importing the example's divio_deployment plans a new deployment, since its
	// triggers live only in the configuration.
	importDeploys bool
	// terraformTest: the folder is a module with a tests/ suite for `terraform test`, run against
	// a divio-simulator process as a user's pipeline starts it.
	terraformTest bool
	// minTerraform: the oldest Terraform (major, minor) the example needs; older ones skip it.
	minTerraform [2]int
	// validateOnly: why the example cannot be applied as written (it needs something only a user
	// has, such as the id of a backup), so that it is only validated.
	validateOnly string
	// change: the edit the example's docs ask for after the first apply (the one-line upgrade of a
	// database), made in its .tf files; then it is applied, and the plan after must be empty.
	change *edit
}

// edit replaces every occurrence of from with to.
type edit struct{ from, to string }

var expectations = map[string]expectation{
	"quickstart-guard":                              {planError: "Service not offered in this region"},
	"resources/divio_service":                       {protected: true},
	"resources/divio_deployment":                    {importDeploys: true},
	"ephemeral-resources/divio_service_credentials": {minTerraform: [2]int{1, 10}},
	"module-testing":                                {terraformTest: true, minTerraform: [2]int{1, 6}},
	"upgrade":                                       {protected: true, change: &edit{`"postgres-15"`, `"postgres-16"`}},
	// Actions are Terraform 1.14's (branch newer-terraform).
	"actions/divio_deploy":    {minTerraform: [2]int{1, 14}},
	"actions/divio_copy_data": {minTerraform: [2]int{1, 14}},
	"actions/divio_restore_backup": {minTerraform: [2]int{1, 14},
		validateOnly: "it restores a backup whose id the user gives, on demand (terraform apply -invoke)"},
}

func main() {
	run := flag.String("run", "", "check only the examples whose folder (relative to examples/) matches this regular expression")
	parallel := flag.Int("parallel", 2, "how many examples to check at once")
	verbose := flag.Bool("v", false, "print what terraform printed for every example, not only for those that fail: its warnings are part of what an example shows")
	flag.Parse()
	filter, err := regexp.Compile(*run)
	if err != nil {
		fmt.Fprintln(os.Stderr, "examplecheck: -run:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	failed, err := checkAll(ctx, filter, max(*parallel, 1), *verbose, os.Stdout)
	stop()
	switch {
	case err != nil:
		fmt.Fprintln(os.Stderr, "examplecheck:", err)
		os.Exit(1)
	case failed > 0:
		fmt.Fprintf(os.Stdout, "\n%d example(s) failed\n", failed)
		os.Exit(1)
	}
}

// checker holds what every example's check shares.
type checker struct {
	root         string // the repository
	work         string // the temporary folder for everything the check makes
	cliConfig    string
	simulatorBin string
	tfVersion    [2]int
}

func checkAll(ctx context.Context, filter *regexp.Regexp, parallel int, verbose bool, out io.Writer) (failed int, err error) {
	root, err := devenv.ModuleRoot(ctx)
	if err != nil {
		return 0, err
	}
	work, err := os.MkdirTemp("", "divio-examples-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(work)
	c, err := newChecker(ctx, root, work)
	if err != nil {
		return 0, err
	}
	examples, err := findExamples(filepath.Join(root, "examples"))
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(out, "terraform %d.%d, provider and divio-simulator built from %s\n", c.tfVersion[0], c.tfVersion[1], root)
	// Not an error, so that an expectation can come before its example on another branch; a
	// renamed example shows anyway, as it then fails its check.
	if unknown := c.unknownExpectations(examples); len(unknown) > 0 {
		fmt.Fprintf(out, "note: expectations for folders that hold no example: %s\n", strings.Join(unknown, ", "))
	}

	var mu sync.Mutex
	slots := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for _, ex := range examples {
		if !filter.MatchString(ex) {
			continue
		}
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			r := c.check(ctx, ex)
			mu.Lock()
			defer mu.Unlock()
			r.print(out, verbose)
			if r.err != nil {
				failed++
			}
		}()
	}
	wg.Wait()
	return failed, ctx.Err()
}

func newChecker(ctx context.Context, root, work string) (*checker, error) {
	binDir := filepath.Join(work, "bin")
	if _, err := devenv.BuildProvider(ctx, root, binDir); err != nil {
		return nil, err
	}
	simulatorBin, err := devenv.Build(ctx, root, "./cmd/divio-simulator", filepath.Join(binDir, "divio-simulator"))
	if err != nil {
		return nil, err
	}
	// Examples without a required_providers block (the per-type snippets of the docs) resolve to
	// hashicorp/divio: both addresses point at the build.
	cliConfig, err := devenv.WriteCLIConfig(work, map[string]string{
		devenv.ProviderAddress:                  binDir,
		"registry.terraform.io/hashicorp/divio": binDir,
	})
	if err != nil {
		return nil, err
	}
	c := &checker{root: root, work: work, cliConfig: cliConfig, simulatorBin: simulatorBin}
	c.tfVersion, err = terraformVersion(ctx, work, cliConfig)
	return c, err
}

// findExamples lists the folders under dir (relative to it) that hold a root module (.tf files
// other than import files), sorted; a module's tests/ folder belongs to its module, and a folder of
// .tfquery.hcl files alone is a fragment for the docs.
func findExamples(dir string) ([]string, error) {
	var found []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".terraform" || d.Name() == "tests") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".tf") || isImportFile(d.Name()) {
			return nil
		}
		rel, err := filepath.Rel(dir, filepath.Dir(path))
		if err == nil && !slices.Contains(found, filepath.ToSlash(rel)) {
			found = append(found, filepath.ToSlash(rel))
		}
		return err
	})
	slices.Sort(found)
	return found, err
}

func (c *checker) unknownExpectations(examples []string) []string {
	var unknown []string
	for name := range expectations {
		if !slices.Contains(examples, name) {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	return unknown
}

// result is one example's outcome, with everything terraform printed for it.
type result struct {
	example string
	steps   []string
	skipped string
	err     error
	log     syncLog
	started time.Time
}

// syncLog is a log that terraform's stdout and stderr, copied by goroutines of their own, can
// share.
type syncLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (r *result) step(name string) { r.steps = append(r.steps, name) }

// print reports the outcome, followed by terraform's output when the example failed or verbose
// asks for it.
func (r *result) print(out io.Writer, verbose bool) {
	elapsed := time.Since(r.started).Round(100 * time.Millisecond)
	switch {
	case r.skipped != "":
		fmt.Fprintf(out, "skipped examples/%s: %s\n", r.example, r.skipped)
		return
	case r.err == nil:
		fmt.Fprintf(out, "ok      examples/%s (%s; %s)\n", r.example, strings.Join(r.steps, ", "), elapsed)
	default:
		fmt.Fprintf(out, "FAILED  examples/%s after %s: %v\n", r.example, strings.Join(r.steps, ", "), r.err)
	}
	if r.err != nil || verbose {
		for line := range strings.Lines(r.log.String()) {
			fmt.Fprint(out, "        ", line)
		}
	}
}

func (c *checker) check(ctx context.Context, example string) *result {
	r := &result{example: example, started: time.Now()}
	want := expectations[example]
	if atLeast(c.tfVersion, want.minTerraform) {
		dir := filepath.Join(c.work, strings.ReplaceAll(example, "/", "_"))
		if want.terraformTest {
			r.err = c.runTests(ctx, example, dir, r)
		} else {
			r.err = c.applyAndDestroy(ctx, example, dir, want, r)
		}
	} else {
		r.skipped = fmt.Sprintf("needs Terraform %d.%d or newer", want.minTerraform[0], want.minTerraform[1])
	}
	return r
}

func atLeast(have, want [2]int) bool {
	return have[0] > want[0] || (have[0] == want[0] && have[1] >= want[1])
}
