package httpapi_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessiongw/sessiongw/internal/httpapi"
	"github.com/sessiongw/sessiongw/internal/oidc"
	"github.com/sessiongw/sessiongw/internal/session"
)

// fakeVerifier accepts "good" and refuses the rest with err.
type fakeVerifier struct{ err error }

func (v fakeVerifier) Verify(_ context.Context, raw string) (session.IdPLogout, error) {
	if raw == "good" {
		return session.IdPLogout{Ref: session.OIDCRef{Issuer: "https://idp.example.com", SessionID: "s1"}, TokenID: "j1"}, nil
	}
	return session.IdPLogout{}, v.err
}

func TestBackchannelLogoutEndpoint(t *testing.T) {
	t.Parallel()
	form := "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name       string
		verifier   httpapi.LogoutVerifier
		svcErr     error
		method, ct string
		body       string
		status     int
		errCode    string
		observed   string
		retryAfter bool
		reachedSvc bool
	}{
		{"ok", fakeVerifier{}, nil, "POST", form, "logout_token=good", 200, "", "ok", false, true},
		{"ok with charset", fakeVerifier{}, nil, "POST", form + "; charset=utf-8", "logout_token=good", 200, "", "ok", false, true},
		{"off", nil, nil, "POST", form, "logout_token=good", 404, "", "", false, false},
		{"json body", fakeVerifier{}, nil, "POST", "application/json", `{"logout_token":"good"}`, 400, "invalid_request", "malformed", false, false},
		{"no token", fakeVerifier{}, nil, "POST", form, "x=1", 400, "invalid_request", "malformed", false, false},
		{"two tokens", fakeVerifier{}, nil, "POST", form, "logout_token=good&logout_token=good", 400, "invalid_request", "malformed", false, false},
		{"bad signature", fakeVerifier{&oidc.Error{Reason: oidc.ReasonSignature, Err: errors.New("x")}}, nil, "POST", form, "logout_token=forged", 400, "invalid_request", "bad_signature", false, false},
		{"keys unreachable", fakeVerifier{&oidc.Error{Reason: oidc.ReasonUnavailable, Err: errors.New("x")}}, nil, "POST", form, "logout_token=x", 501, "temporarily_unavailable", "issuer_unavailable", true, false},
		{"replayed", fakeVerifier{}, session.ErrLogoutReplayed, "POST", form, "logout_token=good", 400, "invalid_request", "replayed", false, true},
		{"database down", fakeVerifier{}, session.ErrUnavailable, "POST", form, "logout_token=good", 501, "temporarily_unavailable", "store_unavailable", true, true},
		{"GET", fakeVerifier{}, nil, "GET", "", "", 405, "", "", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeService{err: tc.svcErr}
			var observed string
			newRouter(f, adminToken) // fills the canned values
			h := httpapi.New(httpapi.Config{Service: f, Cookie: httpapi.CookieConfig{Name: "session_id"}, Logger: slog.New(slog.DiscardHandler),
				Backchannel: httpapi.BackchannelConfig{Verifier: tc.verifier, Observe: func(r string) { observed = r }}})
			req := httptest.NewRequest(tc.method, "/v1/oidc/backchannel-logout", strings.NewReader(tc.body))
			if tc.ct != "" {
				req.Header.Set("Content-Type", tc.ct)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d (%s); want %d", rec.Code, rec.Body, tc.status)
			}
			if tc.errCode != "" && !strings.Contains(rec.Body.String(), `"error":"`+tc.errCode+`"`) {
				t.Errorf("body %s; want error %s", rec.Body, tc.errCode)
			}
			if tc.status == 200 && (rec.Body.Len() != 0 || rec.Header().Get("Cache-Control") != "no-store") {
				t.Errorf("success: body %q, Cache-Control %q; want empty and no-store", rec.Body, rec.Header().Get("Cache-Control"))
			}
			if observed != tc.observed {
				t.Errorf("observed %q; want %q", observed, tc.observed)
			}
			if (rec.Header().Get("Retry-After") != "") != tc.retryAfter {
				t.Errorf("Retry-After %q", rec.Header().Get("Retry-After"))
			}
			if (f.last == "BackchannelLogout") != tc.reachedSvc {
				t.Errorf("service called: %v; want %v", f.last == "BackchannelLogout", tc.reachedSvc)
			}
		})
	}
}
