package echomw_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/sessiongw/sessiongw/client"
	"github.com/sessiongw/sessiongw/client/echomw"
	"github.com/sessiongw/sessiongw/internal/gateway"
	"github.com/sessiongw/sessiongw/internal/testenv"
)

func TestMiddleware(t *testing.T) {
	rep := testenv.Start(t, testenv.Config(t), gateway.Options{})
	c, err := client.New(rep.URL, client.WithAdminToken(testenv.AdminToken))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.PutUser(ctx, client.User{ID: "1", Username: "alice", Email: "a@example.com", IsActive: true, Roles: []string{"dev"}}); err != nil {
		t.Fatal(err)
	}
	s, err := c.CreateSession(ctx, client.CreateSession{UserID: "1"})
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	hello := func(ctx echo.Context) error {
		id, ok := echomw.Identity(ctx)
		if !ok {
			return ctx.String(http.StatusInternalServerError, "no identity")
		}
		return ctx.String(http.StatusOK, "hello "+id.Username)
	}
	e.GET("/account", hello, echomw.Middleware(c))
	e.GET("/admin", hello, echomw.Middleware(c, client.Require(client.Requirements{Roles: []string{"admin"}})))
	for _, tc := range []struct {
		path, cookie string
		status       int
		body         string
	}{
		{"/account", s.Token, http.StatusOK, "hello alice"},
		{"/account", "", http.StatusUnauthorized, `"missing_token"`},
		{"/account", "5f2b8c1e-3d4a-4e6f-8a9b-0c1d2e3f4a5b", http.StatusUnauthorized, `"invalid_session"`},
		{"/admin", s.Token, http.StatusForbidden, `"missing_role"`},
	} {
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		if tc.cookie != "" {
			req.AddCookie(&http.Cookie{Name: "session_id", Value: tc.cookie})
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.body) {
			t.Errorf("%s with cookie %q: %d %s; want %d containing %s", tc.path, tc.cookie, rec.Code, rec.Body, tc.status, tc.body)
		}
	}
}
