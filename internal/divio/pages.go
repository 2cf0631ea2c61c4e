package divio

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// pageSize is the API's maximum, so that listing takes as few requests as it can.
const pageSize = 100

// page is one page of a Django REST Framework list.
type page[T any] struct {
	Count   int     `json:"count"`
	Next    *string `json:"next"`
	Results []T     `json:"results"`
}

func (p *page[T]) hasNext() bool { return p.Next != nil && *p.Next != "" }

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

// list returns every result of a list, in the API's order, following its `next` links.
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
