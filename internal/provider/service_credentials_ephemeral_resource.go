package provider

// STUB: replaced by the real implementation.

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral/schema"
)

type ServiceCredentialsEphemeralResource struct{}

func NewServiceCredentialsEphemeralResource() ephemeral.EphemeralResource {
	return &ServiceCredentialsEphemeralResource{}
}

func (r *ServiceCredentialsEphemeralResource) Metadata(_ context.Context, req ephemeral.MetadataRequest, resp *ephemeral.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_service_credentials"
}

func (r *ServiceCredentialsEphemeralResource) Schema(_ context.Context, _ ephemeral.SchemaRequest, resp *ephemeral.SchemaResponse) {
	resp.Schema = schema.Schema{}
}

func (r *ServiceCredentialsEphemeralResource) Open(context.Context, ephemeral.OpenRequest, *ephemeral.OpenResponse) {
}
