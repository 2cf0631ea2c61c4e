package soak

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/divio/terraform-provider-divio/internal/simulator"
)

// backupable reports whether the simulator backs up instances of a catalog service.
func backupable(service string) bool {
	t := ServiceTypes[service]
	return t == simulator.TypeDatabase || t == simulator.TypeStorage
}

// backUp gives a DATABASE or STORAGE service a divio_service_backup.
func (m *mutation) backUp() bool {
	i, ok := m.pick(func(s Service) bool { return s.Backup == 0 && backupable(s.Service) })
	if !ok {
		return false
	}
	m.next.Services[i].Backup = 1
	m.changes = append(m.changes, "back up "+m.next.Services[i].Name)
	return true
}

// dropBackup destroys a service's divio_service_backup, which deletes the backup.
func (m *mutation) dropBackup() bool {
	i, ok := m.pick(func(s Service) bool { return s.Backup > 0 })
	if !ok {
		return false
	}
	m.next.Services[i].Backup = 0
	m.changes = append(m.changes, "drop the backup of "+m.next.Services[i].Name)
	m.forgetCopiesOf(m.next.Services[i].Name, true)
	return true
}

// retrigger changes a backup's triggers: a new backup replaces it.
func (m *mutation) retrigger() bool {
	i, ok := m.pick(func(s Service) bool { return s.Backup > 0 })
	if !ok {
		return false
	}
	m.next.Services[i].Backup++
	m.changes = append(m.changes, fmt.Sprintf("retrigger the backup of %s (generation %d)", m.next.Services[i].Name, m.next.Services[i].Backup))
	return true
}

// toggleFinalBackup switches whether a service's removal takes a final backup.
func (m *mutation) toggleFinalBackup() bool {
	i, ok := m.pick(func(Service) bool { return true })
	if !ok {
		return false
	}
	s := &m.next.Services[i]
	s.NoFinalBackup = !s.NoFinalBackup
	m.changes = append(m.changes, fmt.Sprintf("set %s final_backup = %t", s.Name, !s.NoFinalBackup))
	return true
}

// backupHCL renders what a service adds to the configuration for backups. The backup's create
// timeout is the service's: a backup of an instance whose provisioning the soak stalled waits for
// provisioning within it, and would otherwise hold the apply for the default 20 minutes.
func (s Service) backupHCL() string {
	if s.Backup == 0 {
		return ""
	}
	return fmt.Sprintf("\nresource \"divio_service_backup\" %q {\n  service_id = divio_service.%s.id\n  triggers   = { generation = \"%d\" }\n\n  timeouts = {\n    create = %q\n  }\n}\n",
		s.Name, s.Name, s.Backup, CreateTimeout)
}

// instanceIDs are the ids of the instances, REMOVED ones included.
func instanceIDs(instances []simulator.Instance, onlyRemoved bool) map[string]bool {
	ids := map[string]bool{}
	for _, in := range instances {
		if !onlyRemoved || in.Status == simulator.StatusRemoved {
			ids[in.UUID] = true
		}
	}
	return ids
}

// finalBackupOf returns the instance whose final backup b is, or "": the provider names the
// instance in the notes of the backup it takes before removing it.
func finalBackupOf(b simulator.Backup, instances map[string]bool) string {
	rest, final := strings.CutPrefix(b.Notes, finalBackupNotes)
	if !final {
		return ""
	}
	id, _, _ := strings.Cut(rest, " ")
	if instances[id] {
		return id
	}
	return ""
}

// redeployedBetween reports whether a deployment of environment env ran wholly between two final
// backups of one instance: a deployment that attached the instance while the first was taken makes
// Divio refuse its removal as in use, and the provider detaches it with that deployment and backs it
// up anew, since the application may have written to it.
func redeployedBetween(deployments []simulator.Deployment, env string, from, to time.Time) bool {
	return slices.ContainsFunc(deployments, func(d simulator.Deployment) bool {
		return d.Environment == env && d.StartedAt.After(from) && d.EndedAt != nil && d.EndedAt.Before(to)
	})
}

// The starts of the notes of the provider's backups: the one it takes before removing an instance,
// and those it copies data with, for an upgrade and for copy_data_from.
const (
	finalBackupNotes   = "Final backup of service instance "
	upgradeBackupNotes = "Upgrade of service instance "
	copyBackupNotes    = "Copy into service instance "
)

// copyBackup reports whether b is a backup that the provider copied data with: an upgrade's or a
// copy_data_from's. It keeps it, as any on-demand backup, until Divio's retention deletes it.
func copyBackup(b simulator.Backup) bool {
	return strings.HasPrefix(b.Notes, upgradeBackupNotes) || strings.HasPrefix(b.Notes, copyBackupNotes)
}

// CopyBackups counts the backups that the provider copied data with.
func CopyBackups(backups []simulator.Backup) int {
	n := 0
	for _, b := range backups {
		if copyBackup(b) {
			n++
		}
	}
	return n
}

// CheckBackups compares the simulator's backups with Terraform's state and the configuration: a
// backup is held by one divio_service_backup, or is the final backup of an instance (one that
// succeeded per instance at most, but for redeployedBetween), or is one that an upgrade or a
// copy_data_from copied data with; any other is an orphan that nobody will delete. A final backup
// that failed is kept too: the error named it, and its instance was not removed.
//
// The exception is a backup that a killed terraform left (leftByKill): SIGKILL between Divio
// starting a backup and Terraform saving it in the state leaves it outside any state, which no
// provider can prevent. Those are returned apart, not counted as orphans.
func CheckBackups(cfg Config, state *tfjson.State, instances []simulator.Instance, backups []simulator.Backup,
	deployments []simulator.Deployment, leftByKill func(simulator.Backup) bool) (f Findings, killed []string) {
	all := instanceIDs(instances, false)
	exists := map[string]bool{}
	for _, b := range backups {
		exists[b.UUID] = true
	}
	held := stateIDs(state, "divio_service_backup")
	holders := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(held)) {
		id := held[name]
		if other, ok := holders[id]; ok {
			f.add(&f.Duplicates, "divio_service_backup.%s and divio_service_backup.%s both hold backup %s", other, name, id)
		}
		holders[id] = name
		if !exists[id] {
			f.add(&f.Ghosts, "divio_service_backup.%s holds backup %s, which does not exist", name, id)
		}
	}
	finals := map[string][]simulator.Backup{}
	for _, b := range backups {
		if _, ok := holders[b.UUID]; ok || copyBackup(b) {
			continue
		}
		of := finalBackupOf(b, all)
		switch {
		case of == "" && leftByKill(b):
			killed = append(killed, b.UUID)
		case of == "":
			f.add(&f.Orphans, "backup %s (%s, notes %q) is in no divio_service_backup of the state and is no instance's final backup", b.UUID, b.State, b.Notes)
		case b.Success != nil && *b.Success == simulator.BackupSuccess:
			finals[of] = append(finals[of], b)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(finals)) {
		taken := finals[id]
		slices.SortFunc(taken, func(a, b simulator.Backup) int { return a.CreatedAt.Compare(b.CreatedAt) })
		for i := 1; i < len(taken); i++ {
			if !redeployedBetween(deployments, taken[i].Environment, taken[i-1].CreatedAt, taken[i].CreatedAt) {
				f.add(&f.Duplicates, "2 successful final backups of instance %s, with no deployment between: %s (%s) and %s (%s)",
					id, taken[i-1].UUID, taken[i-1].CreatedAt.Format(time.TimeOnly), taken[i].UUID, taken[i].CreatedAt.Format(time.TimeOnly))
			}
		}
	}
	configured := map[string]bool{}
	for _, s := range cfg.Services {
		if s.Backup > 0 {
			configured[s.Name] = true
			if _, ok := held[s.Name]; !ok {
				f.add(&f.Drift, "divio_service_backup.%s is configured but not in the state", s.Name)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(held)) {
		if !configured[name] {
			f.add(&f.Drift, "divio_service_backup.%s is in the state but not configured", name)
		}
	}
	return f, killed
}

// FinalBackups counts the backups that are final backups of removed instances.
func FinalBackups(instances []simulator.Instance, backups []simulator.Backup) int {
	removed := instanceIDs(instances, true)
	n := 0
	for _, b := range backups {
		if finalBackupOf(b, removed) != "" {
			n++
		}
	}
	return n
}

// merge adds another check's findings.
func (f *Findings) merge(other Findings) {
	f.Duplicates += other.Duplicates
	f.Orphans += other.Orphans
	f.Ghosts += other.Ghosts
	f.Attachments += other.Attachments
	f.Drift += other.Drift
	f.Problems = append(f.Problems, other.Problems...)
}
