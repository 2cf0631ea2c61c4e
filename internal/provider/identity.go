package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/identityschema"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// Resource identity (Terraform 1.12 and newer) names a resource's object for import blocks
// (`identity = { id = ... }`) and `terraform query`. Every identity of this provider copies state
// attributes of the same names, and has an `id`, the object's API id, which is what an import needs.
// A resource gets one with an IdentitySchema method built by idIdentity, a deferred setIdentity
// at the top of Create, Read, Update and ImportState, and importID in ImportState.

// idIdentity is an identity schema of the object's API id, required to import, and of further
// state attributes that an import may leave out (Read fills them).
func idIdentity(idDescription string, optional map[string]string) identityschema.Schema {
	attributes := map[string]identityschema.Attribute{
		"id": identityschema.StringAttribute{RequiredForImport: true, Description: idDescription},
	}
	for name, description := range optional {
		attributes[name] = identityschema.StringAttribute{OptionalForImport: true, Description: description}
	}
	return identityschema.Schema{Attributes: attributes}
}

// setIdentity sets identity from the first of states that holds a resource. Deferred at the top of
// Create, Read, Update and ImportState, it covers every way out of them, early returns and errors
// included: the framework fails a successful operation that leaves the identity null ("Missing
// Resource Identity After Read"), which is what a Read that removes a gone object from a state
// written by an older provider would do if it did not fall back on the prior state.
func setIdentity(ctx context.Context, identity *tfsdk.ResourceIdentity, diags *diag.Diagnostics, states ...*tfsdk.State) {
	if identity == nil {
		return
	}
	for _, state := range states {
		if state.Raw.IsNull() {
			continue
		}
		for name := range identity.Schema.GetAttributes() {
			var value types.String
			diags.Append(state.GetAttribute(ctx, path.Root(name), &value)...)
			diags.Append(identity.SetAttribute(ctx, path.Root(name), value)...)
		}
		return
	}
}

// importID returns the API id to import: the import ID of `terraform import` or of an import
// block's `id`, or the `id` of an import block's `identity`. kind names the object in errors.
func importID(ctx context.Context, kind importKind, req resource.ImportStateRequest, diags *diag.Diagnostics) (string, bool) {
	if req.ID != "" || req.Identity == nil {
		id, err := parseImportID(kind, req.ID)
		if err != nil {
			diags.AddError("Invalid import ID", err.Error())
			return "", false
		}
		return id, true
	}
	var raw types.String
	diags.Append(req.Identity.GetAttribute(ctx, path.Root("id"), &raw)...)
	id, err := parseImportID(kind, raw.ValueString())
	if err != nil {
		diags.AddError("Invalid import identity",
			fmt.Sprintf("The identity's id %q is not the id of a %s: give the id the API gives it, e.g. identity = { id = \"0b5d3a2e-8f1c-4f7a-9a43-2c6f0e8d1b77\" } (%s).", raw.ValueString(), kind.of, kind.where))
		return "", false
	}
	return id, true
}

// importIdentityAttribute returns an optional attribute of an import block's identity, or "" when
// the import gave none.
func importIdentityAttribute(ctx context.Context, req resource.ImportStateRequest, name string, diags *diag.Diagnostics) string {
	if req.Identity == nil {
		return ""
	}
	var value types.String
	diags.Append(req.Identity.GetAttribute(ctx, path.Root(name), &value)...)
	return value.ValueString()
}
