package provider

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	actiontimeouts "github.com/hashicorp/terraform-plugin-framework-timeouts/action/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	actionschema "github.com/hashicorp/terraform-plugin-framework/action/schema"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// The `timeouts` attribute of every resource and action is the framework's timeouts module's, with
// three changes: a duration may count days, as final_backup_retention does (`2d`, `1d12h`); a value
// that is not a duration is refused naming the attribute and the form to write; and the docs give
// the default.

// defaultTimeout bounds each operation whose `timeouts` attribute does not set it.
const defaultTimeout = 20 * time.Minute

// timeoutPattern splits a duration into its days and the rest, which Go's time.ParseDuration reads.
var timeoutPattern = regexp.MustCompile(`^(?:(\d+)d)?(.*)$`)

// parseTimeout reads a duration as Go writes one (300ms, 1h30m), optionally starting with days (2d,
// 1d12h). It must be positive.
func parseTimeout(s string) (time.Duration, error) {
	match := timeoutPattern.FindStringSubmatch(s)
	var d time.Duration
	if match[1] != "" {
		days, err := strconv.Atoi(match[1])
		if err != nil {
			return 0, err
		}
		d = time.Duration(days) * 24 * time.Hour
	}
	if match[2] != "" {
		rest, err := time.ParseDuration(match[2])
		if err != nil {
			return 0, err
		}
		d += rest
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration", s)
	}
	return d, nil
}

// durationText writes a duration as the configuration would: 20m rather than 20m0s.
func durationText(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// timeoutDescription documents one value of `timeouts`.
func timeoutDescription(operation string) string {
	return fmt.Sprintf("How long to wait for %s: a number with a unit, d, h, m or s, such as `30m`, `1h30m` or `2d`. Defaults to %#q.", operation, durationText(defaultTimeout))
}

// timeoutOperations say what each value of `timeouts` waits for, in its description.
var timeoutOperations = map[string]string{
	"create": "the resource to be created (and, for an attachment or a deployment, for its deployment)",
	"update": "an update",
	"delete": "the resource to be destroyed",
	"invoke": "the action to complete",
}

// resourceTimeouts is the `timeouts` attribute of a resource, with the values opts names.
func resourceTimeouts(ctx context.Context, opts timeouts.Opts) schema.Attribute {
	a, _ := timeouts.Attributes(ctx, opts).(schema.SingleNestedAttribute)
	for name, nested := range a.Attributes {
		s, _ := nested.(schema.StringAttribute)
		s.Validators, s.Description, s.MarkdownDescription = []validator.String{timeoutValidator{}}, "", timeoutDescription(timeoutOperations[name])
		a.Attributes[name] = s
	}
	a.MarkdownDescription = "How long the provider waits for each operation before it stops waiting."
	return a
}

// actionTimeouts is the `timeouts` attribute of an action.
func actionTimeouts(ctx context.Context) actionschema.Attribute {
	a, _ := actiontimeouts.Attributes(ctx).(actionschema.SingleNestedAttribute)
	for name, nested := range a.Attributes {
		s, _ := nested.(actionschema.StringAttribute)
		s.Validators, s.Description, s.MarkdownDescription = []validator.String{timeoutValidator{}}, "", timeoutDescription(timeoutOperations[name])
		a.Attributes[name] = s
	}
	a.MarkdownDescription = "How long the provider waits for the action before it stops waiting."
	return a
}

// timeoutsValue is a value of a `timeouts` attribute, resource's or action's.
type timeoutsValue interface {
	Attributes() map[string]attr.Value
}

// timeoutOf returns the duration that `timeouts` sets for operation ("create", "update", "delete"
// or "invoke"), or defaultTimeout. The validator has refused what is not a duration.
func timeoutOf(t timeoutsValue, operation string) time.Duration {
	v, ok := t.Attributes()[operation].(types.String)
	if !ok || v.IsNull() || v.IsUnknown() {
		return defaultTimeout
	}
	d, err := parseTimeout(v.ValueString())
	if err != nil {
		return defaultTimeout
	}
	return d
}

// withTimeout bounds ctx by the duration that `timeouts` sets for operation.
func withTimeout(ctx context.Context, t timeoutsValue, operation string) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, timeoutOf(t, operation))
}
