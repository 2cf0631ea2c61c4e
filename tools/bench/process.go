package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
)

// reattachMarker starts the line on which a provider served with -debug (providerserver's
// Debug, terraform-plugin-go's managed debug mode) prints its reattach configuration:
//
//	TF_REATTACH_PROVIDERS='{"registry.terraform.io/divio/divio":{...}}'
const reattachMarker = "TF_REATTACH_PROVIDERS='"

// providerProcess is a provider binary that the benchmark started itself in debug mode, so that
// it knows its pid and start-up time; Terraform attaches to it instead of starting its own.
type providerProcess struct {
	cmd      *exec.Cmd
	startup  time.Duration // from exec until it printed its reattach configuration
	reattach tfexec.ReattachInfo
	exited   chan error
}

// startProvider runs bin -debug with args, and env added to this process's environment. In debug mode
// go-plugin skips the magic-cookie handshake check (it only applies when Terraform launches the
// plugin), so no TF_PLUGIN_MAGIC_COOKIE is needed; the provider listens on a unix socket and
// prints where, which is the moment it could serve Terraform.
func startProvider(ctx context.Context, bin string, args, env []string) (*providerProcess, error) {
	cmd := exec.CommandContext(ctx, bin, append([]string{"-debug"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = io.Discard
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &providerProcess{cmd: cmd, exited: make(chan error, 1)}
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		line := strings.TrimSpace(lines.Text())
		raw, found := strings.CutPrefix(line, reattachMarker)
		if !found {
			continue
		}
		p.startup = time.Since(start)
		if err := json.Unmarshal([]byte(strings.TrimSuffix(raw, "'")), &p.reattach); err != nil {
			_ = cmd.Process.Kill()
			return nil, fmt.Errorf("%s: cannot read its reattach configuration %q: %w", bin, raw, err)
		}
		break
	}
	// Keep draining stdout, so that the provider never blocks on a full pipe.
	go func() {
		_, _ = io.Copy(io.Discard, stdout)
		p.exited <- cmd.Wait()
	}()
	if p.reattach == nil {
		_ = p.stop()
		return nil, fmt.Errorf("%s -debug exited without printing its reattach configuration", bin)
	}
	return p, nil
}

// peakRSS returns the process's peak resident set size (VmHWM), in bytes, so far.
func (p *providerProcess) peakRSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if value, found := strings.CutPrefix(line, "VmHWM:"); found {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(value), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmHWM in /proc/<pid>/status")
}

// cpuTime returns the user and system CPU time the process has used so far.
func (p *providerProcess) cpuTime() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, may hold spaces; utime and stime are fields 14 and 15, the
	// 12th and 13th after the closing parenthesis, in clock ticks of 1/100 s on Linux.
	_, rest, _ := strings.Cut(string(b), ") ")
	fields := strings.Fields(rest)
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", p.cmd.Process.Pid)
	}
	var ticks int64
	for _, f := range fields[11:13] {
		t, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += t
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// childrenCPUTime returns the CPU time of this process's children that have ended and been
// waited for: around a terraform command, that of terraform itself (and of the providers it
// started and waited for; a reattached provider is not among them).
func childrenCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// stop interrupts the provider, which is how its debug mode expects to end, and waits for it;
// a provider that does not stop within seconds is killed.
func (p *providerProcess) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-p.exited: // debug mode ends cleanly (exit 0) on SIGINT
		return err
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		return fmt.Errorf("provider %d ignored SIGINT for 5s and was killed", p.cmd.Process.Pid)
	}
}
