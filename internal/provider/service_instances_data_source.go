package provider

// STUB: replaced by the real implementation.

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
)

type ServiceInstancesDataSource struct{}

func NewServiceInstancesDataSource() datasource.DataSource { return &ServiceInstancesDataSource{} }

func (r *ServiceInstancesDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_service_instances"
}

func (r *ServiceInstancesDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{}
}

func (r *ServiceInstancesDataSource) Read(context.Context, datasource.ReadRequest, *datasource.ReadResponse) {
}
