package simulator

import (
	"fmt"
	"slices"
	"time"
)

// Retention, as Divio's backups reference gives it: on-demand backups are
// kept at least 30 days, and of those older, only the three newest of the
// environment; scheduled ones by a grandfather-father-son policy of 7 daily,
// 4 weekly and 12 monthly backups.
const (
	manualKeptFor        = 30 * 24 * time.Hour
	manualKeptOnceOld    = 3
	scheduledKeptDaily   = 7
	scheduledKeptWeekly  = 4
	scheduledKeptMonthly = 12
)

// scheduledBackupHour is the hour (UTC, on the simulator's clock) at which the
// platform takes its daily scheduled backups, when they are on.
const scheduledBackupHour = 2

// applyRetention deletes the backups the retention policies no longer keep
// at now, environment by environment, and reports whether it deleted any.
func (st *state) applyRetention(now time.Time) bool {
	groups := map[[2]string][]*backupRecord{} // (environment, trigger) -> newest first
	for _, b := range slices.Backward(st.Backups) {
		key := [2]string{b.Environment, b.Trigger}
		groups[key] = append(groups[key], b)
	}
	kept := map[*backupRecord]bool{}
	for key, newestFirst := range groups {
		// Appended in order of creation; the stable sort only guards against a
		// clock that stepped back.
		slices.SortStableFunc(newestFirst, func(a, b *backupRecord) int { return b.CreatedAt.Compare(a.CreatedAt) })
		switch key[1] {
		case TriggerManual:
			keepManual(newestFirst, now, kept)
		case TriggerScheduled:
			keepNewestPerPeriod(newestFirst, dayOf, scheduledKeptDaily, kept)
			keepNewestPerPeriod(newestFirst, weekOf, scheduledKeptWeekly, kept)
			keepNewestPerPeriod(newestFirst, monthOf, scheduledKeptMonthly, kept)
		default:
			for _, b := range newestFirst {
				kept[b] = true
			}
		}
	}
	before := len(st.Backups)
	st.Backups = slices.DeleteFunc(st.Backups, func(b *backupRecord) bool { return !kept[b] })
	return len(st.Backups) != before
}

// keepManual keeps every on-demand backup younger than 30 days, and the three
// newest of the older ones.
func keepManual(newestFirst []*backupRecord, now time.Time, kept map[*backupRecord]bool) {
	old := 0
	for _, b := range newestFirst {
		if now.Sub(b.CreatedAt) >= manualKeptFor {
			old++
			if old > manualKeptOnceOld {
				continue
			}
		}
		kept[b] = true
	}
}

// keepNewestPerPeriod keeps the newest backup of each of the n newest periods
// that hold one: counting periods with a backup rather than calendar periods
// never deletes the last backups of an environment that stopped being backed up.
func keepNewestPerPeriod(newestFirst []*backupRecord, period func(time.Time) string, n int, kept map[*backupRecord]bool) {
	seen := map[string]bool{}
	for _, b := range newestFirst {
		p := period(b.CreatedAt)
		if seen[p] {
			continue
		}
		if len(seen) == n {
			return
		}
		seen[p] = true
		kept[b] = true
	}
}

func dayOf(t time.Time) string   { return t.UTC().Format(time.DateOnly) }
func monthOf(t time.Time) string { return t.UTC().Format("2006-01") }
func weekOf(t time.Time) string {
	year, week := t.UTC().ISOWeek()
	return fmt.Sprintf("%d-W%02d", year, week)
}

// scheduledBackup plays the platform taking a scheduled backup of an
// environment at a time: of every functional database and storage instance.
func (st *state) scheduledBackup(envID string, at time.Time) (*backupRecord, error) {
	if _, ok := st.data.environment(envID); !ok {
		return nil, errNotFound
	}
	var instances []*instanceRecord
	for _, in := range st.Instances {
		if in.Environment == envID && in.provisioned() && backedUp(in.Type) {
			instances = append(instances, in)
		}
	}
	if len(instances) == 0 {
		return nil, conflictError(fmt.Sprintf("Environment %s has no functional %s or %s instance: a scheduled backup would hold nothing.",
			envID, TypeDatabase, TypeStorage))
	}
	return st.newBackup(envID, instances, TriggerScheduled, at), nil
}

// scheduleBackups turns the daily scheduled backups on or off; on, the next
// is due at the next scheduled hour after now, unless one is due already (a
// data file that carries on).
func (st *state) scheduleBackups(on bool, now time.Time) {
	st.scheduledBackups = on
	switch {
	case !on:
		st.NextScheduledBackupAt = time.Time{}
	case st.NextScheduledBackupAt.IsZero():
		next := time.Date(now.Year(), now.Month(), now.Day(), scheduledBackupHour, 0, 0, 0, time.UTC)
		if !next.After(now) {
			next = next.AddDate(0, 0, 1)
		}
		st.NextScheduledBackupAt = next
	}
}

// takeScheduledBackups takes, day by day, the scheduled backups that fell due
// by now, each of every environment with something to back up, as of its own
// time: what ran before it has ended, and retention has had its say.
func (st *state) takeScheduledBackups(now time.Time) bool {
	changed := false
	for st.scheduledBackups && !now.Before(st.NextScheduledBackupAt) {
		at := st.NextScheduledBackupAt
		st.progressBackups(at)
		for _, env := range st.data.environments {
			if _, err := st.scheduledBackup(env.UUID, at); err == nil {
				changed = true
			}
		}
		st.progressBackups(at)
		st.applyRetention(at)
		st.NextScheduledBackupAt = at.AddDate(0, 0, 1)
	}
	return changed
}
