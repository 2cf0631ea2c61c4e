package provider

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

// Read returns early when readChangesNothing says it would write the prior state back unchanged.
// This holds readChangesNothing to what Read writes otherwise, for a refreshed state and for every
// attribute of it changed in turn (set to null, or to another value), and for every field of the
// instance changed: a new attribute that Read writes but readChangesNothing ignores fails here.
func TestReadChangesNothingMatchesRead(t *testing.T) {
	ctx := context.Background()
	var schemaResp resource.SchemaResponse
	(&ServiceResource{}).Schema(ctx, resource.SchemaRequest{}, &schemaResp)
	schema := schemaResp.Schema
	objectType := schema.Type().TerraformType(ctx).(tftypes.Object)

	// written is what Read writes for prior without returning early (with the catalog's
	// identifier standing in for the lookup of a null service).
	written := func(t *testing.T, prior tftypes.Value, inst *divio.ServiceInstance) tftypes.Value {
		state := tfsdk.State{Schema: schema, Raw: prior}
		var m serviceResourceModel
		if diags := state.Get(ctx, &m); diags.HasError() {
			t.Fatal(diags)
		}
		refreshModel(&m, inst)
		if m.Service.IsNull() {
			m.Service = types.StringValue("postgres-15")
		}
		if diags := state.Set(ctx, &m); diags.HasError() {
			t.Fatal(diags)
		}
		return state.Raw
	}
	check := func(t *testing.T, what string, prior tftypes.Value, inst *divio.ServiceInstance) {
		t.Helper()
		attributes, err := rawAttributes(prior)
		if err != nil {
			t.Fatal(err)
		}
		unchanged := written(t, prior, inst).Equal(prior)
		if got := readChangesNothing(attributes, inst); got != unchanged {
			t.Errorf("%s: readChangesNothing = %v, but Read writes the prior state back unchanged: %v", what, got, unchanged)
		}
	}

	inst := &divio.ServiceInstance{UUID: "instance-1", Environment: "env-1", Prefix: "DEFAULT", Region: "region-1",
		Type: divio.TypeDatabase, Status: divio.StatusAttached, Service: "service-1"}
	initial := map[string]tftypes.Value{}
	for name, typ := range objectType.AttributeTypes {
		initial[name] = tftypes.NewValue(typ, nil)
	}
	initial["id"] = tftypes.NewValue(tftypes.String, inst.UUID)
	initial["environment_id"] = tftypes.NewValue(tftypes.String, inst.Environment)
	initial["service"] = tftypes.NewValue(tftypes.String, "postgres-15")
	refreshed := written(t, tftypes.NewValue(objectType, initial), inst)
	if refreshed.Equal(tftypes.NewValue(objectType, initial)) {
		t.Fatal("the first refresh changed nothing: the test would prove nothing")
	}
	check(t, "refreshed state", refreshed, inst)
	check(t, "state with only id, environment and service", tftypes.NewValue(objectType, initial), inst)

	refreshedAttributes, _ := rawAttributes(refreshed)
	for name, typ := range objectType.AttributeTypes {
		for _, changed := range otherValues(typ, refreshedAttributes[name]) {
			attributes := map[string]tftypes.Value{}
			for n, v := range refreshedAttributes {
				attributes[n] = v
			}
			attributes[name] = changed
			check(t, name+" = "+changed.String(), tftypes.NewValue(objectType, attributes), inst)
		}
	}

	for field, change := range map[string]func(*divio.ServiceInstance){
		"uuid":        func(i *divio.ServiceInstance) { i.UUID = "instance-2" },
		"environment": func(i *divio.ServiceInstance) { i.Environment = "env-2" },
		"prefix":      func(i *divio.ServiceInstance) { i.Prefix = "OTHER" },
		"region":      func(i *divio.ServiceInstance) { i.Region = "region-2" },
		"type":        func(i *divio.ServiceInstance) { i.Type = divio.TypeStorage },
		"status":      func(i *divio.ServiceInstance) { i.Status = divio.StatusPendingDetachment },
		"service":     func(i *divio.ServiceInstance) { i.Service = "service-2" },
	} {
		changed := *inst
		change(&changed)
		check(t, "instance's "+field+" changed", refreshed, &changed)
	}
}

// otherValues are values of typ other than v: null, and one known value unlike v.
func otherValues(typ tftypes.Type, v tftypes.Value) []tftypes.Value {
	others := []tftypes.Value{tftypes.NewValue(typ, nil)}
	switch {
	case typ.Is(tftypes.String):
		others = append(others, tftypes.NewValue(typ, "something else"))
	case typ.Is(tftypes.Bool):
		var b bool
		if v.IsKnown() && !v.IsNull() {
			_ = v.As(&b)
		}
		others = append(others, tftypes.NewValue(typ, !b))
	case typ.Is(tftypes.List{ElementType: tftypes.String}):
		others = append(others, tftypes.NewValue(typ, []tftypes.Value{tftypes.NewValue(tftypes.String, "SOMETHING_ELSE")}))
	}
	if v.IsNull() {
		return others[1:]
	}
	return others
}
