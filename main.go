package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/divio/terraform-provider-divio/internal/gctuning"
	"github.com/divio/terraform-provider-divio/internal/pluginlog"
	"github.com/divio/terraform-provider-divio/internal/provider"
)

// version is set by goreleaser at release time.
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()
	pluginlog.QuietSDKUnlessAsked()
	gctuning.ForShortLivedProcess()

	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.terraform.io/divio/divio",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err)
	}
}

