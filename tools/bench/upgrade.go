package main

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/divio/terraform-provider-divio/internal/simulator"
	"github.com/divio/terraform-provider-divio/tools/devenv"
)

// upgradeResult is one variant of figure (5): the apply that upgrades an attached postgres-15
// divio_service to postgres-16.
type upgradeResult struct {
	FinalBackup bool    `json:"final_backup"`
	Environment string  `json:"environment"` // application/environment slugs
	Seconds     float64 `json:"seconds"`
	// FloorSeconds is the floor: one provisioning, one backup, one restore, one deployment.
	FloorSeconds float64 `json:"floor_seconds"`
	// OwnFloorSeconds is what the variant cannot do faster: the floor, and with
	// final_backup the old instance's final backup, which only starts once the deployment
	// has detached it.
	OwnFloorSeconds float64 `json:"own_floor_seconds"`
	Deployments     int     `json:"deployments"`
	// Work is what the simulator recorded of the upgrade's work during the apply; Gaps are the
	// time between the apply's start, each piece of work and the apply's end, which is where the
	// apply spends what it takes beyond its floor.
	Work           []upgradePiece `json:"work"`
	Gaps           []upgradeGap   `json:"gaps"`
	Requests       int            `json:"requests"`
	RequestsByPath map[string]int `json:"requests_by_path"`
}

// upgradePiece is a piece of the upgrade's work, in seconds after the apply began.
type upgradePiece struct {
	What  string  `json:"what"`
	Began float64 `json:"began"`
	Ended float64 `json:"ended"`
}

// upgradeGap is a stretch of the apply between two pieces of work, or its start or end.
type upgradeGap struct {
	After   string  `json:"after"`
	Before  string  `json:"before"`
	Seconds float64 `json:"seconds"`
}

// upgradeVariants are the two settings of final_backup: the floor names one backup, the
// copy's; the default, final_backup = true, adds the old instance's final backup after the
// deployment, which no upgrade can overlap with anything. The goal is judged on the variant whose
// work is what the floor counts.
var upgradeVariants = []struct {
	finalBackup bool
	app, env    string
}{
	{false, "bench-app-1", "test"},
	{true, "bench-app-1", "live"},
}

// upgradeData is what the old instance holds, to check that the new one holds it after.
const upgradeData = "rows written before the upgrade"

// upgradeBench applies an attached postgres-15 divio_service in each variant's environment of a
// simulator without delays, then gives the simulator its delays and times the apply that changes
// the service to postgres-16.
func upgradeBench(ctx context.Context, b *bench) ([]upgradeResult, []figure, error) {
	sim, err := devenv.StartSimulator(simulator.Options{Dataset: "bench"})
	if err != nil {
		return nil, nil, err
	}
	defer sim.Close()

	ws := make([]*workspace, len(upgradeVariants))
	old := make([]string, len(upgradeVariants))
	for i, v := range upgradeVariants {
		if ws[i], err = newWorkspace(b.tmp, fmt.Sprintf("upgrade-final-backup-%v", v.finalBackup), b.cliConfig, sim.URL, upgradeConfig(v.app, v.env, "postgres-15", v.finalBackup)); err != nil {
			return nil, nil, err
		}
		progress("upgrade (final_backup = %v): applying an attached postgres-15 service in %s/%s", v.finalBackup, v.app, v.env)
		if _, err := ws[i].apply(ctx); err != nil {
			return nil, nil, err
		}
		live := liveInstances(sim, simulator.EnvironmentID(v.app, v.env))
		if len(live) != 1 || live[0].Status != simulator.StatusAttached {
			return nil, nil, fmt.Errorf("upgrade (final_backup = %v): after the first apply %s/%s holds %+v, want one ATTACHED instance", v.finalBackup, v.app, v.env, live)
		}
		old[i] = live[0].UUID
		if err := sim.SetInstanceData(old[i], upgradeData); err != nil {
			return nil, nil, err
		}
	}

	u := b.settings.Upgrade
	sim.SetDelays(simulator.Delays{Provision: time.Duration(u.ProvisionDelay), Deploy: time.Duration(u.DeployDelay), Backup: time.Duration(u.BackupDelay)})
	var results []upgradeResult
	for i, v := range upgradeVariants {
		if err := ws[i].write(upgradeConfig(v.app, v.env, "postgres-16", v.finalBackup)); err != nil {
			return nil, nil, err
		}
		if b.upgradeLogDir != "" {
			if err := logDebug(ws[i], filepath.Join(b.upgradeLogDir, fmt.Sprintf("upgrade-final-backup-%v.log", v.finalBackup))); err != nil {
				return nil, nil, err
			}
		}
		progress("upgrade (final_backup = %v): timing the apply to postgres-16", v.finalBackup)
		sim.ResetCounters()
		began := time.Now()
		elapsed, err := ws[i].apply(ctx)
		if err != nil {
			return nil, nil, err
		}
		envID := simulator.EnvironmentID(v.app, v.env)
		if err := checkUpgraded(sim, envID, old[i]); err != nil {
			return nil, nil, fmt.Errorf("upgrade (final_backup = %v) succeeded, but %w", v.finalBackup, err)
		}
		counters := sim.Counters()
		r := upgradeResult{
			FinalBackup:    v.finalBackup,
			Environment:    v.app + "/" + v.env,
			Seconds:        elapsed.Seconds(),
			FloorSeconds:   u.floor(false).Seconds(),
			Deployments:    len(deploymentTimes(sim, envID, began)),
			Requests:       counters.Total,
			RequestsByPath: counters.Requests,
		}
		r.OwnFloorSeconds = u.floor(v.finalBackup).Seconds()
		r.Work = upgradeWork(sim, envID, old[i], began, u)
		r.Gaps = gaps(r.Work, elapsed)
		progress("upgrade (final_backup = %v): %.1f s, of which between the pieces of work %s", v.finalBackup, r.Seconds, describeGaps(r.Gaps))
		results = append(results, r)
	}
	return results, upgradeFigures(results, u), nil
}

// logDebug has Terraform and the provider write their debug logs, with the time of each line, into
// path during the workspace's next commands: the requests the provider made between two pieces of
// the work. Logging slows both down a little.
func logDebug(w *workspace, path string) error {
	if err := w.tf.SetLogCore("DEBUG"); err != nil {
		return err
	}
	if err := w.tf.SetLogProvider("DEBUG"); err != nil {
		return err
	}
	return w.tf.SetLogPath(path)
}

// floor is the least an upgrade's apply can take: one provisioning, a backup of the old instance
// and its restore into the new one (a restore takes the simulator's backup delay too), and the
// deployment that swaps them; with the old instance's final backup, one more backup.
func (u upgradeSettings) floor(finalBackup bool) time.Duration {
	d := time.Duration(u.ProvisionDelay + 2*u.BackupDelay + u.DeployDelay)
	if finalBackup {
		d += time.Duration(u.BackupDelay)
	}
	return d
}

func upgradeFigures(results []upgradeResult, u upgradeSettings) []figure {
	floor := fmt.Sprintf("provisioning %s + backup %s + restore %s + deployment %s", time.Duration(u.ProvisionDelay), time.Duration(u.BackupDelay),
		time.Duration(u.BackupDelay), time.Duration(u.DeployDelay))
	var figures []figure
	deployments, allOne := "", true
	for _, r := range results {
		ratio := r.Seconds / r.FloorSeconds
		if !r.FinalBackup {
			figures = append(figures, targetFigure("(5) upgrade of an attached postgres-15 divio_service to postgres-16, final_backup = false: wall time / floor", ratio, "x",
				fmt.Sprintf("%.2fx (%.1f s; floor %.1f s = %s)", ratio, r.Seconds, r.FloorSeconds, floor), "<= 1.1x", ratio <= 1.1),
				contextFigure("(5) the time between its pieces of work, from the simulator's records", r.Seconds-r.FloorSeconds, "s", describeGaps(r.Gaps)))
		} else {
			own := r.Seconds / r.OwnFloorSeconds
			figures = append(figures, contextFigure("(5) the same with final_backup = true (the default): wall time / floor with the old instance's final backup", own, "x",
				fmt.Sprintf("%.2fx (%.1f s; floor %.1f s, one backup more; %.2fx the floor above)", own, r.Seconds, r.OwnFloorSeconds, ratio)))
		}
		deployments += fmt.Sprintf(", %d (final_backup = %v)", r.Deployments, r.FinalBackup)
		allOne = allOne && r.Deployments == 1
	}
	most := 0
	for _, r := range results {
		most = max(most, r.Deployments)
	}
	return append(figures, targetFigure("(5) deployments during the upgrade's apply", float64(most), "deployments",
		strings.TrimPrefix(deployments, ", "), "= 1", allOne))
}

// upgradeConfig is a postgres divio_service in the environment, attached with a deployment.
func upgradeConfig(app, env, service string, finalBackup bool) string {
	return divioRequired + environmentLookupHCL(app, env) + fmt.Sprintf(`
resource "divio_service" "db" {
  environment_id = data.divio_environment.env.id
  service        = %q
  final_backup   = %v
}

resource "divio_service_attachment" "db" {
  service_id = divio_service.db.id
}
`, service, finalBackup)
}

// liveInstances returns the environment's instances that are not removed.
func liveInstances(sim *devenv.Simulator, envID string) []simulator.Instance {
	var live []simulator.Instance
	for _, in := range sim.Instances() {
		if in.Environment == envID && in.Status != simulator.StatusRemoved {
			live = append(live, in)
		}
	}
	return live
}

// checkUpgraded says what is wrong with the environment after the upgrade of instance oldID, if
// anything: one instance must be left, a new postgres-16 one, attached, holding the old one's data.
func checkUpgraded(sim *devenv.Simulator, envID, oldID string) error {
	live := liveInstances(sim, envID)
	if len(live) != 1 || live[0].UUID == oldID || live[0].Service != simulator.ServiceID(simulator.ServicePostgres16) || live[0].Status != simulator.StatusAttached {
		return fmt.Errorf("the environment holds %+v; want one new, ATTACHED postgres-16 instance", live)
	}
	for _, in := range sim.InstanceStates() {
		if in.UUID == live[0].UUID && in.Data != upgradeData {
			return fmt.Errorf("the new instance holds %q, not the old one's data", in.Data)
		}
	}
	return nil
}

// upgradeWork reads from the simulator when each piece of the upgrade's work began and ended, in
// seconds after the apply began, in order. The bench tells the old instance's backups apart by
// order: the copy's first, then the final one. The simulator shows when a restore began, and when
// the new instance was added, which its provisioning follows at once: their ends are that plus
// their delays.
func upgradeWork(sim *devenv.Simulator, envID, oldID string, began time.Time, u upgradeSettings) []upgradePiece {
	at := func(t time.Time) float64 { return t.Sub(began).Seconds() }
	var work []upgradePiece
	for _, in := range sim.Instances() {
		if in.Environment == envID && in.UUID != oldID && in.CreatedAt.After(began) {
			work = append(work, upgradePiece{"provisioning", at(in.CreatedAt), at(in.CreatedAt.Add(time.Duration(u.ProvisionDelay)))})
		}
	}
	ended := map[string]time.Time{}
	for _, part := range sim.ServiceInstanceBackups() {
		if part.ServiceInstance == oldID && part.EndedAt != nil {
			ended[part.Backup] = *part.EndedAt
		}
	}
	names := []string{"copy's backup", "final backup"}
	var copied string
	for _, bk := range sim.Backups() {
		end, ok := ended[bk.UUID]
		if !ok || !bk.CreatedAt.After(began) || len(names) == 0 {
			continue
		}
		if copied == "" {
			copied = bk.UUID
		}
		work = append(work, upgradePiece{names[0], at(bk.CreatedAt), at(end)})
		names = names[1:]
	}
	for _, r := range sim.Restores() {
		if r.Backup == copied {
			work = append(work, upgradePiece{"restore", at(r.CreatedAt), at(r.CreatedAt.Add(time.Duration(u.BackupDelay)))})
		}
	}
	for _, d := range deploymentTimes(sim, envID, began) {
		work = append(work, upgradePiece{"deployment", d[0], d[1]})
	}
	slices.SortStableFunc(work, func(a, b upgradePiece) int { return cmp.Compare(a.Began, b.Began) })
	return work
}

// gaps are the stretches of the apply between its start, the pieces of work in turn, and its end:
// the time it waited on nothing that the floor counts.
func gaps(work []upgradePiece, elapsed time.Duration) []upgradeGap {
	var out []upgradeGap
	after, end := "start", 0.0
	for _, p := range work {
		out = append(out, upgradeGap{After: after, Before: p.What, Seconds: p.Began - end})
		after, end = p.What, p.Ended
	}
	return append(out, upgradeGap{After: after, Before: "end", Seconds: elapsed.Seconds() - end})
}

// describeGaps is the gaps as the table and the progress lines show them.
func describeGaps(gaps []upgradeGap) string {
	total, parts := 0.0, make([]string, len(gaps))
	for i, g := range gaps {
		total += g.Seconds
		parts[i] = fmt.Sprintf("%s → %s %.2f s", g.After, g.Before, g.Seconds)
	}
	return fmt.Sprintf("%.1f s: %s", total, strings.Join(parts, ", "))
}
