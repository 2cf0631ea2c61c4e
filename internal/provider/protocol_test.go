package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// protocolProvider is the provider as Terraform talks to it, through the framework's protocol
// server, so that a test also meets the checks the framework makes around the provider's methods
// ("Missing Resource Identity After Read") whatever Terraform version is installed.
type protocolProvider struct {
	t          *testing.T
	server     tfprotov6.ProviderServer
	schemas    *tfprotov6.GetProviderSchemaResponse
	identities map[string]*tfprotov6.ResourceIdentitySchema
}

// newProtocolProvider serves a provider configured for env; with configure false it is never
// configured, as when the provider's own arguments are unknown during a plan.
func newProtocolProvider(t *testing.T, env *testEnv, configure bool) *protocolProvider {
	t.Helper()
	ctx := context.Background()
	server, err := providerserver.NewProtocol6WithError(testProvider())()
	if err != nil {
		t.Fatal(err)
	}
	p := &protocolProvider{t: t, server: server}
	p.schemas, err = server.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	p.requireNoErrors("GetProviderSchema", p.schemas.Diagnostics, err)
	identities, err := server.GetResourceIdentitySchemas(ctx, &tfprotov6.GetResourceIdentitySchemasRequest{})
	p.requireNoErrors("GetResourceIdentitySchemas", identities.Diagnostics, err)
	p.identities = identities.IdentitySchemas
	if !configure {
		return p
	}
	config := p.value(p.schemas.Provider.ValueType(), map[string]tftypes.Value{
		"endpoint":  tftypes.NewValue(tftypes.String, env.URL),
		"api_token": tftypes.NewValue(tftypes.String, env.Token),
	})
	resp, err := server.ConfigureProvider(ctx, &tfprotov6.ConfigureProviderRequest{Config: p.dynamic(config)})
	p.requireNoErrors("ConfigureProvider", resp.Diagnostics, err)
	return p
}

// state is a state of typeName with the given attributes, every other one null.
func (p *protocolProvider) state(typeName string, attributes map[string]string) tftypes.Value {
	return p.value(p.schemas.ResourceSchemas[typeName].ValueType(), stringValues(attributes))
}

// value is an object of typ with the given attributes, every other one null.
func (p *protocolProvider) value(typ tftypes.Type, attributes map[string]tftypes.Value) tftypes.Value {
	object := typ.(tftypes.Object)
	values := map[string]tftypes.Value{}
	for name, attrType := range object.AttributeTypes {
		values[name] = tftypes.NewValue(attrType, nil)
		if v, ok := attributes[name]; ok {
			values[name] = v
		}
	}
	for name := range attributes {
		if _, ok := object.AttributeTypes[name]; !ok {
			p.t.Fatalf("the schema has no attribute %q", name)
		}
	}
	return tftypes.NewValue(object, values)
}

func (p *protocolProvider) dynamic(v tftypes.Value) *tfprotov6.DynamicValue {
	dv, err := tfprotov6.NewDynamicValue(v.Type(), v)
	if err != nil {
		p.t.Fatal(err)
	}
	return &dv
}

// read refreshes a state that has no identity stored, as one written by Terraform 1.11 or by a
// provider version without identities.
func (p *protocolProvider) read(typeName string, state tftypes.Value, private []byte) (newState tftypes.Value, identity map[string]string, diags []*tfprotov6.Diagnostic) {
	p.t.Helper()
	resp, err := p.server.ReadResource(context.Background(), &tfprotov6.ReadResourceRequest{
		TypeName: typeName, CurrentState: p.dynamic(state), Private: private,
	})
	if err != nil {
		p.t.Fatal(err)
	}
	return p.decode(resp.NewState, state.Type()), p.identity(typeName, resp.NewIdentity), resp.Diagnostics
}

// importByID imports as `terraform import` and an import block with an id do, then reads, as
// Terraform does after an import.
func (p *protocolProvider) importByID(typeName, id string) (state tftypes.Value, identity map[string]string) {
	p.t.Helper()
	resp, err := p.server.ImportResourceState(context.Background(), &tfprotov6.ImportResourceStateRequest{TypeName: typeName, ID: id})
	p.requireNoErrors("ImportResourceState", resp.Diagnostics, err)
	if len(resp.ImportedResources) != 1 {
		p.t.Fatalf("import of %s %s gave %d resources, want 1", typeName, id, len(resp.ImportedResources))
	}
	imported := resp.ImportedResources[0]
	typ := p.schemas.ResourceSchemas[typeName].ValueType()
	state, identity, diags := p.read(typeName, p.decode(imported.State, typ), imported.Private)
	p.requireNoErrors("ReadResource after import", diags, nil)
	return state, identity
}

// listed is one result of a list resource, decoded.
type listed struct {
	displayName string
	identity    map[string]string
	resource    tftypes.Value
}

// list runs a list resource with the given configuration and include_resource = true, and
// returns its results and the text of its error diagnostics ("" when there are none).
func (p *protocolProvider) list(typeName string, config map[string]string) (results []listed, errs string) {
	p.t.Helper()
	configValue := p.value(p.schemas.ListResourceSchemas[typeName].ValueType(), stringValues(config))
	lister, ok := p.server.(tfprotov6.ListResourceServer)
	if !ok {
		p.t.Fatal("the provider server cannot list resources")
	}
	stream, err := lister.ListResource(context.Background(), &tfprotov6.ListResourceRequest{
		TypeName: typeName, Config: p.dynamic(configValue), IncludeResource: true,
	})
	if err != nil {
		p.t.Fatal(err)
	}
	var texts []string
	for result := range stream.Results {
		if msg := errorsOf(result.Diagnostics); msg != "" {
			texts = append(texts, msg)
			continue
		}
		results = append(results, listed{
			displayName: result.DisplayName,
			identity:    p.identity(typeName, result.Identity),
			resource:    p.decode(result.Resource, p.schemas.ResourceSchemas[typeName].ValueType()),
		})
	}
	return results, strings.Join(texts, "\n")
}

// invoke runs an action with the given configuration, and returns its progress messages and the
// text of its error diagnostics ("" when there are none).
func (p *protocolProvider) invoke(actionType string, config map[string]string) (progress []string, errs string) {
	p.t.Helper()
	configValue := p.value(p.schemas.ActionSchemas[actionType].Schema.ValueType(), stringValues(config))
	invoker, ok := p.server.(tfprotov6.ActionServer)
	if !ok {
		p.t.Fatal("the provider server cannot invoke actions")
	}
	stream, err := invoker.InvokeAction(context.Background(), &tfprotov6.InvokeActionRequest{ActionType: actionType, Config: p.dynamic(configValue)})
	if err != nil {
		p.t.Fatal(err)
	}
	for event := range stream.Events {
		switch e := event.Type.(type) {
		case tfprotov6.ProgressInvokeActionEventType:
			progress = append(progress, e.Message)
		case tfprotov6.CompletedInvokeActionEventType:
			errs = errorsOf(e.Diagnostics)
		}
	}
	return progress, errs
}

// stringValues converts attributes to Terraform strings.
func stringValues(attributes map[string]string) map[string]tftypes.Value {
	values := map[string]tftypes.Value{}
	for name, v := range attributes {
		values[name] = tftypes.NewValue(tftypes.String, v)
	}
	return values
}

func (p *protocolProvider) decode(dv *tfprotov6.DynamicValue, typ tftypes.Type) tftypes.Value {
	p.t.Helper()
	if dv == nil {
		return tftypes.NewValue(typ, nil)
	}
	v, err := dv.Unmarshal(typ)
	if err != nil {
		p.t.Fatal(err)
	}
	return v
}

// identity decodes an identity into its string attributes; nil if there is none.
func (p *protocolProvider) identity(typeName string, data *tfprotov6.ResourceIdentityData) map[string]string {
	p.t.Helper()
	if data == nil || data.IdentityData == nil {
		return nil
	}
	v := p.decode(data.IdentityData, p.identities[typeName].ValueType())
	if v.IsNull() {
		return nil
	}
	var attributes map[string]tftypes.Value
	if err := v.As(&attributes); err != nil {
		p.t.Fatal(err)
	}
	identity := map[string]string{}
	for name, attr := range attributes {
		var s *string
		if err := attr.As(&s); err != nil {
			p.t.Fatal(err)
		}
		if s != nil {
			identity[name] = *s
		}
	}
	return identity
}

func (p *protocolProvider) requireNoErrors(call string, diags []*tfprotov6.Diagnostic, err error) {
	p.t.Helper()
	if err != nil {
		p.t.Fatalf("%s: %v", call, err)
	}
	if msg := errorsOf(diags); msg != "" {
		p.t.Fatalf("%s: %s", call, msg)
	}
}

// errorsOf joins the error diagnostics; "" when there are none.
func errorsOf(diags []*tfprotov6.Diagnostic) string {
	var texts []string
	for _, d := range diags {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			texts = append(texts, fmt.Sprintf("%s: %s", d.Summary, d.Detail))
		}
	}
	return strings.Join(texts, "\n")
}

// summaries lists the summaries of the diagnostics of a severity.
func summaries(diags []*tfprotov6.Diagnostic, severity tfprotov6.DiagnosticSeverity) []string {
	var s []string
	for _, d := range diags {
		if d.Severity == severity {
			s = append(s, d.Summary)
		}
	}
	slices.Sort(s)
	return s
}
