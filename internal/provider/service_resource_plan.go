package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

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
	app, err := r.data.cache.ApplicationOf(ctx, envID)
	if err != nil {
		addAPIError(diags, "Cannot read the application of environment "+envID, err)
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
