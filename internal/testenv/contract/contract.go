// Package contract holds the gateway to its OpenAPI document (api/): a
// middleware that validates every answer against it (testenv.Start wraps
// every test gateway in one), and the document's routes for the test that
// compares them with the router's.
package contract

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/sessiongw/sessiongw/api"
)

// Document is the parsed and validated OpenAPI document.
type Document struct {
	T      *openapi3.T
	router routers.Router
}

var load = sync.OnceValues(func() (*Document, error) {
	// The devices page's own files: validated as opaque text.
	for _, ct := range []string{"text/html", "text/css", "text/javascript", "image/svg+xml"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
	}
	openapi3filter.RegisterBodyDecoder("application/jwk-set+json", openapi3filter.JSONBodyDecoder)
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.YAML)
	if err != nil {
		return nil, fmt.Errorf("contract: load api/openapi.yaml: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("contract: api/openapi.yaml is not a valid OpenAPI document: %w", err)
	}
	// Test gateways listen on any port: match requests by path alone.
	routed := *doc
	routed.Servers = nil
	r, err := legacy.NewRouter(&routed)
	if err != nil {
		return nil, fmt.Errorf("contract: router: %w", err)
	}
	return &Document{T: doc, router: r}, nil
})

// Load returns the document (parsed once per test binary).
func Load() (*Document, error) { return load() }

// AnyMethod reports whether the documented path accepts every method
// (x-any-method: the per-request checks).
func (d *Document) AnyMethod(path string) bool {
	item := d.T.Paths.Find(path)
	return item != nil && item.Extensions["x-any-method"] == true
}

// Checker validates answers and keeps what it found wrong.
type Checker struct {
	doc        *Document
	mu         sync.Mutex
	violations []string
	checked    int
	skipped    []string
}

// Skipped lists the requests whose answers were not validated (the
// document does not describe their path or method).
func (c *Checker) Skipped() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.skipped...)
}

// NewChecker returns a Checker on the document.
func NewChecker(d *Document) *Checker { return &Checker{doc: d} }

// Violations returns every answer that broke the document, described.
func (c *Checker) Violations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.violations...)
}

// Checked returns how many answers were validated.
func (c *Checker) Checked() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checked
}

// Middleware passes every request on and validates its answer (status,
// headers, body) against the document. Answers to paths or methods the
// document does not describe (an unknown path's 404, Envoy's multi-segment
// ext_authz paths) and event streams are not validated.
func (c *Checker) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, params, err := c.doc.router.FindRoute(r)
		if err != nil {
			c.mu.Lock()
			if len(c.skipped) < 100 {
				c.skipped = append(c.skipped, r.Method+" "+r.URL.Path+": "+err.Error())
			}
			c.mu.Unlock()
			next.ServeHTTP(w, r)
			return
		}
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		if strings.HasPrefix(rec.Header().Get("Content-Type"), "text/event-stream") {
			return
		}
		input := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{
				Request: r, PathParams: params, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
			},
			Status: rec.status, Header: rec.Header(), Body: io.NopCloser(bytes.NewReader(rec.body.Bytes())),
			Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
		}
		err = openapi3filter.ValidateResponse(r.Context(), input)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.checked++
		if err != nil {
			c.violations = append(c.violations, fmt.Sprintf("%s %s → %d: %v\n  body: %.300s", r.Method, r.URL.Path, rec.status, err, rec.body.String()))
		}
	})
}

// recorder copies what passes through.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
	wrote  bool
}

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	if r.body.Len() < 1<<20 {
		r.body.Write(b)
	}
	return r.ResponseWriter.Write(b)
}

// Flush passes flushes on (event streams).
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the real writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
