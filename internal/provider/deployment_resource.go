package provider

// STUB: replaced by the real implementation.

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
)

type DeploymentResource struct{}

func NewDeploymentResource() resource.Resource { return &DeploymentResource{} }

func (r *DeploymentResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_deployment"
}

func (r *DeploymentResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{}
}

func (r *DeploymentResource) Create(context.Context, resource.CreateRequest, *resource.CreateResponse) {
}

func (r *DeploymentResource) Read(context.Context, resource.ReadRequest, *resource.ReadResponse) {}

func (r *DeploymentResource) Update(context.Context, resource.UpdateRequest, *resource.UpdateResponse) {
}

func (r *DeploymentResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {
}
