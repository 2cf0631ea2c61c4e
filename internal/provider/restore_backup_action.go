package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/action/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/action/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

var _ action.ActionWithConfigure = &RestoreBackupAction{}

// RestoreBackupAction writes one instance's part of a backup back into that instance and waits
// until the restore ends (Terraform 1.14 actions). The restore is its one side effect: it changes
// no state, and the instance keeps its status.
type RestoreBackupAction struct {
	actionWithConfigure
}

func NewRestoreBackupAction() action.Action { return &RestoreBackupAction{} }

type restoreBackupActionModel struct {
	ServiceInstanceBackupID types.String   `tfsdk:"service_instance_backup_id"`
	Notes                   types.String   `tfsdk:"notes"`
	Timeouts                timeouts.Value `tfsdk:"timeouts"`
}

func (a *RestoreBackupAction) Metadata(_ context.Context, req action.MetadataRequest, resp *action.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_restore_backup"
}

func (a *RestoreBackupAction) Schema(ctx context.Context, _ action.SchemaRequest, resp *action.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Restores a service instance's backup into the instance it was taken from, and waits until the restore ends " +
			"(Terraform 1.14 and newer): the instance's data is replaced by the backup's. The instance must still exist and be provisioned; " +
			"it keeps its status, and the application keeps using it. Invoke it on demand with `terraform apply -invoke=action.divio_restore_backup.<name>`.",
		Attributes: map[string]schema.Attribute{
			"service_instance_backup_id": schema.StringAttribute{
				MarkdownDescription: "The id of the instance's part of a backup (a service instance backup), as the Divio Control Panel and API give it; " +
					"a backup of several instances has one part each.",
				Required: true,
			},
			"notes": schema.StringAttribute{
				MarkdownDescription: "Notes recorded with the restore.",
				Optional:            true,
			},
			"timeouts": actionTimeouts(ctx),
		},
	}
}

func (a *RestoreBackupAction) Invoke(ctx context.Context, req action.InvokeRequest, resp *action.InvokeResponse) {
	var config restoreBackupActionModel
	ctx, cancel, ok := a.begin(ctx, req, resp, &config, &config.Timeouts)
	defer cancel()
	if !ok {
		return
	}
	progress := progressOf(resp)

	id := config.ServiceInstanceBackupID.ValueString()
	part, err := a.data.client.GetServiceInstanceBackup(ctx, id)
	if errors.Is(err, divio.ErrNotFound) {
		resp.Diagnostics.AddAttributeError(path.Root("service_instance_backup_id"), "Service instance backup not found",
			fmt.Sprintf("No service instance backup has the id %q: it was deleted (by hand, or at its scheduled deletion time), "+
				"or the API token has no permission to see it.", id))
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read service instance backup "+id, err)
		return
	}
	what := fmt.Sprintf("the %s %s backup %s into service instance %s", part.ServiceType, part.Prefix, part.Backup, part.ServiceInstance)
	restore, err := a.data.client.CreateRestore(ctx, divio.CreateRestoreRequest{
		Backup: part.Backup, ServiceInstanceBackups: []string{part.UUID}, Notes: config.Notes.ValueString(),
	})
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot restore "+what, err)
		return
	}
	progress("Restoring %s (restore %s)", what, restore.UUID)
	_, err = a.data.client.WaitForRestore(ctx, restore.UUID)
	var failed *divio.RestoreFailedError
	if errors.As(err, &failed) {
		resp.Diagnostics.AddError("Restore of "+what+" failed",
			fmt.Sprintf("%s.\n\nThe instance keeps its status. Invoke the action again once the cause is fixed.", capitalize(strings.TrimSuffix(err.Error(), "."))))
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "Restore of "+what+" did not finish", err)
		return
	}
	progress("Restore %s of %s succeeded", restore.UUID, what)
}
