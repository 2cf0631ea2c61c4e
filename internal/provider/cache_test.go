package provider

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

func instanceIDs(list []divio.ServiceInstance) []string {
	ids := make([]string, len(list))
	for i, inst := range list {
		ids[i] = inst.UUID + "=" + inst.Status
	}
	return ids
}

// answered fetches the given list, as the API would answer it.
func answered(list ...divio.ServiceInstance) func(context.Context) ([]divio.ServiceInstance, error) {
	return func(context.Context) ([]divio.ServiceInstance, error) { return list, nil }
}

func noFetch(t *testing.T) func(context.Context) ([]divio.ServiceInstance, error) {
	return func(context.Context) ([]divio.ServiceInstance, error) {
		t.Error("fetched again: the cached list was lost")
		return nil, nil
	}
}

func TestSetInstanceUpdatesTheCachedList(t *testing.T) {
	ctx := context.Background()
	c := newAPICache(nil)
	a := divio.ServiceInstance{UUID: "a", Environment: "env", Status: divio.StatusNew}
	b := divio.ServiceInstance{UUID: "b", Environment: "env", Status: divio.StatusNew}
	before, err := c.instances.get(ctx, "env", answered(a, b))
	if err != nil {
		t.Fatal(err)
	}

	c.record(&divio.ServiceInstance{UUID: "c", Environment: "env", Status: divio.StatusNew})
	c.record(&divio.ServiceInstance{UUID: "a", Environment: "env", Status: divio.StatusAttached})
	c.record(&divio.ServiceInstance{UUID: "b", Environment: "env", Status: divio.StatusRemoved})
	c.record(&divio.ServiceInstance{UUID: "x", Environment: "other", Status: divio.StatusNew}) // not cached: nothing to do

	after, err := c.instances.get(ctx, "env", noFetch(t))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := instanceIDs(after), []string{"c=NEW", "a=ATTACHED"}; !slices.Equal(got, want) {
		t.Errorf("cached list after the changes = %v, want %v", got, want)
	}
	if got, want := instanceIDs(before), []string{"a=NEW", "b=NEW"}; !slices.Equal(got, want) {
		t.Errorf("a list handed out before the changes was changed under its reader: %v, want %v", got, want)
	}
	if _, found := c.instances.entries["other"]; found {
		t.Error("an environment that was not cached got a list from SetInstance alone")
	}
}

// A list being fetched while this process changes an instance may have been answered before the
// change: the change must not be lost when the fetch lands.
func TestSetInstanceDuringAFetchIsNotLost(t *testing.T) {
	ctx := context.Background()
	c := newAPICache(nil)
	fetching, answer := make(chan struct{}), make(chan struct{})
	fetched := make(chan []divio.ServiceInstance)
	go func() {
		list, _ := c.instances.get(ctx, "env", func(context.Context) ([]divio.ServiceInstance, error) {
			close(fetching)
			<-answer
			return []divio.ServiceInstance{{UUID: "a", Environment: "env", Status: divio.StatusNew}}, nil
		})
		fetched <- list
	}()
	<-fetching
	c.record(&divio.ServiceInstance{UUID: "b", Environment: "env", Status: divio.StatusNew})
	c.record(&divio.ServiceInstance{UUID: "a", Environment: "env", Status: divio.StatusProvisioning})
	close(answer)

	want := []string{"b=NEW", "a=PROVISIONING"}
	if got := instanceIDs(<-fetched); !slices.Equal(got, want) {
		t.Errorf("the fetch under way returned %v, want %v", got, want)
	}
	cached, err := c.instances.get(ctx, "env", noFetch(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := instanceIDs(cached); !slices.Equal(got, want) {
		t.Errorf("cached list = %v, want %v", got, want)
	}
}

func TestFailedFetchDropsItsPendingUpdates(t *testing.T) {
	ctx := context.Background()
	c := newAPICache(nil)
	failed := errors.New("503")
	_, err := c.instances.get(ctx, "env", func(context.Context) ([]divio.ServiceInstance, error) {
		c.record(&divio.ServiceInstance{UUID: "b", Environment: "env", Status: divio.StatusNew})
		return nil, failed
	})
	if !errors.Is(err, failed) {
		t.Fatalf("get = %v, want the fetch's error", err)
	}
	list, err := c.instances.get(ctx, "env", answered(divio.ServiceInstance{UUID: "a", Environment: "env", Status: divio.StatusNew}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := instanceIDs(list), []string{"a=NEW"}; !slices.Equal(got, want) {
		t.Errorf("list after a failed fetch = %v, want a fresh fetch %v", got, want)
	}
}
