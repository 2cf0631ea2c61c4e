package provider

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

var (
	_ resource.ResourceWithConfigure   = &ServiceResource{}
	_ resource.ResourceWithImportState = &ServiceResource{}
	_ resource.ResourceWithModifyPlan  = &ServiceResource{}
	_ resource.ResourceWithIdentity    = &ServiceResource{}
)

type ServiceResource struct {
	resourceWithConfigure
}

func NewServiceResource() resource.Resource { return &ServiceResource{} }

type serviceResourceModel struct {
	ID                 types.String   `tfsdk:"id"`
	EnvironmentID      types.String   `tfsdk:"environment_id"`
	Service            types.String   `tfsdk:"service"`
	Prefix             types.String   `tfsdk:"prefix"`
	Provision          types.Bool     `tfsdk:"provision"`
	DeletionProtection types.Bool     `tfsdk:"deletion_protection"`
	FinalBackup        types.Bool     `tfsdk:"final_backup"`
	FinalRetention     types.String   `tfsdk:"final_backup_retention"`
	RegionID           types.String   `tfsdk:"region_id"`
	Type               types.String   `tfsdk:"type"`
	Status             types.String   `tfsdk:"status"`
	EnvVarNames        types.List     `tfsdk:"env_var_names"`
	CopyDataFrom       *copyDataFrom  `tfsdk:"copy_data_from"`
	Timeouts           timeouts.Value `tfsdk:"timeouts"`
}

// copyDataFrom names where a new instance's data comes from (copy_data_from): exactly one is set.
type copyDataFrom struct {
	ServiceID types.String `tfsdk:"service_id"`
	BackupID  types.String `tfsdk:"backup_id"`
}

// modelFromInstance sets what the API says about an instance; the arguments only the
// configuration knows (service as written, provision, deletion_protection, final_backup,
// final_backup_retention, timeouts) stay.
func modelFromInstance(m *serviceResourceModel, inst *divio.ServiceInstance) {
	m.ID = types.StringValue(inst.UUID)
	m.EnvironmentID = types.StringValue(inst.Environment)
	m.Prefix = types.StringValue(inst.Prefix)
	m.RegionID = types.StringValue(inst.Region)
	m.Type = types.StringValue(inst.Type)
	m.Status = types.StringValue(inst.Status)
	m.EnvVarNames = envVarNamesValue(inst.Type, inst.Prefix)
}

func envVarNamesValue(serviceType, prefix string) types.List {
	var elems []attr.Value
	for _, name := range divio.VariableNames(serviceType, prefix) {
		elems = append(elems, types.StringValue(name))
	}
	return types.ListValueMust(types.StringType, elems)
}

func (r *ServiceResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_service"
	// An upgrade to a newer version moves the resource to a new instance, with a new id (upgrade).
	resp.ResourceBehavior = resource.ResourceBehavior{MutableIdentity: true}
}

func (r *ServiceResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A service instance (database, storage, search or message queue) in a Divio environment. " +
			"Adding it does not attach it to the application by itself: the instance is provisioned and then awaits attachment (`PENDING_ATTACHMENT`) " +
			"until the environment's next deployment, whoever starts it (Terraform, a git push, the Control Panel), which attaches it. " +
			"Use `divio_service_attachment` to say in the configuration that the application uses it and to deploy for it; " +
			"a plan that deploys the environment warns about the instances it attaches that no attachment covers. " +
			"Removing it deletes its data; an instance the application uses is detached first, with a deployment.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The service instance's id.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"environment_id": schema.StringAttribute{
				MarkdownDescription: "The id of the environment the instance belongs to. Changing it replaces the instance.",
				Required:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"service": schema.StringAttribute{
				MarkdownDescription: "The catalog entry to add, by identifier (such as `postgres-15`) or uuid; it must be offered in the region of the environment's application. " +
					"The identifier and the uuid of the same entry are the same service. " +
					"Changing it to a newer version of the same engine (`postgres-15` to `postgres-16`) upgrades the instance in place, keeping its data: " +
					"the apply adds the new version, copies the data into it with a backup and a restore, gives it the prefix, swaps the two with one deployment if the old one is in use, " +
					"and removes the old one after its final backup; the resource's `id` becomes the new instance's. An older version is refused; another engine or type replaces the instance. " +
					"When Divio has upgraded the instance itself, the plan warns and changes nothing.",
				Required: true,
			},
			"prefix": schema.StringAttribute{
				MarkdownDescription: "The prefix of the environment variables the instance publishes, such as `DEFAULT` for `DEFAULT_DATABASE_DSN`: an upper-case letter followed by up to 29 upper-case letters, digits or underscores, unique per environment and service type. " +
					"Defaults to `DEFAULT`. Changing it renames the instance in place: it keeps its id and data, its variables take the new names at once, " +
					"and the application sees them at the environment's next deployment (the apply does not deploy).",
				Optional:   true,
				Computed:   true,
				Default:    stringdefault.StaticString(divio.DefaultPrefix),
				Validators: []validator.String{prefixValidator},
			},
			"provision": schema.BoolAttribute{
				MarkdownDescription: "Whether to provision the instance right away and wait until it is functional. Defaults to `true`. " +
					"With `false` it stays `NEW` until the environment's next deployment, which provisions and attaches it. Changing it to `true` provisions it; changing it back to `false` only records the value, since provisioning cannot be undone.",
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(true),
			},
			"deletion_protection": schema.BoolAttribute{
				MarkdownDescription: "Whether Terraform refuses to remove (or replace) the instance and delete its data. Defaults to `false`; set it to `false` and apply before removing a protected instance.",
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(false),
			},
			"final_backup": schema.BoolAttribute{
				MarkdownDescription: "Whether Terraform backs the instance up before it removes or replaces it, and removes it only once that backup has completed with success: " +
					"a failed or unfinished backup removes nothing. The backup outlives the instance for `final_backup_retention`; the apply names it, and `divio_service_backups` finds it. " +
					"Defaults to `true`. Only `DATABASE` and `STORAGE` instances can be backed up: for other types it is ignored (with a plan warning if set to `true`), " +
					"and an instance that never became functional holds no data to back up. " +
					"Once the instance is gone, its final backup can be restored into another instance of the same engine and the same or a newer version, in any environment of the organisation (the Divio Control Panel's restore). " +
					"It stays among the environment's backups in the Divio Control Panel (and `divio_service_backups`) as long as Divio keeps it: see `final_backup_retention`.",
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(true),
			},
			"copy_data_from": schema.SingleNestedAttribute{
				MarkdownDescription: "Fills the instance, when it is added and before anything attaches it, with a copy of other data: " +
					"a fresh backup of another instance (`service_id`), or the part of an existing backup of the same type (`backup_id`): " +
					"a staging or preview database that starts as a copy of live's, in any environment of the organisation. " +
					"The source must be of the same type, and of the same engine and the same or an older version (a copy can move to a newer version). " +
					"The instance must be provisioned when added (`provision = true`). Changing it later does nothing: it is read when the instance is added, and never replaces it. Set on an instance that no deployment has attached yet (one a killed run added, then imported), the next apply fills that instance, and the plan says so. " +
					"To refresh an existing instance from another, use the `divio_copy_data` action.",
				Optional: true,
				Attributes: map[string]schema.Attribute{
					"service_id": schema.StringAttribute{
						MarkdownDescription: "The id of the instance to copy, such as `divio_service.live_db.id`: a backup of it is taken, and restored into this one.",
						Optional:            true,
						Validators:          []validator.String{stringvalidator.ExactlyOneOf(path.MatchRelative().AtParent().AtName("backup_id"))},
					},
					"backup_id": schema.StringAttribute{
						MarkdownDescription: "The id of a backup (`divio_service_backup.<name>.id`, or one `divio_service_backups` lists), whose part of this instance's type is restored into it; " +
							"or the id of that part itself (a service instance backup).",
						Optional: true,
					},
				},
			},
			"final_backup_retention": schema.StringAttribute{
				MarkdownDescription: "How long Divio keeps the final backup at most before deleting it: a number with a unit, `d` (days), `h`, `m` or `s`, such as `30d`, `36h` or `1d12h`. Defaults to `30d`. " +
					"Divio's own retention applies too: it keeps an on-demand backup at least 30 days, and of the on-demand backups older than 30 days only the three newest of the environment, " +
					"so a final backup kept longer than 30 days is deleted early once three newer on-demand backups of its environment exist. Download it from the Divio Control Panel to keep it for certain.",
				Optional:   true,
				Computed:   true,
				Default:    stringdefault.StaticString(defaultFinalRetention),
				Validators: []validator.String{retentionValidator{}},
			},
			"region_id": schema.StringAttribute{
				MarkdownDescription: "The id of the region the instance runs in: that of the environment's application.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"type": schema.StringAttribute{
				MarkdownDescription: "The service type: `DATABASE`, `STORAGE`, `SEARCH` or `MESSAGE_QUEUE`.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"status": schema.StringAttribute{
				MarkdownDescription: "The instance's status as last read: `NEW`, `PROVISIONING`, `PENDING_ATTACHMENT`, `ATTACHED`, `PENDING_DETACHMENT` or `DETACHED`. " +
					"An update plans it unchanged unless it provisions the instance; a change by a deployment shows at the next refresh.",
				Computed: true,
				// An update changes the status only when it provisions (planChange, planUnfinished):
				// otherwise a plan that toggled deletion_protection showed it as known after apply.
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"env_var_names": schema.ListAttribute{
				MarkdownDescription: "The names of the environment variables the instance publishes once provisioned, sorted. Their values are in `divio_service_credentials`.",
				ElementType:         types.StringType,
				Computed:            true,
				PlanModifiers:       []planmodifier.List{listplanmodifier.UseStateForUnknown()},
			},
			"timeouts": resourceTimeouts(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

func (r *ServiceResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = idIdentity("The service instance's id.", map[string]string{
		"environment_id": "The id of the environment the instance belongs to; an import that gives it fails if the instance is in another environment.",
	})
}

func (r *ServiceResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	defer setIdentity(ctx, resp.Identity, &resp.Diagnostics, &resp.State)
	if !requireConfigured(r.data, &resp.Diagnostics) {
		return
	}
	var plan serviceResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, plan.Timeouts, "create")
	defer cancel()

	envID := plan.EnvironmentID.ValueString()
	region, svc := r.resolveService(ctx, envID, plan.Service.ValueString(), &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	inst, err := r.data.cache.CreateInstance(ctx, divio.CreateServiceInstanceRequest{
		Environment: envID,
		Service:     svc.UUID,
		Prefix:      plan.Prefix.ValueString(),
		Region:      region.UUID,
	})
	if err != nil {
		addCreateError(&resp.Diagnostics, svc.Identifier, err)
		return
	}
	if slot, ok := r.slot(ctx, envID, svc.UUID); ok {
		r.data.plan.added(slot)
	}

	// Record the instance before waiting, so that it is never lost whatever happens to the wait.
	modelFromInstance(&plan, inst)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if resp.Private != nil {
		// A replacement's create inherits the private state of the instance it replaces: a verdict
		// on that one's provisioning is not this one's.
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateGaveUpProvisioning, nil)...)
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateCopyPending, copyPending(plan.CopyDataFrom != nil))...)
	}
	if resp.Diagnostics.HasError() || !plan.Provision.ValueBool() {
		return
	}

	seen, err := r.data.cache.ProvisionInstance(ctx, envID, inst.UUID)
	if seen != nil {
		inst = seen
	}
	modelFromInstance(&plan, inst)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if errors.Is(err, context.DeadlineExceeded) && resp.Private != nil {
		// The create timeout has run out on it: how long the user was willing to wait.
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateGaveUpProvisioning, gaveUp)...)
	}
	if err != nil {
		r.reportUnfinishedProvisioning(ctx, &plan, svc.Identifier, err, resp)
		return
	}
	if plan.CopyDataFrom != nil && r.copyInto(ctx, &plan, inst, &resp.Diagnostics) && resp.Private != nil {
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateCopyPending, nil)...)
	}
}

// resolveService finds the environment's region and the catalog entry that service (identifier or
// uuid) names there; a service the region does not offer is an error on `service`.
func (r *ServiceResource) resolveService(ctx context.Context, envID, service string, diags *diag.Diagnostics) (*divio.Region, *divio.Service) {
	region, err := r.data.cache.RegionOf(ctx, envID)
	if err != nil {
		if errors.Is(err, divio.ErrNotFound) {
			diags.AddAttributeError(path.Root("environment_id"), "Environment not found",
				fmt.Sprintf("Environment %s does not exist, or the API token has no permission to see it. Check environment_id (the divio_environment data source gives it).", envID))
			return nil, nil
		}
		addAPIError(diags, "Cannot find the region of environment "+envID, err)
		return nil, nil
	}
	catalog, err := r.data.cache.Services(ctx, region.UUID)
	if err != nil {
		addAPIError(diags, "Cannot read the service catalog of region "+region.Name, err)
		return nil, nil
	}
	if svc := findService(catalog, service); svc != nil {
		return region, svc
	}
	diags.AddAttributeError(path.Root("service"), "Service not offered in this region", r.notOfferedDetail(ctx, envID, service, region, catalog))
	return nil, nil
}

func (r *ServiceResource) notOfferedDetail(ctx context.Context, envID, service string, region *divio.Region, catalog []divio.Service) string {
	where := fmt.Sprintf("region %s (%s)", region.Name, region.Vendor)
	if app, err := r.data.cache.ApplicationOf(ctx, envID); err == nil {
		where += ", where application " + app.Slug + " runs"
	}
	offered := make([]string, 0, len(catalog))
	for _, s := range catalog {
		offered = append(offered, s.Identifier)
	}
	sort.Strings(offered)
	return fmt.Sprintf("%q is not offered in %s. Services offered there: %s. Choose one of them, by identifier or uuid.",
		service, where, strings.Join(offered, ", "))
}

// createFieldAttributes maps the fields of the API's create request to the attributes they come from.
var createFieldAttributes = map[string]string{
	"environment": "environment_id",
	"region":      "environment_id",
	"service":     "service",
	"prefix":      "prefix",
}

// addCreateError puts the API's refusal of a create on the attributes it names.
func addCreateError(diags *diag.Diagnostics, identifier string, err error) {
	var apiErr *divio.APIError
	if !errors.As(err, &apiErr) || !errors.Is(err, divio.ErrValidation) || len(apiErr.FieldErrors) == 0 {
		addAPIError(diags, "Cannot add the service instance", err)
		return
	}
	fields := make([]string, 0, len(apiErr.FieldErrors))
	for f := range apiErr.FieldErrors {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, field := range fields {
		text := strings.Join(apiErr.FieldErrors[field], " ")
		attr, known := createFieldAttributes[field]
		switch {
		case field == "service" && strings.Contains(strings.ToLower(text), "subscription"):
			diags.AddAttributeError(path.Root("service"), "Subscription has no free instance of this service",
				fmt.Sprintf("The API refused to add %s: %s\n\nRemove an instance of it that is no longer needed, or upgrade the subscription in the Divio Control Panel, then apply again.", identifier, text))
		case known:
			diags.AddAttributeError(path.Root(attr), "Cannot add the service instance", fmt.Sprintf("The API refused the %s: %s", attr, text))
		default:
			diags.AddError("Cannot add the service instance", fmt.Sprintf("The API refused the request (%s): %s", field, text))
		}
	}
	if apiErr.Detail != "" {
		diags.AddError("Cannot add the service instance", apiErr.Detail)
	}
}

func (r *ServiceResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	defer setIdentity(ctx, resp.Identity, &resp.Diagnostics, &resp.State, &req.State)
	if r.data == nil {
		return // keep the state as it is until the provider can be configured
	}
	prior, err := rawAttributes(req.State.Raw)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the prior state", err.Error())
		return
	}
	id, envID, service := rawString(prior["id"]), rawString(prior["environment_id"]), rawString(prior["service"])
	inst, err := r.data.cache.Instance(ctx, envID, id)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read service instance "+id, err)
		return
	}
	if inst == nil {
		// Removed last by an upgrade whose apply was killed before it saved the state: the resource
		// follows it to its new instance, and the next plan finishes the upgrade.
		if inst, err = r.upgradeSuccessor(ctx, envID, id); err != nil || inst == nil {
			removeGone(ctx, resp, fmt.Sprintf("service instance %s (%s)", id, service))
			return
		}
	}
	r.data.plan.sawInstance(inst.UUID, keyOfInstance(inst), inst.Service)
	if readChangesNothing(prior, inst) {
		// The response starts as the prior state. Converting the state into a model and back
		// costs what the rest of Read does many times over: in CPU profiles of a plan of 1000
		// unchanged services (make bench -profile), Read took 0.24 s, and 0.04 s with this.
		return
	}
	var state serviceResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	refreshModel(&state, inst)
	// The service stays as the configuration wrote it, identifier or uuid.
	if state.Service.IsNull() {
		state.Service = types.StringValue(r.identifierOf(ctx, inst, &resp.Diagnostics))
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// refreshModel sets what Read writes into a state from the instance the API returned.
func refreshModel(m *serviceResourceModel, inst *divio.ServiceInstance) {
	modelFromInstance(m, inst)
	setFinalBackupDefaults(m)
}

// readChangesNothing reports whether Read would write back the prior state unchanged: what
// refreshModel sets is already so, and service, which Read fills in when null, is set. It looks
// at the raw state only. TestReadChangesNothingMatchesRead holds it to what Read writes.
func readChangesNothing(prior map[string]tftypes.Value, inst *divio.ServiceInstance) bool {
	// What modelFromInstance sets, read off the model it makes: the mapping is written once.
	var want serviceResourceModel
	modelFromInstance(&want, inst)
	fields, model := reflect.TypeFor[serviceResourceModel](), reflect.ValueOf(want)
	for i := range fields.NumField() {
		value, ok := model.Field(i).Interface().(types.String)
		if !ok || value.IsNull() {
			continue
		}
		if got, known := rawKnownString(prior[fields.Field(i).Tag.Get("tfsdk")]); !known || got != value.ValueString() {
			return false
		}
	}
	var names []tftypes.Value
	if !prior["env_var_names"].IsKnown() || prior["env_var_names"].As(&names) != nil {
		return false
	}
	wantNames := want.EnvVarNames.Elements()
	if len(names) != len(wantNames) {
		return false
	}
	for i, name := range names {
		if got, known := rawKnownString(name); !known || wantNames[i] != types.StringValue(got) {
			return false
		}
	}
	for _, name := range []string{"service", "final_backup", "final_backup_retention"} {
		if prior[name].IsNull() || !prior[name].IsKnown() {
			return false
		}
	}
	return true
}

// rawAttributes returns the attributes of a raw object value.
func rawAttributes(v tftypes.Value) (map[string]tftypes.Value, error) {
	var attributes map[string]tftypes.Value
	err := v.As(&attributes)
	return attributes, err
}

// rawKnownString returns a raw string value, and whether it is known and not null.
func rawKnownString(v tftypes.Value) (string, bool) {
	var s string
	if !v.IsKnown() || v.IsNull() || v.As(&s) != nil {
		return "", false
	}
	return s, true
}

// rawString returns a raw string value, or "" if it has none.
func rawString(v tftypes.Value) string {
	s, _ := rawKnownString(v)
	return s
}

// identifierOf returns the catalog identifier of an instance's service, or its uuid if the
// region's catalog does not list it.
func (r *ServiceResource) identifierOf(ctx context.Context, inst *divio.ServiceInstance, diags *diag.Diagnostics) string {
	identifier, err := r.data.cache.ServiceIdentifier(ctx, inst)
	if err != nil {
		addAPIError(diags, "Cannot read the service catalog of region "+inst.Region, err)
	}
	return identifier
}

func (r *ServiceResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	defer setIdentity(ctx, resp.Identity, &resp.Diagnostics, &resp.State)
	if !requireConfigured(r.data, &resp.Diagnostics) {
		return
	}
	var plan, state serviceResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, plan.Timeouts, "update")
	defer cancel()
	// An update that fails before it says otherwise keeps the prior state: the instance is as it was.
	resp.State.Raw = req.State.Raw.Copy()

	id := state.ID.ValueString()
	inst, err := r.data.client.GetServiceInstance(ctx, id)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read service instance "+id, err)
		return
	}
	inst, ok := r.finishProvisioning(ctx, &plan, &state, inst, resp)
	if !ok {
		return
	}
	if plan.CopyDataFrom != nil && (r.copyStillPending(ctx, req) || copiesLate(&state, &plan, inst)) {
		// A create cut short before its copy, or an instance that no deployment has attached given
		// copy_data_from (one a killed run added, imported): the copy follows its provisioning.
		if !r.copyInto(ctx, &plan, inst, &resp.Diagnostics) {
			resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
			return
		}
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateCopyPending, nil)...)
	}
	if inst = r.changeInPlace(ctx, &plan, &state, inst, resp); inst == nil {
		return
	}
	planned := plan.Status
	modelFromInstance(&plan, inst)
	if !planned.IsUnknown() {
		// Planned unchanged: an apply returns what it planned, and a status that a deployment of
		// this apply changed meanwhile shows at the next refresh.
		plan.Status = planned
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *ServiceResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	if !requireConfigured(r.data, &resp.Diagnostics) {
		return
	}
	var state serviceResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if state.DeletionProtection.ValueBool() {
		resp.Diagnostics.AddAttributeError(path.Root("deletion_protection"), "Service instance is protected from deletion",
			r.deletionProtectedDetail(ctx, &state))
		return
	}
	ctx, cancel := withTimeout(ctx, state.Timeouts, "delete")
	defer cancel()

	r.remove(ctx, &state, &resp.Diagnostics)
}

func (r *ServiceResource) deletionProtectedDetail(ctx context.Context, state *serviceResourceModel) string {
	return fmt.Sprintf("Service instance %s (%s) in environment %s has deletion_protection = true, so Terraform refuses to remove or replace it and delete its data. "+
		"Set deletion_protection = false and apply first, then remove or change the service.",
		state.ID.ValueString(), state.Service.ValueString(), r.data.cache.EnvironmentLabel(ctx, state.EnvironmentID.ValueString()))
}

func (r *ServiceResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	defer setIdentity(ctx, resp.Identity, &resp.Diagnostics, &resp.State)
	id, ok := importID(ctx, importService, req, &resp.Diagnostics)
	if !ok || !requireConfigured(r.data, &resp.Diagnostics) {
		return
	}
	// The environment is not known yet, so the instance is read directly rather than through
	// its environment's list.
	inst, err := r.data.client.GetServiceInstance(ctx, id)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot import service instance "+id, err)
		return
	}
	if envID := importIdentityAttribute(ctx, req, "environment_id", &resp.Diagnostics); envID != "" && envID != inst.Environment {
		resp.Diagnostics.AddError("Service instance is in another environment",
			fmt.Sprintf("Service instance %s belongs to environment %s, not to environment %s that the import's identity names. Correct environment_id in the identity, or leave it out.", id, inst.Environment, envID))
		return
	}
	var m serviceResourceModel
	resp.Diagnostics.Append(resp.State.GetAttribute(ctx, path.Root("timeouts"), &m.Timeouts)...)
	r.modelFromUnmanagedInstance(ctx, &m, inst, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// modelFromUnmanagedInstance fills the model of an instance that Terraform did not create, for
// import and for `terraform query`, so that a listed instance is what its import makes: the
// service by catalog identifier, provision as the instance is, deletion_protection off and the
// final backup's defaults.
func (r *ServiceResource) modelFromUnmanagedInstance(ctx context.Context, m *serviceResourceModel, inst *divio.ServiceInstance, diags *diag.Diagnostics) {
	modelFromInstance(m, inst)
	m.Service = types.StringValue(r.identifierOf(ctx, inst, diags))
	m.Provision = types.BoolValue(inst.Functional())
	m.DeletionProtection = types.BoolValue(false)
	setFinalBackupDefaults(m)
}
