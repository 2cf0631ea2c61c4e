package divio

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Sentinels to test an error's kind with errors.Is.
var (
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrValidation   = errors.New("rejected as invalid")
	ErrUnauthorized = errors.New("unauthorized")
	ErrRateLimited  = errors.New("rate limited")
	ErrServer       = errors.New("server error")
	// ErrOutcomeUnknown wraps the error of a request that is not repeated blindly (see
	// CreateDeployment): an attempt may have taken effect without its answer arriving.
	ErrOutcomeUnknown = errors.New("the request may have taken effect, but its answer was lost")
)

// APIError is an error answer of the API, decoded from its DRF body.
type APIError struct {
	StatusCode int
	Method     string
	Path       string
	// Detail is the API's `detail` or `non_field_errors` text.
	Detail string
	// FieldErrors maps a request field to the API's complaints about it.
	FieldErrors map[string][]string
	RetryAfter  time.Duration
	// tokenSource says where the token came from, for the hint of a refused token.
	tokenSource string
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	if msg := e.Message(); msg != "" {
		b.WriteString(": ")
		b.WriteString(msg)
	}
	if hint := e.hint(); hint != "" {
		b.WriteString(" (")
		b.WriteString(hint)
		b.WriteString(")")
	}
	return b.String()
}

// Message is what the API said, without the request line: the detail and each field's errors.
func (e *APIError) Message() string {
	parts := []string{}
	if e.Detail != "" {
		parts = append(parts, e.Detail)
	}
	fields := make([]string, 0, len(e.FieldErrors))
	for f := range e.FieldErrors {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		parts = append(parts, f+": "+strings.Join(e.FieldErrors[f], " "))
	}
	return strings.Join(parts, "; ")
}

func (e *APIError) hint() string {
	switch {
	case errors.Is(e, ErrUnauthorized):
		if e.tokenSource != "" {
			return "check the API token, which came from " + e.tokenSource
		}
		return "check the provider's api_token or DIVIO_API_TOKEN"
	case errors.Is(e, ErrRateLimited):
		return "the API kept rate limiting after retries; try again later or lower terraform's -parallelism"
	case errors.Is(e, ErrServer):
		return "the API kept failing after retries; try again later"
	}
	return ""
}

func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrConflict:
		return e.StatusCode == http.StatusConflict
	case ErrValidation:
		return e.StatusCode == http.StatusBadRequest
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrServer:
		return e.StatusCode >= 500
	}
	return false
}

// DeploymentFailedError reports a deployment that ended without success (see Deployment.Failed):
// nothing it was to change changed.
type DeploymentFailedError struct {
	Deployment *Deployment
}

func (e *DeploymentFailedError) Error() string {
	return fmt.Sprintf("deployment %s of environment %s ended without success (status %s)", e.Deployment.UUID, e.Deployment.Environment, e.Deployment.Status)
}
