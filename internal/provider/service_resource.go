package provider

// STUB: replaced by the real implementation.

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
)

type ServiceResource struct{}

func NewServiceResource() resource.Resource { return &ServiceResource{} }

func (r *ServiceResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_service"
}

func (r *ServiceResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{}
}

func (r *ServiceResource) Create(context.Context, resource.CreateRequest, *resource.CreateResponse) {}

func (r *ServiceResource) Read(context.Context, resource.ReadRequest, *resource.ReadResponse) {}

func (r *ServiceResource) Update(context.Context, resource.UpdateRequest, *resource.UpdateResponse) {}

func (r *ServiceResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {}
