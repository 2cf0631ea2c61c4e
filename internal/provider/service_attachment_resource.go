package provider

// STUB: replaced by the real implementation.

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
)

type ServiceAttachmentResource struct{}

func NewServiceAttachmentResource() resource.Resource { return &ServiceAttachmentResource{} }

func (r *ServiceAttachmentResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_service_attachment"
}

func (r *ServiceAttachmentResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{}
}

func (r *ServiceAttachmentResource) Create(context.Context, resource.CreateRequest, *resource.CreateResponse) {
}

func (r *ServiceAttachmentResource) Read(context.Context, resource.ReadRequest, *resource.ReadResponse) {
}

func (r *ServiceAttachmentResource) Update(context.Context, resource.UpdateRequest, *resource.UpdateResponse) {
}

func (r *ServiceAttachmentResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {
}
