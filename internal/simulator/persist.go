package simulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// loadState reads a data file; a missing file is no error and gives nil.
func loadState(path string) (*state, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read data file: %w", err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("data file %s is not a simulator state: %w", path, err)
	}
	if st.Instances == nil {
		st.Instances = []*instanceRecord{}
	}
	if st.Deployments == nil {
		st.Deployments = []*deploymentRecord{}
	}
	return &st, nil
}

// legacyDeploymentStatus maps the spelling of a deployment's status in data
// files written before the API's was adopted.
var legacyDeploymentStatus = map[string]string{
	"WORKING": DeploymentWorking, "SUCCESS": DeploymentSuccess, "FAILURE": DeploymentFailure,
}

// upgradeDataFile fills in what a data file written by an older simulator
// lacks, so that it carries on where it left off. Fields it no longer knows,
// such as the instances' attach_requested, are ignored when it is read.
func (st *state) upgradeDataFile() {
	for _, in := range st.Instances {
		if in.Password != "" && in.DSN == "" { // fix the secret before a rename could change it
			st.giveCredentials(in)
		}
	}
	st.upgradeBackups()
	for _, d := range st.Deployments {
		if s, ok := legacyDeploymentStatus[d.Status]; ok {
			d.Status = s
		}
		if d.BuildMode == "" {
			d.BuildMode = BuildModeAuto
		}
		if _, app, _, ok := st.data.appOfEnvironment(d.Environment); ok && d.Region == "" {
			d.Region = app.Region
		}
	}
}

// saveState replaces the data file atomically: a crash leaves either the old
// or the new state, never a torn one.
func saveState(path string, st *state) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write data file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write data file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write data file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write data file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write data file: %w", err)
	}
	return syncDir(dir)
}

// syncDir makes the rename itself durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// upgradeBackups gives parts the fields they gained: when they were queued
// and taken, and the service their instance ran; and restores their items.
func (st *state) upgradeBackups() {
	for _, b := range st.Backups {
		for _, part := range b.Parts {
			if part.QueuedAt.IsZero() {
				part.QueuedAt = b.CreatedAt
			}
			if part.TakenAt == nil && part.StartedAt != nil && len(part.Errors) == 0 {
				part.TakenAt = part.StartedAt
			}
			if in, err := st.anyInstance(part.ServiceInstance); err == nil && part.Service == "" {
				part.Service = in.Service
			}
		}
	}
	for _, r := range st.Restores {
		if len(r.Items) == 0 { // the instances they write to held no data then
			for _, target := range r.Targets {
				r.Items = append(r.Items, restoreItem{Target: target})
			}
		}
		r.Targets = nil
	}
}
