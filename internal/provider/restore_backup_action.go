package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/action/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

var _ action.ActionWithConfigure = &RestoreBackupAction{}

// RestoreBackupAction writes one instance's part of a backup into that instance, or into another
// of the same type and engine (copyData), and waits until the restore ends (Terraform 1.14
// actions). The restore is its one side effect: it changes no state, and the target keeps its
// status.
type RestoreBackupAction struct {
	actionWithConfigure
}

func NewRestoreBackupAction() action.Action { return &RestoreBackupAction{} }

type restoreBackupActionModel struct {
	ServiceInstanceBackupID types.String `tfsdk:"service_instance_backup_id"`
	ServiceID               types.String `tfsdk:"service_id"`
	copyActionOptions
}

func (a *RestoreBackupAction) Metadata(_ context.Context, req action.MetadataRequest, resp *action.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_restore_backup"
}

func (a *RestoreBackupAction) Schema(ctx context.Context, _ action.SchemaRequest, resp *action.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Restores a service instance's backup and waits until the restore ends (Terraform 1.14 and newer): into the instance it was taken from, " +
			"or, with `service_id`, into another instance of the same type and engine, in the same or a newer version, in any environment of the organisation's applications " +
			"(a `postgres-15` backup into a `postgres-16` database of the test environment, say). The target's data is replaced by the backup's. " +
			"The target must exist and be provisioned; it keeps its status, and an application that uses it goes on using it. " +
			"Invoke it on demand with `terraform apply -invoke=action.divio_restore_backup.<name>`. To copy an instance's current data, `divio_copy_data` takes the backup itself.",
		Attributes: withCopyActionOptions(ctx, "Notes recorded with the restore.", map[string]schema.Attribute{
			"service_instance_backup_id": schema.StringAttribute{
				MarkdownDescription: "The id of the instance's part of a backup (a service instance backup), as the Divio Control Panel and API give it; " +
					"a backup of several instances has one part each. `divio_service_backups` lists them.",
				Required: true,
			},
			"service_id": schema.StringAttribute{
				MarkdownDescription: "The id of the service instance to restore into, e.g. `divio_service.<name>.id`: of the backup's type and engine, in the same or a newer version, " +
					"in any environment of the organisation's applications. Its data is overwritten. Defaults to the instance the backup was taken from.",
				Optional: true,
			},
		}),
	}
}

func (a *RestoreBackupAction) Invoke(ctx context.Context, req action.InvokeRequest, resp *action.InvokeResponse) {
	var config restoreBackupActionModel
	ctx, cancel, ok := a.begin(ctx, req, resp, &config, &config.Timeouts)
	defer cancel()
	if !ok {
		return
	}

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
	var target *divio.ServiceInstance
	if config.ServiceID.IsNull() {
		target = a.data.readActionInstance(ctx, path.Root("service_instance_backup_id"), part.ServiceInstance, &resp.Diagnostics,
			fmt.Sprintf("Service instance backup %s was taken from service instance %s, which no longer exists: set service_id to restore it into another instance of its type.", part.UUID, part.ServiceInstance))
	} else {
		target = a.data.readActionInstance(ctx, path.Root("service_id"), config.ServiceID.ValueString(), &resp.Diagnostics, "")
	}
	if target == nil {
		return
	}
	if _, err := a.data.copyData(ctx, dataSource{BackupPartID: part.UUID}, target, config.Notes.ValueString(), progressOf(resp)); err != nil {
		addCopyError(&resp.Diagnostics, "restore of "+restoreWhat(part, target.UUID), err)
	}
}
