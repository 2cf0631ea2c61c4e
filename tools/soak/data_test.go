package soak

import (
	"reflect"
	"strings"
	"testing"

	"github.com/divio/terraform-provider-divio/internal/simulator"
)

// TestDataHistoryExpect: each way a cycle changes a service says what its instance holds after.
func TestDataHistoryExpect(t *testing.T) {
	h := NewDataHistory()
	before := Config{Services: []Service{
		{Name: "kept", Env: 0, Service: "postgres-15", Prefix: "MAIN", Backup: 1},
		{Name: "upgraded", Env: 0, Service: "postgres-15", Prefix: "CACHE"},
		{Name: "renamed", Env: 1, Service: "s3", Prefix: "DEFAULT"},
		{Name: "replaced", Env: 1, Service: "postgres-15", Prefix: "MAIN"},
	}}
	h.Record(map[string]string{"kept": "k1", "upgraded": "u1", "renamed": "r1", "replaced": "x1"}, map[string]string{"kept": "b1"})
	after := Config{Services: []Service{
		{Name: "kept", Env: 0, Service: "postgres-15", Prefix: "MAIN", Backup: 1},
		{Name: "upgraded", Env: 0, Service: "postgres-16", Prefix: "CACHE"},
		{Name: "renamed", Env: 1, Service: "s3", Prefix: "JOBS"},
		{Name: "replaced", Env: 1, Service: "mysql-8", Prefix: "MAIN"},
		{Name: "fresh", Env: 2, Service: "s3", Prefix: "MAIN"},
		{Name: "copy", Env: 1, Service: "postgres-16", Prefix: "JOBS", CopyFrom: "kept"},
		{Name: "fromBackup", Env: 0, Service: "postgres-15", Prefix: "JOBS", CopyFrom: "kept", CopyBackup: true},
		{Name: "ofCopy", Env: 0, Service: "postgres-16", Prefix: "ARCHIVE", CopyFrom: "copy"},
	}}
	h.Wrote("kept", "k2") // written after the backup
	want := map[string]string{"kept": "k2", "upgraded": "u1", "renamed": "r1", "replaced": "", "fresh": "",
		"copy": "k2", "fromBackup": "k1", "ofCopy": "k2"}
	if got := h.Expect(before, after); !reflect.DeepEqual(got, want) {
		t.Errorf("Expect = %v, want %v", got, want)
	}

	// After a destroy everything is new: a copy takes what its new source holds, and a copy from a
	// backup taken in the same apply takes what that backup's service then holds.
	h.Forget()
	fromNew := Config{Services: []Service{
		{Name: "source", Env: 0, Service: "postgres-15", Prefix: "MAIN", Backup: 1, CopyFrom: "older"},
		{Name: "older", Env: 1, Service: "postgres-15", Prefix: "MAIN"},
		{Name: "fromBackup", Env: 0, Service: "postgres-15", Prefix: "JOBS", CopyFrom: "source", CopyBackup: true},
	}}
	if got := h.Expect(Config{}, fromNew); !reflect.DeepEqual(got, map[string]string{"source": "", "older": "", "fromBackup": ""}) {
		t.Errorf("Expect after a destroy = %v, want nothing anywhere", got)
	}
}

// TestDataHistoryRecord: a backup the state did not hold before took what its service holds after
// the apply; one it held keeps what it took.
func TestDataHistoryRecord(t *testing.T) {
	h := NewDataHistory()
	h.Record(map[string]string{"a": "a1"}, map[string]string{"a": "b1"})
	h.Wrote("a", "a2")
	h.Record(map[string]string{"a": "a2", "b": ""}, map[string]string{"a": "b1", "b": "b2"})
	if h.backups["b1"] != "a1" || h.backups["b2"] != "" || h.backupOf["a"] != "b1" {
		t.Errorf("backups %v, backupOf %v", h.backups, h.backupOf)
	}
	if a, b := h.NewToken("s1", 3), h.NewToken("s1", 3); a == b || !strings.HasPrefix(a, "s1@cycle3#") {
		t.Errorf("tokens %q and %q: want distinct, naming the service and cycle", a, b)
	}
}

func TestCheckData(t *testing.T) {
	cfg := Config{Services: []Service{
		{Name: "s1", Env: 0, Service: "postgres-16", Prefix: "MAIN"},
		{Name: "s2", Env: 0, Service: "s3", Prefix: "MAIN", CopyFrom: "s1"},
		{Name: "s3", Env: 1, Service: "mysql-8", Prefix: "MAIN"},
		{Name: "s4", Env: 1, Service: "s3", Prefix: "MAIN"},
		{Name: "s5", Env: 1, Service: "s3", Prefix: "JOBS"}, // not in the state: Drift's to report
	}}
	state := stateOf(managed("divio_service", "s1", "i1"), managed("divio_service", "s2", "i2"), managed("divio_service", "s3", "i3"),
		managed("divio_service", "s4", "i4"))
	data := func(id, d string) simulator.InstanceState {
		return simulator.InstanceState{Instance: simulator.Instance{UUID: id, Status: simulator.StatusAttached}, Data: d}
	}
	instances := []simulator.InstanceState{data("i1", "t1"), data("i2", ""), data("i3", "t9"), data("i4", "")}
	f := CheckData(cfg, state, instances, map[string]string{"s1": "t1", "s2": "t1", "s3": "", "s4": "", "s5": "t5"})
	if len(f.Lost) != 1 || !strings.Contains(f.Lost[0], "divio_service.s2") || !strings.Contains(f.Lost[0], "copied from divio_service.s1") {
		t.Errorf("lost %v, want s2's copy", f.Lost)
	}
	if len(f.Stray) != 1 || !strings.Contains(f.Stray[0], "divio_service.s3") {
		t.Errorf("stray %v, want s3's", f.Stray)
	}
	if f.Checked != 4 || f.Verified != 1 {
		t.Errorf("checked %d, verified %d; want 4, 1", f.Checked, f.Verified)
	}
}

func TestLeftovers(t *testing.T) {
	got := Leftovers([]simulator.Instance{
		instance("a", 0, "postgres-16", "TF_NEW_0123ABCD", simulator.StatusPendingAttachment),
		instance("b", 0, "postgres-15", "TF_OLD_0123ABCD", simulator.StatusRemoved),
		instance("c", 0, "postgres-15", "MAIN", simulator.StatusAttached),
	})
	if len(got) != 1 || !strings.Contains(got[0], "instance a ") {
		t.Errorf("Leftovers = %v, want a", got)
	}
}

func TestLostVariables(t *testing.T) {
	before := Config{Services: []Service{
		{Name: "up", Env: 0, Service: "postgres-15", Prefix: "DEFAULT", Attached: true},
		{Name: "ren", Env: 0, Service: "s3", Prefix: "MAIN", Attached: true},
		{Name: "byRule", Env: 0, Service: "postgres-15", Prefix: "CACHE"},
		{Name: "detached", Env: 0, Service: "postgres-15", Prefix: "JOBS", Attached: true},
		{Name: "unused", Env: 0, Service: "postgres-15", Prefix: "MEDIA"},
	}}
	after := Config{Services: []Service{
		{Name: "up", Env: 0, Service: "postgres-16", Prefix: "DEFAULT", Attached: true},
		{Name: "ren", Env: 0, Service: "s3", Prefix: "JOBS", Attached: true},
		{Name: "byRule", Env: 0, Service: "postgres-16", Prefix: "CACHE"},
		{Name: "detached", Env: 0, Service: "postgres-16", Prefix: "JOBS"},
		{Name: "unused", Env: 0, Service: "postgres-16", Prefix: "MEDIA"},
	}}
	inUse := map[string]bool{"up": true, "ren": true, "byRule": true, "detached": true}
	deployment := func(id string, env int, names ...string) AuditedDeployment {
		return AuditedDeployment{Deployment: simulator.Deployment{UUID: id, Environment: Environments[env].ID()}, Variables: names}
	}
	all := []string{"DEFAULT_DATABASE_DSN", "DATABASE_URL", "CACHE_DATABASE_DSN"}
	audited := []AuditedDeployment{
		deployment("d1", 0, append(all, "MAIN_STORAGE_DSN")...),                          // before the rename
		deployment("d2", 0, append(all, "JOBS_STORAGE_DSN", "TF_OLD_X_DATABASE_DSN")...), // after it
		deployment("d3", 0, "DEFAULT_DATABASE_DSN", "JOBS_STORAGE_DSN"),                  // upgrades lost DATABASE_URL and CACHE
		deployment("d4", 1), // another environment
	}
	got := LostVariables(before, after, inUse, audited)
	if len(got) != 2 || !strings.Contains(got[0], "deployment d3") || !strings.Contains(got[0], "up (postgres-16 DEFAULT") ||
		!strings.Contains(got[1], "deployment d3") || !strings.Contains(got[1], "byRule") {
		t.Errorf("LostVariables = %v, want d3 for up and byRule", got)
	}
	if tmp := TemporaryVariables(audited); len(tmp) != 1 || !strings.Contains(tmp[0], "d2") {
		t.Errorf("TemporaryVariables = %v, want d2's", tmp)
	}
}
