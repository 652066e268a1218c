package httpapi_test

import (
	"context"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sessiongw/sessiongw/internal/httpapi"
	"github.com/sessiongw/sessiongw/internal/testenv/contract"
	"github.com/sessiongw/sessiongw/internal/ui"
)

// pages stands in for the devices page (its paths only).
var echoParam = regexp.MustCompile(`:([a-z_]+)`)

// TestEveryRouteIsDocumented: every route the router registers is in
// api/openapi.yaml, and every documented route exists.
func TestEveryRouteIsDocumented(t *testing.T) {
	t.Parallel()
	doc, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	e := httpapi.New(httpapi.Config{Service: &fakeService{}, AdminToken: adminToken, Logger: slog.New(slog.DiscardHandler),
		Metrics: http.NotFoundHandler(), UI: devicesPage(t)})
	registered := map[string]bool{}
	for _, r := range e.Routes() {
		if strings.HasPrefix(r.Method, "echo_") { // Echo's own not-found routes of groups
			continue
		}
		path := echoParam.ReplaceAllString(r.Path, "{$1}")
		path = strings.Replace(path, "*", "{path}", 1)
		item := doc.T.Paths.Find(path)
		if item == nil {
			t.Errorf("%s %s is served but not in api/openapi.yaml", r.Method, path)
			continue
		}
		registered[r.Method+" "+path] = true
		if !doc.AnyMethod(path) && item.GetOperation(r.Method) == nil {
			t.Errorf("%s %s is served but api/openapi.yaml does not describe that method", r.Method, path)
		}
	}
	for path, item := range doc.T.Paths.Map() {
		for method := range item.Operations() {
			if !registered[method+" "+path] {
				t.Errorf("api/openapi.yaml describes %s %s, which the router does not serve", method, path)
			}
		}
	}
	if len(registered) < 40 {
		t.Errorf("only %d routes compared; the router's list looks wrong", len(registered))
	}
}

// TestContractCatchesADrift: the checker really fails an answer that breaks
// the document (here a user without "roles", and an undocumented status).
func TestContractCatchesADrift(t *testing.T) {
	t.Parallel()
	doc, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	c := contract.NewChecker(doc)
	h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodDelete {
			w.WriteHeader(http.StatusTeapot)
			return
		}
		w.Write([]byte(`{"id":"1","username":"a","email":"","is_active":true,"max_sessions":null}`))
	}))
	for _, m := range []string{http.MethodGet, http.MethodDelete} {
		req, _ := http.NewRequestWithContext(context.Background(), m, "http://127.0.0.1:8080/v1/admin/users/1", nil)
		h.ServeHTTP(discard{http.Header{}}, req)
	}
	v := c.Violations()
	if len(v) != 2 || !strings.Contains(v[0], "roles") || !strings.Contains(v[1], "418") {
		t.Errorf("violations = %q; want the missing roles and the 418", v)
	}
	if !slices.ContainsFunc(v, func(s string) bool { return strings.HasPrefix(s, "GET /v1/admin/users/1") }) {
		t.Errorf("violations do not name the request: %q", v)
	}
}

type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}

// devicesPage is the real page, so its paths are the ones compared.
func devicesPage(t *testing.T) *ui.Pages {
	t.Helper()
	p, err := ui.New(ui.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}
