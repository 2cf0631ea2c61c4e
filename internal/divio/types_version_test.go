package divio

import "testing"

func TestServiceVersion(t *testing.T) {
	for _, tc := range []struct {
		identifier, engine string
		version            int
		ok                 bool
	}{
		{"postgres-15", "postgres", 15, true},
		{"postgres-16", "postgres", 16, true},
		{"mysql-8", "mysql", 8, true},
		{"elasticsearch-8", "elasticsearch", 8, true},
		{"s3", "", 0, false},
		{"ms-blob", "", 0, false},
		{"-15", "", 0, false},
		{"postgres-", "", 0, false},
	} {
		engine, version, ok := ServiceVersion(tc.identifier)
		if engine != tc.engine || version != tc.version || ok != tc.ok {
			t.Errorf("ServiceVersion(%q) = %q, %d, %v; want %q, %d, %v", tc.identifier, engine, version, ok, tc.engine, tc.version, tc.ok)
		}
	}
}
