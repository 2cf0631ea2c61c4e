package pluginserver

import "os"

// QuietSDKUnlessAsked turns off the plugin SDKs' own logs when nobody asked for logs. Without a
// level they log at TRACE, and Terraform throws the lines away unless TF_LOG is set, yet
// formatting them was a third of the provider's CPU in a plan of 200 resources (make bench).
// With TF_LOG or any TF_LOG_SDK* variable set, everything logs as usual. Serve calls it; the
// benchmark's no-op provider (tools/bench/noop) calls it alone, so that both are measured alike.
func QuietSDKUnlessAsked() {
	for _, name := range []string{"TF_LOG", "TF_LOG_PROVIDER", "TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK"} {
		if os.Getenv(name) != "" {
			return
		}
	}
	for _, name := range []string{"TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK"} {
		_ = os.Setenv(name, "off")
	}
}
