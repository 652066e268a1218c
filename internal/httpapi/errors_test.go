package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/sessiongw/sessiongw/internal/session"
)

func TestDescribe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{session.ErrNoToken, 401, "missing_token"},
		{session.ErrMalformedToken, 401, "invalid_token"},
		{fmt.Errorf("validate: %w", session.ErrUnauthenticated), 401, "invalid_session"},
		{session.ErrUserInactive, 403, "user_inactive"},
		{fmt.Errorf("get user: %w", session.ErrUserNotFound), 404, "user_not_found"},
		{session.ErrSessionNotFound, 404, "session_not_found"},
		{fmt.Errorf("create: %w", &session.ConflictError{Reason: "user 3 is inactive"}), 409, "conflict"},
		{session.Invalid("user_id", "must be positive"), 400, "invalid_input"},
		{fmt.Errorf("postgres: restore: %w: %w", session.ErrUnavailable, errors.New("dial tcp: refused")), 503, "unavailable"},
		{errBodyTooLarge, 413, "body_too_large"},
		{fmt.Errorf("%w: malformed JSON", errBadJSON), 400, "invalid_json"},
		{errAdminAuth, 401, "unauthorized"},
		{echo.ErrMethodNotAllowed, 405, "method_not_allowed"},
		{errors.New("boom"), 500, "internal"},
	}
	for _, tt := range tests {
		got := describe(tt.err)
		if got.Status != tt.status || got.Code != tt.code {
			t.Errorf("describe(%v) = %d %s; want %d %s", tt.err, got.Status, got.Code, tt.status, tt.code)
		}
	}
	if got := describe(errors.New("secret internals")); got.Message != "internal error" {
		t.Errorf("describe(internal).Message = %q; want a generic message", got.Message)
	}
	if got := describe(fmt.Errorf("x: %w", &session.ConflictError{Reason: "user 3 is inactive"})); got.Message != "user 3 is inactive" {
		t.Errorf("describe(conflict).Message = %q", got.Message)
	}
}

func TestTokenFrom(t *testing.T) {
	t.Parallel()
	const (
		a = "3f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3c"
		b = "0f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3c"
	)
	tests := []struct {
		name    string
		headers map[string]string
		want    string
		err     error
	}{
		{"none", nil, "", session.ErrNoToken},
		{"cookie", map[string]string{"Cookie": "other=1; sid=" + a}, a, nil},
		{"bearer", map[string]string{"Authorization": "Bearer " + a}, a, nil},
		{"bearer lower case scheme", map[string]string{"Authorization": "bearer " + a}, a, nil},
		{"header", map[string]string{"X-Session-Token": a}, a, nil},
		{"cookie wins", map[string]string{"Cookie": "sid=" + a, "Authorization": "Bearer " + b}, a, nil},
		{"bearer wins over header", map[string]string{"Authorization": "Bearer " + a, "X-Session-Token": b}, a, nil},
		{"malformed cookie does not fall through", map[string]string{"Cookie": "sid=nope", "X-Session-Token": a}, "", session.ErrMalformedToken},
		{"malformed bearer does not fall through", map[string]string{"Authorization": "Bearer nope", "X-Session-Token": a}, "", session.ErrMalformedToken},
		{"empty bearer", map[string]string{"Authorization": "Bearer"}, "", session.ErrMalformedToken},
		{"basic auth is not a session source", map[string]string{"Authorization": "Basic Zm9vOmJhcg==", "X-Session-Token": a}, a, nil},
		{"upper case normalised", map[string]string{"X-Session-Token": "3F1C2A9E-5B7D-4C1E-9A2B-8D7E6F5A4B3C"}, a, nil},
		// Cookie tossing: a cookie planted ahead of yours by a sibling
		// subdomain must not choose the session.
		{"duplicate cookie, planted one first", map[string]string{"Cookie": "sid=" + b + "; sid=" + a}, "", errAmbiguousCookie},
		{"duplicate cookie, garbage second", map[string]string{"Cookie": "sid=" + a + "; sid=garbage"}, "", errAmbiguousCookie},
		{"the same cookie twice", map[string]string{"Cookie": "sid=" + a + "; other=1; sid=" + a}, a, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/v1/auth", nil)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			got, err := tokenFrom(r, "sid")
			if !errors.Is(err, tt.err) || got.Reveal() != tt.want {
				t.Errorf("tokenFrom(%v) = %q, %v; want %q, %v", tt.headers, got.Reveal(), err, tt.want, tt.err)
			}
		})
	}
}
