package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// figure is one line of the result table. Pass is nil for figures shown for context only.
type figure struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	Shown  string  `json:"shown"` // the value as the table prints it
	Target string  `json:"target,omitempty"`
	Pass   *bool   `json:"pass,omitempty"`
}

func contextFigure(name string, value float64, unit, shown string) figure {
	return figure{Name: name, Value: value, Unit: unit, Shown: shown}
}

func targetFigure(name string, value float64, unit, shown, target string, pass bool) figure {
	return figure{Name: name, Value: value, Unit: unit, Shown: shown, Target: target, Pass: &pass}
}

type machine struct {
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	OS        string `json:"os"`
	Go        string `json:"go"`
	Terraform string `json:"terraform"`
	Commit    string `json:"commit"` // git describe --dirty of the tree the provider was built from
	// LoadAverage is /proc/loadavg when the benchmark began and ended: the machine is shared,
	// and wall times mean little next to a load above its cores.
	LoadAverage [2]string `json:"load_average"`
}

type report struct {
	Started  time.Time       `json:"started"`
	Duration string          `json:"duration"`
	Machine  machine         `json:"machine"`
	Settings settings        `json:"settings"`
	Figures  []figure        `json:"figures"`
	Plan     *planResults    `json:"plan"`
	Scale    []scaleResult   `json:"scale"`
	Apply    []applyResult   `json:"apply"`
	Upgrade  []upgradeResult `json:"upgrade"`
	Method   []string        `json:"method"`
}

func describeMachine(ctx context.Context, root, terraformVersion string) machine {
	m := machine{
		CPU:       cpuModel(),
		Cores:     runtime.NumCPU(),
		OS:        runtime.GOOS + "/" + runtime.GOARCH,
		Go:        runtime.Version(),
		Terraform: terraformVersion,
	}
	cmd := exec.CommandContext(ctx, "git", "describe", "--always", "--dirty")
	cmd.Dir = root
	if out, err := cmd.Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
	}
	return m
}

// loadAverage returns the 1, 5 and 15 minute load averages.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if name, value, found := strings.Cut(line, ":"); found && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return "unknown"
}

// printTable writes the figures as an aligned table.
func printTable(w io.Writer, figures []figure) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tvalue\ttarget\tresult")
	for _, f := range figures {
		result := ""
		switch {
		case f.Pass == nil:
		case *f.Pass:
			result = "pass"
		default:
			result = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Name, f.Shown, f.Target, result)
	}
	_ = tw.Flush()
}

// markdownTable is the table for the README, as the final report hands it over.
func markdownTable(figures []figure) string {
	var b strings.Builder
	b.WriteString("| figure | value | target | result |\n|---|---|---|---|\n")
	for _, f := range figures {
		result := ""
		if f.Pass != nil {
			result = map[bool]string{true: "pass", false: "**fail**"}[*f.Pass]
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", f.Name, f.Shown, f.Target, result)
	}
	return b.String()
}

// leverTable is what each lever that the benchmark can turn off buys in one plan of (1).
func leverTable(p *planResults) string {
	var b strings.Builder
	b.WriteString("| lever | buys | provider CPU with / without | provider peak RSS with / without |\n|---|---|---|---|\n")
	for _, l := range p.Levers {
		fmt.Fprintf(&b, "| %s | %s | %.2f s / %.2f s | %.1f MiB / %.1f MiB |\n", l.Lever, l.Buys,
			p.Divio.ProviderCPUSeconds, l.ProviderCPUSeconds, mib(p.Divio.PeakRSSBytes), mib(l.PeakRSSBytes))
	}
	return b.String()
}

const readmeStart, readmeEnd = "<!-- bench-table -->\n", "<!-- /bench-table -->"

// updateREADME replaces what README.md holds between its bench-table markers with the report's
// tables, so that the README shows the figures of a results file and nothing else.
func updateREADME(root string, r *report, resultsPath string) error {
	path := filepath.Join(root, "README.md")
	readme, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	before, rest, found := strings.Cut(string(readme), readmeStart)
	_, after, foundEnd := strings.Cut(rest, readmeEnd)
	if !found || !foundEnd {
		return fmt.Errorf("%s has no %q ... %q block", path, strings.TrimSpace(readmeStart), readmeEnd)
	}
	rel, err := filepath.Rel(root, resultsPath)
	if err != nil {
		return err
	}
	m := r.Machine
	block := fmt.Sprintf("`make bench` on %s (%s, %d cores, load average %s at the start; %s, Terraform %s; tree %s;\n%#q; took %s):\n\n",
		r.Started.Format("2006-01-02"), m.CPU, m.Cores, strings.Fields(m.LoadAverage[0])[0], m.Go, m.Terraform, m.Commit, filepath.ToSlash(rel), r.Duration) +
		markdownTable(r.Figures) + "\nWhat the levers that `make bench` can turn off buy, in the plan of (1):\n\n" + leverTable(r.Plan)
	return os.WriteFile(path, []byte(before+readmeStart+block+readmeEnd+after), 0o644)
}

// writeReport writes the report as tools/bench/results/<UTC timestamp>.json under root.
func writeReport(root string, r *report) (string, error) {
	dir := filepath.Join(root, "tools", "bench", "results")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep the targets' "<=" readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return "", err
	}
	path := filepath.Join(dir, r.Started.UTC().Format("20060102T150405Z")+".json")
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}

// duration is a time.Duration that JSON shows as Go writes it ("2s").
type duration time.Duration

func (d duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func secondsList(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = d.Seconds()
	}
	return out
}
