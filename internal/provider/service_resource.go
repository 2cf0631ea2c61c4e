package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

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
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
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

var prefixValidator = stringvalidator.RegexMatches(divio.PrefixPattern,
	"must be an upper-case letter followed by up to 29 upper-case letters, digits or underscores, e.g. DEFAULT or MEDIA_2")

type ServiceResource struct {
	configuredResource
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
	Timeouts           timeouts.Value `tfsdk:"timeouts"`
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
					"The identifier and the uuid of the same entry are the same service. Changing it replaces the instance.",
				Required:      true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"prefix": schema.StringAttribute{
				MarkdownDescription: "The prefix of the environment variables the instance publishes, such as `DEFAULT` for `DEFAULT_DATABASE_DSN`: an upper-case letter followed by up to 29 upper-case letters, digits or underscores, unique per environment and service type. " +
					"Defaults to `DEFAULT`. Changing it replaces the instance.",
				Optional:      true,
				Computed:      true,
				Default:       stringdefault.StaticString(divio.DefaultPrefix),
				Validators:    []validator.String{prefixValidator},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
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
	inst, err := r.data.client.CreateServiceInstance(ctx, divio.CreateServiceInstanceRequest{
		Environment: envID,
		Service:     svc.UUID,
		Prefix:      plan.Prefix.ValueString(),
		Region:      region.UUID,
	})
	if err != nil {
		r.data.cache.ForgetInstances(envID) // it may have been added all the same
		addCreateError(&resp.Diagnostics, svc.Identifier, err)
		return
	}
	r.data.cache.SetInstance(inst)
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
	}
	if resp.Diagnostics.HasError() || !plan.Provision.ValueBool() {
		return
	}

	seen, err := r.provision(ctx, inst.UUID)
	r.rememberProvisioned(envID, seen, err)
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
	}
}

// privateGaveUpProvisioning is the private-state key that a create or an update sets when its wait
// for provisioning ran out of the create timeout. The next plan replaces such an instance as stuck
// (planUnfinished). The verdict is recorded, rather than taken again from the clock at each plan,
// because Terraform plans the resource once more during the apply and fails the run if the two
// plans differ: a verdict that flipped in between (the create timeout passing, or provisioning
// finishing) turned an update into a replacement half-way through an apply.
const privateGaveUpProvisioning = "gave_up_provisioning"

// gaveUp is privateGaveUpProvisioning's value (private state holds JSON).
var gaveUp = []byte("true")

func gaveUpProvisioning(ctx context.Context, req resource.ModifyPlanRequest) bool {
	if req.Private == nil {
		return false // not called by the framework, which always hands one over
	}
	raw, _ := req.Private.GetKey(ctx, privateGaveUpProvisioning)
	return bytes.Equal(raw, gaveUp)
}

// reportUnfinishedProvisioning reports a create whose provisioning wait was cut short: by Ctrl-C, by
// the create timeout, or by an API that kept failing. The instance exists and goes on provisioning
// at Divio, so the create does not fail: a failed create would be tainted, and the next apply would
// remove the instance and add another, losing the minutes spent provisioning it. It stays in the
// state untainted, with its true status, and the next plan schedules the rest as an update
// (planUnfinished): it waits for provisioning to finish, or replaces the instance if it is stuck.
// Only an instance that disappeared is an error, and leaves the state.
func (r *ServiceResource) reportUnfinishedProvisioning(ctx context.Context, m *serviceResourceModel, identifier string, err error, resp *resource.CreateResponse) {
	id, where := m.ID.ValueString(), r.data.cache.EnvironmentLabel(ctx, m.EnvironmentID.ValueString())
	if errors.Is(err, divio.ErrNotFound) {
		resp.State.RemoveResource(ctx)
		resp.Diagnostics.AddError(fmt.Sprintf("Service instance %s (%s) disappeared", id, identifier),
			fmt.Sprintf("Service instance %s (%s) in environment %s was removed while it was provisioning, outside Terraform. The next apply adds a new one.", id, identifier, where))
		return
	}
	createTimeout := timeoutOf(m.Timeouts, "create")
	if errors.Is(err, context.DeadlineExceeded) {
		resp.Diagnostics.AddWarning("Service instance still provisioning",
			fmt.Sprintf("Service instance %s (%s) in environment %s had not finished provisioning when the create timeout (%s) ran out. It is saved in the state with status %s: %s.",
				id, identifier, where, createTimeout, m.Status.ValueString(), afterStuck(m)))
		return
	}
	cause := "The Divio API kept failing while the provider waited for service instance %s (%s) in environment %s to finish provisioning: " + err.Error() + "."
	if errors.Is(err, context.Canceled) {
		cause = "The apply was interrupted while service instance %s (%s) in environment %s was provisioning."
	}
	resp.Diagnostics.AddWarning("Service instance still provisioning", fmt.Sprintf(cause, id, identifier, where)+
		fmt.Sprintf(" It is saved in the state with status %s, and provisioning goes on at Divio. The next terraform apply waits for it to finish, and removes or replaces nothing; "+
			"only if it is still not functional once the create timeout (%s) has passed since it was added does that apply stop waiting, and the plan after it replace the instance, since an instance that never finished provisioning holds no data.",
			m.Status.ValueString(), createTimeout))
}

// afterStuck says what the next plan does with an instance whose wait for provisioning ran out of
// its create timeout.
func afterStuck(m *serviceResourceModel) string {
	if m.DeletionProtection.ValueBool() {
		return stuckProtected
	}
	return "the next plan replaces it, since it never became functional and holds no data"
}

// stuckProtected says what keeps a stuck instance from being replaced, and the step that lets it be.
const stuckProtected = "it never became functional and holds no data, but deletion_protection = true keeps it from being replaced: " +
	"set deletion_protection = false and apply, and the apply after replaces it"

// provisioningDeadline bounds the wait of an update that finishes a create's provisioning by the
// create timeout, counted from when the instance was added: past it the next plan replaces the
// instance as stuck (planUnfinished), so waiting longer, up to the update timeout, would only delay
// that. An instance still NEW has not started provisioning: the update starts it, and waits
// within the update timeout alone. The context it returns ends with ctx.
func provisioningDeadline(ctx context.Context, inst *divio.ServiceInstance, m *serviceResourceModel) context.Context {
	createTimeout := timeoutOf(m.Timeouts, "create")
	if inst.CreatedAt.IsZero() || inst.Status != divio.StatusProvisioning {
		return ctx
	}
	ctx, cancel := context.WithDeadline(ctx, inst.CreatedAt.Add(createTimeout))
	context.AfterFunc(ctx, cancel) // released with ctx, or at the deadline
	return ctx
}

// provision starts provisioning an instance and waits until it is functional. On failure it
// returns the instance as last seen, if it was seen.
func (r *ServiceResource) provision(ctx context.Context, id string) (*divio.ServiceInstance, error) {
	if err := r.data.client.ProvisionServiceInstance(ctx, id); err != nil {
		return nil, err
	}
	return r.data.client.WaitForInstance(ctx, id, "become functional", (*divio.ServiceInstance).Functional)
}

// rememberProvisioned records in the cache what provision returned: the instance as last seen if
// the wait ended with it functional; otherwise its status is not known, and the environment's
// instances are forgotten.
func (r *ServiceResource) rememberProvisioned(envID string, seen *divio.ServiceInstance, err error) {
	if err == nil && seen != nil {
		r.data.cache.SetInstance(seen)
		return
	}
	r.data.cache.ForgetInstances(envID)
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
	if env, err := r.data.cache.Environment(ctx, envID); err == nil {
		if app, err := r.data.cache.Application(ctx, env.Application); err == nil {
			where += ", where application " + app.Slug + " runs"
		}
	}
	offered := make([]string, 0, len(catalog))
	for _, s := range catalog {
		offered = append(offered, s.Identifier)
	}
	sort.Strings(offered)
	return fmt.Sprintf("%q is not offered in %s. Services offered there: %s. Choose one of them, by identifier or uuid.",
		service, where, strings.Join(offered, ", "))
}

// findService finds a catalog entry by identifier or uuid.
func findService(catalog []divio.Service, ref string) *divio.Service {
	for i := range catalog {
		if catalog[i].Identifier == ref || catalog[i].UUID == ref {
			return &catalog[i]
		}
	}
	return nil
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
		removeGone(ctx, resp, fmt.Sprintf("service instance %s (%s)", id, service))
		return
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
	for name, want := range map[string]string{
		"id": inst.UUID, "environment_id": inst.Environment, "prefix": inst.Prefix,
		"region_id": inst.Region, "type": inst.Type, "status": inst.Status,
	} {
		if got, known := rawKnownString(prior[name]); !known || got != want {
			return false
		}
	}
	var names []tftypes.Value
	if !prior["env_var_names"].IsKnown() || prior["env_var_names"].As(&names) != nil {
		return false
	}
	wantNames := divio.VariableNames(inst.Type, inst.Prefix)
	if len(names) != len(wantNames) {
		return false
	}
	for i, name := range names {
		if got, known := rawKnownString(name); !known || got != wantNames[i] {
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

	id, envID := state.ID.ValueString(), state.EnvironmentID.ValueString()
	inst, err := r.data.client.GetServiceInstance(ctx, id)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read service instance "+id, err)
		return
	}
	if plan.Provision.ValueBool() && !inst.Functional() {
		seen, err := r.provision(provisioningDeadline(ctx, inst, &plan), id)
		r.rememberProvisioned(envID, seen, err)
		if seen != nil {
			inst = seen
		}
		if err != nil {
			if createTimeout := timeoutOf(plan.Timeouts, "create"); errors.Is(err, context.DeadlineExceeded) && !inst.CreatedAt.IsZero() &&
				time.Since(inst.CreatedAt) >= createTimeout {
				// Past the create timeout: stuck, which the next plan deals with; the update is
				// recorded as planned, provision = true included (also for an imported instance,
				// whose state said false), and so is the verdict.
				resp.Diagnostics.AddWarning("Service instance stuck in provisioning",
					fmt.Sprintf("Service instance %s (%s) is still %s, %s after it was added, past its create timeout (%s): %s.",
						id, state.Service.ValueString(), inst.Status, time.Since(inst.CreatedAt).Round(time.Second), createTimeout, afterStuck(&plan)))
				if resp.Private != nil {
					resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateGaveUpProvisioning, gaveUp)...)
				}
				modelFromInstance(&plan, inst)
				resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
				return
			}
			addAPIError(&resp.Diagnostics, fmt.Sprintf("Service instance %s (%s) did not become functional", id, state.Service.ValueString()), err)
			// Keep provision as it was, so that the next apply waits again.
			plan.Provision = state.Provision
			modelFromInstance(&plan, inst)
			resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
			return
		}
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

	id, envID := state.ID.ValueString(), state.EnvironmentID.ValueString()
	removed := false
	defer func() {
		if removed {
			r.data.cache.SetInstance(&divio.ServiceInstance{UUID: id, Environment: envID, Status: divio.StatusRemoved})
		} else {
			r.data.cache.ForgetInstances(envID) // whatever happened to it is not known
		}
	}()
	inst, err := r.data.client.GetServiceInstance(ctx, id)
	var finalBackup *divio.Backup
	var kept string // the report of the final backup, once the instance is removed
	if err == nil && finalBackupOn(&state) && backupable(inst.Type) {
		r.data.finalBackups.join()
		defer func() { r.data.finalBackups.leave(ctx, kept, &resp.Diagnostics) }()
	}
	for attempt := 1; err == nil; attempt++ {
		if inst.InUse() {
			// Divio removes only an instance the application does not use. A divio_service_attachment
			// of it that this apply destroys has detached it already (Terraform destroys it first), so
			// this one was attached by a deployment of its environment, which attaches every instance
			// added to it, or outside Terraform; or its detachment is pending. The plan said that the
			// removal detaches it first (planDetachFirst), with a deployment.
			var out deployOutcome
			if out, err = r.data.deployer.Detach(ctx, envID, id); out.Instance != nil {
				inst = out.Instance
			}
			if err != nil && !errors.Is(err, divio.ErrNotFound) {
				addDeployError(&resp.Diagnostics, fmt.Sprintf("Service instance %s was not detached, so it was not removed", id), err,
					fmt.Sprintf("Service instance %s (%s) in environment %s stays attached, and the application keeps running with it; nothing was removed. "+
						"Fix the cause of the failed deployment (see its log in the Divio Control Panel), then apply again.", id, state.Service.ValueString(), r.data.cache.EnvironmentLabel(ctx, envID)))
				return
			}
			if err != nil {
				break // removed meanwhile
			}
		}
		// The backup is taken only once nothing stands in the way of the removal but the backup
		// itself, so that it holds the data as it is removed.
		if takesFinalBackup(&state, inst) {
			var taken bool
			if finalBackup, taken = r.takeFinalBackup(ctx, &state, inst, attempt > 1, &resp.Diagnostics); !taken {
				return
			}
		}
		err = r.data.client.DeleteServiceInstance(ctx, id)
		if !errors.Is(err, divio.ErrConflict) || attempt == maxRemovalAttempts {
			break
		}
		// Refused as in use: a deployment attached the instance after it was read (every deployment
		// attaches what awaits attachment; one of this very apply may run while the backup does).
		// It is detached, and backed up anew, since the application may have written to it.
		inst, err = r.data.client.GetServiceInstance(ctx, id)
	}
	if errors.Is(err, divio.ErrNotFound) {
		removed = true
		return
	}
	if err != nil {
		if finalBackup != nil {
			err = fmt.Errorf("%w\n\nIts final backup %s has completed and is kept; the next apply removes the instance without taking another", err, finalBackup.UUID)
		}
		addAPIError(&resp.Diagnostics, "Cannot remove service instance "+id, err)
		return
	}
	if finalBackup != nil {
		kept = r.finalBackupKept(ctx, &state, inst, finalBackup)
	}
	if slot, ok := r.slot(ctx, envID, inst.Service); ok {
		r.data.plan.removedInstance(slot)
	}
	_, err = r.data.client.WaitForInstance(ctx, id, "be removed", func(i *divio.ServiceInstance) bool {
		return i.Status == divio.StatusRemoved
	})
	removed = err == nil || errors.Is(err, divio.ErrNotFound)
	if !removed {
		addAPIError(&resp.Diagnostics, "Service instance "+id+" was not removed", err)
	}
}

// maxRemovalAttempts bounds how often Delete detaches, backs up and removes an instance that a
// deployment attached again after it was read.
const maxRemovalAttempts = 3

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

// ModifyPlan checks against the API what the schema cannot: that the region offers the service and
// the subscription has room for it, that the prefix is free, and that a replacement or removal does
// not pull an instance from under its application. It records each plan in the provider's view of the
// whole plan, which checks what spans resources. Without a configured provider, or with values still
// unknown, it checks nothing: the apply, which plans again with every value known, checks then.
func (r *ServiceResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if !r.data.checksPlan(req) {
		return
	}
	switch {
	case req.Plan.Raw.IsNull():
		r.planDestroy(ctx, req, resp)
	case req.State.Raw.IsNull():
		r.planCreate(ctx, req, resp)
	case req.Plan.Raw.Equal(req.State.Raw):
		// Nothing changes, as for most resources of most plans: record that the instance stays, or
		// finish the provisioning of a create that was cut short.
		r.planUnchanged(ctx, req, resp)
		r.rememberInstance(ctx, req.State, resp)
	default:
		r.planChange(ctx, req, resp)
		r.rememberInstance(ctx, req.State, resp)
	}
	if !req.Plan.Raw.IsNull() {
		r.warnFinalBackupIgnored(ctx, req, resp)
	}
}

// privateReplacedInstance is the private-state key under which a plan against the prior state
// records its instance. When Terraform then replaces the resource (a forced attribute, -replace,
// replace_triggered_by), it plans the new object as a create and hands that create this private
// state: so the create knows which instance it replaces, and that instance's prefix is its own.
const privateReplacedInstance = "replaced_instance"

func (r *ServiceResource) rememberInstance(ctx context.Context, state tfsdk.State, resp *resource.ModifyPlanResponse) {
	if resp.Private == nil {
		return // not called by the framework, which always hands one over
	}
	var id types.String
	resp.Diagnostics.Append(state.GetAttribute(ctx, path.Root("id"), &id)...)
	if encoded, err := json.Marshal(id.ValueString()); err == nil && !id.IsNull() {
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateReplacedInstance, encoded)...)
	}
}

// replacedInstance returns the instance that a create replaces, as rememberInstance recorded it.
func replacedInstance(ctx context.Context, req resource.ModifyPlanRequest) string {
	if req.Private == nil {
		return ""
	}
	raw, _ := req.Private.GetKey(ctx, privateReplacedInstance)
	var id string
	if json.Unmarshal(raw, &id) != nil {
		return ""
	}
	return id
}

// keyOf is what Divio keeps unique about an instance in the state.
func keyOf(m *serviceResourceModel) instanceKey {
	return instanceKey{environment: m.EnvironmentID.ValueString(), serviceType: m.Type.ValueString(), prefix: m.Prefix.ValueString()}
}

func keyOfInstance(inst *divio.ServiceInstance) instanceKey {
	return instanceKey{environment: inst.Environment, serviceType: inst.Type, prefix: inst.Prefix}
}

func (r *ServiceResource) planUnchanged(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	var m serviceResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if m.Provision.ValueBool() && !(&divio.ServiceInstance{Status: m.Status.ValueString()}).Functional() && r.planUnfinished(ctx, &m, req, resp) {
		return
	}
	r.keep(ctx, &m, &resp.Diagnostics)
}

// planUnfinished schedules the rest of a create whose provisioning wait was cut short (see
// reportUnfinishedProvisioning): an update that waits for provisioning to finish; or, when the last
// wait for it ran out of the create timeout (privateGaveUpProvisioning), a replacement, since it
// appears stuck and holds no data. It reports whether it plans a replacement. It decides from the
// state alone, not from the clock or a fresh read, so that the plan made again during the apply
// agrees with this one.
func (r *ServiceResource) planUnfinished(ctx context.Context, m *serviceResourceModel, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) (replacing bool) {
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("status"), types.StringUnknown())...)
	if !gaveUpProvisioning(ctx, req) {
		// The diff shows only the status to come: say what the update does.
		createTimeout := timeoutOf(m.Timeouts, "create")
		resp.Diagnostics.AddWarning("Service instance still provisioning",
			fmt.Sprintf("Service instance %s (%s) in environment %s is %s: the apply that added it stopped waiting before it was functional. "+
				"This plan's update waits for its provisioning to finish (starting it if it has not begun), within the create timeout (%s) counted from when it was added; it removes and replaces nothing.",
				m.ID.ValueString(), m.Service.ValueString(), r.data.cache.EnvironmentLabel(ctx, m.EnvironmentID.ValueString()), m.Status.ValueString(), createTimeout))
		return false
	}
	createTimeout := timeoutOf(m.Timeouts, "create")
	stuck := fmt.Sprintf("Service instance %s (%s) in environment %s is still %s: the last wait for it ran out of its create timeout (%s).",
		m.ID.ValueString(), m.Service.ValueString(), r.data.cache.EnvironmentLabel(ctx, m.EnvironmentID.ValueString()), m.Status.ValueString(), createTimeout)
	if m.DeletionProtection.ValueBool() {
		resp.Diagnostics.AddWarning("Service instance stuck in provisioning", stuck+" It appears stuck, but "+stuckProtected+".")
		return false
	}
	resp.RequiresReplace = append(resp.RequiresReplace, path.Root("status"))
	resp.Diagnostics.AddWarning("Service instance stuck in provisioning",
		stuck+" It appears stuck, and since it never became functional it holds no data: the apply replaces it with a new instance.")
	return true
}

// planKeep records an instance that the plan keeps, and refuses the plan if another resource of it
// would add an instance with the same prefix.
func (r *ServiceResource) planKeep(ctx context.Context, state tfsdk.State, diags *diag.Diagnostics) {
	var m serviceResourceModel
	diags.Append(state.Get(ctx, &m)...)
	if !diags.HasError() {
		r.keep(ctx, &m, diags)
	}
}

func (r *ServiceResource) keep(ctx context.Context, m *serviceResourceModel, diags *diag.Diagnostics) {
	if claimedBy := r.data.plan.keep(m.ID.ValueString(), keyOf(m)); len(claimedBy) > 0 {
		r.addPrefixKeptAndAdded(ctx, diags, m.ID.ValueString(), keyOf(m), claimedBy)
	}
}

// addPrefixKeptAndAdded reports an instance that the plan keeps while another resource of the plan
// adds one with its key; whichever of the two is planned second reports it.
func (r *ServiceResource) addPrefixKeptAndAdded(ctx context.Context, diags *diag.Diagnostics, id string, key instanceKey, added []string) {
	diags.AddAttributeError(path.Root("prefix"), "Prefix already in use",
		fmt.Sprintf("Service instance %s in environment %s has prefix %s and stays in this plan, while another divio_service of this plan adds a %s instance with the same prefix (%s). "+
			"Only one instance per environment, type and prefix can exist: give the new divio_service another prefix.",
			id, r.data.cache.EnvironmentLabel(ctx, key.environment), key.prefix, key.serviceType, strings.Join(added, ", ")))
}

// detachmentPlanPatience is how long the plan of an attached service's removal waits for the plan of
// its attachment's removal before it warns that none comes (planView.awaitDetachment): Terraform
// plans the two at once when nothing orders them, so it comes within milliseconds if it comes. One
// order it cannot catch: an attachment made with for_each over the services is planned only after
// the service it stops iterating over; the service then warns, although the attachment goes too.
const detachmentPlanPatience = time.Second

func (r *ServiceResource) planDestroy(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	var state serviceResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := state.ID.ValueString()
	r.data.plan.planInstance(id, keyOf(&state), "", fateRemoved)
	if state.DeletionProtection.ValueBool() {
		resp.Diagnostics.AddAttributeError(path.Root("deletion_protection"), "Service instance is protected from deletion", r.deletionProtectedDetail(ctx, &state))
		return
	}
	inst, err := r.data.cache.Instance(ctx, state.EnvironmentID.ValueString(), id)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read service instance "+id, err)
		return
	}
	if inst != nil && inst.InUse() {
		r.planDetachFirst(ctx, inst, "removing", &resp.Diagnostics)
	}
	if inst != nil {
		r.warnFinalBackupPlanned(ctx, &state, inst, "removing", &resp.Diagnostics)
	}
}

// planDetachFirst says what removing (or replacing) an instance that the application uses does: the
// removal detaches it with a deployment of its environment first (Delete), unless a
// divio_service_attachment of it that the apply destroys has detached it by then (Terraform destroys
// the attachment first). Whether one is destroyed is known here only when its plan comes first, as
// in terraform destroy; an attachment that refers to a replaced instance, or that iterates over the
// services, is planned after the service. So the warning says what happens either way, and is left
// out only when the detachment is known.
func (r *ServiceResource) planDetachFirst(ctx context.Context, inst *divio.ServiceInstance, verb string, diags *diag.Diagnostics) {
	if r.data.plan.awaitDetachment(ctx, inst.UUID, detachmentPlanPatience) {
		return
	}
	r.data.warnUnaskedAttachments(ctx, inst.Environment, "to detach service instance "+inst.UUID+" before "+verb+" it", diags)
	after := "removes it"
	if verb == "replacing" {
		after = "removes it and adds its replacement, which awaits attachment until the environment's next deployment, whoever starts it " +
			"(a divio_service_attachment of the new instance deploys for it)"
	}
	diags.AddWarning("Service instance in use is detached first",
		fmt.Sprintf("%s is %s: the application uses it (a deployment attaches every instance of its environment that awaits attachment, whoever starts it, "+
			"with or without a divio_service_attachment). Divio removes only an instance the application does not use, so unless a divio_service_attachment of it "+
			"that this apply destroys has detached it by then, the apply first detaches it with a deployment of the environment, after which the application no longer receives %s. "+
			"Then it %s.",
			capitalize(r.data.cache.InstanceLabel(ctx, inst)), inst.Status, strings.Join(divio.VariableNames(inst.Type, inst.Prefix), ", "), after))
}

// planCreate checks a new instance against its region, subscription and environment, and against
// the other resources of the plan, and plans the computed values that follow from the catalog.
func (r *ServiceResource) planCreate(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	var plan serviceResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || plan.EnvironmentID.IsUnknown() || plan.Service.IsUnknown() || plan.Prefix.IsUnknown() {
		return
	}
	envID, prefix := plan.EnvironmentID.ValueString(), plan.Prefix.ValueString()
	region, svc := r.resolveService(ctx, envID, plan.Service.ValueString(), &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	key := instanceKey{environment: envID, serviceType: svc.Type, prefix: prefix}
	if id := replacedInstance(ctx, req); id != "" {
		r.planReplaced(ctx, id, envID)
	}
	if earlier := r.data.plan.claimKey(key, svc.Identifier); len(earlier) > 0 {
		resp.Diagnostics.AddAttributeError(path.Root("prefix"), "Prefix planned twice",
			fmt.Sprintf("Two divio_service resources of this plan add a %s instance with prefix %s to environment %s (%s and %s). "+
				"Only one instance per environment, type and prefix can exist: give one of them another prefix.",
				svc.Type, prefix, r.data.cache.EnvironmentLabel(ctx, envID), strings.Join(earlier, ", "), svc.Identifier))
		return
	}
	r.checkPrefixHolders(ctx, key, svc, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	r.checkSubscription(ctx, envID, svc, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("region_id"), region.UUID)...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("type"), svc.Type)...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("env_var_names"), envVarNamesValue(svc.Type, prefix))...)
}

// checkPrefixHolders refuses a create whose prefix an existing instance holds, unless the plan
// removes that instance first.
func (r *ServiceResource) checkPrefixHolders(ctx context.Context, key instanceKey, svc *divio.Service, diags *diag.Diagnostics) {
	instances, err := r.data.cache.Instances(ctx, key.environment)
	if err != nil {
		addAPIError(diags, "Cannot list the service instances of environment "+r.data.cache.EnvironmentLabel(ctx, key.environment), err)
		return
	}
	for i := range instances {
		holder := &instances[i]
		if keyOfInstance(holder) != key {
			continue
		}
		if !r.data.plan.awaitKnown(ctx, holder.UUID, holderPatience) {
			r.addPrefixTaken(ctx, diags, holder, svc)
			continue
		}
		fate, _, own := r.data.plan.holderFate(holder.UUID)
		switch {
		case fate == fateKept:
			r.addPrefixKeptAndAdded(ctx, diags, holder.UUID, key, []string{svc.Identifier})
		case own:
			// This resource's own instance, replaced: its removal frees its subscription slot too.
			if slot, ok := r.slot(ctx, key.environment, holder.Service); ok {
				r.data.plan.replacing(slot)
			}
		case fate == fateRemoved:
			diags.AddAttributeWarning(path.Root("prefix"), "Prefix freed and taken in one apply",
				fmt.Sprintf("This plan removes service instance %s, which holds prefix %s in environment %s, and adds this one with the same prefix. "+
					"Terraform does not order the two, so the apply may try to add this one first, and then fails on the taken prefix (the next apply finishes). "+
					"If you renamed the resource, add a `moved` block instead, which keeps the instance and its data.",
					holder.UUID, key.prefix, r.data.cache.EnvironmentLabel(ctx, key.environment)))
		}
	}
}

// holderPatience is how long the plan of a create whose prefix an existing instance holds waits for
// a resource of the configuration to read that instance (planView.awaitKnown) before it reports the
// instance as outside the state.
const holderPatience = time.Second

// addPrefixTaken reports an instance that holds the prefix and that no resource of this
// configuration has: added outside Terraform, or by a run that was killed before it saved its state.
func (r *ServiceResource) addPrefixTaken(ctx context.Context, diags *diag.Diagnostics, holder *divio.ServiceInstance, svc *divio.Service) {
	diags.AddAttributeError(path.Root("prefix"), "Prefix already in use",
		fmt.Sprintf("Environment %s already has a %s instance with prefix %s: %s (%s, status %s, added %s), which this configuration's state does not hold. "+
			"Only one instance per environment, type and prefix can exist. Either choose another prefix, or bring that instance under this resource:\n\n"+
			"  terraform import 'divio_service.<name>' %s\n\nor, in the configuration (Terraform 1.5 or later):\n\n"+
			"  import {\n    to = divio_service.<name>\n    id = %q\n  }\n\n"+
			"or, by resource identity (Terraform 1.12 or later):\n\n"+
			"  import {\n    to       = divio_service.<name>\n    identity = { id = %q }\n  }\n\n"+
			"where divio_service.<name> is this resource's address, which Terraform names above this message (\"with divio_service...\").",
			r.data.cache.EnvironmentLabel(ctx, holder.Environment), svc.Type, holder.Prefix, holder.UUID, r.identifierOf(ctx, holder, diags),
			holder.Status, age(holder.CreatedAt), holder.UUID, holder.UUID, holder.UUID))
}

// checkSubscription refuses a create that the application's subscription has no free instance of,
// counting every create of the same service in the application's environments that the plan makes.
func (r *ServiceResource) checkSubscription(ctx context.Context, envID string, svc *divio.Service, diags *diag.Diagnostics) {
	env, err := r.data.cache.Environment(ctx, envID)
	if err != nil {
		addAPIError(diags, "Cannot read environment "+envID, err)
		return
	}
	app, err := r.data.cache.Application(ctx, env.Application)
	if err != nil {
		addAPIError(diags, "Cannot read application "+env.Application, err)
		return
	}
	addable, err := r.data.cache.AddableServices(ctx, app.UUID)
	if err != nil {
		addAPIError(diags, "Cannot read what application "+app.Slug+" can add", err)
		return
	}
	freeNow := 0
	if s := findService(addable, svc.UUID); s != nil {
		if s.Available == nil {
			// An API that does not count free instances ([modelled] field): the create says
			// at apply whether the subscription has room.
			return
		}
		freeNow = *s.Available
	}
	pending, free, ok := r.data.plan.claimSlot(slotKey{application: app.UUID, service: svc.UUID}, freeNow)
	if ok {
		return
	}
	diags.AddAttributeError(path.Root("service"), "Subscription has no free instance of this service",
		fmt.Sprintf("The subscription of application %s has %s of %s (%s) left, and this plan adds %d to its environments. "+
			"Remove an instance of it that is no longer needed from one of application %s's environments, or upgrade the application's subscription in the Divio Control Panel, then plan again.",
			app.Slug, freeInstances(free), svc.Name, svc.Identifier, pending, app.Slug))
}

func freeInstances(n int) string {
	switch {
	case n <= 0:
		return "no free instance"
	case n == 1:
		return "1 free instance"
	}
	return fmt.Sprintf("%d free instances", n)
}

// slot returns the subscription slot that an instance of service (catalog uuid) takes in an
// environment: subscriptions belong to the environment's application. ok is false when the
// environment cannot be read.
func (r *ServiceResource) slot(ctx context.Context, envID, service string) (_ slotKey, ok bool) {
	env, err := r.data.cache.Environment(ctx, envID)
	if err != nil {
		return slotKey{}, false
	}
	return slotKey{application: env.Application, service: service}, true
}

// age says how long ago t was, roughly, for messages.
func age(t time.Time) string {
	if t.IsZero() {
		return "at an unknown time"
	}
	d := time.Since(t).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%s ago", d)
	case d < time.Hour:
		return fmt.Sprintf("%d minutes ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d hours ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago, on %s", int(d.Hours()/24), t.UTC().Format(time.DateOnly))
}

// planChange keeps an equivalent spelling of the service, and guards a replacement.
func (r *ServiceResource) planChange(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	var plan, state serviceResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if r.sameService(ctx, state.RegionID.ValueString(), plan.Service, state.Service) {
		plan.Service = state.Service
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("service"), state.Service)...)
		if resp.Plan.Raw.Equal(req.State.Raw) { // the spelling was the only difference
			r.planKeep(ctx, req.State, &resp.Diagnostics)
			return
		}
	}

	if plan.Provision.ValueBool() && !(&divio.ServiceInstance{Status: state.Status.ValueString()}).Functional() {
		// The update provisions it (provision turned true).
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("status"), types.StringUnknown())...)
	}
	if plan.EnvironmentID.IsUnknown() || plan.Service.IsUnknown() || plan.Prefix.IsUnknown() {
		return // whether it is replaced is known only at apply, where Delete refuses what is unsafe
	}
	var forcing []string
	for _, c := range []struct {
		name           string
		planned, prior types.String
	}{
		{"environment_id", plan.EnvironmentID, state.EnvironmentID},
		{"service", plan.Service, state.Service},
		{"prefix", plan.Prefix, state.Prefix},
	} {
		if !c.planned.Equal(c.prior) {
			forcing = append(forcing, c.name)
		}
	}
	if len(forcing) == 0 {
		r.planKeep(ctx, req.State, &resp.Diagnostics)
		return
	}

	id := state.ID.ValueString()
	if state.DeletionProtection.ValueBool() {
		resp.Diagnostics.AddAttributeError(path.Root("deletion_protection"), "Service instance is protected from deletion",
			fmt.Sprintf("Changing %s replaces the instance, which deletes its data. %s", strings.Join(forcing, ", "), r.deletionProtectedDetail(ctx, &state)))
		return
	}
	inst, err := r.data.cache.Instance(ctx, state.EnvironmentID.ValueString(), id)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read service instance "+id, err)
		return
	}
	if inst != nil && inst.InUse() {
		r.planDetachFirst(ctx, inst, "replacing", &resp.Diagnostics)
	}
	if inst != nil {
		r.warnFinalBackupPlanned(ctx, &state, inst, "replacing", &resp.Diagnostics)
	}
	// Terraform plans the new instance of the replacement next, as a create; that records this one as
	// replaced (planReplaced), since its prefix and subscription slot are freed first.
}

// planReplaced records an instance that a create replaces: removed first, it frees its prefix and
// its slot of the subscription.
func (r *ServiceResource) planReplaced(ctx context.Context, id, envID string) {
	inst, err := r.data.cache.Instance(ctx, envID, id)
	if err != nil || inst == nil {
		return // gone already: nothing to free
	}
	if !r.data.plan.planInstance(id, keyOfInstance(inst), inst.Service, fateReplaced) {
		return // recorded already
	}
	if slot, ok := r.slot(ctx, inst.Environment, inst.Service); ok {
		r.data.plan.replacing(slot)
	}
}

// sameService reports whether two spellings (identifier or uuid) name the same catalog entry of a region.
func (r *ServiceResource) sameService(ctx context.Context, regionID string, a, b types.String) bool {
	if a.IsUnknown() || a.IsNull() || b.IsNull() || a.Equal(b) {
		return false
	}
	catalog, err := r.data.cache.Services(ctx, regionID)
	if err != nil {
		return false // not resolvable now: the plan shows the change, which is safe
	}
	sa, sb := findService(catalog, a.ValueString()), findService(catalog, b.ValueString())
	return sa != nil && sb != nil && sa.UUID == sb.UUID
}
