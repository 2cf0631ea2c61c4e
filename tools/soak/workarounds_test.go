package soak

import (
	"reflect"
	"testing"
)

// The outputs are terraform's, as the reproductions of the two bugs printed them.
func TestStuckUpgradeInstances(t *testing.T) {
	output := `Error: Upgrade of service instance 4a20c910-cb1f-4694-8036-13e6a57fed56 stopped

The upgrade of service instance 4a20c910-cb1f-4694-8036-13e6a57fed56
(postgres-15, prefix DEFAULT) in environment bench-app-1/test
(a63905db-616d-59a4-a99f-e109a7dd50ba) to postgres-16 stopped while it
provisioned the new instance: gave up waiting for service instance
59597e55-d782-4d0d-b9ee-bdcae4ef43d9 to become functional: context deadline
exceeded`
	if got := StuckUpgradeInstances(output + "\n" + output); !reflect.DeepEqual(got, []string{"59597e55-d782-4d0d-b9ee-bdcae4ef43d9"}) {
		t.Errorf("StuckUpgradeInstances = %v", got)
	}
	if got := StuckUpgradeInstances("stopped while it copied the data into the new instance"); got != nil {
		t.Errorf("StuckUpgradeInstances of another stop = %v", got)
	}
}

func TestBlockedUpgrades(t *testing.T) {
	output := `Error: Prefix already in use

  with divio_service.db,
  on main.tf line 16, in resource "divio_service" "db":
  16:   prefix         = "DEFAULT"

Renaming service instance ba2ccce6-b3a4-4e6c-971f-f51e686c4a4e (postgres-15,
prefix TF_OLD_BA2CCCE6) in environment bench-app-1/test
(a63905db-616d-59a4-a99f-e109a7dd50ba) to DEFAULT: service instance
fe2e2964-25c1-490e-a697-cb65b7679722 (postgres-16, prefix DEFAULT) in
environment bench-app-1/test (a63905db-616d-59a4-a99f-e109a7dd50ba) holds
that prefix.`
	want := map[string]string{"fe2e2964-25c1-490e-a697-cb65b7679722": "TF_NEW_BA2CCCE6"}
	if got := BlockedUpgrades(output + "\n" + output); !reflect.DeepEqual(got, want) {
		t.Errorf("BlockedUpgrades = %v, want %v", got, want)
	}
	// A rename the user asked for, refused because another instance holds the prefix: not this bug.
	other := `Renaming service instance ba2ccce6-b3a4-4e6c-971f-f51e686c4a4e (postgres-15,
prefix MAIN) in environment bench-app-1/test (a63905db-616d-59a4-a99f-e109a7dd50ba) to DEFAULT: service instance
fe2e2964-25c1-490e-a697-cb65b7679722 (postgres-16, prefix DEFAULT) holds that prefix.`
	if got := BlockedUpgrades(other); len(got) != 0 {
		t.Errorf("BlockedUpgrades of a plain rename = %v", got)
	}
}
