package main

import (
	"os"
	"path/filepath"
	"testing"
)

// countTests reads gotestsum's JSON file: top-level tests, the acceptance tests among them, and
// subtests, each counted once, by their final action.
func TestCountTests(t *testing.T) {
	events := `{"Action":"start","Package":"p"}
{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"--- PASS"}
{"Action":"pass","Package":"p","Test":"TestA"}
{"Action":"pass","Package":"p","Test":"TestAccB"}
{"Action":"pass","Package":"p","Test":"TestAccB/sub"}
{"Action":"skip","Package":"p","Test":"TestAccB/other"}
{"Action":"skip","Package":"p","Test":"TestAccC"}
{"Action":"fail","Package":"p","Test":"TestAccD"}
{"Action":"fail","Package":"p","Test":"TestAccD/sub"}
{"Action":"skip","Package":"p","Test":"TestE"}
{"Action":"fail","Package":"p"}
not JSON
`
	file := filepath.Join(t.TempDir(), "tests.json")
	if err := os.WriteFile(file, []byte(events), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := countTests(file)
	if err != nil {
		t.Fatal(err)
	}
	want := testCounts{passed: 2, failed: 1, skipped: 2, accPassed: 1, accFailed: 1, accSkipped: 1,
		subtestsPassed: 1, subtestsFailed: 1, subtestsSkipped: 1}
	if got != want {
		t.Errorf("countTests = %+v, want %+v", got, want)
	}
	const line = "3 tests ran (2 passed, 1 failed), 2 skipped; of them acceptance tests (TestAcc...): 2 ran, 1 skipped; subtests: 1 passed, 1 failed, 1 skipped"
	if got.String() != line {
		t.Errorf("String() = %q, want %q", got.String(), line)
	}
}
