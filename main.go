package main

import (
	"context"
	"flag"
	"log"
	"os"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/divio/terraform-provider-divio/internal/provider"
)

// version is set by goreleaser at release time.
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()
	quietSDKLogsUnlessAsked()

	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.terraform.io/divio/divio",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err)
	}
}

// quietSDKLogsUnlessAsked turns off the plugin SDKs' own logs when nobody asked for logs.
// Without a level they log at TRACE, and Terraform throws the lines away unless TF_LOG is set,
// yet formatting them was a third of the provider's CPU in a plan of 200 resources (make bench).
// With TF_LOG or any TF_LOG_SDK* variable set, everything logs as usual.
func quietSDKLogsUnlessAsked() {
	for _, name := range []string{"TF_LOG", "TF_LOG_PROVIDER", "TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK"} {
		if os.Getenv(name) != "" {
			return
		}
	}
	for _, name := range []string{"TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK"} {
		_ = os.Setenv(name, "off")
	}
}
