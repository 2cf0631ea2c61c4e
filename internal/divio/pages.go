package divio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
)

const (
	// pageSize is the API's maximum, so that listing takes as few requests as it can.
	pageSize = 100

	// pageWorkers bounds how many pages of one list are fetched at once. Terraform already runs
	// up to 10 operations at a time (its -parallelism), each of which may list, and the API rate
	// limits a token as a whole: a list that sent all its pages at once would multiply that burst
	// and come back slower, through 429s and their Retry-After. Four cuts a list of N pages from
	// N round trips to 1+ceil((N-1)/4), which covers the lists this provider makes (rarely more
	// than a few pages of 100) in two or three.
	pageWorkers = 4

	// maxPlannedPages bounds how many pages a first page's count may plan to fetch in parallel,
	// and so what the server's word can make the client allocate before it has the data; a
	// longer list is followed one `next` link at a time.
	maxPlannedPages = 100
)

// page is one page of a Django REST Framework list.
type page[T any] struct {
	Count   int     `json:"count"`
	Next    *string `json:"next"`
	Results []T     `json:"results"`
}

func (p *page[T]) hasNext() bool { return p.Next != nil && *p.Next != "" }

// errListChanged reports a page that does not fit what the first page said: the list changed
// while it was read.
var errListChanged = errors.New("the list changed while it was read")

func withPageSize(query url.Values, size int) url.Values {
	if query == nil {
		query = url.Values{}
	}
	query.Set("page_size", strconv.Itoa(size))
	return query
}

func getPage[T any](ctx context.Context, c *Client, u *url.URL) (*page[T], error) {
	var p page[T]
	if err := c.doURL(ctx, http.MethodGet, u, nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// list returns every result of a list, in the API's order. Once the first page tells how many
// results there are, it fetches the other pages in parallel (see pageWorkers); if a page shows
// that the list changed meanwhile, it follows the `next` links one by one from the first page
// instead, as a list that changes between pages is read in any case.
func list[T any](ctx context.Context, c *Client, path string, query url.Values) ([]T, error) {
	u := c.url(path, withPageSize(query, pageSize))
	first, err := getPage[T](ctx, c, u)
	if err != nil {
		return nil, err
	}
	if !first.hasNext() {
		return first.Results, nil
	}
	next, err := c.nextPageURL(u, *first.Next)
	if err != nil {
		return nil, err
	}
	if plan, ok := planPages(first, next); ok {
		all, err := fetchPages[T](ctx, c, plan)
		if !errors.Is(err, errListChanged) {
			return all, err
		}
	}
	return followNext(ctx, c, first, next)
}

// nextPageURL reads a `next` link. The token goes only to the configured host, whatever the
// link says.
func (c *Client) nextPageURL(from *url.URL, next string) (*url.URL, error) {
	u, err := from.Parse(next)
	if err != nil {
		return nil, fmt.Errorf("GET %s: the API's next page link %q is not a URL: %w", from.Path, next, err)
	}
	if u.Host != c.base.Host {
		return nil, fmt.Errorf("GET %s: refusing to follow a next page link to another host (%s)", from.Path, u.Host)
	}
	u.Scheme = c.base.Scheme
	return u, nil
}

// followNext reads a list one `next` link after the other, from the first page on.
func followNext[T any](ctx context.Context, c *Client, first *page[T], next *url.URL) ([]T, error) {
	// count is the server's word, not a size to trust: bound it.
	all := make([]T, 0, min(max(first.Count, len(first.Results)), 10*pageSize))
	all = append(all, first.Results...)
	for u := next; u != nil; {
		p, err := getPage[T](ctx, c, u)
		if err != nil {
			return nil, err
		}
		all = append(all, p.Results...)
		if !p.hasNext() {
			break
		}
		if u, err = c.nextPageURL(u, *p.Next); err != nil {
			return nil, err
		}
	}
	return all, nil
}

// pagePlan is what the first page says the rest of the list is.
type pagePlan[T any] struct {
	first *page[T]
	urls  []*url.URL // of pages 2, 3, ...
	size  int        // results on every page but the last
}

// planPages plans the pages after the first from its count, its size and its `next` link, whose
// `page` number it counts on from (DRF's page number pagination). It declines, and the list
// follows `next` instead, when the first page does not add up.
func planPages[T any](first *page[T], next *url.URL) (pagePlan[T], bool) {
	size := len(first.Results)
	if size == 0 || first.Count <= size || next.Query().Get("page") != "2" {
		return pagePlan[T]{}, false
	}
	pages := (first.Count + size - 1) / size
	if pages > maxPlannedPages {
		return pagePlan[T]{}, false
	}
	plan := pagePlan[T]{first: first, size: size, urls: make([]*url.URL, 0, pages-1)}
	for number := 2; number <= pages; number++ {
		u := *next
		q := u.Query()
		q.Set("page", strconv.Itoa(number))
		u.RawQuery = q.Encode()
		plan.urls = append(plan.urls, &u)
	}
	return plan, true
}

// fits reports whether p, the i-th planned page, is what the first page said it would be.
func (plan pagePlan[T]) fits(i int, p *page[T]) bool {
	if p.Count != plan.first.Count {
		return false
	}
	if i == len(plan.urls)-1 {
		return !p.hasNext() && len(p.Results) == plan.first.Count-plan.size*len(plan.urls)
	}
	return p.hasNext() && len(p.Results) == plan.size
}

// fetchPages fetches the planned pages with pageWorkers at a time and returns every result in
// order, the first page's included. It returns errListChanged when a page is missing (the API
// answers 404 "Invalid page." past the end) or does not fit the plan.
func fetchPages[T any](ctx context.Context, c *Client, plan pagePlan[T]) ([]T, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make([][]T, len(plan.urls))
	var (
		mu      sync.Mutex
		stopErr error
		claimed atomic.Int64
		wg      sync.WaitGroup
	)
	stop := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if stopErr == nil {
			stopErr = err
			cancel()
		}
	}
	for range min(c.pageWorkers, len(plan.urls)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(claimed.Add(1) - 1)
				if i >= len(plan.urls) {
					return
				}
				p, err := getPage[T](ctx, c, plan.urls[i])
				switch {
				case errors.Is(err, ErrNotFound):
					stop(errListChanged)
				case err != nil:
					stop(err)
				case !plan.fits(i, p):
					stop(errListChanged)
				default:
					pages[i] = p.Results
				}
			}
		})
	}
	wg.Wait()
	if stopErr == nil && ctx.Err() != nil {
		// The caller's context ended before every page was asked for.
		stopErr = fmt.Errorf("GET %s: %w", plan.urls[0].Path, ctx.Err())
	}
	if stopErr != nil {
		return nil, stopErr
	}
	all := make([]T, 0, plan.first.Count) // no more than maxPlannedPages times what the first page held
	all = append(all, plan.first.Results...)
	for _, results := range pages {
		all = append(all, results...)
	}
	return all, nil
}
