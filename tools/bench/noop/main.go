// Command noop is a terraform-plugin-framework provider that does nothing: its one resource,
// noop_thing, copies the plan to the state. The benchmark plans 200 of them to measure what
// Terraform and the framework cost on their own, the baseline the Divio provider is held to.
// It is never shipped.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"

	"github.com/divio/terraform-provider-divio/internal/pluginserver"
	divioprovider "github.com/divio/terraform-provider-divio/internal/provider"
)

type noopProvider struct{}

func (noopProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "noop"
}

func (noopProvider) Schema(context.Context, provider.SchemaRequest, *provider.SchemaResponse) {}

func (noopProvider) Configure(context.Context, provider.ConfigureRequest, *provider.ConfigureResponse) {
}

func (noopProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		func() resource.Resource { return thing{} },
		func() resource.Resource { return service{} },
		func() resource.Resource { return attributesOnly{} },
	}
}

func (noopProvider) DataSources(context.Context) []func() datasource.DataSource { return nil }

// thing has the arguments of a divio_service, so that both plans move the same shape of data.
type thing struct{}

func (thing) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_thing"
}

func (thing) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{Attributes: map[string]schema.Attribute{
		"environment_id": schema.StringAttribute{Required: true},
		"service":        schema.StringAttribute{Required: true},
		"prefix":         schema.StringAttribute{Required: true},
	}}
}

func (thing) Create(_ context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	resp.State.Raw = req.Plan.Raw
}

// Read leaves the state as it is: the framework starts the response from the prior state.
func (thing) Read(context.Context, resource.ReadRequest, *resource.ReadResponse) {}

func (thing) Update(_ context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	resp.State.Raw = req.Plan.Raw
}

// Delete does nothing: the framework drops the state of a delete that reports no error.
func (thing) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {}

// service has divio_service's very schema (attributes, defaults, plan modifiers, validators,
// timeouts attribute) and does nothing: planning it costs what the framework and Terraform spend on
// that schema, so that the Divio provider's plan compared with it shows what its own code adds.
type service struct{ thing }

func (service) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_service"
}

func (service) Schema(ctx context.Context, req resource.SchemaRequest, resp *resource.SchemaResponse) {
	divioprovider.NewServiceResource().Schema(ctx, req, resp)
}

// attributesOnly has divio_service's attributes, with their types and whether they are required,
// optional or computed, and nothing else: no defaults (so its optional attributes are not also
// computed), plan modifiers or validators (its `timeouts` attribute is left as it is). Planning it costs what the schema's size costs, so
// that noop_service compared with it shows what those features cost.
type attributesOnly struct{ service }

func (attributesOnly) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_attributes"
}

func (attributesOnly) Schema(ctx context.Context, req resource.SchemaRequest, resp *resource.SchemaResponse) {
	divioprovider.NewServiceResource().Schema(ctx, req, resp)
	for name, a := range resp.Schema.Attributes {
		switch a := a.(type) {
		case schema.StringAttribute:
			a.Default, a.PlanModifiers, a.Validators, a.Computed = nil, nil, nil, a.Computed && !a.Optional
			resp.Schema.Attributes[name] = a
		case schema.BoolAttribute:
			a.Default, a.PlanModifiers, a.Validators, a.Computed = nil, nil, nil, a.Computed && !a.Optional
			resp.Schema.Attributes[name] = a
		case schema.ListAttribute:
			a.Default, a.PlanModifiers, a.Validators, a.Computed = nil, nil, nil, a.Computed && !a.Optional
			resp.Schema.Attributes[name] = a
		}
	}
}

// Create makes the computed values known, as the Divio provider does.
func (service) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	resp.State.Raw = req.Plan.Raw
	for name, value := range map[string]string{"id": "noop", "region_id": "noop", "type": "DATABASE", "status": "NEW"} {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(name), value)...)
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("env_var_names"), []string{})...)
}

func main() {
	// -debug serves the provider for reattaching, as the Divio provider's main.go does, so that
	// the benchmark can measure both processes the same way.
	debug := flag.Bool("debug", false, "serve for reattaching (TF_REATTACH_PROVIDERS)")
	flag.Parse()
	pluginserver.QuietSDKUnlessAsked() // as the Divio provider does, so that the two compare alike
	// The benchmark's dev_overrides name this address (noopAddress in tools/bench).
	err := providerserver.Serve(context.Background(), func() provider.Provider { return noopProvider{} },
		providerserver.ServeOpts{Address: "registry.terraform.io/bench/noop", Debug: *debug})
	if err != nil {
		log.Fatal(err)
	}
}
