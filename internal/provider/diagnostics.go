package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

// addAPIError reports a failed API call: summary says what failed in a few words, the detail
// what the API said and, where the kind of error suggests one, what to do about it.
func addAPIError(diags *diag.Diagnostics, summary string, err error) {
	detail := err.Error()
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		detail += "\n\nThe operation ran past its timeout. Raise it in the resource's `timeouts` attribute, or run the apply again: the provider picks up where it stopped."
	case errors.Is(err, context.Canceled):
		detail += "\n\nThe operation was interrupted. Run the apply again to finish it."
	case errors.Is(err, divio.ErrNotFound):
		detail += "\n\nThe object does not exist, or the API token has no permission to see it."
	}
	diags.AddError(summary, detail)
}

// removeGone drops a resource whose object was deleted outside Terraform: a warning, not an
// error, so that the next plan offers to create it again.
func removeGone(ctx context.Context, resp *resource.ReadResponse, what string) {
	resp.Diagnostics.AddWarning(fmt.Sprintf("%s no longer exists", capitalize(what)),
		fmt.Sprintf("%s was deleted outside Terraform, so it is removed from the state; the next plan will propose creating it again.", capitalize(what)))
	resp.State.RemoveResource(ctx)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// importKind says what an import ID is the id of, and where a user finds one, for its errors.
type importKind struct{ of, where string }

var (
	importService = importKind{"service instance",
		"divio_service_instances lists the ids of an environment's instances"}
	importAttachment = importKind{"service instance that is attached (an attachment is imported by its instance's id)",
		"divio_service_instances lists the ids of an environment's instances, with their status"}
	importDeployment = importKind{"deployment",
		"divio_environment's last_finished_deployment_id gives an environment's newest"}
)

// parseImportID checks the ID given to `terraform import`: one API id, without spaces or slashes.
func parseImportID(kind importKind, raw string) (string, error) {
	id := strings.TrimSpace(raw)
	if id == "" || strings.ContainsAny(id, "/?#") || strings.ContainsFunc(id, unicode.IsSpace) {
		return "", fmt.Errorf("%q is not a valid import ID: give the id of the %s, e.g. `terraform import <address> 0b5d3a2e-8f1c-4f7a-9a43-2c6f0e8d1b77` (%s)", raw, kind.of, kind.where)
	}
	return id, nil
}
