// Package pluginserver serves the provider to Terraform as a plugin process: what the provider's
// main does once it has parsed its flags, and what the benchmark's profiled build does too.
package pluginserver

import (
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"
)

// Serve serves the provider at the registry address as providerserver.Serve does with protocol
// version 6 (debug: for reattaching, with debuggers like delve), tuned for a process that serves
// one Terraform command: the plugin SDKs' own logs off unless TF_LOG or TF_LOG_SDK* asks for
// them, a garbage collector that trades memory for CPU, and the framework kept from holding on
// to every finished request. It returns when Terraform is done with the provider.
func Serve(address string, providerFunc func() provider.Provider, debug bool) error {
	QuietSDKUnlessAsked()
	tuneGCForShortLivedProcess()
	var opts []tf6server.ServeOpt
	if debug {
		opts = append(opts, tf6server.WithManagedDebug())
	}
	return tf6server.Serve(address, func() tfprotov6.ProviderServer {
		return releasing(providerserver.NewProtocol6(providerFunc())())
	}, opts...)
}
