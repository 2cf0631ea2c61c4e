package simulator

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
)

const (
	maxBodyBytes    = 1 << 20
	defaultPageSize = 20
	maxPageSize     = 100
)

// reply is a handler's answer; handlers return it instead of writing, so that
// the fault layer can decide what actually reaches the client.
type reply struct {
	status int
	body   any // nil = no body
	header http.Header
}

func ok(body any) reply       { return reply{status: http.StatusOK, body: body} }
func created(body any) reply  { return reply{status: http.StatusCreated, body: body} }
func accepted(body any) reply { return reply{status: http.StatusAccepted, body: body} }
func noContent() reply        { return reply{status: http.StatusNoContent} }

func detail(status int, msg string) reply {
	return reply{status: status, body: map[string]string{"detail": msg}}
}

func notFound() reply { return detail(http.StatusNotFound, "Not found.") }

// errorReply translates the state machine's and the decoder's errors.
func errorReply(err error) reply {
	var fe fieldErrors
	var conflict conflictError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.Is(err, errNotFound):
		return notFound()
	case errors.As(err, &fe):
		return reply{status: http.StatusBadRequest, body: fe}
	case errors.As(err, &conflict):
		return detail(http.StatusConflict, conflict.Error())
	case errors.As(err, &tooLarge):
		return detail(http.StatusRequestEntityTooLarge, fmt.Sprintf("Request body larger than %d bytes.", tooLarge.Limit))
	}
	return detail(http.StatusInternalServerError, err.Error())
}

func writeReply(w http.ResponseWriter, rep reply) {
	for k, v := range rep.header {
		w.Header()[k] = v
	}
	if rep.body == nil {
		w.WriteHeader(rep.status)
		return
	}
	// Unescaped, so that next links read as they are ("&", not "\u0026").
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rep.body); err != nil {
		rep.status = http.StatusInternalServerError
		body.Reset()
		body.WriteString(`{"detail":"could not encode the answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rep.status)
	_, _ = w.Write(body.Bytes())
}

// handlerFunc serves one route; id is the {id} path segment, if the route has one.
type handlerFunc func(r *http.Request, id string) reply

type route struct {
	method  string
	pattern string // path with at most one {id} segment
	handle  handlerFunc
}

type router []route

// match finds the route for a request. It returns the pattern that matched the
// path (for counting), and for a known path with the wrong method the methods allowed.
func (rt router) match(method, path string) (h handlerFunc, id, pattern string, allowed []string) {
	for _, r := range rt {
		pid, ok := matchPattern(r.pattern, path)
		if !ok {
			continue
		}
		pattern = r.pattern
		if r.method == method {
			return r.handle, pid, pattern, nil
		}
		allowed = append(allowed, r.method)
	}
	return nil, "", pattern, allowed
}

// matchPattern serves a path with or without its trailing slash, as the API
// does: the Divio CLI asks for some paths without one.
func matchPattern(pattern, path string) (id string, ok bool) {
	ps := strings.Split(strings.TrimSuffix(pattern, "/"), "/")
	xs := strings.Split(strings.TrimSuffix(path, "/"), "/")
	if len(ps) != len(xs) {
		return "", false
	}
	for i, p := range ps {
		switch {
		case p == "{id}" && xs[i] != "":
			id = xs[i]
		case p != xs[i]:
			return "", false
		}
	}
	return id, true
}

// serve authenticates, routes and runs a handler.
func (rt router) serve(r *http.Request, tokens [][]byte) reply {
	if refusal, ok := authenticate(r, tokens); !ok {
		rep := detail(http.StatusUnauthorized, refusal)
		rep.header = http.Header{"Www-Authenticate": {"Token"}}
		return rep
	}
	h, id, _, allowed := rt.match(r.Method, r.URL.Path)
	if h == nil && len(allowed) > 0 {
		rep := detail(http.StatusMethodNotAllowed, fmt.Sprintf("Method %q not allowed.", r.Method))
		rep.header = http.Header{"Allow": {strings.Join(allowed, ", ")}}
		return rep
	}
	if h == nil {
		return notFound()
	}
	return h(r, id)
}

// authenticate checks the token as DRF's TokenAuthentication does, and words
// a refusal the way it does: a request without a token is not an invalid one.
func authenticate(r *http.Request, tokens [][]byte) (refusal string, ok bool) {
	keyword, given, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !strings.EqualFold(keyword, "Token") {
		return "Authentication credentials were not provided.", false
	}
	given = strings.TrimSpace(given)
	switch {
	case given == "":
		return "Invalid token header. No credentials provided.", false
	case strings.ContainsAny(given, " \t"):
		return "Invalid token header. Token string should not contain spaces.", false
	}
	match := 0
	for _, t := range tokens {
		// Check every token, so the time taken does not tell which one matched.
		match |= subtle.ConstantTimeCompare([]byte(given), t)
	}
	if match != 1 {
		return "Invalid token.", false
	}
	return "", true
}

// decodeJSON reads a JSON object, or a form-encoded body (as DRF accepts and
// `curl --data` sends), into v, turning every kind of bad input into a
// DRF-shaped validation error rather than a 500.
func decodeJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBodyBytes))
	if err != nil {
		return err
	}
	if mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mediaType == "application/x-www-form-urlencoded" {
		if body, err = formAsJSON(body, listFields(v)); err != nil {
			return err
		}
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		body = []byte("{}")
	}
	if body[0] != '{' {
		if !json.Valid(body) {
			return fieldErrors{"non_field_errors": {"JSON parse error - the body is not valid JSON."}}
		}
		return fieldErrors{"non_field_errors": {"Invalid data. Expected a dictionary."}}
	}
	err = json.Unmarshal(body, v)
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var fe fieldErrors
	switch {
	case err == nil:
		return nil
	case errors.As(err, &syntax):
		return fieldErrors{"non_field_errors": {fmt.Sprintf("JSON parse error - %v.", syntax)}}
	case errors.As(err, &typ) && typ.Field != "":
		return fieldErrors{typ.Field: {fmt.Sprintf("Expected a %s, got %s.", typ.Type, typ.Value)}}
	case errors.As(err, &fe):
		return fe
	}
	return fieldErrors{"non_field_errors": {fmt.Sprintf("Invalid data: %v.", err)}}
}

// formAsJSON turns a form into the JSON object of its fields, so that one
// decoder serves both. As DRF reads a QueryDict, a list field takes every value
// of its repeated key (services=a&services=b), any other field its last value.
func formAsJSON(body []byte, lists map[string]bool) ([]byte, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fieldErrors{"non_field_errors": {fmt.Sprintf("Form parse error - %v.", err)}}
	}
	fields := make(map[string]any, len(form))
	for name, values := range form {
		if lists[name] {
			fields[name] = values
		} else {
			fields[name] = values[len(values)-1]
		}
	}
	return json.Marshal(fields)
}

// listFields names the JSON fields of the struct v points to that hold lists of strings.
func listFields(v any) map[string]bool {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	lists := map[string]bool{}
	if t == nil || t.Kind() != reflect.Struct {
		return lists
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.String {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			lists[name] = true
		}
	}
	return lists
}

type page struct {
	Count    int     `json:"count"`
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  any     `json:"results"`
}

// paginate answers a list the way DRF's PageNumberPagination does.
func paginate[T any](r *http.Request, items []T) reply {
	q := r.URL.Query()
	size := defaultPageSize
	if n, err := strconv.Atoi(q.Get("page_size")); err == nil && n > 0 {
		size = min(n, maxPageSize)
	}
	number := 1
	if raw := q.Get("page"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 {
			return detail(http.StatusNotFound, "Invalid page.")
		}
		number = n
	}
	pages := max(1, (len(items)+size-1)/size)
	if number > pages {
		return detail(http.StatusNotFound, "Invalid page.")
	}
	start, end := (number-1)*size, min(number*size, len(items))
	results := items[start:end]
	if results == nil {
		results = []T{} // an empty list is [], never null
	}
	p := page{Count: len(items), Results: results}
	if number < pages {
		p.Next = pageURL(r, number+1)
	}
	if number > 1 {
		p.Previous = pageURL(r, number-1)
	}
	return ok(p)
}

// pageURL keeps the other query parameters; like DRF it leaves page=1 out.
func pageURL(r *http.Request, number int) *string {
	q := r.URL.Query()
	q.Del("page")
	if number > 1 {
		q.Set("page", strconv.Itoa(number))
	}
	u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}
	s := u.String()
	return &s
}
