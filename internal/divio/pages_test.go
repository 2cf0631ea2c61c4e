package divio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

type item struct {
	N int `json:"n"`
}

// listServer serves a list of numbered items in pages of size, as DRF does: `count`, a `next`
// link with the page number, and 404 "Invalid page." past the end. It records the page numbers
// asked for, in order, and how many requests it held at once.
type listServer struct {
	*httptest.Server
	n, size int // items at the start, and on each page

	mu          sync.Mutex
	items       []item
	asked       []int
	inFlight    int
	maxInFlight int

	// change, if set, changes the list when page changeAt is first asked for, before its answer.
	change   func([]item) []item
	changeAt int
	// cursors makes the next links carry a cursor instead of a page number.
	cursors bool
	// hold, if set, is called with each request for a later page before it is answered.
	hold func()
	// fail, if set, is a page answered with 502 Bad Gateway.
	fail int
	// latency delays every answer, for the benchmark.
	latency time.Duration
}

// start serves s, which is not to be changed after.
func (s *listServer) start(t testing.TB) *listServer {
	for i := range s.n {
		s.items = append(s.items, item{N: i})
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *listServer) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	param := "page"
	if s.cursors {
		param = "cursor"
	}
	number := 1
	if raw := q.Get(param); raw != "" {
		number, _ = strconv.Atoi(raw)
	}
	s.mu.Lock()
	s.asked = append(s.asked, number)
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()
	if number > 1 && s.hold != nil {
		s.hold()
	}
	if number == s.fail {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	time.Sleep(s.latency)

	s.mu.Lock()
	if number == s.changeAt && s.change != nil {
		s.items = s.change(slices.Clone(s.items))
		s.change = nil
	}
	items := s.items
	s.mu.Unlock()

	pages := max(1, (len(items)+s.size-1)/s.size)
	if number < 1 || number > pages {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"detail": "Invalid page."}`))
		return
	}
	answer := page[item]{Count: len(items), Results: items[(number-1)*s.size : min(number*s.size, len(items))]}
	if number < pages {
		q.Set(param, strconv.Itoa(number+1))
		next := (&url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}).String()
		answer.Next = &next
	}
	_ = json.NewEncoder(w).Encode(answer)
}

func (s *listServer) pagesAsked() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.asked)
}

func numbers(items []item) []int {
	out := make([]int, len(items))
	for i, it := range items {
		out[i] = it.N
	}
	return out
}

func upTo(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func listItems(t testing.TB, s *listServer) ([]item, error) {
	c := newClientFor(t, s.URL, "list-token")
	return list[item](context.Background(), c, "apps/v3/items", nil)
}

func TestListFetchesPagesInParallelAndInOrder(t *testing.T) {
	for _, tc := range []struct {
		name      string
		items     int
		size      int
		change    func([]item) []item
		changeAt  int
		cursors   bool
		want      []int
		wantPages []int // the page numbers asked for, sorted
	}{{
		name: "one page", items: 7, size: 10,
		want: upTo(7), wantPages: []int{1},
	}, {
		name: "ten pages, the last one short", items: 95, size: 10,
		want: upTo(95), wantPages: []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
	}, {
		name: "pages smaller than asked for, the last one full", items: 30, size: 3,
		want: upTo(30), wantPages: []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
	}, {
		// The later pages count fewer items, and 9 and 10 are gone: follow next from page 1.
		name: "the list shrinks after the first page", items: 95, size: 10,
		change: func(items []item) []item { return items[:75] }, changeAt: 2,
		want: upTo(75),
	}, {
		// Page 10 is gone (404 Invalid page.), whether or not the others saw the change.
		name: "the list shrinks before its last page", items: 95, size: 10,
		change: func(items []item) []item { return items[:85] }, changeAt: 10,
		want: upTo(85),
	}, {
		// The later pages count more items: follow next from page 1.
		name: "the list grows after the first page", items: 95, size: 10,
		change: func(items []item) []item {
			return append(items, item{95}, item{96}, item{97}, item{98}, item{99}, item{100})
		},
		changeAt: 2,
		want:     upTo(101),
	}, {
		// The later pages hold other items than planned: follow next from page 1.
		name: "an item removed from the middle after the first page", items: 40, size: 10,
		change: func(items []item) []item { return slices.Delete(items, 15, 16) }, changeAt: 2,
		want: slices.Delete(upTo(40), 15, 16),
	}, {
		name: "next links without a page number are followed one by one", items: 25, size: 10, cursors: true,
		want: upTo(25), wantPages: []int{1, 2, 3},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s := (&listServer{n: tc.items, size: tc.size, change: tc.change, changeAt: tc.changeAt, cursors: tc.cursors}).start(t)
			got, err := listItems(t, s)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(numbers(got), tc.want) {
				t.Errorf("listed %v,\nwant %v (asked %v)", numbers(got), tc.want, s.pagesAsked())
			}
			asked := s.pagesAsked()
			if asked[0] != 1 {
				t.Errorf("asked for pages %v, want page 1 first", asked)
			}
			if tc.wantPages != nil {
				slices.Sort(asked)
				if !slices.Equal(asked, tc.wantPages) {
					t.Errorf("asked for pages %v, want each of %v once", asked, tc.wantPages)
				}
			}
			if s.maxInFlight > pageWorkers {
				t.Errorf("%d requests at once, want at most %d", s.maxInFlight, pageWorkers)
			}
		})
	}
}

// The later pages are answered only once pageWorkers of them are asked for together, so the
// list completes only if it really fetches that many at once.
func TestListAsksForPageWorkersPagesAtOnce(t *testing.T) {
	s := &listServer{n: 10 * (1 + pageWorkers), size: 10}
	var arrived sync.WaitGroup
	arrived.Add(pageWorkers)
	together := make(chan struct{})
	go func() { arrived.Wait(); close(together) }()
	var once sync.Mutex
	count := 0
	s.hold = func() {
		once.Lock()
		count++
		first := count <= pageWorkers
		once.Unlock()
		if !first {
			return
		}
		arrived.Done()
		select {
		case <-together:
		case <-time.After(10 * time.Second):
			t.Error("the later pages were not asked for together")
		}
	}
	s.start(t)
	got, err := listItems(t, s)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(numbers(got), upTo(10*(1+pageWorkers))) {
		t.Errorf("listed %v", numbers(got))
	}
	if s.maxInFlight != pageWorkers {
		t.Errorf("%d requests at once, want %d", s.maxInFlight, pageWorkers)
	}
}

func TestListDoesNotTrustTheCount(t *testing.T) {
	// A count of 2^40 plans no pages (nor allocates for them): the list follows next.
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("page") == "2" {
			fmt.Fprint(w, `{"count": 1099511627776, "next": null, "results": [{"n": 1}]}`)
			return
		}
		fmt.Fprintf(w, `{"count": 1099511627776, "next": "http://%s%s?page=2", "results": [{"n": 0}]}`, r.Host, r.URL.Path)
	}))
	defer server.Close()
	got, err := list[item](context.Background(), newClientFor(t, server.URL, "list-token"), "apps/v3/items", nil)
	if err != nil || !slices.Equal(numbers(got), []int{0, 1}) {
		t.Errorf("list = %v, %v; want [0 1]", numbers(got), err)
	}
}

func TestListFailsWhenAPageFails(t *testing.T) {
	s := (&listServer{n: 95, size: 10, fail: 6}).start(t)
	_, err := listItems(t, s)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadGateway {
		t.Errorf("err = %v, want the 502 of page 6", err)
	}
}

// BenchmarkList compares following next links with fetching pages in parallel, against a server
// that takes 20ms per answer: go test -run '^$' -bench BenchmarkList ./internal/divio
func BenchmarkList(b *testing.B) {
	for _, workers := range []int{1, pageWorkers} {
		b.Run(fmt.Sprintf("20 pages, %d at once", workers), func(b *testing.B) {
			s := (&listServer{n: 20 * pageSize, size: pageSize, latency: 20 * time.Millisecond}).start(b)
			c := newClientFor(b, s.URL, "list-token")
			c.pageWorkers = workers
			for b.Loop() {
				if _, err := list[item](context.Background(), c, "apps/v3/items", nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
