package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/divio/terraform-provider-divio/internal/simulator"
)

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags([]string{
		"--listen", "127.0.0.1:0", "--data", "s.json", "--token", "a", "--token", "b", "--dataset", "bench",
		"--provision-delay", "1500ms", "--deploy-delay", "0s", "--fail-rate", "0.1", "--drop-response-rate", "0.05",
		"--rate-limit", "30", "--latency", "50ms", "--fail-next-deploy", "--seed", "7", "--drop-variables-next-deploy",
		"--scheduled-backups",
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := simulator.Options{
		Dataset: "bench", Tokens: []string{"a", "b"}, DataFile: "s.json",
		ProvisionDelay: 1500 * time.Millisecond, DeployDelay: 0, Seed: 7,
		Faults: simulator.Faults{FailRate: 0.1, DropResponseRate: 0.05, RateLimit: 30, Latency: 50 * time.Millisecond},
	}
	if cfg.listen != "127.0.0.1:0" || !cfg.failNextDeploy || !cfg.dropVariablesNextDeploy || cfg.public ||
		cfg.opts.Dataset != want.Dataset || strings.Join(cfg.opts.Tokens, ",") != "a,b" || cfg.opts.DataFile != want.DataFile ||
		cfg.opts.ProvisionDelay != want.ProvisionDelay || cfg.opts.DeployDelay != 0 || cfg.opts.Faults != want.Faults || cfg.opts.Seed != 7 || !cfg.opts.ScheduledBackups {
		t.Errorf("parsed %+v", cfg)
	}

	defaults, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if defaults.listen != "127.0.0.1:8950" || defaults.opts.ProvisionDelay != 2*time.Second || defaults.opts.DeployDelay != 3*time.Second ||
		defaults.opts.DataFile != "" || len(defaults.opts.Tokens) != 0 || defaults.failNextDeploy || defaults.dropVariablesNextDeploy ||
		defaults.opts.ScheduledBackups {
		t.Errorf("defaults %+v", defaults)
	}
}

func TestParseFlagsRefuses(t *testing.T) {
	for _, args := range [][]string{
		{"--listen", "0.0.0.0:8950"},
		{"--listen", ":8950"},
		{"--listen", "192.168.1.10:8950"},
		{"--listen", "nonsense"},
		{"--deploy-delay", "soon"},
		{"--no-such-flag"},
		{"extra"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func TestCheckListenAddress(t *testing.T) {
	tests := []struct {
		addr   string
		public bool
		ok     bool
	}{
		{"127.0.0.1:8950", false, true},
		{"127.0.0.2:0", false, true},
		{"[::1]:8950", false, true},
		{"localhost:8950", false, true},
		{"0.0.0.0:8950", false, false},
		{":8950", false, false},
		{"[::]:8950", false, false},
		{"0.0.0.0:8950", true, true},
		{":0", true, true},
	}
	for _, tt := range tests {
		if err := checkListenAddress(tt.addr, tt.public); (err == nil) != tt.ok {
			t.Errorf("%s public=%v: %v", tt.addr, tt.public, err)
		}
	}
}

func TestRunServesUntilCancelled(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	cfg, err := parseFlags([]string{"--listen", "127.0.0.1:0", "--data", file, "--token", "first", "--token", "second",
		"--deploy-delay", "0s", "--drop-variables-next-deploy"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out, outWriter := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, outWriter) }()

	// Read the start-up message up to the lines to paste, then check it whole.
	var printed strings.Builder
	lines := bufio.NewScanner(out)
	for lines.Scan() && !strings.HasPrefix(lines.Text(), "    export DIVIO_API_TOKEN=") {
		printed.WriteString(lines.Text() + "\n")
	}
	printed.WriteString(lines.Text() + "\n")
	go func() { _, _ = io.Copy(io.Discard, out) }()
	first, _, _ := strings.Cut(printed.String(), "\n")
	url := strings.Fields(first)[3]
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("first line %q", first)
	}
	want := "divio-simulator listening on " + url + " (data: " + file + ")\n" + `
URL:          ` + url + `
Tokens:       first, second
Data file:    ` + file + `
Data set:     demo, with these applications and environments:
  demo-app    6133417b-b2a8-5045-97dc-aeacd4459b2f
    test      c30b2178-0ead-5448-9af4-9089b96a9fd5
    live      c005ed00-691d-5737-a3b6-b05f872a4d85
  azure-app   17530993-56fb-58d6-8bb0-abeaf0db6255
    test      f61c7f9d-0b26-5af3-a011-e7747d08ad26
    live      b441fd58-e17b-55ac-ab48-97be1e8a3fa4
  legacy-app  79751468-c8f7-551b-80dc-26beedb0dc34
    test      aea0042a-a7c6-556a-8216-defe2dd8dc8d
    live      1fd92033-c863-5e93-b657-96c5c4791de9

To point the provider at it, paste:

    export DIVIO_API_URL=` + url + `
    export DIVIO_API_TOKEN=first
`
	if printed.String() != want {
		t.Errorf("printed\n%s\nwant\n%s", printed.String(), want)
	}
	// It serves with the first token, and the flag's fault is set: the
	// first deployment attaches without giving the application the variables.
	send := func(method, path, body string, answer any) int {
		req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Token first")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(answer); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return resp.StatusCode
	}
	demoTest := simulator.EnvironmentID(simulator.DemoApp, simulator.EnvTest)
	var in simulator.Instance
	if status := send(http.MethodPost, "/apps/v3/service-instances/",
		`{"environment": "`+demoTest+`", "service": "`+simulator.ServiceID(simulator.ServiceMySQL8)+`", "prefix": "DEFAULT"}`, &in); status != http.StatusCreated {
		t.Fatalf("instance: %d", status)
	}
	var created map[string]string
	if status := send(http.MethodPost, "/apps/v3/deployments/", `{"environment": "`+demoTest+`"}`, &created); status != http.StatusCreated ||
		len(created) != 3 || created["environment"] != demoTest || created["build_mode"] != simulator.BuildModeAuto {
		t.Fatalf("deployment: %d %v", status, created)
	}
	var d struct {
		Status               string   `json:"status"`
		EnvironmentVariables []string `json:"environment_variables"`
	}
	send(http.MethodGet, "/apps/v3/deployments/"+created["uuid"]+"/", "", &d)
	if d.Status != simulator.DeploymentSuccess || d.EnvironmentVariables == nil || len(d.EnvironmentVariables) != 0 {
		t.Errorf("deployment: %+v, want done without variables", d)
	}
	var attached simulator.Instance
	send(http.MethodGet, "/apps/v3/service-instances/"+in.UUID+"/", "", &attached)
	if attached.Status != simulator.StatusAttached {
		t.Errorf("instance %s, want ATTACHED", attached.Status)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not stop")
	}
}

func TestClientURL(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"127.0.0.1:8950", "http://127.0.0.1:8950"},
		{"0.0.0.0:8950", "http://127.0.0.1:8950"},
		{"[::]:8950", "http://127.0.0.1:8950"},
		{"[::1]:8950", "http://[::1]:8950"},
		{"192.168.1.10:8950", "http://192.168.1.10:8950"},
	}
	for _, tt := range tests {
		addr, err := net.ResolveTCPAddr("tcp", tt.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := clientURL(addr); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.addr, got, tt.want)
		}
	}
}

func TestDataDescription(t *testing.T) {
	if got := dataDescription(""); got != "in memory" {
		t.Errorf("got %q", got)
	}
	if got := dataDescription("s.json"); !filepath.IsAbs(strings.TrimSpace(got)) {
		t.Errorf("got %q, want an absolute path", got)
	}
}

func TestBackupFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	cfg, err := parseFlags([]string{"--listen", "127.0.0.1:0", "--data", file, "--backup-delay", "1500ms", "--fail-next-backup"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.opts.BackupDelay != 1500*time.Millisecond || !cfg.failNextBackup {
		t.Errorf("parsed %+v", cfg)
	}
	defaults, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if defaults.opts.BackupDelay != 2*time.Second || defaults.failNextBackup {
		t.Errorf("defaults %+v", defaults)
	}

	// run arms the failure before serving; the data file shows it.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := run(ctx, cfg, io.Discard); err != nil {
		t.Fatal(err)
	}
	saved, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(saved), `"fail_next_backup": true`) {
		t.Errorf("data file after --fail-next-backup:\n%s", saved)
	}
}
