package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

var (
	_ resource.ResourceWithConfigure   = &ServiceBackupResource{}
	_ resource.ResourceWithImportState = &ServiceBackupResource{}
	_ resource.ResourceWithModifyPlan  = &ServiceBackupResource{}
	_ resource.ResourceWithIdentity    = &ServiceBackupResource{}
)

// ServiceBackupResource is a backup of one service instance, kept while the resource exists.
type ServiceBackupResource struct {
	resourceWithConfigure
}

func NewServiceBackupResource() resource.Resource { return &ServiceBackupResource{} }

type serviceBackupModel struct {
	ID                      types.String   `tfsdk:"id"`
	ServiceID               types.String   `tfsdk:"service_id"`
	Notes                   types.String   `tfsdk:"notes"`
	Retention               types.String   `tfsdk:"retention"`
	DeleteAt                types.String   `tfsdk:"delete_at"`
	Triggers                types.Map      `tfsdk:"triggers"`
	EnvironmentID           types.String   `tfsdk:"environment_id"`
	ServiceInstanceBackupID types.String   `tfsdk:"service_instance_backup_id"`
	State                   types.String   `tfsdk:"state"`
	Success                 types.String   `tfsdk:"success"`
	Size                    types.Int64    `tfsdk:"size"`
	CreatedAt               types.String   `tfsdk:"created_at"`
	Timeouts                timeouts.Value `tfsdk:"timeouts"`
}

// modelFromBackup sets what the API says about a backup and its one part (nil if not read);
// triggers, retention and timeouts are known only to Terraform. delete_at keeps its spelling
// when it names the instant the API has.
func modelFromBackup(m *serviceBackupModel, b *divio.Backup, part *divio.ServiceInstanceBackup) {
	m.ID = types.StringValue(b.UUID)
	m.EnvironmentID = types.StringValue(b.Environment)
	m.Notes = types.StringValue(b.Notes)
	m.State = types.StringValue(b.State)
	m.Success = types.StringPointerValue(b.Success)
	m.CreatedAt = timestampValue(b.CreatedAt)
	if len(b.ServiceInstanceBackups) == 1 {
		m.ServiceInstanceBackupID = types.StringValue(b.ServiceInstanceBackups[0])
	}
	switch at := b.ScheduledForDeletionAt; {
	case at == nil:
		m.DeleteAt = types.StringNull()
	case !sameInstant(m.DeleteAt.ValueString(), *at):
		m.DeleteAt = types.StringValue(at.UTC().Format(time.RFC3339Nano))
	}
	switch {
	case part != nil:
		m.ServiceID = types.StringValue(part.ServiceInstance)
		m.Size = types.Int64PointerValue(part.Size)
	case m.Size.IsUnknown():
		m.Size = types.Int64Null() // known once the part is read
	}
}

// sameInstant reports whether an RFC 3339 text names t, to the microsecond the API keeps.
func sameInstant(text string, t time.Time) bool {
	parsed, err := time.Parse(time.RFC3339Nano, text)
	return err == nil && parsed.Truncate(time.Microsecond).Equal(t.Truncate(time.Microsecond))
}

func (r *ServiceBackupResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_service_backup"
}

func (r *ServiceBackupResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "A backup of one `DATABASE` or `STORAGE` service instance, taken when the resource is created and kept while it exists: " +
			"destroying the resource deletes the backup. It outlives the instance, and Divio deletes it at `delete_at` (from `retention`) if one is set. " +
			"A backup cannot be changed: a change of `service_id`, `notes`, `retention`, `delete_at` or `triggers` deletes this backup and takes a new one. " +
			"A backup deleted by Divio at its time, by Divio's retention (on-demand backups older than 30 days beyond the three newest of the environment), or outside Terraform, " +
			"leaves the state with a warning, and the next apply takes a new one.\n\n" +
			"A backup restores into the instance it was taken from: name its `service_instance_backup_id` to the `divio_restore_backup` action (Terraform 1.14 and later). " +
			"The Divio Control Panel also restores it into another instance of the same engine and the same or a newer version, in an environment of the organisation. " +
			"To keep the data of an instance that Terraform removes, rely on `divio_service`'s `final_backup` rather than on this resource, which is destroyed with it.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The backup's id.",
				Computed:            true,
				PlanModifiers:       keep,
			},
			"service_id": schema.StringAttribute{
				MarkdownDescription: "The id of the service instance to back up, such as `divio_service.db.id`: a functional `DATABASE` or `STORAGE` instance. An instance still provisioning is waited for, within the create timeout.",
				Required:            true,
				PlanModifiers:       replace,
			},
			"notes": schema.StringAttribute{
				MarkdownDescription: "Notes recorded with the backup, shown in the Divio Control Panel. Defaults to none.",
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(""),
				PlanModifiers:       replace,
			},
			"retention": schema.StringAttribute{
				MarkdownDescription: "How long after it is taken Divio keeps the backup before deleting it: a number with a unit, `d` (days), `h`, `m` or `s`, such as `7d` or `1d12h`. " +
					"Without `retention` or `delete_at`, the backup is kept until the resource is destroyed.",
				Optional:      true,
				Validators:    []validator.String{retentionValidator{}, stringvalidator.ConflictsWith(path.MatchRoot("delete_at"))},
				PlanModifiers: replace,
			},
			"delete_at": schema.StringAttribute{
				MarkdownDescription: "When Divio deletes the backup (RFC 3339, such as `2027-01-31T00:00:00Z`): as configured, or computed from `retention`. " +
					"Left out, the backup keeps the deletion time it has (none for a new backup without `retention`). A change takes a new backup.",
				Optional:      true,
				Computed:      true,
				Validators:    []validator.String{rfc3339Validator{}},
				PlanModifiers: []planmodifier.String{deleteAtFollowsRetention{}, stringplanmodifier.RequiresReplaceIfConfigured()},
			},
			"triggers": schema.MapAttribute{
				MarkdownDescription: "Arbitrary values; any change takes a new backup and deletes this one, as `divio_deployment`'s `triggers` deploy again. " +
					"E.g. `{ release = var.release }` for a backup before each release.",
				ElementType:   types.StringType,
				Optional:      true,
				PlanModifiers: []planmodifier.Map{mapplanmodifier.RequiresReplace()},
			},
			"environment_id": schema.StringAttribute{
				MarkdownDescription: "The id of the environment of the backed-up instance.",
				Computed:            true,
				PlanModifiers:       keep,
			},
			"service_instance_backup_id": schema.StringAttribute{
				MarkdownDescription: "The id of the instance's part of the backup (a service instance backup): what a restore names.",
				Computed:            true,
				PlanModifiers:       keep,
			},
			"state": schema.StringAttribute{
				MarkdownDescription: "The backup's state: `PENDING`, `WORKING`, then `COMPLETED`.",
				Computed:            true,
				PlanModifiers:       keep,
			},
			"success": schema.StringAttribute{
				MarkdownDescription: "`SUCCESS` once the backup has completed with success; a backup that completed otherwise (`FAILURE`) holds no data, and the next plan replaces it.",
				Computed:            true,
				PlanModifiers:       keep,
			},
			"size": schema.Int64Attribute{
				MarkdownDescription: "The size of the backup in bytes, once it has completed with success.",
				Computed:            true,
				PlanModifiers:       []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
			},
			"created_at": schema.StringAttribute{
				MarkdownDescription: "When the backup was taken (RFC 3339).",
				Computed:            true,
				PlanModifiers:       keep,
			},
			"timeouts": resourceTimeouts(ctx, timeouts.Opts{Create: true, Delete: true}),
		},
	}
}

func (r *ServiceBackupResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = idIdentity("The backup's id.", nil)
}

func (r *ServiceBackupResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if !r.data.checksPlan(req) || req.Plan.Raw.IsNull() {
		return
	}
	if req.State.Raw.IsNull() {
		r.planCreate(ctx, req, resp)
		return
	}
	var state serviceBackupModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	switch {
	case state.State.ValueString() != divio.BackupStateCompleted:
		// A create whose wait was cut short: the update waits for the backup to complete.
		for _, attribute := range []string{"state", "success"} {
			resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root(attribute), types.StringUnknown())...)
		}
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("size"), types.Int64Unknown())...)
	case state.Success.ValueString() != divio.BackupSuccess:
		resp.RequiresReplace = append(resp.RequiresReplace, path.Root("success"))
		resp.Diagnostics.AddWarning("Backup failed",
			fmt.Sprintf("Backup %s of service instance %s completed with success %s and holds no data: the apply deletes it and takes a new one.",
				state.ID.ValueString(), state.ServiceID.ValueString(), state.Success.ValueString()))
	}
}

// planCreate refuses, when the instance is known, a backup that the API would refuse mid-apply:
// of an instance that does not exist, or of a type that cannot be backed up.
func (r *ServiceBackupResource) planCreate(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	var serviceID types.String
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("service_id"), &serviceID)...)
	if serviceID.IsUnknown() || serviceID.IsNull() {
		return
	}
	inst, err := r.data.client.GetServiceInstance(ctx, serviceID.ValueString())
	switch {
	case errors.Is(err, divio.ErrNotFound):
		addInstanceNotFound(&resp.Diagnostics, serviceID.ValueString())
	case err != nil:
		addAPIError(&resp.Diagnostics, "Cannot read service instance "+serviceID.ValueString(), err)
	case !backupable(inst.Type):
		resp.Diagnostics.AddAttributeError(path.Root("service_id"), "Service instance cannot be backed up",
			fmt.Sprintf("Service instance %s (prefix %s) is a %s instance: Divio backs up only DATABASE and STORAGE instances.", inst.UUID, inst.Prefix, inst.Type))
	}
}

func addInstanceNotFound(diags *diag.Diagnostics, id string) {
	diags.AddAttributeError(path.Root("service_id"), "Service instance not found",
		fmt.Sprintf("Service instance %s does not exist, or the API token has no permission to see it.", id))
}

func (r *ServiceBackupResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	defer setIdentity(ctx, resp.Identity, &resp.Diagnostics, &resp.State)
	if !requireConfigured(r.data, &resp.Diagnostics) {
		return
	}
	var plan serviceBackupModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, plan.Timeouts, "create")
	defer cancel()

	serviceID := plan.ServiceID.ValueString()
	inst, err := r.data.client.GetServiceInstance(ctx, serviceID)
	if errors.Is(err, divio.ErrNotFound) {
		addInstanceNotFound(&resp.Diagnostics, serviceID)
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read service instance "+serviceID, err)
		return
	}
	if inst = r.awaitProvisioning(ctx, &plan, inst, &resp.Diagnostics); inst == nil {
		return
	}
	backup, err := r.data.client.CreateBackup(ctx, divio.CreateBackupRequest{
		Environment: inst.Environment, Services: []string{inst.UUID}, Notes: plan.Notes.ValueString(),
		ScheduledForDeletionAt: plannedDeletion(&plan),
	})
	if err != nil {
		addBackupCreateError(&resp.Diagnostics, &plan, inst, err)
		return
	}
	// Recorded before the wait, so that the backup is never lost whatever happens to the wait.
	modelFromBackup(&plan, backup, nil)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	r.await(ctx, &plan, &resp.State, &resp.Diagnostics)
}

// awaitProvisioning waits, within the create timeout, for an instance that is still provisioning,
// since the API backs up only a provisioned one: that of a divio_service whose create stopped
// waiting for it, in the same configuration. It returns the instance as it is then, or nil when
// there is nothing to back up yet.
func (r *ServiceBackupResource) awaitProvisioning(ctx context.Context, m *serviceBackupModel, inst *divio.ServiceInstance, diags *diag.Diagnostics) *divio.ServiceInstance {
	if inst.Status != divio.StatusProvisioning {
		return inst // provisioned, or not provisioning at all: the API says what it makes of it
	}
	provisioned, err := r.data.client.WaitForInstance(ctx, inst.UUID, "finish provisioning", func(i *divio.ServiceInstance) bool {
		return i.Status != divio.StatusProvisioning
	})
	switch {
	case err == nil:
		return provisioned
	case errors.Is(err, divio.ErrNotFound):
		addInstanceNotFound(diags, inst.UUID)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		createTimeout := timeoutOf(m.Timeouts, "create")
		diags.AddAttributeError(path.Root("service_id"), "Service instance not provisioned yet",
			fmt.Sprintf("%s before service instance %s (%s, prefix %s) had finished provisioning (create timeout %s), so no backup was taken: "+
				"Divio backs up only a provisioned instance. The next apply takes the backup, once the instance is provisioned.",
				cutShortCause(err), inst.UUID, inst.Type, inst.Prefix, createTimeout))
	default:
		addAPIError(diags, fmt.Sprintf("Cannot back up service instance %s, which is provisioning", inst.UUID), err)
	}
	return nil
}

// plannedDeletion is when the API is asked to delete a new backup: delete_at, or retention from
// now; zero for never.
func plannedDeletion(m *serviceBackupModel) time.Time {
	if at, err := time.Parse(time.RFC3339Nano, m.DeleteAt.ValueString()); err == nil {
		return at
	}
	if d, err := parseRetention(m.Retention.ValueString()); err == nil {
		return time.Now().Add(d)
	}
	return time.Time{}
}

// addBackupCreateError puts the API's refusal of a backup on the attribute it concerns.
func addBackupCreateError(diags *diag.Diagnostics, m *serviceBackupModel, inst *divio.ServiceInstance, err error) {
	var apiErr *divio.APIError
	if !errors.As(err, &apiErr) || !errors.Is(err, divio.ErrValidation) && !errors.Is(err, divio.ErrConflict) {
		addAPIError(diags, "Cannot back up service instance "+inst.UUID, err)
		return
	}
	attribute := "service_id"
	if _, ok := apiErr.FieldErrors["scheduled_for_deletion_at"]; ok {
		attribute = "delete_at"
		if !m.Retention.IsNull() {
			attribute = "retention"
		}
	}
	diags.AddAttributeError(path.Root(attribute), "Cannot back up service instance "+inst.UUID,
		fmt.Sprintf("The API refused to back up service instance %s (%s, prefix %s, %s): %s", inst.UUID, inst.Type, inst.Prefix, inst.Status, apiErr.Message()))
}

// await waits for the backup to complete and saves what it saw. A backup that completes without
// success is an error; a wait that is cut short (timeout, Ctrl-C, an API that kept failing) is
// not: the backup goes on at Divio, it stays in the state untainted, and the next apply waits for
// it (ModifyPlan plans an update) rather than delete it and start again, which a backup that takes
// longer than the timeout would never survive.
func (r *ServiceBackupResource) await(ctx context.Context, m *serviceBackupModel, state *tfsdk.State, diags *diag.Diagnostics) {
	id := m.ID.ValueString()
	backup, err := r.data.client.WaitForBackup(ctx, id)
	if backup != nil {
		var part *divio.ServiceInstanceBackup
		if backup.Completed() && len(backup.ServiceInstanceBackups) == 1 {
			part, _ = r.data.client.GetServiceInstanceBackup(ctx, backup.ServiceInstanceBackups[0])
		}
		modelFromBackup(m, backup, part)
		diags.Append(state.Set(ctx, m)...)
	}
	var failed *divio.BackupFailedError
	switch {
	case err == nil:
	case errors.As(err, &failed):
		diags.AddError("Backup failed",
			fmt.Sprintf("%s.\n\nThe backup holds no data; the next apply deletes it and takes a new one.", capitalize(err.Error())))
	case errors.Is(err, divio.ErrNotFound):
		state.RemoveResource(ctx)
		diags.AddError("Backup disappeared", fmt.Sprintf("Backup %s was deleted outside Terraform while it was running. The next apply takes a new one.", id))
	default:
		createTimeout := timeoutOf(m.Timeouts, "create")
		diags.AddWarning("Backup still running",
			fmt.Sprintf("Backup %s of service instance %s had not completed when the wait ended (create timeout %s): %s\n\n"+
				"It goes on at Divio and is saved in the state with state %s. The next apply waits for it to complete, and takes no second backup.",
				id, m.ServiceID.ValueString(), createTimeout, err, m.State.ValueString()))
	}
}

func (r *ServiceBackupResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	defer setIdentity(ctx, resp.Identity, &resp.Diagnostics, &resp.State, &req.State)
	if r.data == nil {
		return // keep the state as it is until the provider can be configured
	}
	var state serviceBackupModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := state.ID.ValueString()
	backup, part, err := r.read(ctx, id)
	if errors.Is(err, divio.ErrNotFound) {
		r.removeGone(ctx, &state, resp)
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read backup "+id, err)
		return
	}
	modelFromBackup(&state, backup, part)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// read reads a backup and its one part.
func (r *ServiceBackupResource) read(ctx context.Context, id string) (*divio.Backup, *divio.ServiceInstanceBackup, error) {
	backup, err := r.data.client.GetBackup(ctx, id)
	if err != nil || len(backup.ServiceInstanceBackups) != 1 {
		return backup, nil, err
	}
	part, err := r.data.client.GetServiceInstanceBackup(ctx, backup.ServiceInstanceBackups[0])
	return backup, part, err
}

// removeGone drops a backup that is gone, saying whether Divio deleted it at its time.
func (r *ServiceBackupResource) removeGone(ctx context.Context, m *serviceBackupModel, resp *resource.ReadResponse) {
	what := fmt.Sprintf("backup %s of service instance %s", m.ID.ValueString(), m.ServiceID.ValueString())
	at, err := time.Parse(time.RFC3339Nano, m.DeleteAt.ValueString())
	if err != nil || time.Now().Before(at) {
		removeGone(ctx, resp, what)
		return
	}
	resp.Diagnostics.AddWarning(fmt.Sprintf("%s no longer exists", capitalize(what)),
		fmt.Sprintf("%s was deleted by Divio at its scheduled time (delete_at %s), so it is removed from the state; the next plan will propose taking a new one.",
			capitalize(what), m.DeleteAt.ValueString()))
	resp.State.RemoveResource(ctx)
}

// Update changes only what Terraform alone knows (timeouts), or finishes the wait of a create
// that was cut short.
func (r *ServiceBackupResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	defer setIdentity(ctx, resp.Identity, &resp.Diagnostics, &resp.State)
	if !requireConfigured(r.data, &resp.Diagnostics) {
		return
	}
	var plan, prior serviceBackupModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &prior)...)
	if resp.Diagnostics.HasError() {
		return
	}
	waits := plan.State.IsUnknown()
	// What the wait has not seen yet stays as it was, so that a wait cut short saves no unknowns.
	plan.State, plan.Success, plan.Size = prior.State, prior.Success, prior.Size
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if !waits || resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, plan.Timeouts, "create")
	defer cancel()
	r.await(ctx, &plan, &resp.State, &resp.Diagnostics)
}

func (r *ServiceBackupResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	if !requireConfigured(r.data, &resp.Diagnostics) {
		return
	}
	var state serviceBackupModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, state.Timeouts, "delete")
	defer cancel()
	if err := r.data.client.DeleteBackup(ctx, state.ID.ValueString()); err != nil {
		addAPIError(&resp.Diagnostics, "Cannot delete backup "+state.ID.ValueString(), err)
	}
}

var importBackup = importKind{"backup", "divio_service_backups lists an environment's backups with their ids"}

// ImportState adopts a backup of one instance, by its id. Its deletion time comes as delete_at:
// describe it with delete_at (or leave both out), since a retention written after the import
// would take a new backup.
func (r *ServiceBackupResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	defer setIdentity(ctx, resp.Identity, &resp.Diagnostics, &resp.State)
	id, ok := importID(ctx, importBackup, req, &resp.Diagnostics)
	if !ok {
		return
	}
	if !requireConfigured(r.data, &resp.Diagnostics) {
		return
	}
	backup, part, err := r.read(ctx, id)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot import backup "+id, err)
		return
	}
	if part == nil {
		resp.Diagnostics.AddError("Cannot import backup "+id,
			fmt.Sprintf("Backup %s holds %d service instances; divio_service_backup manages a backup of exactly one.", id, len(backup.ServiceInstanceBackups)))
		return
	}
	var m serviceBackupModel
	resp.Diagnostics.Append(resp.State.GetAttribute(ctx, path.Root("timeouts"), &m.Timeouts)...)
	m.Triggers = types.MapNull(types.StringType)
	modelFromBackup(&m, backup, part)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
