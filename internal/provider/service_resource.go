package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
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

	"github.com/divio/terraform-provider-divio/internal/divio"
)

var (
	_ resource.ResourceWithConfigure   = &ServiceResource{}
	_ resource.ResourceWithImportState = &ServiceResource{}
	_ resource.ResourceWithModifyPlan  = &ServiceResource{}
)

const defaultPrefix = "DEFAULT"

var prefixPattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,29}$`)

var prefixValidator = stringvalidator.RegexMatches(prefixPattern,
	"must be an upper-case letter followed by up to 29 upper-case letters, digits or underscores, e.g. DEFAULT or MEDIA_2")

// envVarSuffixes names the variable an instance of each catalog type publishes after its prefix.
var envVarSuffixes = map[string]string{
	divio.TypeDatabase:     "_DATABASE_DSN",
	divio.TypeStorage:      "_STORAGE_DSN",
	divio.TypeSearch:       "_HAYSTACK_URL",
	divio.TypeMessageQueue: "_AMQP_BROKER_URL",
}

// envVarNames returns, sorted, the names of the environment variables that a provisioned instance
// of serviceType with prefix publishes in its environment.
func envVarNames(serviceType, prefix string) []string {
	suffix, ok := envVarSuffixes[serviceType]
	if !ok {
		return []string{}
	}
	names := []string{prefix + suffix}
	if serviceType == divio.TypeDatabase && prefix == defaultPrefix {
		names = append(names, "DATABASE_URL")
	}
	sort.Strings(names)
	return names
}

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
	RegionID           types.String   `tfsdk:"region_id"`
	Type               types.String   `tfsdk:"type"`
	Status             types.String   `tfsdk:"status"`
	EnvVarNames        types.List     `tfsdk:"env_var_names"`
	Timeouts           timeouts.Value `tfsdk:"timeouts"`
}

// modelFromInstance sets what the API says about an instance; the arguments only the
// configuration knows (service as written, provision, deletion_protection, timeouts) stay.
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
	for _, name := range envVarNames(serviceType, prefix) {
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
			"Adding it does not attach it to the application: use `divio_service_attachment` for that. " +
			"Removing it deletes its data.",
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
				Default:       stringdefault.StaticString(defaultPrefix),
				Validators:    []validator.String{prefixValidator},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"provision": schema.BoolAttribute{
				MarkdownDescription: "Whether to provision the instance right away and wait until it is functional. Defaults to `true`. " +
					"With `false` it stays `NEW` until the deployment that attaches it. Changing it to `true` provisions it; changing it back to `false` only records the value, since provisioning cannot be undone.",
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
				MarkdownDescription: "The instance's status as last read: `NEW`, `PROVISIONING`, `PENDING_ATTACHMENT`, `ATTACHED`, `PENDING_DETACHMENT` or `DETACHED`.",
				Computed:            true,
			},
			"env_var_names": schema.ListAttribute{
				MarkdownDescription: "The names of the environment variables the instance publishes once provisioned, sorted. Their values are in `divio_service_credentials`.",
				ElementType:         types.StringType,
				Computed:            true,
				PlanModifiers:       []planmodifier.List{listplanmodifier.UseStateForUnknown()},
			},
		},
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

func (r *ServiceResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	if !requireConfigured(r.data, &resp.Diagnostics) {
		return
	}
	var plan serviceResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel, ok := withTimeout(ctx, plan.Timeouts.Create, &resp.Diagnostics)
	if !ok {
		return
	}
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
	r.data.cache.ForgetInstances(envID)
	if err != nil {
		addCreateError(&resp.Diagnostics, svc.Identifier, err)
		return
	}

	// Record the instance before waiting: if provisioning fails or times out, Terraform keeps it
	// as tainted and replaces it next time instead of losing track of it.
	modelFromInstance(&plan, inst)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if resp.Diagnostics.HasError() || !plan.Provision.ValueBool() {
		return
	}

	inst, err = r.provision(ctx, inst.UUID)
	r.data.cache.ForgetInstances(envID)
	if err != nil {
		addAPIError(&resp.Diagnostics, fmt.Sprintf("Service instance %s (%s) did not become functional", inst.UUID, svc.Identifier), err)
		return
	}
	modelFromInstance(&plan, inst)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// provision starts provisioning an instance and waits until it is functional. On failure it still
// returns the instance as last seen, or one that carries only its id.
func (r *ServiceResource) provision(ctx context.Context, id string) (*divio.ServiceInstance, error) {
	if err := r.data.client.ProvisionServiceInstance(ctx, id); err != nil {
		return &divio.ServiceInstance{UUID: id}, err
	}
	inst, err := r.data.client.WaitForInstance(ctx, id, "become functional", (*divio.ServiceInstance).Functional)
	if inst == nil {
		inst = &divio.ServiceInstance{UUID: id}
	}
	return inst, err
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
			diags.AddAttributeError(path.Root("service"), "Subscription does not include this service",
				fmt.Sprintf("The API refused to add %s: %s\n\nThe organisation's subscription does not include a (further) instance of %s. "+
					"Remove another instance of it, or upgrade the subscription in the Divio Control Panel, then apply again.", identifier, text, identifier))
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
	if r.data == nil {
		return // keep the state as it is until the provider can be configured
	}
	var state serviceResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	inst, err := r.data.cache.Instance(ctx, state.EnvironmentID.ValueString(), state.ID.ValueString())
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read service instance "+state.ID.ValueString(), err)
		return
	}
	if inst == nil {
		removeGone(ctx, resp, fmt.Sprintf("service instance %s (%s)", state.ID.ValueString(), state.Service.ValueString()))
		return
	}
	modelFromInstance(&state, inst)
	// The service stays as the configuration wrote it, identifier or uuid.
	if state.Service.IsNull() {
		state.Service = types.StringValue(r.identifierOf(ctx, inst, &resp.Diagnostics))
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// identifierOf returns the catalog identifier of an instance's service, or its uuid if the
// region's catalog does not list it.
func (r *ServiceResource) identifierOf(ctx context.Context, inst *divio.ServiceInstance, diags *diag.Diagnostics) string {
	catalog, err := r.data.cache.Services(ctx, inst.Region)
	if err != nil {
		addAPIError(diags, "Cannot read the service catalog of region "+inst.Region, err)
		return inst.Service
	}
	if svc := findService(catalog, inst.Service); svc != nil {
		return svc.Identifier
	}
	return inst.Service
}

func (r *ServiceResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	if !requireConfigured(r.data, &resp.Diagnostics) {
		return
	}
	var plan, state serviceResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel, ok := withTimeout(ctx, plan.Timeouts.Update, &resp.Diagnostics)
	if !ok {
		return
	}
	defer cancel()

	id, envID := state.ID.ValueString(), state.EnvironmentID.ValueString()
	inst, err := r.data.client.GetServiceInstance(ctx, id)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read service instance "+id, err)
		return
	}
	if plan.Provision.ValueBool() && !inst.Functional() {
		inst, err = r.provision(ctx, id)
		r.data.cache.ForgetInstances(envID)
		if err != nil {
			addAPIError(&resp.Diagnostics, fmt.Sprintf("Service instance %s (%s) did not become functional", id, state.Service.ValueString()), err)
			// Keep provision as it was, so that the next apply tries again.
			plan.Provision = state.Provision
			plan.Status = state.Status
			resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
			return
		}
	}
	modelFromInstance(&plan, inst)
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
			deletionProtectedDetail(&state))
		return
	}
	ctx, cancel, ok := withTimeout(ctx, state.Timeouts.Delete, &resp.Diagnostics)
	if !ok {
		return
	}
	defer cancel()

	id, envID := state.ID.ValueString(), state.EnvironmentID.ValueString()
	defer r.data.cache.ForgetInstances(envID)
	// A detachment in flight (its divio_service_attachment removed in the same run) ends with its
	// deployment; removal must wait for it rather than fail.
	inst, err := r.data.client.WaitForInstance(ctx, id, "finish its detachment", func(i *divio.ServiceInstance) bool {
		return i.Status != divio.StatusPendingDetachment
	})
	if errors.Is(err, divio.ErrNotFound) {
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot remove service instance "+id, err)
		return
	}
	if inst.InUse() {
		resp.Diagnostics.AddError("Service instance is attached",
			fmt.Sprintf("Service instance %s (%s) in environment %s is %s, so removing it is refused and nothing was removed. "+
				"Remove its divio_service_attachment (which detaches it with a deployment) and apply first, then remove the service.",
				id, state.Service.ValueString(), envID, usageOf(inst)))
		return
	}
	if err := r.data.client.DeleteServiceInstance(ctx, id); err != nil {
		addAPIError(&resp.Diagnostics, "Cannot remove service instance "+id, err)
		return
	}
	_, err = r.data.client.WaitForInstance(ctx, id, "be removed", func(i *divio.ServiceInstance) bool {
		return i.Status == divio.StatusRemoved
	})
	if err != nil && !errors.Is(err, divio.ErrNotFound) {
		addAPIError(&resp.Diagnostics, "Service instance "+id+" was not removed", err)
	}
}

// usageOf says how an instance that is in use is used.
func usageOf(inst *divio.ServiceInstance) string {
	if inst.Status == divio.StatusAttached || inst.Status == divio.StatusPendingDetachment {
		return inst.Status
	}
	return "marked to be attached by the next deployment"
}

func deletionProtectedDetail(state *serviceResourceModel) string {
	return fmt.Sprintf("Service instance %s (%s) in environment %s has deletion_protection = true, so Terraform refuses to remove or replace it and delete its data. "+
		"Set deletion_protection = false and apply first, then remove or change the service.",
		state.ID.ValueString(), state.Service.ValueString(), state.EnvironmentID.ValueString())
}

func (r *ServiceResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	id, err := parseImportID("service instance", req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Invalid import ID", err.Error())
		return
	}
	if !requireConfigured(r.data, &resp.Diagnostics) {
		return
	}
	// The environment is not known yet, so the instance is read directly rather than through
	// its environment's list.
	inst, err := r.data.client.GetServiceInstance(ctx, id)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot import service instance "+id, err)
		return
	}
	var m serviceResourceModel
	resp.Diagnostics.Append(resp.State.GetAttribute(ctx, path.Root("timeouts"), &m.Timeouts)...)
	modelFromInstance(&m, inst)
	m.Service = types.StringValue(r.identifierOf(ctx, inst, &resp.Diagnostics))
	m.Provision = types.BoolValue(inst.Functional())
	m.DeletionProtection = types.BoolValue(false)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// ModifyPlan checks against the API what the schema cannot: that the region offers the service,
// that the prefix is free, and that a replacement or removal does not pull an instance from under
// its application. Without a configured provider, or with values still unknown, it checks nothing.
func (r *ServiceResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if r.data == nil {
		return
	}
	switch {
	case req.Plan.Raw.IsNull():
		r.checkDestroy(ctx, req, resp)
	case req.State.Raw.IsNull():
		r.planCreate(ctx, req, resp)
	case req.Plan.Raw.Equal(req.State.Raw):
		// Nothing changes, as for most resources of most plans: nothing to check or decode.
	default:
		r.planChange(ctx, req, resp)
	}
}

func (r *ServiceResource) checkDestroy(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	var state serviceResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if state.DeletionProtection.ValueBool() {
		resp.Diagnostics.AddAttributeError(path.Root("deletion_protection"), "Service instance is protected from deletion", deletionProtectedDetail(&state))
		return
	}
	inst, err := r.data.cache.Instance(ctx, state.EnvironmentID.ValueString(), state.ID.ValueString())
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read service instance "+state.ID.ValueString(), err)
		return
	}
	if inst != nil && inst.InUse() {
		resp.Diagnostics.AddWarning("Removing an attached service instance",
			fmt.Sprintf("Service instance %s (%s) in environment %s is %s. The apply detaches it first only if its divio_service_attachment is removed in the same run; "+
				"otherwise the apply will fail and remove nothing.", inst.UUID, state.Service.ValueString(), inst.Environment, usageOf(inst)))
	}
}

// planCreate checks a new instance against its region and environment, and plans the computed
// values that follow from the catalog.
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
	instances, err := r.data.cache.Instances(ctx, envID)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot list the service instances of environment "+envID, err)
		return
	}
	for _, other := range instances {
		if other.Type != svc.Type || other.Prefix != prefix {
			continue
		}
		if _, replaced := r.data.replacedInstances.Load(other.UUID); replaced {
			continue
		}
		addPrefixTaken(&resp.Diagnostics, &other, svc, envID)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("region_id"), region.UUID)...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("type"), svc.Type)...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("env_var_names"), envVarNamesValue(svc.Type, prefix))...)
}

// addPrefixTaken reports an instance that already uses the prefix for the type. One that is not
// functional may be this very resource's own tainted instance, which Terraform plans to replace
// as a create; that cannot be told apart here, so it is a warning and the API has the last word.
func addPrefixTaken(diags *diag.Diagnostics, other *divio.ServiceInstance, svc *divio.Service, envID string) {
	detail := fmt.Sprintf("Environment %s already has a %s instance with prefix %s: %s (status %s). Only one instance per environment, type and prefix can exist. "+
		"Choose another prefix, or bring the existing instance under Terraform with `terraform import <address> %s`.",
		envID, svc.Type, other.Prefix, other.UUID, other.Status, other.UUID)
	if other.Functional() {
		diags.AddAttributeError(path.Root("prefix"), "Prefix already in use", detail)
		return
	}
	diags.AddAttributeWarning(path.Root("prefix"), "Prefix may already be in use",
		detail+"\n\nIf it is this resource's own instance that failed to provision (tainted), the apply replaces it and this warning can be ignored; otherwise the apply will fail.")
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
		// The framework planned status as unknown because the configuration differed; if the
		// spelling was the only difference, nothing changes at all.
		unchanged := resp.Plan
		resp.Diagnostics.Append(unchanged.SetAttribute(ctx, path.Root("status"), state.Status)...)
		if unchanged.Raw.Equal(req.State.Raw) {
			resp.Plan = unchanged
			return
		}
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
		return
	}

	id := state.ID.ValueString()
	if state.DeletionProtection.ValueBool() {
		resp.Diagnostics.AddAttributeError(path.Root("deletion_protection"), "Service instance is protected from deletion",
			fmt.Sprintf("Changing %s replaces the instance, which deletes its data. %s", strings.Join(forcing, ", "), deletionProtectedDetail(&state)))
		return
	}
	inst, err := r.data.cache.Instance(ctx, state.EnvironmentID.ValueString(), id)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read service instance "+id, err)
		return
	}
	if inst != nil && inst.InUse() {
		resp.Diagnostics.AddAttributeError(path.Root(forcing[0]), "Cannot replace an attached service instance",
			fmt.Sprintf("Changing %s forces the replacement of service instance %s (%s) in environment %s, which is %s: it cannot be removed while the application uses it. "+
				"Remove its divio_service_attachment and apply first (that detaches it with a deployment), then change the service.",
				strings.Join(forcing, ", "), id, state.Service.ValueString(), state.EnvironmentID.ValueString(), usageOf(inst)))
		return
	}
	r.data.replacedInstances.Store(id, struct{}{})
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
