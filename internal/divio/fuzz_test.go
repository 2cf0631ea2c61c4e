package divio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The fuzz targets feed the client what a broken proxy, a future API version or a hostile server
// could answer. Run one with: go test -run '^$' -fuzz '^FuzzDecodeError$' -fuzztime 1m ./internal/divio

func FuzzDecodeError(f *testing.F) {
	f.Add(400, []byte(`{"prefix": ["Prefix already taken."], "non_field_errors": ["No free instance."]}`), "")
	f.Add(404, []byte(`{"detail": "Not found."}`), "")
	f.Add(409, []byte(`{"detail": ["a", "b"], "x": {"nested": 1}}`), "")
	f.Add(429, []byte(`{"detail": "Request was throttled."}`), "7")
	f.Add(503, []byte("<html><body>Bad gateway</body></html>"), "Wed, 21 Oct 2015 07:28:00 GMT")
	f.Add(502, []byte(""), "-1")
	f.Add(0, []byte("null"), "")
	f.Add(-7, []byte(`{"": []}`), "")
	f.Add(1000, []byte(`[1, 2]`), "")
	f.Fuzz(func(t *testing.T, status int, body []byte, retryAfterHeader string) {
		resp := &http.Response{
			StatusCode: status,
			Header:     http.Header{"Retry-After": {retryAfterHeader}},
			Body:       io.NopCloser(bytes.NewReader(body)),
		}
		err := decodeError(http.MethodPost, "/apps/v3/service-instances/", resp)
		var apiErr *APIError
		if !errors.As(err, &apiErr) {
			t.Fatalf("decodeError returned %T, want *APIError", err)
		}
		if apiErr.StatusCode != status {
			t.Errorf("StatusCode = %d, want %d", apiErr.StatusCode, status)
		}
		if strings.TrimSpace(apiErr.Error()) == "" {
			t.Error("Error() is empty")
		}
		if apiErr.RetryAfter < 0 {
			t.Errorf("RetryAfter = %v from %q: a negative wait", apiErr.RetryAfter, retryAfterHeader)
		}
		if !json.Valid(body) && len(apiErr.Detail) > 200 {
			t.Errorf("a non-JSON body was kept as a %d-byte detail", len(apiErr.Detail))
		}
	})
}

func FuzzMessages(f *testing.F) {
	f.Add([]byte(`"Prefix already taken."`))
	f.Add([]byte(`["one", "two"]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"nested": ["x"]}`))
	f.Add([]byte(`[1, "two"]`))
	f.Add([]byte(`null`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, raw []byte) {
		got := messages(json.RawMessage(raw))
		var one string
		if json.Unmarshal(raw, &one) == nil && (len(got) != 1 || got[0] != one) {
			t.Errorf("messages(%q) = %q, want [%q]", raw, got, one)
		}
		var many []string
		if json.Unmarshal(raw, &many) != nil && json.Unmarshal(raw, &one) != nil && (len(got) != 1 || got[0] != string(raw)) {
			t.Errorf("messages(%q) = %q, want the raw value as the only message", raw, got)
		}
	})
}

func FuzzRetryAfter(f *testing.F) {
	for _, seed := range []string{"", "0", "3", "120", "-1", "1.5", " 4", "Wed, 21 Oct 2015 07:28:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "soon"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		d, ok := retryAfter(http.Header{"Retry-After": {value}})
		if !ok {
			if d != 0 {
				t.Errorf("retryAfter(%q) = %v but not ok", value, d)
			}
			return
		}
		if d < 0 {
			t.Errorf("retryAfter(%q) = %v: a negative wait", value, d)
		}
		if secs, err := strconv.Atoi(value); err == nil && secs >= 0 && secs <= int(maxRetryAfter/time.Second) && d != time.Duration(secs)*time.Second {
			t.Errorf("retryAfter(%q) = %v, want %ds", value, d, secs)
		}
		resp := &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {value}}}
		if wait := backoff(time.Millisecond, time.Second, 0, resp); wait < 0 || wait > maxRetryAfter {
			t.Errorf("backoff with Retry-After %q waits %v, want within [0, %v]", value, wait, maxRetryAfter)
		}
	})
}

// FuzzListPage answers a list request with an arbitrary first page and checks that the client
// neither panics nor sends its token anywhere but the configured host, whatever `next` says.
func FuzzListPage(f *testing.F) {
	f.Add([]byte(`{"count": 1, "next": null, "previous": null, "results": [{"uuid": "r1", "name": "aws-eu-central-1"}]}`))
	f.Add([]byte(`{"count": 0, "next": null, "results": []}`))
	f.Add([]byte(`{"count": 3, "next": "https://api.divio.test/apps/v3/regions/?page=2", "results": [{"uuid": "a"}]}`))
	f.Add([]byte(`{"count": 3, "next": "https://evil.test/apps/v3/regions/?page=2", "results": [{"uuid": "a"}]}`))
	f.Add([]byte(`{"count": 1099511627776, "next": "https://api.divio.test/apps/v3/regions/?page=2", "results": [{"uuid": "a"}]}`))
	f.Add([]byte(`{"count": 250, "next": "/apps/v3/regions/?page=2&page_size=100", "results": [{"uuid": "a"}, {"uuid": "b"}]}`))
	f.Add([]byte(`{"count": 3, "next": "http://api.divio.test/apps/v3/regions/?page=2", "results": []}`))
	f.Add([]byte(`{"count": 3, "next": "//evil.test/x", "results": []}`))
	f.Add([]byte(`{"count": 3, "next": "%zz", "results": []}`))
	f.Add([]byte(`{"count": 2, "next": "", "results": null}`))
	f.Add([]byte(`{"results": [1, 2]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, firstPage []byte) {
		c, transport := fuzzClient(t, "https://api.divio.test")
		c.http.HTTPClient.Transport = transport
		transport.firstBody = firstPage

		regions, err := c.ListRegions(context.Background())
		if err == nil {
			// Like the client, read the first JSON value and ignore what follows it.
			var p page[Region]
			if json.NewDecoder(bytes.NewReader(firstPage)).Decode(&p) != nil {
				t.Errorf("the invalid page %q was accepted", firstPage)
			}
			if len(regions) != len(p.Results) {
				t.Errorf("got %d regions from a single page of %d", len(regions), len(p.Results))
			}
		}
		transport.checkOnlyAPIHost(t, "https", "api.divio.test")
	})
}

// FuzzParseEndpoint checks that no accepted endpoint makes the client send its token over plain
// http to a host that is not loopback, nor to another host than the endpoint names.
func FuzzParseEndpoint(f *testing.F) {
	for _, seed := range []string{
		"https://api.divio.com", "https://api.divio.com/", "http://127.0.0.1:8950", "http://localhost:8950",
		"http://[::1]:8950", "http://api.divio.com", "http://10.0.0.1", "HTTP://127.0.0.2", "http://127.0.0.1.evil.test",
		"http://localhost.evil.test", "http://evil.test@127.0.0.1", "http://127.0.0.1@evil.test", "http://[::ffff:127.0.0.1]",
		"http://0x7f.0.0.1", "http://2130706433", "https://api.divio.com/base/path/", "//api.divio.com", "ftp://x", "",
		"https://api.divio.com/?q=1", "http://[fe80::1%25lo]:80", "https://api.divio.com:443/..%2f",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, endpoint string) {
		u, err := ParseEndpoint(endpoint)
		if err != nil {
			if err.Error() == "" {
				t.Error("empty error")
			}
			return
		}
		if u.Scheme == "http" && !plainHTTPAllowed(u.Hostname()) {
			t.Fatalf("ParseEndpoint(%q) accepted plain http to %q", endpoint, u.Hostname())
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			t.Fatalf("ParseEndpoint(%q) accepted scheme %q", endpoint, u.Scheme)
		}
		if !validHostname(u.Hostname()) {
			// Go dials an empty host name on the local machine.
			t.Fatalf("ParseEndpoint(%q) accepted %q, which is not a host name", endpoint, u.Hostname())
		}

		c, transport := fuzzClient(t, endpoint)
		c.http.HTTPClient.Transport = transport
		transport.firstBody = []byte(`{"count": 0, "next": null, "results": []}`)
		_, _ = c.ListRegions(context.Background())
		transport.checkOnlyAPIHost(t, u.Scheme, u.Hostname())
		for _, sent := range transport.urls {
			if sent.scheme == "http" && !plainHTTPAllowed(sent.hostname) {
				t.Errorf("endpoint %q: the token went over plain http to %q", endpoint, sent.hostname)
			}
		}
	})
}

// plainHTTPAllowed is the fuzz oracle for loopback hosts, written apart from isLoopback (on
// net/netip rather than net): the names and addresses whose traffic cannot leave the machine.
func plainHTTPAllowed(host string) bool {
	if host == "localhost" {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}

// validHostname accepts an IP address, or a name without the colons that only addresses have.
func validHostname(host string) bool {
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	return host != "" && !strings.Contains(host, ":")
}

type sentURL struct{ scheme, hostname, authorization string }

// recordingTransport answers the first request with firstBody and every later one with 404, and
// records where each request went.
type recordingTransport struct {
	mu        sync.Mutex
	firstBody []byte
	urls      []sentURL
}

func (rt *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.urls = append(rt.urls, sentURL{req.URL.Scheme, req.URL.Hostname(), req.Header.Get("Authorization")})
	status, body := http.StatusOK, rt.firstBody
	if len(rt.urls) > 1 {
		status, body = http.StatusNotFound, []byte(`{"detail": "Not found."}`)
	}
	return &http.Response{
		StatusCode: status,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(bytes.NewReader(body)),
		Request:    req,
	}, nil
}

func (rt *recordingTransport) checkOnlyAPIHost(t *testing.T, scheme, hostname string) {
	t.Helper()
	for _, sent := range rt.urls {
		if sent.authorization != "" && (sent.scheme != scheme || sent.hostname != hostname) {
			t.Errorf("the token was sent to %s://%s, not only to %s://%s", sent.scheme, sent.hostname, scheme, hostname)
		}
	}
}

func fuzzClient(t *testing.T, endpoint string) (*Client, *recordingTransport) {
	t.Helper()
	c, err := New(Config{Endpoint: endpoint, Token: "fuzz-token", RetryMax: 1, RetryWaitMin: time.Microsecond, RetryWaitMax: time.Microsecond})
	if err != nil {
		t.Fatalf("New(%q): %v", endpoint, err)
	}
	return c, &recordingTransport{}
}
