package provider

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

var _ datasource.DataSourceWithConfigure = &ServiceBackupsDataSource{}

// ServiceBackupsDataSource lists the backups of an environment's service instances, those of
// removed instances included: how a configuration finds the final backup of an instance it removed.
type ServiceBackupsDataSource struct {
	dataSourceWithConfigure
}

func NewServiceBackupsDataSource() datasource.DataSource { return &ServiceBackupsDataSource{} }

type serviceBackupsDataSourceModel struct {
	ID            types.String          `tfsdk:"id"`
	EnvironmentID types.String          `tfsdk:"environment_id"`
	ServiceID     types.String          `tfsdk:"service_id"`
	Type          types.String          `tfsdk:"type"`
	Prefix        types.String          `tfsdk:"prefix"`
	Backups       []instanceBackupModel `tfsdk:"backups"`
}

// instanceBackupModel is one instance's part of a backup, with what its backup says.
type instanceBackupModel struct {
	ID                      types.String `tfsdk:"id"`
	ServiceInstanceBackupID types.String `tfsdk:"service_instance_backup_id"`
	ServiceID               types.String `tfsdk:"service_id"`
	Type                    types.String `tfsdk:"type"`
	Prefix                  types.String `tfsdk:"prefix"`
	State                   types.String `tfsdk:"state"`
	Success                 types.String `tfsdk:"success"`
	Errors                  types.String `tfsdk:"errors"`
	Size                    types.Int64  `tfsdk:"size"`
	Notes                   types.String `tfsdk:"notes"`
	Trigger                 types.String `tfsdk:"trigger"`
	Final                   types.Bool   `tfsdk:"final"`
	CreatedAt               types.String `tfsdk:"created_at"`
	DeleteAt                types.String `tfsdk:"delete_at"`
}

func instanceBackupModelFrom(b *divio.Backup, part *divio.ServiceInstanceBackup) instanceBackupModel {
	deleteAt := types.StringNull()
	if b.ScheduledForDeletionAt != nil {
		deleteAt = types.StringValue(b.ScheduledForDeletionAt.UTC().Format(time.RFC3339Nano))
	}
	errorText := types.StringNull() // null when the part reported no error
	if part.Errors != "" {
		errorText = types.StringValue(string(part.Errors))
	}
	return instanceBackupModel{
		ID:                      types.StringValue(b.UUID),
		ServiceInstanceBackupID: types.StringValue(part.UUID),
		ServiceID:               types.StringValue(part.ServiceInstance),
		Type:                    types.StringValue(part.ServiceType),
		Prefix:                  types.StringValue(part.Prefix),
		State:                   types.StringValue(b.State),
		Success:                 types.StringPointerValue(b.Success),
		Errors:                  errorText,
		Size:                    types.Int64PointerValue(part.Size),
		Notes:                   types.StringValue(b.Notes),
		Trigger:                 types.StringValue(b.Trigger),
		Final:                   types.BoolValue(isFinalBackup(b, part.ServiceInstance)),
		CreatedAt:               timestampValue(b.CreatedAt),
		DeleteAt:                deleteAt,
	}
}

func (d *ServiceBackupsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_service_backups"
}

func (d *ServiceBackupsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	computed := func(description string) schema.StringAttribute {
		return schema.StringAttribute{MarkdownDescription: description, Computed: true}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists the backups of an environment's service instances, newest first, also those of instances that were removed since, " +
			"whoever took them: Terraform (`divio_service_backup`, or the final backup of a removed `divio_service`), someone in the Divio Control Panel or CLI, or the platform on its schedule (`trigger`). " +
			"A backup of several instances gives one entry per instance.",
		Attributes: map[string]schema.Attribute{
			"id": computed("Identifier of this lookup: the `environment_id`."),
			"environment_id": schema.StringAttribute{
				MarkdownDescription: "The id of the environment, e.g. `data.divio_environment.live.id`.",
				Required:            true,
			},
			"service_id": schema.StringAttribute{
				MarkdownDescription: "Only the backups of this service instance (which may have been removed).",
				Optional:            true,
			},
			"type": schema.StringAttribute{
				MarkdownDescription: "Only the backups of instances of this type: `DATABASE` or `STORAGE`.",
				Optional:            true,
			},
			"prefix": schema.StringAttribute{
				MarkdownDescription: "Only the backups of instances with this prefix, such as `DEFAULT`.",
				Optional:            true,
			},
			"backups": schema.ListNestedAttribute{
				MarkdownDescription: "The backups, newest first: one entry per backed-up instance.",
				Computed:            true,
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"id":                         computed("The backup's id, as `terraform import divio_service_backup` takes it."),
						"service_instance_backup_id": computed("The id of this instance's part of the backup: what a restore names."),
						"service_id":                 computed("The id of the backed-up service instance."),
						"type":                       computed("The instance's type: `DATABASE` or `STORAGE`."),
						"prefix":                     computed("The instance's prefix."),
						"state":                      computed("The backup's state: `PENDING`, `WORKING` or `COMPLETED`."),
						"success":                    computed("`SUCCESS` or `FAILURE` once the backup has completed; null before."),
						"errors":                     computed("Why this instance's part failed, if it did."),
						"size": schema.Int64Attribute{
							MarkdownDescription: "The size of this instance's part in bytes, once it has completed with success.",
							Computed:            true,
						},
						"notes": computed("The backup's notes."),
						"trigger": computed("What took the backup: `MANUAL` for an on-demand backup (Terraform's, the Control Panel's, the Divio CLI's), " +
							"`SCHEDULED` for one the platform takes by the subscription's schedule. Divio deletes backups by its own retention: " +
							"scheduled ones are kept 7 daily, 4 weekly and 12 monthly; on-demand ones at least 30 days, and of those older than 30 days only the three newest of the environment."),
						"final": schema.BoolAttribute{
							MarkdownDescription: "Whether this is the final backup that Terraform took before removing the instance (`divio_service`'s `final_backup`).",
							Computed:            true,
						},
						"created_at": computed("When the backup was taken (RFC 3339)."),
						"delete_at":  computed("When Divio deletes the backup (RFC 3339); null if never."),
					},
				},
			},
		},
	}
}

func (d *ServiceBackupsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var model serviceBackupsDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &model)...)
	if resp.Diagnostics.HasError() || !requireConfigured(d.data, &resp.Diagnostics) {
		return
	}
	envID := model.EnvironmentID.ValueString()
	backups, err := d.data.client.ListBackups(ctx, envID)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot list the backups of environment "+d.data.cache.EnvironmentLabel(ctx, envID), err)
		return
	}
	model.ID = types.StringValue(envID)
	model.Backups = []instanceBackupModel{}
	for i := range backups {
		b := &backups[i]
		for _, partID := range b.ServiceInstanceBackups {
			part, err := d.data.client.GetServiceInstanceBackup(ctx, partID)
			if errors.Is(err, divio.ErrNotFound) {
				continue // deleted, with its backup, since the list was read
			}
			if err != nil {
				addAPIError(&resp.Diagnostics, "Cannot read part "+partID+" of backup "+b.UUID, err)
				return
			}
			if matches(model.ServiceID, part.ServiceInstance) && matches(model.Type, part.ServiceType) && matches(model.Prefix, part.Prefix) {
				model.Backups = append(model.Backups, instanceBackupModelFrom(b, part))
			}
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &model)...)
}

// matches reports whether an optional filter lets value through.
func matches(filter types.String, value string) bool {
	return filter.IsNull() || filter.ValueString() == value
}
