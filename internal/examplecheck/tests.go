package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/divio/terraform-provider-divio/internal/devenv"
	"github.com/divio/terraform-provider-divio/internal/simulator"
)

// runTests runs a module's `terraform test` suite as a user's pipeline does (README.md, "The
// simulator in your own pipeline"): against a divio-simulator process started with no delays, which
// is stopped after, and must then hold no service instance the suite added.
func (c *checker) runTests(ctx context.Context, example, dir string, r *result) error {
	if err := copyExample(filepath.Join(c.root, "examples", example), dir); err != nil {
		return err
	}
	dataFile := dir + ".simulator.json"
	r.step("divio-simulator started")
	proc, url, err := c.startSimulatorProcess(ctx, dataFile, r)
	if err != nil {
		return err
	}
	tf, err := devenv.Terraform(dir, c.cliConfig, url, simulator.DemoToken)
	if err != nil {
		return errors.Join(err, stopProcess(proc))
	}
	tf.SetStderr(&r.log)
	r.step("terraform test")
	var results bytes.Buffer
	testErr := tf.Test(ctx, &results)
	writeTestResults(&r.log, &results)
	if err := stopProcess(proc); err != nil {
		return fmt.Errorf("stopping divio-simulator: %w", err)
	}
	if testErr != nil {
		return fmt.Errorf("terraform test failed (%s)", firstLine(testErr))
	}
	r.step("nothing left")
	return checkDataFileEmpty(dataFile)
}

// startSimulatorProcess starts the divio-simulator binary on a free port and returns the URL it
// prints once it listens; the rest of its output goes to the example's log.
func (c *checker) startSimulatorProcess(ctx context.Context, dataFile string, r *result) (*exec.Cmd, string, error) {
	cmd := exec.CommandContext(ctx, c.simulatorBin, "--listen", "127.0.0.1:0", "--data", dataFile,
		"--provision-delay", "0", "--deploy-delay", "0", "--backup-delay", "0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	cmd.Stderr = &r.log
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	found := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			if url, ok := strings.CutPrefix(lines.Text(), "divio-simulator listening on "); ok {
				url, _, _ = strings.Cut(url, " ")
				found <- url
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		close(found)
	}()
	select {
	case url, ok := <-found:
		if ok {
			return cmd, url, nil
		}
		return nil, "", errors.Join(errors.New("divio-simulator ended without saying where it listens"), cmd.Wait())
	case <-time.After(30 * time.Second):
		return nil, "", errors.Join(errors.New("divio-simulator did not say where it listens within 30s"), stopProcess(cmd))
	}
}

// stopProcess stops the simulator as Ctrl-C does, so that it saves its data file.
func stopProcess(cmd *exec.Cmd) error {
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		return err
	}
	return cmd.Wait()
}

// checkDataFileEmpty fails when the stopped simulator's data holds a service instance that its
// data set did not start with.
func checkDataFileEmpty(dataFile string) error {
	fresh, err := simulator.New(simulator.Options{})
	if err != nil {
		return err
	}
	seeded := fresh.Instances()
	if err := fresh.Close(); err != nil {
		return err
	}
	saved, err := simulator.New(simulator.Options{DataFile: dataFile})
	if err != nil {
		return fmt.Errorf("reading the simulator's data file: %w", err)
	}
	left := saved.Instances()
	return errors.Join(checkNothingLeft(seeded, left, "terraform test"), saved.Close())
}

// writeTestResults turns the machine-readable output of `terraform test -json` back into lines a
// reader can follow: each message, and each diagnostic's detail.
func writeTestResults(w io.Writer, results io.Reader) {
	lines := bufio.NewScanner(results)
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		var msg struct {
			Message    string `json:"@message"`
			Diagnostic *struct {
				Detail string `json:"detail"`
			} `json:"diagnostic"`
		}
		if json.Unmarshal(lines.Bytes(), &msg) != nil {
			fmt.Fprintln(w, lines.Text())
			continue
		}
		fmt.Fprintln(w, msg.Message)
		if msg.Diagnostic != nil && msg.Diagnostic.Detail != "" {
			for line := range strings.Lines(msg.Diagnostic.Detail) {
				fmt.Fprint(w, "  ", strings.TrimSuffix(line, "\n"), "\n")
			}
		}
	}
}
