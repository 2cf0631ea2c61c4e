package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/action/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/action/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

var _ action.ActionWithConfigure = &DeployAction{}

// progressOf returns a printf-like function that reports an action's progress to Terraform.
func progressOf(resp *action.InvokeResponse) func(format string, args ...any) {
	return func(format string, args ...any) {
		resp.SendProgress(action.InvokeProgressEvent{Message: fmt.Sprintf(format, args...)})
	}
}

// DeployAction deploys an environment (Terraform 1.14 actions): from a resource's
// action_trigger, or on demand with `terraform apply -invoke=action.divio_deploy.<name>`. It
// changes no state: the deployment is its one side effect.
type DeployAction struct {
	actionWithConfigure
}

func NewDeployAction() action.Action { return &DeployAction{} }

type deployActionModel struct {
	EnvironmentID types.String   `tfsdk:"environment_id"`
	Timeouts      timeouts.Value `tfsdk:"timeouts"`
}

// deployLogTail is how many of a failed deployment's last log lines its error shows.
const deployLogTail = 20

func (a *DeployAction) Metadata(_ context.Context, req action.MetadataRequest, resp *action.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_deploy"
}

func (a *DeployAction) Schema(ctx context.Context, _ action.SchemaRequest, resp *action.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Deploys an environment and waits until the deployment ends, reporting its progress (Terraform 1.14 and newer). " +
			"A deployment attaches every service instance of the environment that awaits attachment and detaches every one whose detachment is pending. Invoke it from a resource's `action_trigger`, " +
			"e.g. after `divio_service_attachment`s with `deploy = false` are created, or on demand with `terraform apply -invoke=action.divio_deploy.<name>`. " +
			"Like an attachment's, its deployment is shared with the attachments of the same environment that Terraform applies at the same time. " +
			"A failed deployment fails the action with the end of its log; the application keeps running its previous configuration.",
		Attributes: map[string]schema.Attribute{
			"environment_id": schema.StringAttribute{
				MarkdownDescription: "The id of the environment to deploy, e.g. `data.divio_environment.<name>.id`.",
				Required:            true,
			},
			"timeouts": actionTimeouts(ctx),
		},
	}
}

func (a *DeployAction) Invoke(ctx context.Context, req action.InvokeRequest, resp *action.InvokeResponse) {
	var config deployActionModel
	ctx, cancel, ok := a.begin(ctx, req, resp, &config, &config.Timeouts)
	defer cancel()
	if !ok {
		return
	}

	envID := config.EnvironmentID.ValueString()
	env, err := a.data.cache.Environment(ctx, envID)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot find environment "+envID, err)
		return
	}
	where := a.data.cache.EnvironmentSlugs(ctx, env.UUID)
	progress := progressOf(resp)
	progress("Deploying %s", where)
	dep, err := a.deploy(ctx, env, where, progress)
	if err != nil {
		a.addDeployFailure(ctx, &resp.Diagnostics, where, err)
		return
	}
	progress("Deployment %s of %s succeeded", dep.UUID, where)
}

// deploy deploys through the provider's deployer, so that an action and the attachments applied
// with it share one deployment, and meanwhile reports the percent of the environment's running
// deployment. Progress is best effort: a failed look at it is not the deployment's failure.
func (a *DeployAction) deploy(ctx context.Context, env *divio.Environment, where string, progress func(string, ...any)) (*divio.Deployment, error) {
	var dep *divio.Deployment
	var err error
	watching, stopWatching := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer stopWatching()
		dep, err = a.data.deployer.Deploy(ctx, env.UUID)
	}()

	last := ""
	filter := divio.DeploymentFilter{Application: env.Application, Environment: env.UUID}
	_ = a.data.client.Poll(watching, "the deployment of "+where, func(ctx context.Context) (bool, error) {
		// A failed look is skipped, not returned: it would end the watch, not the deployment.
		// The percent is read from the deployment itself, as the Divio CLI reads it.
		running, err := a.data.client.LatestDeployment(ctx, filter)
		if err == nil && running != nil && !running.Finished() {
			running, err = a.data.client.GetDeployment(ctx, running.UUID)
		}
		if err == nil && running != nil && !running.Finished() {
			if report := fmt.Sprintf("Deployment %s of %s: %.0f%%", running.UUID, where, running.Percent); report != last {
				progress("%s", report)
				last = report
			}
		}
		return false, nil
	})
	<-done
	return dep, err
}

// addDeployFailure reports a failed deployment with the end of its log, or, when it did not get
// as far as failing, the error itself.
func (a *DeployAction) addDeployFailure(ctx context.Context, diags *diag.Diagnostics, where string, err error) {
	var failed *divio.DeploymentFailedError
	if !errors.As(err, &failed) {
		addAPIError(diags, "Cannot deploy "+where, err)
		return
	}
	detail := fmt.Sprintf("Deployment %s of %s ended with status %s. The application keeps running its previous configuration, "+
		"and its service instances stay as they were: those awaiting attachment still await it, and those to be detached stay attached.", failed.Deployment.UUID, where, failed.Deployment.Status)
	logs, err := a.data.client.GetDeploymentLogs(ctx, failed.Deployment.UUID)
	if err != nil {
		detail += fmt.Sprintf("\n\nIts log could not be read (%v): see it in the Divio Control Panel.", err)
	} else {
		detail += fmt.Sprintf("\n\nThe end of its log:\n%s", logTail(logs.Logs, deployLogTail))
	}
	diags.AddError("Deployment of "+where+" failed", detail)
}

// logTail returns the last n lines of a log.
func logTail(log string, n int) string {
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
