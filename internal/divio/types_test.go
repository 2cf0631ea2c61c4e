package divio

import (
	"slices"
	"testing"
)

// The names each instance publishes: DEFAULT's database and message queue also under their
// second names, sorted with the first.
func TestVariableNames(t *testing.T) {
	for _, tc := range []struct {
		serviceType, prefix string
		want                []string
	}{
		{TypeDatabase, DefaultPrefix, []string{"DATABASE_URL", "DEFAULT_DATABASE_DSN"}},
		{TypeDatabase, "OLD", []string{"OLD_DATABASE_DSN"}},
		{TypeStorage, DefaultPrefix, []string{"DEFAULT_STORAGE_DSN"}},
		{TypeSearch, DefaultPrefix, []string{"DEFAULT_HAYSTACK_URL"}},
		{TypeMessageQueue, DefaultPrefix, []string{"BROKER_URL", "DEFAULT_AMQP_BROKER_URL"}},
		{TypeMessageQueue, "TASKS", []string{"TASKS_AMQP_BROKER_URL"}},
		{"CACHE", DefaultPrefix, []string{}},
	} {
		if got := VariableNames(tc.serviceType, tc.prefix); !slices.Equal(got, tc.want) || got == nil {
			t.Errorf("VariableNames(%s, %s) = %q, want %q", tc.serviceType, tc.prefix, got, tc.want)
		}
	}
}
