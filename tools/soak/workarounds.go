package soak

import (
	"regexp"
	"slices"
)

// The provider bugs that issue 22's soak found, and that it works around as a user would, by hand,
// so that one occurrence does not stop every later cycle from converging: each is counted apart in
// the soak's summary. These read the failed apply's output.

// stuckUpgrade matches an upgrade that stopped waiting for its new instance to become functional,
// and names that instance (terraform wraps the message's lines anywhere).
var stuckUpgrade = regexp.MustCompile(`provisioned\s+the\s+new\s+instance:\s+gave\s+up\s+waiting\s+for\s+service\s+instance\s+([0-9a-f-]{36})`)

// StuckUpgradeInstances returns the new instances, stuck in provisioning, that failed upgrades
// waited for: an upgrade finds its new instance again at every apply, and waits for it until the
// update timeout, for ever.
func StuckUpgradeInstances(output string) []string {
	var ids []string
	for _, m := range stuckUpgrade.FindAllStringSubmatch(output, -1) {
		if !slices.Contains(ids, m[1]) {
			ids = append(ids, m[1])
		}
	}
	return ids
}

// blockedUpgrade matches the plan's refusal of an upgrade cut short after its renames, and names the
// old instance's temporary prefix's suffix, and the new instance that holds the resource's prefix.
var blockedUpgrade = regexp.MustCompile(`Renaming\s+service\s+instance\s+[0-9a-f-]{36}\s+\([^,]+,\s+prefix\s+TF_OLD_([0-9A-F]+)\)[\s\S]*?\s+to\s+[A-Z][A-Z0-9_]*:\s+service\s+instance\s+([0-9a-f-]{36})`)

// BlockedUpgrades returns, by new instance, the temporary prefix to give back to the new instance of
// each upgrade that the plan refused as a rename of its old instance (TF_OLD_<id>) to the prefix
// that the new one holds.
func BlockedUpgrades(output string) map[string]string {
	out := map[string]string{}
	for _, m := range blockedUpgrade.FindAllStringSubmatch(output, -1) {
		out[m[2]] = "TF_NEW_" + m[1]
	}
	return out
}
