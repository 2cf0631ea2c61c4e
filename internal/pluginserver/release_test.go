package pluginserver

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"weak"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/divio/terraform-provider-divio/internal/provider"
)

type payloadKey struct{}

type payload struct{ _ [1 << 16]byte }

// retainedAfterCall reports whether the framework still holds a value of a request's context once
// the request has returned.
func retainedAfterCall(t *testing.T, server tfprotov6.ProviderServer) bool {
	t.Helper()
	p := &payload{}
	alive := weak.Make(p)
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), payloadKey{}, p))
	if _, err := server.ValidateResourceConfig(ctx, &tfprotov6.ValidateResourceConfigRequest{TypeName: "divio_service"}); err != nil {
		t.Fatal(err)
	}
	cancel() // as gRPC does once the request has returned; p is not used after this
	runtime.GC()
	runtime.GC()
	retained := alive.Value() != nil
	runtime.KeepAlive(server) // it serves the whole Terraform command
	return retained
}

func TestReleasingLetsGoOfFinishedRequests(t *testing.T) {
	framework := providerserver.NewProtocol6(provider.New("test")())
	if !retainedAfterCall(t, framework()) {
		t.Skip("the framework no longer keeps finished requests' contexts: releasing may be dropped")
	}
	if retainedAfterCall(t, releasing(framework())) {
		t.Error("a finished request's context is still held through releasing")
	}
}

func TestHeldContextIsTheRequestsUntilReleased(t *testing.T) {
	request, cancel := context.WithCancel(context.WithValue(context.Background(), payloadKey{}, "value"))
	defer cancel()
	ctx, release := hold(request)
	if ctx.Value(payloadKey{}) != "value" || ctx.Done() != request.Done() || ctx.Err() != nil {
		t.Fatal("before release, the context is not the request's")
	}
	release()
	if ctx.Value(payloadKey{}) != nil {
		t.Error("after release, the context still gives the request's values")
	}
	select {
	case <-ctx.Done():
	default:
		t.Error("after release, the context is not done")
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("after release, Err = %v, want context.Canceled", ctx.Err())
	}
}

// tf6server finds list resources and actions by type assertion: the wrapper must keep them.
func TestReleasingKeepsListResourcesAndActions(t *testing.T) {
	s := releasing(providerserver.NewProtocol6(provider.New("test")())())
	if _, ok := s.(tfprotov6.ListResourceServer); !ok {
		t.Error("list resources lost")
	}
	if _, ok := s.(tfprotov6.ActionServer); !ok {
		t.Error("actions lost")
	}
}
