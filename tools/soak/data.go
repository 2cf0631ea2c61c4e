package soak

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/divio/terraform-provider-divio/internal/simulator"
)

// Data tokens stand for the content of the instances (the simulator's data, contract: "Data
// stands for content"). The soak writes a token into every instance that a configured divio_service
// holds once it is functional and its history gives it none, and now and then a new one, as the
// application writes. The history of each resource says which token its instance must hold: an
// upgrade moves it into the new instance, a rename keeps it, a copy (copy_data_from) takes its
// source's, or its source's backup's; a new or replaced service starts empty. A removal takes it
// into the final backup, whose content the soak does not read.

// DataHistory follows, from one converged apply to the next, the token each configured
// divio_service's instance holds, and the token each divio_service_backup took.
type DataHistory struct {
	held     map[string]string // service name -> token its instance holds; "" none
	backups  map[string]string // divio_service_backup id -> token it took
	backupOf map[string]string // service name -> id of its divio_service_backup at the last record
	serial   int
}

// NewDataHistory starts with no service.
func NewDataHistory() *DataHistory {
	return &DataHistory{held: map[string]string{}, backups: map[string]string{}, backupOf: map[string]string{}}
}

// Forget starts over, as after a destroy: every service of the next apply is new.
func (h *DataHistory) Forget() {
	h.held, h.backupOf = map[string]string{}, map[string]string{}
}

// Expect returns, by service name, the token that each service of after holds once an apply from
// before (what the state held) to after has converged: a service kept, upgraded (same engine) or
// renamed holds what it held; a new copy what its source held, or what its source's backup took; a
// new or replaced service (another engine) nothing. A source's token is the one it holds after the
// apply: a source new in the same apply (after a destroy) is created, and copied, first.
func (h *DataHistory) Expect(before, after Config) map[string]string {
	want := map[string]string{}
	var expect func(name string, depth int) string
	expect = func(name string, depth int) string {
		if w, ok := want[name]; ok {
			return w
		}
		s, _ := after.find(name)
		prev, existed := before.find(name)
		w := ""
		switch {
		case existed && engine(prev.Service) == engine(s.Service):
			w = h.held[name]
		case existed, s.CopyFrom == "", depth > len(after.Services):
		case s.CopyBackup && h.backupOf[s.CopyFrom] != "":
			w = h.backups[h.backupOf[s.CopyFrom]] // the backup the state held before the apply
		default:
			w = expect(s.CopyFrom, depth+1) // a backup taken in this apply takes what its source then holds
		}
		want[name] = w
		return w
	}
	for _, s := range after.Services {
		expect(s.Name, 0)
	}
	return want
}

// Record makes want the tokens the services hold, and notes the backups of the state (by service
// name): one that the last record did not see was taken during the apply, after its service's
// create, copy or upgrade (it refers to its id), so it took what the service holds now.
func (h *DataHistory) Record(want map[string]string, backupIDs map[string]string) {
	h.held = maps.Clone(want)
	h.backupOf = map[string]string{}
	for name, id := range backupIDs {
		if _, seen := h.backups[id]; !seen {
			h.backups[id] = want[name]
		}
		h.backupOf[name] = id
	}
}

// NewToken returns a token for a service's instance that no other instance ever held.
func (h *DataHistory) NewToken(name string, cycle int) string {
	h.serial++
	return fmt.Sprintf("%s@cycle%d#%d", name, cycle, h.serial)
}

// Wrote records that the soak wrote token into the instance of service name.
func (h *DataHistory) Wrote(name, token string) { h.held[name] = token }

// Held returns the token the instance of service name holds, "" for none.
func (h *DataHistory) Held(name string) string { return h.held[name] }

// DataFindings are the instances whose data disagrees with their history.
type DataFindings struct {
	Lost     []string // a token the history gives the instance is not in it
	Stray    []string // the instance holds data the history does not give it
	Checked  int      // services whose instance was compared
	Verified int      // of those, ones that hold a token
}

// CheckData compares the data that each configured service's instance holds (the state names it)
// with want; a service missing from the state, or whose instance is not live, is the other
// checks' to report.
func CheckData(cfg Config, state *tfjson.State, instances []simulator.InstanceState, want map[string]string) DataFindings {
	var f DataFindings
	data := map[string]simulator.InstanceState{}
	for _, in := range instances {
		if in.Status != simulator.StatusRemoved {
			data[in.UUID] = in
		}
	}
	services := stateIDs(state, "divio_service")
	for _, s := range cfg.Services {
		in, ok := data[services[s.Name]]
		if !ok {
			continue
		}
		f.Checked++
		switch w := want[s.Name]; {
		case w != "" && in.Data != w:
			f.Lost = append(f.Lost, fmt.Sprintf("divio_service.%s (%s %s): instance %s holds %q, want %q (%s)", s.Name, s.Service, s.Prefix, in.UUID, in.Data, w, s.history()))
		case w == "" && in.Data != "":
			f.Stray = append(f.Stray, fmt.Sprintf("divio_service.%s (%s %s): instance %s holds %q, want nothing (%s)", s.Name, s.Service, s.Prefix, in.UUID, in.Data, s.history()))
		case w != "":
			f.Verified++
		}
	}
	return f
}

// history says where a service's data comes from, for messages.
func (s Service) history() string {
	switch {
	case s.CopyFrom == "":
		return "its own"
	case s.CopyBackup:
		return "copied from divio_service_backup." + s.CopyFrom
	}
	return "copied from divio_service." + s.CopyFrom
}

// upgradePrefixes are the starts of the temporary prefixes of an upgrade: the new instance's until
// the renames, the old one's after them.
var upgradePrefixes = []string{"TF_NEW_", "TF_OLD_"}

func temporary(prefix string) bool {
	return slices.ContainsFunc(upgradePrefixes, func(p string) bool { return strings.HasPrefix(prefix, p) })
}

// Leftovers are the live instances under an upgrade's temporary prefix: once an apply has
// converged, every upgrade it began is finished, and none may stay.
func Leftovers(instances []simulator.Instance) []string {
	var out []string
	for _, in := range instances {
		if in.Status != simulator.StatusRemoved && temporary(in.Prefix) {
			out = append(out, fmt.Sprintf("instance %s (%s %s, %s) in environment %s", in.UUID, in.Type, in.Prefix, in.Status, in.Environment))
		}
	}
	return out
}
