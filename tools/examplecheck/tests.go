package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/divio/terraform-provider-divio/internal/simulator"
	"github.com/divio/terraform-provider-divio/tools/devenv"
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
	proc, url, err := devenv.StartSimulatorProcess(ctx, c.simulatorBin, dataFile, &r.log)
	if err != nil {
		return err
	}
	tf, err := devenv.Terraform(dir, c.cliConfig, url, simulator.DemoToken)
	if err != nil {
		return errors.Join(err, devenv.StopSimulatorProcess(proc))
	}
	tf.SetStderr(&r.log)
	r.step("terraform test")
	var results bytes.Buffer
	testErr := tf.Test(ctx, &results)
	writeTestResults(&r.log, &results)
	if err := devenv.StopSimulatorProcess(proc); err != nil {
		return fmt.Errorf("stopping divio-simulator: %w", err)
	}
	if testErr != nil {
		return fmt.Errorf("terraform test failed (%s)", firstLine(testErr))
	}
	r.step("nothing left")
	return checkDataFileEmpty(dataFile)
}

// checkDataFileEmpty fails when the stopped simulator's data holds a service instance that its
// data set did not start with.
func checkDataFileEmpty(dataFile string) error {
	seeded, saved, err := devenv.ReadDataFile(dataFile)
	if err != nil {
		return err
	}
	return checkNothingLeft(seeded.Instances, saved.Instances, "terraform test")
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
