package provider

import (
	"context"
	"encoding/json"
	"errors"
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
	r.warnPlatformUpgrade(ctx, &m, &resp.Diagnostics)
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
	r.data.plan.planInstance(state.ID.ValueString(), keyOf(&state), "", fateRemoved)
	r.planRemoval(ctx, &state, "removing", r.deletionProtectedDetail(ctx, &state), &resp.Diagnostics)
}

// planRemoval checks, and says, what removing or replacing (verb) the instance of state does: refused
// under deletion_protection (protected says why), detached first when the application uses it, and
// backed up first when final_backup asks for it.
func (r *ServiceResource) planRemoval(ctx context.Context, state *serviceResourceModel, verb, protected string, diags *diag.Diagnostics) {
	if state.DeletionProtection.ValueBool() {
		diags.AddAttributeError(path.Root("deletion_protection"), "Service instance is protected from deletion", protected)
		return
	}
	id := state.ID.ValueString()
	inst, err := r.data.cache.Instance(ctx, state.EnvironmentID.ValueString(), id)
	if err != nil {
		addAPIError(diags, "Cannot read service instance "+id, err)
		return
	}
	if inst == nil {
		return
	}
	if inst.InUse() {
		r.planDetachFirst(ctx, inst, verb, diags)
	}
	r.warnFinalBackupPlanned(ctx, state, inst, verb, diags)
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
		r.planReplaced(ctx, id)
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
	if plan.CopyDataFrom != nil {
		r.checkCopySource(ctx, &plan, svc, &resp.Diagnostics)
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("region_id"), region.UUID)...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("type"), svc.Type)...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("env_var_names"), envVarNamesValue(svc.Type, prefix))...)
}

// checkCopySource refuses at plan a copy_data_from that cannot work: without provisioning, or from an
// instance of another type, engine or a newer version (a backup restores only into the same or a
// newer version of its engine). A source known only at apply is checked by the copy.
func (r *ServiceResource) checkCopySource(ctx context.Context, plan *serviceResourceModel, svc *divio.Service, diags *diag.Diagnostics) {
	if !plan.Provision.ValueBool() {
		diags.AddAttributeError(path.Root("copy_data_from"), "Copy needs a provisioned instance",
			"copy_data_from fills the instance when it is added, which needs it provisioned: set provision = true (the default), or leave copy_data_from out.")
		return
	}
	if plan.CopyDataFrom.ServiceID.IsNull() || plan.CopyDataFrom.ServiceID.IsUnknown() {
		return
	}
	id := plan.CopyDataFrom.ServiceID.ValueString()
	source, err := r.data.cache.InstanceByID(ctx, id)
	if err != nil {
		addAPIError(diags, "Cannot read service instance "+id, err)
		return
	}
	if source == nil || source.Status == divio.StatusRemoved {
		diags.AddAttributeError(path.Root("copy_data_from").AtName("service_id"), "Service instance not found",
			fmt.Sprintf("There is no service instance with id %q to copy, or the API token may not see it.", id))
		return
	}
	from, _ := r.data.cache.ServiceIdentifier(ctx, source)
	engine, fromVersion, ok := divio.ServiceVersion(from)
	toEngine, toVersion, toOK := divio.ServiceVersion(svc.Identifier)
	if source.Type != svc.Type || ok != toOK || engine != toEngine || fromVersion > toVersion || !ok && from != svc.Identifier {
		diags.AddAttributeError(path.Root("copy_data_from").AtName("service_id"), "Data cannot be copied",
			fmt.Sprintf("%s runs %s, and this instance is %s: a copy goes only into an instance of the same engine and the same or a newer version.",
				capitalize(r.data.cache.InstanceLabel(ctx, source)), from, svc.Identifier))
	}
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
	if !plan.EnvironmentID.Equal(state.EnvironmentID) {
		forcing = append(forcing, "environment_id") // the attribute's plan modifier replaces
	} else if !plan.Service.Equal(state.Service) {
		switch r.planServiceChange(ctx, &state, &plan, resp) {
		case serviceRefused:
			return
		case serviceUpgraded:
			// The upgrade gives the new instance the planned prefix itself; the instances of its
			// temporary prefixes are its own, and the old one's prefix is freed as it is removed.
			key := instanceKey{environment: state.EnvironmentID.ValueString(), serviceType: state.Type.ValueString(), prefix: plan.Prefix.ValueString()}
			r.data.plan.planInstance(state.ID.ValueString(), key, "", fateKept)
			return
		case serviceReplaced:
			forcing = append(forcing, "service")
			resp.RequiresReplace = append(resp.RequiresReplace, path.Root("service"))
		}
	}
	if len(forcing) == 0 {
		if state.CopyDataFrom == nil && plan.CopyDataFrom != nil {
			if r.planLateCopy(ctx, &state, &plan, &resp.Diagnostics); resp.Diagnostics.HasError() {
				return
			}
		}
		if plan.Service.Equal(state.Service) {
			r.warnPlatformUpgrade(ctx, &state, &resp.Diagnostics)
		}
		if !plan.Prefix.Equal(state.Prefix) {
			r.planRename(ctx, &state, &plan, resp)
			return
		}
		r.planKeep(ctx, req.State, &resp.Diagnostics)
		return
	}

	r.planRemoval(ctx, &state, "replacing",
		fmt.Sprintf("Changing %s replaces the instance, which deletes its data. %s", strings.Join(forcing, ", "), r.deletionProtectedDetail(ctx, &state)), &resp.Diagnostics)
	// Terraform plans the new instance of the replacement next, as a create; that records this one as
	// replaced (planReplaced), since its prefix and subscription slot are freed first.
}

// planReplaced records an instance that a create replaces: removed first, it frees its prefix and
// its slot of the subscription.
func (r *ServiceResource) planReplaced(ctx context.Context, id string) {
	inst, err := r.data.cache.InstanceByID(ctx, id) // in the environment it leaves, if the replacement moves it
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

// serviceChange is what a plan does with a changed service.
type serviceChange int

const (
	serviceInPlace  serviceChange = iota // the version the instance runs already: nothing to move
	serviceUpgraded                      // a newer version of the engine: an upgrade in place
	serviceReplaced                      // another engine or type: a new instance replaces it
	serviceRefused                       // an older version: refused, with the reason in the plan
)

// planServiceChange plans a change of service. To a newer version of the same engine it is an
// upgrade in place, which keeps the data (upgrade); to the version the instance already runs, since
// Divio upgraded it itself (the contract's rule 10), it changes nothing of the instance; to an older
// version it is refused, since a backup restores only into the same or a newer version; anything
// else replaces the instance.
func (r *ServiceResource) planServiceChange(ctx context.Context, state, plan *serviceResourceModel, resp *resource.ModifyPlanResponse) serviceChange {
	envID, id := state.EnvironmentID.ValueString(), state.ID.ValueString()
	target, err := r.data.cache.FindService(ctx, state.RegionID.ValueString(), plan.Service.ValueString())
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read the service catalog of region "+state.RegionID.ValueString(), err)
		return serviceRefused
	}
	inst, err := r.data.cache.Instance(ctx, envID, id)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read service instance "+id, err)
		return serviceRefused
	}
	if target == nil || inst == nil {
		return serviceReplaced // the replacement's plan says what is wrong with the service
	}
	if inst.Service == target.UUID {
		return serviceInPlace
	}
	current, _ := r.data.cache.ServiceIdentifier(ctx, inst)
	engine, from, ok := divio.ServiceVersion(current)
	toEngine, to, toOK := divio.ServiceVersion(target.Identifier)
	switch {
	case !ok || !toOK || engine != toEngine || inst.Type != target.Type:
		return serviceReplaced
	case to < from:
		resp.Diagnostics.AddAttributeError(path.Root("service"), "Cannot move to an older version",
			fmt.Sprintf("%s runs %s, and service asks for %s, an older version of the engine. Divio restores a backup only into the same or a newer version, "+
				"so the data cannot follow. Keep service = %q; or, to start over with an empty %s instance, remove this divio_service (its data is deleted) and add another.",
				capitalize(r.data.cache.InstanceLabel(ctx, inst)), current, target.Identifier, current, target.Identifier))
		return serviceRefused
	}
	r.planUpgrade(ctx, inst, current, target, plan, resp)
	return serviceUpgraded
}

// planUpgrade plans the upgrade of inst to target (upgrade): the instance's id and status change,
// the application's subscription needs a free instance of target for the time of the upgrade, and
// the plan says what the apply does, since the diff shows only the service.
func (r *ServiceResource) planUpgrade(ctx context.Context, inst *divio.ServiceInstance, current string, target *divio.Service, plan *serviceResourceModel, resp *resource.ModifyPlanResponse) {
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("id"), types.StringUnknown())...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("status"), types.StringUnknown())...)
	prefix := plan.Prefix.ValueString()
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("env_var_names"), envVarNamesValue(inst.Type, prefix))...)
	newTemp, oldTemp := upgradePrefixes(inst.UUID)
	next, err := r.upgradeTarget(ctx, inst, target, newTemp, prefix)
	resumed := ""
	if err == nil && next != nil {
		r.data.plan.upgradeInto(next.UUID) // added by an apply cut short, which counted its slot too
		resumed = fmt.Sprintf("\n\nAn earlier apply began this upgrade and stopped: it added %s, and this apply goes on from where it stopped.", r.data.cache.InstanceLabel(ctx, next))
		if stuckInProvisioning(next, plan) {
			resumed += fmt.Sprintf(" That instance has been %s since %s, longer than the create timeout (%s): it appears stuck and holds no data, so the apply removes it and adds another.",
				next.Status, next.CreatedAt.UTC().Format(time.RFC3339), timeoutOf(plan.Timeouts, "create"))
		}
	} else {
		r.checkSubscription(ctx, inst.Environment, target, &resp.Diagnostics)
		if resp.Diagnostics.HasError() {
			return
		}
	}
	names := strings.Join(divio.VariableNames(inst.Type, prefix), ", ")
	swap := "It is not in use, so no deployment follows (a deployment of the environment attaches the new instance, as it would have the old one)"
	copyUntil := "the renames"
	if inst.InUse() {
		swap = fmt.Sprintf("Then one deployment of the environment detaches the old instance and attaches the new one: the application has %s before it, from the old instance, and after it, from the new", names)
		copyUntil = "that deployment"
	}
	if inst.Status == divio.StatusDetached && (next == nil || next.AwaitsAttachment()) {
		swap += ". The old instance is DETACHED, and the new one is not: the environment's next deployment attaches it"
	}
	removal := "removes the old instance"
	if finalBackupOn(plan) && backupable(inst.Type) {
		removal += ", after its final backup (final_backup)"
	}
	resp.Diagnostics.AddAttributeWarning(path.Root("service"), "Database upgraded in place",
		fmt.Sprintf("%s moves from %s to %s, keeping its data, in place of a replacement. The apply adds a %s instance under the temporary prefix %s, provisions it, "+
			"backs the old instance up and restores that backup into the new one, renames the old instance to %s and the new one to %s. %s. Last, it %s, "+
			"and the resource's id becomes the new instance's.\n\n"+
			"Data written to the old instance after its backup and before %s is not copied, as Divio's upgrade guide warns: apply at a quiet time, or stop the writes. "+
			"For the time of the upgrade, application %s's subscription needs a free %s instance, which it has.%s",
			capitalize(r.data.cache.InstanceLabel(ctx, inst)), current, target.Identifier, target.Identifier, newTemp, oldTemp, prefix, swap, removal,
			copyUntil, r.applicationSlug(ctx, inst.Environment), target.Identifier, resumed))
}

// applicationSlug names an environment's application for messages: its slug, or the environment's
// id when it cannot be read.
func (r *ServiceResource) applicationSlug(ctx context.Context, envID string) string {
	if app, err := r.data.cache.ApplicationOf(ctx, envID); err == nil {
		return app.Slug
	}
	return envID
}

// planRename plans a new prefix: a rename in place, which keeps the instance and its data. The new
// prefix must be free, as for a new instance, and the plan says which variable names the
// application sees change, and when: the apply does not deploy.
func (r *ServiceResource) planRename(ctx context.Context, state, plan *serviceResourceModel, resp *resource.ModifyPlanResponse) {
	id, envID, prefix := state.ID.ValueString(), state.EnvironmentID.ValueString(), plan.Prefix.ValueString()
	key := instanceKey{environment: envID, serviceType: state.Type.ValueString(), prefix: prefix}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("env_var_names"), envVarNamesValue(key.serviceType, prefix))...)
	if earlier := r.data.plan.claimKey(key, state.Service.ValueString()); len(earlier) > 0 {
		resp.Diagnostics.AddAttributeError(path.Root("prefix"), "Prefix planned twice",
			fmt.Sprintf("Two divio_service resources of this plan give a %s instance of environment %s the prefix %s (%s and %s). "+
				"Only one instance per environment, type and prefix can exist: give one of them another prefix.",
				key.serviceType, r.data.cache.EnvironmentLabel(ctx, envID), prefix, strings.Join(earlier, ", "), state.Service.ValueString()))
		return
	}
	inst, err := r.data.cache.Instance(ctx, envID, id)
	instances, listErr := r.data.cache.Instances(ctx, envID)
	if err = errors.Join(err, listErr); err != nil || inst == nil {
		addAPIError(&resp.Diagnostics, "Cannot read service instance "+id, errors.Join(err, divio.ErrNotFound))
		return
	}
	for i := range instances {
		if other := &instances[i]; other.UUID != id && keyOfInstance(other) == key {
			resp.Diagnostics.AddAttributeError(path.Root("prefix"), "Prefix already in use",
				fmt.Sprintf("Renaming %s to %s: %s holds that prefix. Only one instance per environment, type and prefix can exist. "+
					"Choose another prefix; to swap the prefixes of two instances, rename one of them to a free prefix in one apply, and finish in the next.",
					r.data.cache.InstanceLabel(ctx, inst), prefix, r.data.cache.InstanceLabel(ctx, other)))
			return
		}
	}
	r.data.plan.planInstance(id, key, inst.Service, fateKept)
	if !inst.InUse() {
		return
	}
	resp.Diagnostics.AddAttributeWarning(path.Root("prefix"), "Prefix renamed in place",
		fmt.Sprintf("%s is renamed to %s in place: it keeps its id and its data, and its variables are named %s from then on. "+
			"The application keeps %s, as its last deployment gave them, until the environment's next deployment, which gives it the new names instead. "+
			"This apply does not deploy: deploy once the application reads the new names (a git push, or a divio_deployment whose triggers include the prefix).",
			capitalize(r.data.cache.InstanceLabel(ctx, inst)), prefix, strings.Join(divio.VariableNames(inst.Type, prefix), ", "),
			strings.Join(divio.VariableNames(inst.Type, inst.Prefix), ", ")))
}

// warnPlatformUpgrade warns, in the plan of an instance whose service the configuration does not
// change, when Divio has moved the instance to a newer version itself (the contract's rule 10): the
// plan changes nothing, and the configuration should say the version the instance runs.
func (r *ServiceResource) warnPlatformUpgrade(ctx context.Context, m *serviceResourceModel, diags *diag.Diagnostics) {
	inst, err := r.data.cache.Instance(ctx, m.EnvironmentID.ValueString(), m.ID.ValueString())
	if err != nil || inst == nil {
		return
	}
	configured, err := r.data.cache.FindService(ctx, inst.Region, m.Service.ValueString())
	if err != nil || configured == nil || configured.UUID == inst.Service {
		return
	}
	current, _ := r.data.cache.ServiceIdentifier(ctx, inst)
	engine, from, ok := divio.ServiceVersion(configured.Identifier)
	runEngine, to, runOK := divio.ServiceVersion(current)
	if !ok || !runOK || engine != runEngine || to <= from {
		return
	}
	diags.AddAttributeWarning(path.Root("service"), "Service upgraded by Divio",
		fmt.Sprintf("Divio has moved %s from %s to %s in place: the same instance, with its data and prefix. This plan changes nothing. "+
			"Say so in the configuration, where the plan then shows only the new spelling:\n\n  service = %q",
			r.data.cache.InstanceLabel(ctx, inst), configured.Identifier, current, current))
}
