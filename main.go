package main

import (
	"flag"
	"log"

	"github.com/divio/terraform-provider-divio/internal/gctuning"
	"github.com/divio/terraform-provider-divio/internal/pluginlog"
	"github.com/divio/terraform-provider-divio/internal/provider"
	"github.com/divio/terraform-provider-divio/internal/requestcontext"
)

// version is set by goreleaser at release time.
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()
	pluginlog.QuietSDKUnlessAsked()
	gctuning.ForShortLivedProcess()

	// providerserver.Serve, with the framework kept from holding on to finished requests.
	err := requestcontext.Serve("registry.terraform.io/divio/divio", provider.New(version), debug)
	if err != nil {
		log.Fatal(err)
	}
}
