package main

import (
	"flag"
	"log"

	"github.com/divio/terraform-provider-divio/internal/pluginserver"
	"github.com/divio/terraform-provider-divio/internal/provider"
)

// version is set by goreleaser at release time.
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()

	err := pluginserver.Serve("registry.terraform.io/divio/divio", provider.New(version), debug)
	if err != nil {
		log.Fatal(err)
	}
}
