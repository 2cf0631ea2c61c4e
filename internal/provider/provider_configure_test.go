package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/divio/terraform-provider-divio/internal/simulator"
)

// A setting that came from an environment variable is reported as coming from it. These tests set
// the process's environment, so they do not run in parallel (and run before the parallel tests,
// which read it).
func TestAccProvider_settingsFromTheEnvironment(t *testing.T) {
	if useRealAPI() {
		t.Skip("sets DIVIO_API_URL and DIVIO_API_TOKEN itself")
	}
	env := newTestEnv(t)
	lookup := `data "divio_application" "app" {
  slug = "demo-app"
}
`
	t.Run("an invalid endpoint from DIVIO_API_URL", func(t *testing.T) {
		t.Setenv(envEndpoint, "ftp://api.example.com")
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Steps: []resource.TestStep{{
				Config:      fmt.Sprintf("provider \"divio\" {\n  api_token = %q\n}\n\n%s", simulator.DemoToken, lookup),
				ExpectError: errorText("Invalid Divio API endpoint", `The endpoint from the DIVIO_API_URL environment variable: "ftp://api.example.com" must start with https://`),
			}},
		})
	})
	t.Run("a token with a tab inside from DIVIO_API_TOKEN", func(t *testing.T) {
		t.Setenv(envToken, "demo\ttoken")
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Steps: []resource.TestStep{{
				Config:      fmt.Sprintf("provider \"divio\" {\n  endpoint = %q\n}\n\n%s", env.URL, lookup),
				ExpectError: errorText("Invalid Divio API token", "The Divio API token from the DIVIO_API_TOKEN environment variable has whitespace (a space, tab or line break) at character 5"),
			}},
		})
	})
	t.Run("a refused token from DIVIO_API_TOKEN", func(t *testing.T) {
		t.Setenv(envToken, "not-the-token")
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Steps: []resource.TestStep{{
				Config:      fmt.Sprintf("provider \"divio\" {\n  endpoint = %q\n}\n\n%s", env.URL, lookup),
				ExpectError: errorText("401 Unauthorized: Invalid token.", "(check the API token, which came from the DIVIO_API_TOKEN environment variable)"),
			}},
		})
	})
}

// A token read with file() keeps the file's trailing newline, which is trimmed; a token with
// whitespace or a control character inside is refused, naming where it came from, and never shown.
func TestAccProvider_tokenWithWhitespace(t *testing.T) {
	env := newSimulatorEnv(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(env.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lookup := `data "divio_application" "app" {
  slug = "demo-app"
}
`
	t.Run("from file() with a trailing newline", func(t *testing.T) {
		resource.ParallelTest(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Steps: []resource.TestStep{{
				Config: fmt.Sprintf("provider \"divio\" {\n  endpoint  = %q\n  api_token = file(%q)\n}\n\n%s", env.URL, tokenFile, lookup),
				Check:  resource.TestCheckResourceAttr("data.divio_application.app", "slug", "demo-app"),
			}},
		})
	})
	t.Run("with a line break inside, in api_token", func(t *testing.T) {
		resource.ParallelTest(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Steps: []resource.TestStep{{
				Config: fmt.Sprintf("provider \"divio\" {\n  endpoint  = %q\n  api_token = \"demo\\ntoken\"\n}\n\n%s", env.URL, lookup),
				ExpectError: errorText("Invalid Divio API token", "with provider", `api_token = "demo\ntoken"`,
					"The Divio API token from the provider's api_token has whitespace (a space, tab or line break) at character 5,",
					"so it cannot be sent in the Authorization header"),
			}},
		})
	})
}

// A refused connection to a loopback endpoint asks whether the API is there, once the retries are
// spent (how they ride out a restart is the client's test, TestRidesOutAnAPIRestart).
func TestAccProvider_unreachableEndpoint(t *testing.T) {
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `provider "divio" {
  endpoint  = "http://127.0.0.1:1"
  api_token = "demo-token"
}

data "divio_application" "app" {
  slug = "demo-app"
}
`,
			ExpectError: errorText("(is the API at http://127.0.0.1:1, from the provider's endpoint, reachable?)"),
		}},
	})
}
