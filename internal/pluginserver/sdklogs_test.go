package pluginserver

import (
	"os"
	"testing"
)

func TestQuietSDKUnlessAsked(t *testing.T) {
	for _, tc := range []struct {
		name    string
		set     map[string]string
		wantSDK string
	}{
		{"nobody asked", nil, "off"},
		{"TF_LOG asks for everything", map[string]string{"TF_LOG": "TRACE"}, ""},
		{"a subsystem's level is respected", map[string]string{"TF_LOG_SDK_FRAMEWORK": "DEBUG"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, name := range []string{"TF_LOG", "TF_LOG_PROVIDER", "TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK"} {
				t.Setenv(name, tc.set[name])
			}
			QuietSDKUnlessAsked()
			if got := os.Getenv("TF_LOG_SDK"); got != tc.wantSDK {
				t.Errorf("TF_LOG_SDK = %q, want %q", got, tc.wantSDK)
			}
		})
	}
}
