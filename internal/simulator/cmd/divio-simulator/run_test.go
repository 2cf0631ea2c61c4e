package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
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
		"--rate-limit", "30", "--latency", "50ms", "--fail-next-deploy", "--seed", "7",
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := simulator.Options{
		Dataset: "bench", Tokens: []string{"a", "b"}, DataFile: "s.json",
		ProvisionDelay: 1500 * time.Millisecond, DeployDelay: 0, Seed: 7,
		Faults: simulator.Faults{FailRate: 0.1, DropResponseRate: 0.05, RateLimit: 30, Latency: 50 * time.Millisecond},
	}
	if cfg.listen != "127.0.0.1:0" || !cfg.failNextDeploy || cfg.public ||
		cfg.opts.Dataset != want.Dataset || strings.Join(cfg.opts.Tokens, ",") != "a,b" || cfg.opts.DataFile != want.DataFile ||
		cfg.opts.ProvisionDelay != want.ProvisionDelay || cfg.opts.DeployDelay != 0 || cfg.opts.Faults != want.Faults || cfg.opts.Seed != 7 {
		t.Errorf("parsed %+v", cfg)
	}

	defaults, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if defaults.listen != "127.0.0.1:8950" || defaults.opts.ProvisionDelay != 2*time.Second || defaults.opts.DeployDelay != 3*time.Second ||
		defaults.opts.DataFile != "" || len(defaults.opts.Tokens) != 0 {
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
	cfg, err := parseFlags([]string{"--listen", "127.0.0.1:0", "--data", file}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out, outWriter := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, outWriter) }()

	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(line, "divio-simulator listening on http://127.0.0.1:") || !strings.HasSuffix(line, "(data: "+file+")\n") {
		t.Fatalf("printed %q", line)
	}
	url := strings.Fields(line)[3]
	req, _ := http.NewRequest(http.MethodGet, url+"/apps/v3/regions/", nil)
	req.Header.Set("Authorization", "Token "+simulator.DemoToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status %d", resp.StatusCode)
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

func TestDataDescription(t *testing.T) {
	if got := dataDescription(""); got != "in memory" {
		t.Errorf("got %q", got)
	}
	if got := dataDescription("s.json"); !filepath.IsAbs(strings.TrimSpace(got)) {
		t.Errorf("got %q, want an absolute path", got)
	}
}
