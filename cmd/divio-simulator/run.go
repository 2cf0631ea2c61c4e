package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/divio/terraform-provider-divio/internal/simulator"
)

const usageHeader = `Usage: divio-simulator [flags]

Serves the Divio services API (the /apps/v3/ and /iam/v3/ paths that the Terraform
provider and the Divio CLI use) on this machine. By default: token demo-token, and the
demo data set's applications demo-app (AWS), azure-app (Azure) and legacy-app, each
with environments test and live. Ctrl-C or SIGTERM stops it, writing the --data file
a last time.

Under /_sim/, with the same tokens, an admin API plays what a test needs:
  GET    /_sim/state                                 instances (with their data), deployments, backups, restores
  POST   /_sim/reset                                 back to the data set as it starts
  PUT    /_sim/service-instances/<uuid>/data         {"data": "..."}: an instance's content
  POST   /_sim/service-instances/<uuid>/upgrade      {"service": "postgres-16"}: the platform's in-place upgrade
  PATCH  /_sim/service-instances/<uuid>              {"service_status": "DETACHED"}: force a state
  DELETE /_sim/service-instances/<uuid>              remove an instance whatever its state
  POST   /_sim/fail-next-deploy, /_sim/drop-variables-next-deploy, /_sim/stall-next-provision,
         /_sim/fail-next-backup, /_sim/fail-next-restore
  GET, PUT /_sim/faults                              {"fail_rate", "drop_response_rate", "rate_limit", "latency"}
  GET, PUT /_sim/delays                              {"provision": "2s", "deploy": "3s", "backup": "2s"}
  GET, DELETE /_sim/counters                         API requests received, by path
  GET, POST /_sim/clock                              {"advance": "720h"}: move the simulator's clock forward,
                                                     applying all that falls due (retention included)
  POST   /_sim/environments/<uuid>/scheduled-backup  the platform takes a scheduled backup now

Every path, field and admin call, with curl examples: docs/guides/simulator.md in
github.com/divio/terraform-provider-divio, also on the Terraform Registry:
https://registry.terraform.io/providers/divio/divio/latest/docs/guides/simulator

Flags:
`

type config struct {
	listen         string
	public         bool
	failNextDeploy bool
	failNextBackup bool
	opts           simulator.Options

	dropVariablesNextDeploy bool
}

// tokenList collects a repeatable --token.
type tokenList []string

func (t *tokenList) String() string     { return strings.Join(*t, ",") }
func (t *tokenList) Set(v string) error { *t = append(*t, v); return nil }

func parseFlags(args []string, output io.Writer) (config, error) {
	var cfg config
	var tokens tokenList
	fs := flag.NewFlagSet("divio-simulator", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprint(output, usageHeader)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:8950", "address to listen on (port 0 picks a free port)")
	fs.BoolVar(&cfg.public, "public", false, "allow listening on a non-loopback address")
	fs.StringVar(&cfg.opts.DataFile, "data", "", "JSON file holding the state (default: in memory)")
	fs.Var(&tokens, "token", "accepted API token (repeatable; default "+simulator.DemoToken+")")
	fs.StringVar(&cfg.opts.Dataset, "dataset", "", "initial data: demo or bench (default demo, or the data file's)")
	fs.DurationVar(&cfg.opts.ProvisionDelay, "provision-delay", 2*time.Second, "how long provisioning takes")
	fs.DurationVar(&cfg.opts.DeployDelay, "deploy-delay", 3*time.Second, "how long a deployment takes")
	fs.DurationVar(&cfg.opts.BackupDelay, "backup-delay", 2*time.Second, "how long a backup or a restore takes")
	fs.Float64Var(&cfg.opts.Faults.FailRate, "fail-rate", 0, "fraction of API requests answered 5xx without applying them")
	fs.Float64Var(&cfg.opts.Faults.DropResponseRate, "drop-response-rate", 0, "fraction of API requests applied but left unanswered")
	fs.Float64Var(&cfg.opts.Faults.RateLimit, "rate-limit", 0, "API requests per second before 429 (0 = off)")
	fs.DurationVar(&cfg.opts.Faults.Latency, "latency", 0, "latency added to each API request")
	fs.BoolVar(&cfg.failNextDeploy, "fail-next-deploy", false, "make the first deployment fail")
	fs.BoolVar(&cfg.dropVariablesNextDeploy, "drop-variables-next-deploy", false,
		"make the first deployment succeed without giving the application the variables of the instances it attaches")
	fs.BoolVar(&cfg.failNextBackup, "fail-next-backup", false, "make the first backup fail")
	fs.BoolVar(&cfg.opts.ScheduledBackups, "scheduled-backups", false,
		"take a scheduled backup of every environment with a database or storage instance daily at 02:00 UTC (simulator clock)")
	fs.Int64Var(&cfg.opts.Seed, "seed", 0, "seed for fault randomness (0 = time-based)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
		fmt.Fprintln(output, err)
		return config{}, err
	}
	cfg.opts.Tokens = tokens
	if err := checkListenAddress(cfg.listen, cfg.public); err != nil {
		fmt.Fprintln(output, err)
		return config{}, err
	}
	return cfg, nil
}

// checkListenAddress keeps the simulator, whose tokens are public knowledge,
// off the network unless asked.
func checkListenAddress(addr string, public bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", addr, err)
	}
	if public || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--listen %q is not a loopback address; pass --public to serve on the network", addr)
}

// run serves until ctx ends, then shuts down and saves the state.
func run(ctx context.Context, cfg config, out io.Writer) error {
	sim, err := simulator.New(cfg.opts)
	if err != nil {
		return err
	}
	if cfg.failNextDeploy {
		sim.FailNextDeploy()
	}
	if cfg.dropVariablesNextDeploy {
		sim.DropVariablesNextDeploy()
	}
	if cfg.failNextBackup {
		sim.FailNextBackup()
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return errors.Join(err, sim.Close())
	}
	printStarted(out, clientURL(ln.Addr()), sim, dataDescription(cfg.opts.DataFile))

	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err = <-served:
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = srv.Shutdown(shutdownCtx)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return errors.Join(err, sim.Close())
}

// printStarted says where the simulator listens and what it serves, and ends
// with the lines to paste into a shell to point the provider at it.
func printStarted(out io.Writer, url string, sim *simulator.Simulator, data string) {
	ds := sim.Dataset()
	tokens := sim.Tokens()
	fmt.Fprintf(out, "divio-simulator listening on %s (data: %s)\n\n", url, data)
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "URL:\t%s\n", url)
	fmt.Fprintf(w, "Tokens:\t%s\n", strings.Join(tokens, ", "))
	fmt.Fprintf(w, "Data file:\t%s\n", data)
	fmt.Fprintf(w, "Data set:\t%s, with these applications and environments:\n", ds.Name)
	for _, app := range ds.Applications {
		fmt.Fprintf(w, "  %s\t%s\n", app.Slug, app.UUID)
		for _, env := range app.Environments {
			fmt.Fprintf(w, "    %s\t%s\n", env.Slug, env.UUID)
		}
	}
	_ = w.Flush()
	fmt.Fprintf(out, "\nTo point the provider at it, paste:\n\n    export DIVIO_API_URL=%s\n    export DIVIO_API_TOKEN=%s\n\n", url, tokens[0])
}

// clientURL is the URL a client on this machine reaches addr at: a simulator
// listening on every address (--public) is reached on the loopback one.
func clientURL(addr net.Addr) string {
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func dataDescription(file string) string {
	if file == "" {
		return "in memory"
	}
	if abs, err := filepath.Abs(file); err == nil {
		return abs
	}
	return file
}
