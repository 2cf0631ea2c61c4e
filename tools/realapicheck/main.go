// Command realapicheck is `make testacc-realapi`: the provider's acceptance tests run exactly as
// they run against a real Divio account, with DIVIO_API_URL and DIVIO_API_TOKEN naming it, and no
// admin API. The account is a divio-simulator process built from this tree (demo data, no
// delays, on a free loopback port), which the tests share as they would share an account.
// After the tests it runs `make sweep` against it, stops it, and reads its data file: it fails
// when a test instance (prefix TFACC_) is left not REMOVED, when the tests created an instance
// without that prefix, or when a backup is left. It prints how many tests ran and skipped.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/divio/terraform-provider-divio/internal/divio"
	"github.com/divio/terraform-provider-divio/internal/simulator"
	"github.com/divio/terraform-provider-divio/tools/devenv"
)

// testStem is the acceptance tests' prefix (internal/provider/sweep_test.go).
const testStem = "TFACC_"

func main() {
	parallel := flag.Int("parallel", 2, "go test -parallel: tests that share the account at once")
	timeout := flag.Duration("timeout", 15*time.Minute, "go test -timeout")
	run := flag.String("run", "", "go test -run, to run some tests only")
	flag.Parse()
	if err := check(*parallel, *timeout, *run); err != nil {
		fmt.Fprintln(os.Stderr, "testacc-realapi:", err)
		os.Exit(1)
	}
}

func check(parallel int, timeout time.Duration, run string) error {
	started := time.Now()
	ctx := context.Background()
	root, err := devenv.ModuleRoot(ctx)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "testacc-realapi-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin, err := devenv.Build(ctx, root, "./cmd/divio-simulator", filepath.Join(tmp, "divio-simulator"))
	if err != nil {
		return err
	}
	dataFile := filepath.Join(tmp, "simulator.json")
	proc, url, err := devenv.StartSimulatorProcess(ctx, bin, dataFile, os.Stderr)
	if err != nil {
		return err
	}
	fmt.Printf("==> divio-simulator (demo data, no delays) at %s; the tests see it as a real account\n", url)

	// The account is the simulator's, whatever the environment names (DIVIO_ZONE included).
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return strings.HasPrefix(name, "DIVIO_")
	})
	env = append(env, "TF_ACC=1", "DIVIO_API_URL="+url, "DIVIO_API_TOKEN="+simulator.DemoToken)
	jsonFile := filepath.Join(tmp, "tests.json")
	args := []string{"tool", "gotestsum", "--format", "pkgname", "--jsonfile", jsonFile, "--",
		"-count=1", "-timeout", timeout.String(), "-parallel", fmt.Sprint(parallel)}
	if run != "" {
		args = append(args, "-run", run)
	}
	args = append(args, "./internal/provider")
	fmt.Printf("==> TF_ACC=1 go test ./internal/provider -parallel %d, against it\n", parallel)
	testsStarted := time.Now()
	testErr := command(ctx, root, env, "go", args...).Run()
	testsTook := time.Since(testsStarted)
	counts, countErr := countTests(jsonFile)

	leftByTests, leftErr := leftForTheSweep(ctx, url)
	if leftErr != nil {
		return errors.Join(fmt.Errorf("reading what the tests left: %w", leftErr), devenv.StopSimulatorProcess(proc))
	}
	fmt.Println("==> " + leftByTests)
	fmt.Println("==> make sweep, against it")
	sweepErr := command(ctx, root, env, "make", "--no-print-directory", "sweep").Run()

	stopErr := devenv.StopSimulatorProcess(proc)
	left, leftErr := leftBehind(dataFile)
	fmt.Printf("==> %s in %s\n", counts, testsTook.Round(time.Second))
	fmt.Println("==> " + leftByTests)
	fmt.Println("==> " + left.summary)
	fmt.Printf("==> %s in all\n", time.Since(started).Round(time.Second))
	var errs []error
	if testErr != nil {
		errs = append(errs, fmt.Errorf("the acceptance tests failed: %w", testErr))
	}
	if counts.failed > 0 && testErr == nil {
		errs = append(errs, fmt.Errorf("%d tests failed", counts.failed))
	}
	if sweepErr != nil {
		errs = append(errs, fmt.Errorf("make sweep failed: %w", sweepErr))
	}
	if stopErr != nil {
		errs = append(errs, fmt.Errorf("stopping divio-simulator: %w", stopErr))
	}
	return errors.Join(append(errs, countErr, leftErr, left.err())...)
}

func command(ctx context.Context, dir string, env []string, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd
}

// testCounts counts the tests of gotestsum's JSON file: top-level tests, the acceptance tests
// (TestAcc...) among them, and subtests apart.
type testCounts struct {
	passed, failed, skipped                         int
	accPassed, accFailed, accSkipped                int
	subtestsPassed, subtestsFailed, subtestsSkipped int
}

func (c testCounts) String() string {
	return fmt.Sprintf("%d tests ran (%d passed, %d failed), %d skipped; of them acceptance tests (TestAcc...): %d ran, %d skipped; subtests: %d passed, %d failed, %d skipped",
		c.passed+c.failed, c.passed, c.failed, c.skipped, c.accPassed+c.accFailed, c.accSkipped, c.subtestsPassed, c.subtestsFailed, c.subtestsSkipped)
}

func countTests(jsonFile string) (testCounts, error) {
	var c testCounts
	f, err := os.Open(jsonFile)
	if err != nil {
		return c, fmt.Errorf("reading the tests' results: %w", err)
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		var ev struct{ Action, Test string }
		if json.Unmarshal(lines.Bytes(), &ev) != nil || ev.Test == "" {
			continue
		}
		sub := strings.Contains(ev.Test, "/")
		if strings.HasPrefix(ev.Test, "TestAcc") && !sub {
			switch ev.Action {
			case "pass":
				c.accPassed++
			case "fail":
				c.accFailed++
			case "skip":
				c.accSkipped++
			}
		}
		switch {
		case ev.Action == "pass" && !sub:
			c.passed++
		case ev.Action == "fail" && !sub:
			c.failed++
		case ev.Action == "skip" && !sub:
			c.skipped++
		case ev.Action == "pass":
			c.subtestsPassed++
		case ev.Action == "fail":
			c.subtestsFailed++
		case ev.Action == "skip":
			c.subtestsSkipped++
		}
	}
	return c, lines.Err()
}

// leftover is what the tests and the sweep left in the simulator's data.
type leftover struct {
	summary                              string
	liveTestInstances, untagged, backups []string
}

func (l leftover) err() error {
	var errs []error
	if len(l.liveTestInstances) > 0 {
		errs = append(errs, fmt.Errorf("test instances left not REMOVED after the sweep: %s", strings.Join(l.liveTestInstances, "; ")))
	}
	if len(l.untagged) > 0 {
		errs = append(errs, fmt.Errorf("the tests created instances without the %s prefix, which a sweep of a real account would never remove: %s",
			testStem, strings.Join(l.untagged, "; ")))
	}
	if len(l.backups) > 0 {
		errs = append(errs, fmt.Errorf("backups left after the sweep: %s", strings.Join(l.backups, "; ")))
	}
	return errors.Join(errs...)
}

// leftBehind reads the stopped simulator's data file and compares it with the demo data it
// started from.
func leftBehind(dataFile string) (leftover, error) {
	var l leftover
	fresh, saved, err := devenv.ReadDataFile(dataFile)
	if err != nil {
		return l, err
	}
	seeded := map[string]bool{}
	for _, in := range fresh.Instances {
		seeded[in.UUID] = true
	}
	created, tagged := 0, 0
	for _, in := range saved.Instances {
		if seeded[in.UUID] {
			continue
		}
		created++
		desc := fmt.Sprintf("%s %s %s (%s)", in.Prefix, in.Type, in.UUID, in.Status)
		switch {
		case !strings.HasPrefix(in.Prefix, testStem):
			l.untagged = append(l.untagged, desc)
		case in.Status != simulator.StatusRemoved:
			tagged++
			l.liveTestInstances = append(l.liveTestInstances, desc)
		default:
			tagged++
		}
	}
	backups := saved.Backups
	for _, b := range backups[min(len(fresh.Backups), len(backups)):] {
		l.backups = append(l.backups, fmt.Sprintf("%s (%s, notes %q)", b.UUID, b.State, b.Notes))
	}
	slices.Sort(l.liveTestInstances)
	l.summary = fmt.Sprintf("the tests created %d service instances (%d with the %s prefix, %d without); left behind after the sweep: %d instances not REMOVED, %d backups",
		created, tagged, testStem, len(l.untagged), len(l.liveTestInstances), len(l.backups))
	return l, nil
}

// leftForTheSweep says what the tests left on the account for the sweep, read through the API as
// the sweepers read it: instances with the test prefix that are not removed, and backups, in
// every environment the token sees. A test removes what it adds, also what it adds through the
// API, and deletes its backups, so that this is nothing after a run where every test passed.
func leftForTheSweep(ctx context.Context, url string) (string, error) {
	client, err := divio.New(divio.Config{Endpoint: url, Token: simulator.DemoToken, UserAgent: "testacc-realapi"})
	if err != nil {
		return "", err
	}
	apps, err := client.FindApplications(ctx, "")
	if err != nil {
		return "", err
	}
	var instances, backups []string
	for _, app := range apps {
		envs, err := client.FindEnvironments(ctx, app.UUID, "")
		if err != nil {
			return "", err
		}
		for _, env := range envs {
			name := app.Slug + "/" + env.Slug
			all, err := client.ListServiceInstances(ctx, env.UUID)
			if err != nil {
				return "", err
			}
			for _, in := range all {
				if strings.HasPrefix(in.Prefix, testStem) {
					instances = append(instances, fmt.Sprintf("%s: %s %s (%s)", name, in.Prefix, in.Type, in.Status))
				}
			}
			bs, err := client.ListBackups(ctx, env.UUID)
			if err != nil {
				return "", err
			}
			for _, b := range bs {
				backups = append(backups, fmt.Sprintf("%s: backup %s (notes %q)", name, b.UUID, b.Notes))
			}
		}
	}
	text := fmt.Sprintf("the tests left %d test instances and %d backups for the sweep", len(instances), len(backups))
	if all := slices.Concat(instances, backups); len(all) > 0 {
		text += ":\n    " + strings.Join(all, "\n    ")
	}
	return text, nil
}
