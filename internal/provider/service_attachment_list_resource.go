package provider

import (
	"context"
	"fmt"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/list"
	listschema "github.com/hashicorp/terraform-plugin-framework/list/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

var (
	_ list.ListResource              = &ServiceAttachmentListResource{}
	_ list.ListResourceWithConfigure = &ServiceAttachmentListResource{}
)

// ServiceAttachmentListResource lists the attachments of an environment's instances for
// `terraform query`, so that adopting an environment adopts both halves: each instance
// (divio_service) and its use by the application (divio_service_attachment).
type ServiceAttachmentListResource struct {
	ServiceAttachmentResource
}

func NewServiceAttachmentListResource() list.ListResource { return &ServiceAttachmentListResource{} }

type serviceAttachmentListModel struct {
	EnvironmentID types.String `tfsdk:"environment_id"`
}

func (l *ServiceAttachmentListResource) ListResourceConfigSchema(_ context.Context, _ list.ListResourceSchemaRequest, resp *list.ListResourceSchemaResponse) {
	resp.Schema = listschema.Schema{
		MarkdownDescription: "Lists the attachments of an environment's service instances for `terraform query` (Terraform 1.14 and newer): " +
			"one result per instance that is attached, or awaits attachment by the environment's next deployment. With `include_resource = true` each carries " +
			"the `divio_service_attachment` that importing it makes. Query it with `divio_service` to adopt both the instances and their attachments.",
		Attributes: map[string]listschema.Attribute{
			"environment_id": listschema.StringAttribute{
				MarkdownDescription: "The id of the environment whose attachments to list.",
				Required:            true,
			},
		},
	}
}

func (l *ServiceAttachmentListResource) List(ctx context.Context, req list.ListRequest, stream *list.ListResultsStream) {
	var diags diag.Diagnostics
	var config serviceAttachmentListModel
	diags.Append(req.Config.Get(ctx, &config)...)
	if diags.HasError() || !requireConfigured(l.data, &diags) {
		stream.Results = list.ListResultsStreamDiagnostics(diags)
		return
	}
	instances, where := listedInstances(ctx, l.data, config.EnvironmentID.ValueString(), &diags)
	if diags.HasError() {
		stream.Results = list.ListResultsStreamDiagnostics(diags)
		return
	}

	var results []list.ListResult
	for i := range instances {
		inst := &instances[i]
		if !attachmentHolds(inst) {
			continue
		}
		if limitReached(req, len(results)) {
			break
		}
		result := req.NewListResult(ctx)
		var m serviceAttachmentModel
		result.Diagnostics.Append(result.Resource.GetAttribute(ctx, path.Root("timeouts"), &m.Timeouts)...)
		modelFromUnmanagedAttachment(&m, inst)
		how := "attached"
		switch {
		case inst.AwaitsAttachment():
			how = "awaiting attachment by the next deployment"
		case inst.Status == divio.StatusPendingDetachment:
			how = "attached, its detachment pending"
		}
		identifier, err := l.data.cache.ServiceIdentifier(ctx, inst)
		if err != nil {
			addAPIError(&result.Diagnostics, "Cannot read the service catalog of region "+inst.Region, err)
		}
		result.DisplayName = fmt.Sprintf("%s %s %s in %s", identifier, inst.Prefix, how, where)
		setListResult(ctx, &result, &m)
		results = append(results, result)
	}
	stream.Results = slices.Values(results)
}

// modelFromUnmanagedAttachment is the attachment that importing an attached instance makes:
// ImportState sets id and deploy, and Read the rest; no deployment of Terraform's attached it.
func modelFromUnmanagedAttachment(m *serviceAttachmentModel, inst *divio.ServiceInstance) {
	modelFromAttachedInstance(m, inst)
	m.Deploy = types.BoolValue(defaultDeploy)
	m.DeploymentID = types.StringNull()
}
