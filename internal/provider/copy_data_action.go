package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/action/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/action/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

var (
	_ action.ActionWithConfigure      = &CopyDataAction{}
	_ action.ActionWithValidateConfig = &CopyDataAction{}
)

// CopyDataAction copies one service instance's data into another (Terraform 1.14 actions): it
// takes a fresh backup of the source and restores it into the target (copyData), "refresh test
// from live" in one command. The backup and the restore are its side effects: it changes no
// state, and the target keeps its status.
type CopyDataAction struct {
	actionWithConfigure
}

func NewCopyDataAction() action.Action { return &CopyDataAction{} }

type copyDataActionModel struct {
	SourceServiceID types.String `tfsdk:"source_service_id"`
	TargetServiceID types.String `tfsdk:"target_service_id"`
	copyActionOptions
}

// copyActionOptions are what divio_copy_data and divio_restore_backup share: the notes recorded
// with what copyData does, and how long it may take.
type copyActionOptions struct {
	Notes    types.String   `tfsdk:"notes"`
	Timeouts timeouts.Value `tfsdk:"timeouts"`
}

// withCopyActionOptions adds the attributes of copyActionOptions to an action's own.
func withCopyActionOptions(ctx context.Context, notes string, attributes map[string]schema.Attribute) map[string]schema.Attribute {
	attributes["notes"] = schema.StringAttribute{MarkdownDescription: notes, Optional: true}
	attributes["timeouts"] = actionTimeouts(ctx)
	return attributes
}

func (a *CopyDataAction) Metadata(_ context.Context, req action.MetadataRequest, resp *action.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_copy_data"
}

func (a *CopyDataAction) Schema(ctx context.Context, _ action.SchemaRequest, resp *action.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Copies a service instance's data into another and waits until the copy ends, reporting its progress (Terraform 1.14 and newer): " +
			"it takes a fresh backup of the source and restores it into the target, as refreshing a test environment's database from the live one's does. " +
			"The target must be of the source's type and engine, in the same or a newer version (a `postgres-15` database into a `postgres-16` one, not into `mysql-8`), " +
			"in any environment of the organisation's applications, and both must be provisioned. The target's data is overwritten; it keeps its status, " +
			"and an application that uses it goes on using it. The backup is kept, as the Divio Control Panel's backups are. " +
			"Invoke it on demand with `terraform apply -invoke=action.divio_copy_data.<name>`. To restore an existing backup, use `divio_restore_backup`.",
		Attributes: withCopyActionOptions(ctx, "Notes recorded with the backup and the restore. Defaults to one that names both instances.", map[string]schema.Attribute{
			"source_service_id": schema.StringAttribute{
				MarkdownDescription: "The id of the service instance to copy from, e.g. `divio_service.<name>.id`: a `DATABASE` or `STORAGE` instance, the ones Divio backs up.",
				Required:            true,
			},
			"target_service_id": schema.StringAttribute{
				MarkdownDescription: "The id of the service instance to copy into, whose data is overwritten: another instance than the source, of its type and engine, " +
					"in the same or a newer version.",
				Required: true,
			},
		}),
	}
}

// ValidateConfig refuses what needs no API to refuse: a copy of an instance into itself.
func (a *CopyDataAction) ValidateConfig(ctx context.Context, req action.ValidateConfigRequest, resp *action.ValidateConfigResponse) {
	var config copyDataActionModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	source, target := config.SourceServiceID, config.TargetServiceID
	if resp.Diagnostics.HasError() || source.IsNull() || source.IsUnknown() || target.IsNull() || target.IsUnknown() {
		return
	}
	if source.ValueString() == target.ValueString() {
		resp.Diagnostics.AddAttributeError(path.Root("target_service_id"), "Source and target are the same service instance",
			fmt.Sprintf("source_service_id and target_service_id are both %q: an instance's data cannot be copied into itself. "+
				"Name as the target another instance of the source's type and engine, such as the test environment's database.", source.ValueString()))
	}
}

func (a *CopyDataAction) Invoke(ctx context.Context, req action.InvokeRequest, resp *action.InvokeResponse) {
	var config copyDataActionModel
	ctx, cancel, ok := a.begin(ctx, req, resp, &config, &config.Timeouts)
	defer cancel()
	if !ok {
		return
	}

	sourceID := config.SourceServiceID.ValueString()
	source := a.data.readActionInstance(ctx, path.Root("source_service_id"), sourceID, &resp.Diagnostics, "")
	target := a.data.readActionInstance(ctx, path.Root("target_service_id"), config.TargetServiceID.ValueString(), &resp.Diagnostics, "")
	if source == nil || target == nil {
		return
	}
	notes := config.Notes.ValueString()
	if config.Notes.IsNull() {
		notes = fmt.Sprintf("Taken by Terraform (divio_copy_data) to copy service instance %s into service instance %s.", source.UUID, target.UUID)
	}
	progress := progressOf(resp)
	backup, err := a.data.copyData(ctx, dataSource{InstanceID: source.UUID}, target, notes, progress)
	if err != nil {
		addCopyError(&resp.Diagnostics, fmt.Sprintf("copy of service instance %s into service instance %s", source.UUID, target.UUID), err)
		return
	}
	progress("Copied the data of %s into %s; backup %s keeps the copied data",
		a.data.cache.InstanceLabel(ctx, source), a.data.cache.InstanceLabel(ctx, target), backup.UUID)
}

// readActionInstance reads the service instance an action's attribute names, or reports, on that
// attribute, that it cannot: gone says why it does not exist, when the user did not name it.
func (d *providerData) readActionInstance(ctx context.Context, attribute path.Path, id string, diags *diag.Diagnostics, gone string) *divio.ServiceInstance {
	inst, err := d.client.GetServiceInstance(ctx, id)
	if errors.Is(err, divio.ErrNotFound) || err == nil && inst.Status == divio.StatusRemoved {
		if gone == "" {
			gone = fmt.Sprintf("No service instance has the id %q: it was removed, or the API token has no permission to see it. divio_service_instances lists an environment's instances.", id)
		}
		diags.AddAttributeError(attribute, "Service instance not found", gone)
		return nil
	}
	if err != nil {
		addAPIError(diags, "Cannot read service instance "+id, err)
		return nil
	}
	return inst
}
