package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

// retentionValidator checks a retention as parseRetention reads it.
type retentionValidator struct{}

func (v retentionValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (retentionValidator) Description(context.Context) string {
	return "a positive duration with units d, h, m or s, such as 30d or 1d12h"
}

func (retentionValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := parseRetention(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid duration", err.Error()+".")
	}
}

// deleteAtFollowsRetention plans delete_at when the configuration leaves it out: unknown while
// retention gives a new deletion time (at create, or when retention changes, which replaces the
// backup); null for a new backup without retention; otherwise the deletion time it has.
type deleteAtFollowsRetention struct{}

func (m deleteAtFollowsRetention) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (deleteAtFollowsRetention) Description(context.Context) string {
	return "Plans delete_at from retention when it is not configured."
}

func (deleteAtFollowsRetention) PlanModifyString(ctx context.Context, req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	if !req.ConfigValue.IsNull() || req.Plan.Raw.IsNull() {
		return
	}
	var configured, prior types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("retention"), &configured)...)
	if req.State.Raw.IsNull() {
		if configured.IsNull() {
			resp.PlanValue = types.StringNull()
		}
		return
	}
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("retention"), &prior)...)
	if configured.Equal(prior) {
		resp.PlanValue = req.StateValue
	}
}

// rfc3339Validator checks a time written as RFC 3339.
type rfc3339Validator struct{}

func (v rfc3339Validator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (rfc3339Validator) Description(context.Context) string {
	return "a time in RFC 3339, such as 2027-01-31T00:00:00Z"
}

func (rfc3339Validator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := time.Parse(time.RFC3339Nano, req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid time",
			fmt.Sprintf("%q is not a time in RFC 3339, such as 2027-01-31T00:00:00Z or 2027-01-31T01:00:00+01:00.", req.ConfigValue.ValueString()))
	}
}

// timeoutValidator checks a value of `timeouts` as parseTimeout reads it.
type timeoutValidator struct{}

func (timeoutValidator) Description(context.Context) string {
	return "a positive duration: a number with a unit, d, h, m or s, such as 30m, 1h30m or 2d"
}

func (v timeoutValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v timeoutValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := parseTimeout(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid timeout",
			fmt.Sprintf("%s = %q is not %s. Leave it out for the default, %s.", req.Path, req.ConfigValue.ValueString(), v.Description(ctx), durationText(defaultTimeout)))
	}
}

var prefixValidator = stringvalidator.RegexMatches(divio.PrefixPattern,
	"must be an upper-case letter followed by up to 29 upper-case letters, digits or underscores, e.g. DEFAULT or MEDIA_2")
