package provider

import (
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

func TestParseTimeout(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"20m", 20 * time.Minute, true},
		{"300ms", 300 * time.Millisecond, true},
		{"1h30m", 90 * time.Minute, true},
		{"2d", 48 * time.Hour, true},
		{"1d12h", 36 * time.Hour, true},
		{"1.5h", 90 * time.Minute, true},
		{"10 minutes", 0, false},
		{"d", 0, false},
		{"0s", 0, false},
		{"-5m", 0, false},
		{"", 0, false},
		{"1d-30h", 0, false},
	} {
		got, err := parseTimeout(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseTimeout(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// A timeout written as prose is refused naming the attribute and the form to write; one in days is
// taken.
func TestAccTimeouts(t *testing.T) {
	env := newTestEnv(t)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             env.checkNoInstanceLeft(),
		Steps: []resource.TestStep{
			{
				Config: serviceConfig(env, "postgres-15", "  timeouts = {\n    create = \"10 minutes\"\n  }"),
				ExpectError: errorText("Invalid timeout", `timeouts.create = "10 minutes" is not a positive duration: a number with a unit, d, h, m or s, such as 30m, 1h30m or 2d.`,
					"Leave it out for the default, 20m."),
			},
			{
				Config: serviceConfig(env, "postgres-15", "  timeouts = {\n    create = \"1d\"\n  }"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(serviceAddr, tfjsonpath.New("timeouts").AtMapKey("create"), knownvalue.StringExact("1d")),
				},
			},
		},
	})
}
