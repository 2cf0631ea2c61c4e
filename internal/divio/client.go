// Package divio is a typed client for the parts of the Divio API that manage services.
//
// It knows nothing of Terraform: the provider converts between these structs and its models.
// Every path and field name of the API lives in this package, so that a detail of the API that
// turns out different can be corrected in one place.
package divio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-cleanhttp"
	"github.com/hashicorp/go-retryablehttp"
)

const (
	DefaultEndpoint = "https://api.divio.com"

	defaultRetryMax     = 8
	defaultRetryWaitMin = 250 * time.Millisecond
	defaultRetryWaitMax = 15 * time.Second
	// maxConnectionRetryWait caps the wait after an attempt that got no answer (refused, reset,
	// closed); each such wait is at least half its step (see backoff). With the defaults the 8
	// retries span 10 to 20 s, which rides out an API restart, and the client notices the API is
	// back within 4 s.
	maxConnectionRetryWait = 4 * time.Second
	// maxRetryAfter bounds how long one Retry-After may hold a request; the context bounds the rest.
	maxRetryAfter = time.Minute
	// maxErrorBody bounds how much of an error answer is read and kept.
	maxErrorBody = 64 << 10
)

// Config configures a Client. Only Token is required.
type Config struct {
	// Endpoint is the API's base URL; DefaultEndpoint when empty. Plain http is accepted only for
	// loopback hosts, so that the token never crosses a network in the clear.
	Endpoint  string
	Token     string
	UserAgent string
	// TokenSource and EndpointSource say where the token and the endpoint came from, such as
	// "the DIVIO_API_TOKEN environment variable", for the errors that send a user to check them.
	TokenSource    string
	EndpointSource string

	// RetryMax, RetryWaitMin and RetryWaitMax shape the retries of 429, 5xx and connection errors
	// (whose waits are also capped at maxConnectionRetryWait); zero values take the defaults.
	RetryMax     int
	RetryWaitMin time.Duration
	RetryWaitMax time.Duration

	// Poll shapes the waiters; zero values take DefaultPoll's.
	Poll PollConfig

	// Log, if set, receives one line per request attempt. It is never given the token.
	Log func(ctx context.Context, msg string, fields map[string]any)
}

// Client talks to the Divio API. It is safe for concurrent use; make one per provider configuration.
type Client struct {
	base      *url.URL
	token     string
	userAgent string
	http      *retryablehttp.Client
	poll      PollConfig
	log       func(ctx context.Context, msg string, fields map[string]any)
	// pageWorkers is how many pages of a list are fetched at once (see the constant).
	pageWorkers int
	// tokenSource and endpointSource are Config's, for error hints.
	tokenSource, endpointSource string
}

// from says, for a hint, where a setting came from: ", from <source>,", or nothing.
func from(source string) string {
	if source == "" {
		return ""
	}
	return ", from " + source + ","
}

// ParseEndpoint checks an API base URL: absolute, https, or http on a loopback host only.
func ParseEndpoint(endpoint string) (*url.URL, error) {
	u, err := url.Parse(endpoint)
	if err != nil || !validHost(u) {
		return nil, fmt.Errorf("%q is not an absolute URL such as %s", endpoint, DefaultEndpoint)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("%q uses plain http to a host that is not loopback; the API token may only be sent over https (or http to 127.0.0.1, ::1 or localhost)", endpoint)
		}
	default:
		return nil, fmt.Errorf("%q must start with https://", endpoint)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q must not have a query or fragment", endpoint)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

// hostNamePattern is a DNS name; an empty or odd host would make Go dial this machine instead.
var hostNamePattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)

func validHost(u *url.URL) bool {
	host := u.Hostname()
	if ip := net.ParseIP(host); ip != nil {
		// An IPv6 address must be in brackets to be read back the same, and the unspecified
		// address dials this machine.
		return !ip.IsUnspecified() && (!strings.Contains(host, ":") || strings.HasPrefix(u.Host, "["))
	}
	return hostNamePattern.MatchString(host)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// New makes a Client.
func New(cfg Config) (*Client, error) {
	if cfg.Endpoint == "" {
		cfg.Endpoint = DefaultEndpoint
	}
	base, err := ParseEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	if cfg.Token == "" {
		return nil, errors.New("no API token given")
	}
	c := &Client{base: base, token: cfg.Token, userAgent: cfg.UserAgent, poll: cfg.Poll.withDefaults(), log: cfg.Log, pageWorkers: pageWorkers,
		tokenSource: cfg.TokenSource, endpointSource: cfg.EndpointSource}
	if c.userAgent == "" {
		c.userAgent = "terraform-provider-divio"
	}

	httpClient := cleanhttp.DefaultPooledClient()
	httpClient.CheckRedirect = c.checkRedirect
	rc := &retryablehttp.Client{
		HTTPClient:   httpClient,
		RetryMax:     orDefault(cfg.RetryMax, defaultRetryMax),
		RetryWaitMin: orDefault(cfg.RetryWaitMin, defaultRetryWaitMin),
		RetryWaitMax: orDefault(cfg.RetryWaitMax, defaultRetryWaitMax),
		CheckRetry:   c.checkRetry,
		Backoff:      backoff,
		// Hand back the last answer so that its body becomes an APIError the user can read.
		ErrorHandler:    retryablehttp.PassthroughErrorHandler,
		RequestLogHook:  c.logAttempt,
		ResponseLogHook: recordAnswer,
	}
	c.http = rc
	return c, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// checkRedirect keeps the token on the API's own host: a redirect elsewhere, or down to plain
// http, is refused rather than followed.
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if req.URL.Host != c.base.Host || req.URL.Scheme != c.base.Scheme {
		return fmt.Errorf("refusing to follow a redirect from %s to %s://%s: the API token is only sent to %s", c.base.Host, req.URL.Scheme, req.URL.Host, c.base.Host)
	}
	if len(via) >= 5 {
		return errors.New("stopped after 5 redirects")
	}
	return nil
}

// checkRetry is retryablehttp's default policy, which retries connection errors, 429 and 5xx
// (but 501), on every endpoint alike: an API that refuses connections, loopback or not, may be
// restarting. Requests sent once (see once) are not retried after an attempt that may have
// taken effect.
func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Value(onceKey{}) != nil && mayHaveApplied(resp, err) {
		return false, nil
	}
	return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
}

type onceKey struct{}

// once returns a context under which a request is not sent again after an attempt that may have
// taken effect unseen, for requests that must not happen twice and whose caller can find out what
// happened instead. Attempts that surely did not take effect (refused, 429, 503, 500) are retried.
func once(ctx context.Context) context.Context {
	return context.WithValue(ctx, onceKey{}, true)
}

// mayHaveApplied reports whether one attempt may have taken effect without its caller learning so:
// it got no answer once connected, or a gateway said the server behind it did not answer in time.
func mayHaveApplied(resp *http.Response, err error) bool {
	if err != nil {
		return !isDialError(err) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	}
	return resp != nil && (resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusGatewayTimeout)
}

// isDialError reports whether a request failed before it had a connection, as when the
// connection is refused. (A check for ECONNREFUSED alone would miss Windows' own error number.)
func isDialError(err error) bool {
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// backoff grows exponentially with jitter, so that clients that failed together do not retry
// together, and honours the server's Retry-After.
//
// An answered fault (429, 5xx) waits anywhere up to its ceiling (full jitter). An attempt that got
// no answer (resp is nil: refused, reset, closed) waits between half its ceiling and its ceiling,
// capped at maxConnectionRetryWait: an API that is restarting is back within seconds, so the
// retries must span a few seconds for sure, and notice soon once it is back.
func backoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d, ok := retryAfter(resp.Header); ok {
			return min(d, maxRetryAfter)
		}
	}
	if resp == nil {
		maxWait = min(maxWait, maxConnectionRetryWait)
	}
	ceiling := minWait << min(attempt, 30)
	if ceiling <= 0 || ceiling > maxWait {
		ceiling = maxWait
	}
	floor := minWait / 2
	if resp == nil {
		floor = max(floor, ceiling/2)
	}
	return floor + rand.N(max(ceiling-floor, 0)+1)
}

func retryAfter(h http.Header) (time.Duration, bool) {
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		// Capped before converting, so that a huge value cannot overflow into a negative wait.
		return time.Duration(min(secs, int(maxRetryAfter/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

type attemptsKey struct{}

// attempts records what became of each attempt of one request, for callers that must know
// whether an earlier attempt may have taken effect (see recordAttempts).
type attempts struct {
	sent     int
	statuses []int // of the attempts that were answered
}

// mayHaveApplied reports whether an attempt may have taken effect without its caller learning
// so: it got no answer (the connection failed or closed), or a gateway said the server behind
// it did not answer in time.
func (a *attempts) mayHaveApplied() bool {
	if a.sent > len(a.statuses) {
		return true
	}
	for _, status := range a.statuses {
		if status == http.StatusBadGateway || status == http.StatusGatewayTimeout {
			return true
		}
	}
	return false
}

// recordAttempts returns a context under which the attempts of one request are recorded in a.
func recordAttempts(ctx context.Context, a *attempts) context.Context {
	return context.WithValue(ctx, attemptsKey{}, a)
}

// logAttempt logs each attempt and records it for callers that asked.
func (c *Client) logAttempt(_ retryablehttp.Logger, req *http.Request, attempt int) {
	ctx := req.Context()
	if a, ok := ctx.Value(attemptsKey{}).(*attempts); ok {
		a.sent = attempt + 1
	}
	if c.log != nil {
		c.log(ctx, "Divio API request", map[string]any{"method": req.Method, "path": req.URL.Path, "query": req.URL.RawQuery, "attempt": attempt + 1})
	}
}

// recordAnswer records the status of each answered attempt for callers that asked.
func recordAnswer(_ retryablehttp.Logger, resp *http.Response) {
	if a, ok := resp.Request.Context().Value(attemptsKey{}).(*attempts); ok {
		a.statuses = append(a.statuses, resp.StatusCode)
	}
}

// url makes the absolute URL of an API path; every API path ends in a slash (but getUnder's).
func (c *Client) url(path string, query url.Values) *url.URL {
	u := c.base.JoinPath(path)
	// JoinPath leaves the path relative when the endpoint has none, and errors show the path.
	u.Path = "/" + strings.TrimPrefix(u.Path, "/") + "/"
	u.RawQuery = query.Encode()
	return u
}

// do sends one request (retrying as configured) and decodes a JSON answer into out, if out is not nil.
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	return c.doURL(ctx, method, c.url(path, nil), body, out)
}

func (c *Client) doURL(ctx context.Context, method string, u *url.URL, body, out any) error {
	var raw any
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encoding the %s %s request: %w", method, u.Path, err)
		}
		raw = b
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, u.String(), raw)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Token "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := c.http.Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("%s %s: %w", method, u.Path, ctxErr)
		}
		if isDialError(err) {
			return fmt.Errorf("%s %s: %w (is the API at %s%s reachable?)", method, u.Path, err, c.base, from(c.endpointSource))
		}
		return fmt.Errorf("%s %s: %w", method, u.Path, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode >= 300 {
		apiErr := decodeError(method, u.Path, resp)
		apiErr.tokenSource = c.tokenSource
		return apiErr
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decoding the answer: %w", method, u.Path, err)
	}
	return nil
}

// decodeError turns an error answer into an APIError, reading DRF's shapes: {"detail": ...},
// {"non_field_errors": [...]} and {"<field>": [...]}.
func decodeError(method, path string, resp *http.Response) *APIError {
	apiErr := &APIError{StatusCode: resp.StatusCode, Method: method, Path: path}
	if d, ok := retryAfter(resp.Header); ok {
		apiErr.RetryAfter = d
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		apiErr.Detail = strings.TrimSpace(string(body))
		if len(apiErr.Detail) > 200 || strings.HasPrefix(apiErr.Detail, "<") {
			apiErr.Detail = "" // an HTML error page from a proxy says nothing useful
		}
		return apiErr
	}
	var details []string
	for name, value := range fields {
		msgs := messages(value)
		switch name {
		case "detail", "non_field_errors":
			details = append(details, msgs...)
		default:
			if apiErr.FieldErrors == nil {
				apiErr.FieldErrors = map[string][]string{}
			}
			apiErr.FieldErrors[name] = msgs
		}
	}
	apiErr.Detail = strings.Join(details, " ")
	return apiErr
}

// messages reads a DRF error value: a string or a list of strings.
func messages(raw json.RawMessage) []string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		return many
	}
	return []string{string(raw)}
}
