package provider

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
)

// secretAttributes are the attributes that carry a secret, each with what it carries, named
// "<kind> <type>.<attribute path>". Each must be Sensitive, so that Terraform never shows it in a
// plan or an output. The list is kept complete by the test, which refuses a Sensitive attribute
// that is neither listed nor named like a secret: so that an attribute that stops being Sensitive
// (the mistake no acceptance test sees, since values stay the same) fails here.
var secretAttributes = map[string]string{
	"provider divio.api_token":                               "the Divio API token",
	"ephemeral_resource divio_service_credentials.variables": "the instance's environment variables, DSNs that hold passwords",
}

// secretName matches an attribute name that says it holds a secret: such an attribute must be
// Sensitive even if nobody listed it, as a new `password` or `database_dsn` would be.
var secretName = regexp.MustCompile(`(^|_)(token|password|passphrase|secret|dsns?|credentials?|private_key|api_key)(_|$)`)

// schemaAttribute is one attribute of a schema, named as secretAttributes names it.
type schemaAttribute struct {
	key  string
	attr *tfprotov6.SchemaAttribute
}

// providerSchemas returns every schema the provider serves, as Terraform receives them, by
// "<kind> <type>".
func providerSchemas(t *testing.T) map[string]*tfprotov6.Schema {
	t.Helper()
	server := providerserver.NewProtocol6(New("test")())()
	resp, err := server.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil || len(resp.Diagnostics) > 0 {
		t.Fatalf("GetProviderSchema: %v %v", err, resp.Diagnostics)
	}
	schemas := map[string]*tfprotov6.Schema{"provider divio": resp.Provider}
	for kind, byType := range map[string]map[string]*tfprotov6.Schema{
		"resource": resp.ResourceSchemas, "data_source": resp.DataSourceSchemas,
		"ephemeral_resource": resp.EphemeralResourceSchemas, "list_resource": resp.ListResourceSchemas,
	} {
		for name, s := range byType {
			schemas[kind+" "+name] = s
		}
	}
	for name, a := range resp.ActionSchemas {
		schemas["action "+name] = a.Schema
	}
	return schemas
}

// attributesOf lists every attribute of the schemas, nested ones and those of blocks included.
func attributesOf(schemas map[string]*tfprotov6.Schema) []schemaAttribute {
	var out []schemaAttribute
	var walkAttributes func(prefix string, attrs []*tfprotov6.SchemaAttribute)
	walkAttributes = func(prefix string, attrs []*tfprotov6.SchemaAttribute) {
		for _, a := range attrs {
			out = append(out, schemaAttribute{key: prefix + a.Name, attr: a})
			if a.NestedType != nil {
				walkAttributes(prefix+a.Name+".", a.NestedType.Attributes)
			}
		}
	}
	var walkBlock func(prefix string, b *tfprotov6.SchemaBlock)
	walkBlock = func(prefix string, b *tfprotov6.SchemaBlock) {
		walkAttributes(prefix, b.Attributes)
		for _, nested := range b.BlockTypes {
			walkBlock(prefix+nested.TypeName+".", nested.Block)
		}
	}
	for name, s := range schemas {
		if s != nil && s.Block != nil {
			walkBlock(name+".", s.Block)
		}
	}
	return out
}

// sensitivityProblems checks the rules of secretAttributes and secretName.
func sensitivityProblems(schemas map[string]*tfprotov6.Schema, secrets map[string]string) []string {
	var problems []string
	seen := map[string]bool{}
	for _, a := range attributesOf(schemas) {
		seen[a.key] = true
		name := a.key[strings.LastIndex(a.key, ".")+1:]
		carries, listed := secrets[a.key]
		switch {
		case listed && !a.attr.Sensitive:
			problems = append(problems, a.key+" carries "+carries+" but is not Sensitive")
		case secretName.MatchString(name) && !a.attr.Sensitive:
			problems = append(problems, a.key+" is named like a secret but is not Sensitive")
		case a.attr.Sensitive && !listed && !secretName.MatchString(name):
			problems = append(problems, a.key+" is Sensitive but not in secretAttributes: list it there with what it carries")
		}
	}
	for key := range secrets {
		if !seen[key] {
			problems = append(problems, "secretAttributes lists "+key+", which no schema has")
		}
	}
	slices.Sort(problems)
	return problems
}

func TestSchemaSensitivity(t *testing.T) {
	schemas := providerSchemas(t)
	if problems := sensitivityProblems(schemas, secretAttributes); len(problems) > 0 {
		t.Errorf("secrets and Sensitive disagree:\n  %s", strings.Join(problems, "\n  "))
	}

	// The check fails when a secret loses Sensitive, whether it is listed or named like one.
	attrs := attributesOf(schemas)
	for key := range secretAttributes {
		i := slices.IndexFunc(attrs, func(a schemaAttribute) bool { return a.key == key })
		if i < 0 {
			continue // reported above
		}
		attrs[i].attr.Sensitive = false
		if problems := sensitivityProblems(schemas, secretAttributes); !slices.Contains(problems, key+" carries "+secretAttributes[key]+" but is not Sensitive") {
			t.Errorf("%s without Sensitive: problems %q do not name it", key, problems)
		}
		attrs[i].attr.Sensitive = true
	}
	resource := schemas["resource divio_service"]
	resource.Block.Attributes = append(resource.Block.Attributes, &tfprotov6.SchemaAttribute{Name: "admin_password", Computed: true})
	if problems := sensitivityProblems(schemas, secretAttributes); !slices.Equal(problems, []string{"resource divio_service.admin_password is named like a secret but is not Sensitive"}) {
		t.Errorf("an unlisted admin_password without Sensitive: problems %q", problems)
	}
}
