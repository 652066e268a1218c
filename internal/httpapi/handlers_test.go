package httpapi_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/httpapi"
	"github.com/sessiongw/sessiongw/internal/session"
)

// fakeService answers every call with err when set, else with canned
// values; it records the last call's name.
type fakeService struct {
	err      error
	restored session.Restored
	created  bool
	last     string
	userID   string // the user id of the last call that took one
	from     session.Source
	reqs     []session.Requirements
}

var _ httpapi.Service = (*fakeService)(nil)

func (f *fakeService) call(name string) error { f.last = name; return f.err }

func (f *fakeService) Validate(_ context.Context, _ session.Token, _ session.Client) (session.Restored, error) {
	return f.restored, f.call("Validate")
}
func (f *fakeService) Authorize(_ context.Context, _ session.Token, _ session.Client, from session.Source, reqs ...session.Requirements) (session.Restored, error) {
	f.from, f.reqs = from, reqs
	if err := f.call("Validate"); err != nil {
		return session.Restored{}, err
	}
	for _, q := range reqs {
		if err := q.Check(f.restored, time.Now()); err != nil {
			return session.Restored{}, err
		}
	}
	return f.restored, nil
}
func (f *fakeService) Rotate(context.Context, session.Token, session.Client) (session.Token, session.Session, error) {
	return testToken2, f.restored.Session, f.call("Rotate")
}
func (f *fakeService) RotateByID(context.Context, string) (session.Token, session.Session, error) {
	return testToken2, f.restored.Session, f.call("RotateByID")
}
func (f *fakeService) Reauthenticated(context.Context, string, []string) (session.Session, error) {
	return f.restored.Session, f.call("Reauthenticated")
}
func (f *fakeService) CreateAPIToken(_ context.Context, userID string, p session.APITokenParams) (session.Token, session.APIToken, error) {
	f.userID = userID
	return testToken2, session.APIToken{ID: sessionID, UserID: userID, Name: p.Name}, f.call("CreateAPIToken")
}
func (f *fakeService) ListAPITokens(context.Context, string) ([]session.APIToken, error) {
	return []session.APIToken{}, f.call("ListAPITokens")
}
func (f *fakeService) RevokeAPIToken(context.Context, string) error { return f.call("RevokeAPIToken") }
func (f *fakeService) Logout(context.Context, session.Token, session.Client) error {
	return f.call("Logout")
}
func (f *fakeService) RecordActivity(context.Context, session.Token, session.Client, string, string) error {
	return f.call("RecordActivity")
}
func (f *fakeService) ListOwn(context.Context, session.Token, session.Client) ([]session.CurrentSession, error) {
	return []session.CurrentSession{{Session: f.restored.Session, Current: true}}, f.call("ListOwn")
}
func (f *fakeService) RevokeOwn(context.Context, session.Token, session.Client, string) error {
	return f.call("RevokeOwn")
}
func (f *fakeService) RevokeOthers(context.Context, session.Token, session.Client) (int, error) {
	return 2, f.call("RevokeOthers")
}
func (f *fakeService) OwnStats(context.Context, session.Token, session.Client) (session.Stats, error) {
	return session.Stats{ActiveSessions: 3}, f.call("OwnStats")
}
func (f *fakeService) AcknowledgeNewDevice(context.Context, session.Token, session.Client) error {
	return f.call("AcknowledgeNewDevice")
}
func (f *fakeService) UpsertUser(_ context.Context, u session.User) (session.User, bool, error) {
	return u, f.created, f.call("UpsertUser")
}
func (f *fakeService) GetUser(_ context.Context, id string) (session.User, error) {
	f.userID = id
	return f.restored.User, f.call("GetUser")
}
func (f *fakeService) DeleteUser(context.Context, string) error { return f.call("DeleteUser") }
func (f *fakeService) CreateSession(_ context.Context, p session.CreateParams) (session.Created, error) {
	f.userID = p.UserID
	return session.Created{Token: testToken, Session: f.restored.Session, Evicted: []string{}}, f.call("CreateSession")
}
func (f *fakeService) ListUserSessions(context.Context, string) ([]session.Session, error) {
	return []session.Session{f.restored.Session}, f.call("ListUserSessions")
}
func (f *fakeService) RevokeUserSessions(context.Context, string, session.Token) (int, error) {
	return 4, f.call("RevokeUserSessions")
}
func (f *fakeService) RevokeByID(context.Context, string) error { return f.call("RevokeByID") }
func (f *fakeService) BackchannelLogout(context.Context, session.IdPLogout) (int, error) {
	return 1, f.call("BackchannelLogout")
}
func (f *fakeService) UserStats(context.Context, string) (session.Stats, error) {
	return session.Stats{ActiveSessions: 1}, f.call("UserStats")
}
func (f *fakeService) Cleanup(context.Context) (int, error) { return 5, f.call("Cleanup") }
func (f *fakeService) AuditRecords(context.Context, session.AuditFilter) ([]session.AuditRecord, error) {
	return []session.AuditRecord{}, f.call("AuditRecords")
}
func (f *fakeService) VerifyAudit(context.Context, *session.AuditHead) (session.AuditVerification, error) {
	return session.AuditVerification{OK: true}, f.call("VerifyAudit")
}
func (f *fakeService) RecordAdminAuthFailure(context.Context) error { return nil }

const (
	testToken  = session.Token("0b4f1c2e-8d3a-4b5c-9e6f-7a8b9c0d1e2f")
	testToken2 = session.Token("1b4f1c2e-8d3a-4b5c-9e6f-7a8b9c0d1e2f")
	adminToken = "admin-token-0123456789"
	sessionID  = "b78e32c8-1c73-4b34-b244-ba6ed8fb239b"
)

func newRouter(f *fakeService, admin string) http.Handler {
	f.restored = session.Restored{
		Session: session.Session{ID: sessionID, UserID: "7", ExpiresAt: time.Now().Add(time.Hour), UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"},
		User:    session.User{ID: "7", Username: "alice", Email: "a@example.com", IsActive: true, Roles: []string{"admin", "ops"}},
	}
	return httpapi.New(httpapi.Config{
		Service: f, Cookie: httpapi.CookieConfig{Name: "session_id", Secure: true, SameSite: http.SameSiteLaxMode}, AdminToken: admin, Logger: slog.New(slog.DiscardHandler),
		Checks:   []httpapi.Check{{Name: "postgres", Ping: func(context.Context) error { return f.err }}},
		Redirect: httpapi.RedirectConfig{LoginURL: "https://login.example.com/", AllowedHosts: []string{"app.example.com"}},
	})
}

type request struct {
	method, path, body string
	headers            []string
}

var (
	holder  = []string{"Authorization", "Bearer " + string(testToken)}
	admin   = []string{"Authorization", "Bearer " + adminToken}
	errBoom = errors.New("boom")
)

func TestRoutes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		req        request
		err        error // what the service answers
		created    bool
		wantStatus int
		wantCode   string // error.code of the body, or "" for success
		wantBody   string // a substring of the body
		wantCall   string
	}{
		// The per-request check: only 200, 401, 403, 503, never a body.
		{"AuthOK", request{"GET", "/v1/auth", "", holder}, nil, false, 200, "", "", "Validate"},
		{"AuthNoToken", request{"GET", "/v1/auth", "", nil}, nil, false, 401, "", "", ""},
		{"AuthMalformedToken", request{"GET", "/v1/auth", "", []string{"Cookie", "session_id=nope"}}, nil, false, 401, "", "", ""},
		{"AuthUnknown", request{"GET", "/v1/auth", "", holder}, session.ErrUnauthenticated, false, 401, "", "", "Validate"},
		{"AuthInactive", request{"POST", "/v1/auth", "", holder}, session.ErrUserInactive, false, 403, "", "", "Validate"},
		{"AuthUnavailable", request{"GET", "/v1/auth", "", holder}, session.ErrUnavailable, false, 503, "", "", "Validate"},
		{"AuthRateLimited", request{"GET", "/v1/auth", "", holder}, session.ErrRateLimited, false, 503, "", "", "Validate"},
		{"AuthInternal", request{"GET", "/v1/auth", "", holder}, errBoom, false, 503, "", "", "Validate"},
		{"ExtAuthzAnyPath", request{"PUT", "/v1/ext_authz/some/path", "", holder}, nil, false, 200, "", "", "Validate"},
		{"RedirectDenied", request{"GET", "/v1/auth/redirect", "", []string{"Accept", "text/html", "X-Original-URL", "https://app.example.com/x"}}, nil, false, 302, "", "", ""},
		{"RedirectOtherHost", request{"GET", "/v1/auth/redirect", "", []string{"Accept", "text/html", "X-Original-URL", "https://evil.example/x"}}, nil, false, 401, "", "", ""},

		// The holder's endpoints.
		{"RestoreOK", request{"GET", "/v1/session", "", holder}, nil, false, 200, "", `"username":"alice"`, "Validate"},
		{"RestoreNoToken", request{"GET", "/v1/session", "", nil}, nil, false, 401, "missing_token", "", ""},
		{"RestoreMalformed", request{"GET", "/v1/session", "", []string{"X-Session-Token", "junk"}}, nil, false, 401, "invalid_token", "", ""},
		{"RestoreUnknown", request{"GET", "/v1/session", "", holder}, session.ErrUnauthenticated, false, 401, "invalid_session", "", "Validate"},
		{"RestoreInactive", request{"GET", "/v1/session", "", holder}, session.ErrUserInactive, false, 403, "user_inactive", "", "Validate"},
		{"RestoreRateLimited", request{"GET", "/v1/session", "", holder}, session.ErrRateLimited, false, 429, "rate_limited", "", "Validate"},
		{"RestoreUnavailable", request{"GET", "/v1/session", "", holder}, session.ErrUnavailable, false, 503, "unavailable", "", "Validate"},
		{"RestoreInternal", request{"GET", "/v1/session", "", holder}, errBoom, false, 500, "internal", "internal error", "Validate"},
		{"LogoutOK", request{"DELETE", "/v1/session", "", holder}, nil, false, 204, "", "", "Logout"},
		{"LogoutCrossOrigin", request{"DELETE", "/v1/session", "", append([]string{"Sec-Fetch-Site", "cross-site"}, holder...)}, nil, false, 403, "cross_origin", "", ""},
		{"ActivityOK", request{"POST", "/v1/session/activity", `{"ip_address":"192.0.2.1"}`, holder}, nil, false, 204, "", "", "RecordActivity"},
		{"ActivityEmptyBody", request{"POST", "/v1/session/activity", "", holder}, nil, false, 204, "", "", "RecordActivity"},
		{"ActivityBadJSON", request{"POST", "/v1/session/activity", `{"ip_address":`, holder}, nil, false, 400, "invalid_json", "", ""},
		{"ActivityUnknownField", request{"POST", "/v1/session/activity", `{"ip":"x"}`, holder}, nil, false, 400, "invalid_json", "unknown field", ""},
		{"ActivityInvalid", request{"POST", "/v1/session/activity", `{"ip_address":"x"}`, holder}, session.Invalid("ip_address", "not an IP address"), false, 400, "invalid_input", "ip_address", "RecordActivity"},
		{"ActivityTooLarge", request{"POST", "/v1/session/activity", `{"user_agent":"` + strings.Repeat("a", 70<<10) + `"}`, holder}, nil, false, 413, "body_too_large", "", ""},
		{"ListOwnOK", request{"GET", "/v1/session/all", "", holder}, nil, false, 200, "", `"device":"Firefox on Linux"`, "ListOwn"},
		{"RevokeOwnOK", request{"DELETE", "/v1/session/all/" + sessionID, "", holder}, nil, false, 204, "", "", "RevokeOwn"},
		{"RevokeOwnBadID", request{"DELETE", "/v1/session/all/nope", "", holder}, nil, false, 400, "invalid_input", "", ""},
		{"RevokeOwnNotFound", request{"DELETE", "/v1/session/all/" + sessionID, "", holder}, session.ErrSessionNotFound, false, 404, "session_not_found", "", "RevokeOwn"},
		{"RevokeOthersOK", request{"DELETE", "/v1/session/others", "", holder}, nil, false, 200, "", `{"revoked":2}`, "RevokeOthers"},
		{"OwnStatsOK", request{"GET", "/v1/session/stats", "", holder}, nil, false, 200, "", `"active_sessions":3`, "OwnStats"},
		{"AckNewDeviceOK", request{"DELETE", "/v1/session/new_device", "", holder}, nil, false, 204, "", "", "AcknowledgeNewDevice"},

		// The admin API.
		{"AdminNoToken", request{"GET", "/v1/admin/users/1", "", nil}, nil, false, 401, "unauthorized", "", ""},
		{"AdminWrongToken", request{"GET", "/v1/admin/users/1", "", []string{"Authorization", "Bearer wrong-token-0123456789"}}, nil, false, 401, "unauthorized", "", ""},
		{"PutUserCreated", request{"PUT", "/v1/admin/users/7", `{"username":"alice","roles":["admin"]}`, admin}, nil, true, 201, "", `"username":"alice"`, "UpsertUser"},
		{"PutUserUpdated", request{"PUT", "/v1/admin/users/7", `{"username":"alice"}`, admin}, nil, false, 200, "", "", "UpsertUser"},
		{"PutUserNoUsername", request{"PUT", "/v1/admin/users/7", `{}`, admin}, nil, false, 400, "invalid_input", "username", ""},
		{"PutUserBadID", request{"PUT", "/v1/admin/users/a%20b", `{"username":"a"}`, admin}, nil, false, 400, "invalid_input", "user_id", ""},
		{"PutUserStringID", request{"PUT", "/v1/admin/users/auth0%7C5f7c", `{"username":"a"}`, admin}, nil, true, 201, "", "", "UpsertUser"},
		{"PutUserWrongType", request{"PUT", "/v1/admin/users/7", `{"username":1}`, admin}, nil, false, 400, "invalid_json", "username", ""},
		{"GetUserOK", request{"GET", "/v1/admin/users/7", "", admin}, nil, false, 200, "", `"id":"7"`, "GetUser"},
		{"GetUserNotFound", request{"GET", "/v1/admin/users/7", "", admin}, session.ErrUserNotFound, false, 404, "user_not_found", "", "GetUser"},
		{"DeleteUserOK", request{"DELETE", "/v1/admin/users/7", "", admin}, nil, false, 204, "", "", "DeleteUser"},
		{"ListUserSessionsOK", request{"GET", "/v1/admin/users/7/sessions", "", admin}, nil, false, 200, "", `"sessions":[`, "ListUserSessions"},
		{"RevokeUserSessionsOK", request{"POST", "/v1/admin/users/7/sessions/revoke", "", admin}, nil, false, 200, "", `{"revoked":4}`, "RevokeUserSessions"},
		{"RevokeUserSessionsBadExcept", request{"POST", "/v1/admin/users/7/sessions/revoke", `{"except_token":"x"}`, admin}, nil, false, 400, "invalid_input", "except_token", ""},
		{"UserStatsOK", request{"GET", "/v1/admin/users/7/stats", "", admin}, nil, false, 200, "", `"active_sessions":1`, "UserStats"},
		{"CreateSessionOK", request{"POST", "/v1/admin/sessions", `{"user_id":7}`, admin}, nil, false, 201, "", `"token":"` + string(testToken) + `"`, "CreateSession"},
		{"CreateSessionStringUser", request{"POST", "/v1/admin/sessions", `{"user_id":"google-oauth2|1234"}`, admin}, nil, false, 201, "", `"user_id":"7"`, "CreateSession"},
		{"CreateSessionFractionalUser", request{"POST", "/v1/admin/sessions", `{"user_id":4.5}`, admin}, nil, false, 400, "invalid_input", "user_id", ""},
		{"CreateSessionNoUser", request{"POST", "/v1/admin/sessions", `{}`, admin}, nil, false, 400, "invalid_input", "user_id", ""},
		{"CreateSessionInactive", request{"POST", "/v1/admin/sessions", `{"user_id":7}`, admin}, &session.ConflictError{Reason: "user 7 is inactive"}, false, 409, "conflict", "inactive", "CreateSession"},
		{"RevokeSessionOK", request{"DELETE", "/v1/admin/sessions/" + sessionID, "", admin}, nil, false, 204, "", "", "RevokeByID"},
		{"RevokeSessionNotFound", request{"DELETE", "/v1/admin/sessions/" + sessionID, "", admin}, session.ErrSessionNotFound, false, 404, "session_not_found", "", "RevokeByID"},
		{"CleanupOK", request{"POST", "/v1/admin/cleanup", "", admin}, nil, false, 200, "", `{"deleted":5}`, "Cleanup"},
		{"AuditOK", request{"GET", "/v1/admin/audit?limit=10", "", admin}, nil, false, 200, "", `"records":[]`, "AuditRecords"},
		{"AuditByStringUser", request{"GET", "/v1/admin/audit?user_id=auth0%7C1&limit=10", "", admin}, nil, false, 200, "", `"records":[]`, "AuditRecords"},
		{"AuditLargeUserID", request{"GET", "/v1/admin/audit?user_id=3000000000", "", admin}, nil, false, 200, "", `"records":[]`, "AuditRecords"},
		{"AuditBadUserID", request{"GET", "/v1/admin/audit?user_id=a%20b", "", admin}, nil, false, 400, "invalid_input", "user_id", ""},
		{"AuditBadLimit", request{"GET", "/v1/admin/audit?limit=5000", "", admin}, nil, false, 400, "invalid_input", "limit", ""},
		{"AuditVerifyOK", request{"GET", "/v1/admin/audit/verify", "", admin}, nil, false, 200, "", `"ok":true`, "VerifyAudit"},
		{"AuditVerifyBadHead", request{"GET", "/v1/admin/audit/verify?expect_head=x", "", admin}, nil, false, 400, "invalid_input", "", ""},

		// Operations.
		{"Healthz", request{"GET", "/healthz", "", nil}, nil, false, 200, "", `"status":"ok"`, ""},
		{"ReadyzOK", request{"GET", "/readyz", "", nil}, nil, false, 200, "", `"postgres":"ok"`, ""},
		{"ReadyzDown", request{"GET", "/readyz", "", nil}, errBoom, false, 503, "", `"postgres":"unavailable"`, ""},
		{"UnknownPath", request{"GET", "/v1/nope", "", nil}, nil, false, 404, "not_found", "", ""},
		{"WrongMethod", request{"PATCH", "/v1/session", "", holder}, nil, false, 405, "method_not_allowed", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeService{err: tt.err, created: tt.created}
			h := newRouter(f, adminToken)
			var body *strings.Reader
			if tt.req.body != "" {
				body = strings.NewReader(tt.req.body)
			}
			req := httptest.NewRequest(tt.req.method, tt.req.path, nil)
			if body != nil {
				req = httptest.NewRequest(tt.req.method, tt.req.path, body)
			}
			for i := 0; i+1 < len(tt.req.headers); i += 2 {
				req.Header.Set(tt.req.headers[i], tt.req.headers[i+1])
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Errorf("%s %s = %d (%s); want %d", tt.req.method, tt.req.path, rec.Code, rec.Body, tt.wantStatus)
			}
			if code := errorCode(rec.Body.String()); code != tt.wantCode {
				t.Errorf("%s %s: error code %q; want %q", tt.req.method, tt.req.path, code, tt.wantCode)
			}
			if !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("%s %s: body %s; want it to contain %s", tt.req.method, tt.req.path, rec.Body, tt.wantBody)
			}
			if f.last != tt.wantCall {
				t.Errorf("%s %s called %q; want %q", tt.req.method, tt.req.path, f.last, tt.wantCall)
			}
			if rec.Code == 503 && rec.Header().Get("Retry-After") == "" {
				t.Errorf("%s %s: 503 without Retry-After", tt.req.method, tt.req.path)
			}
			if strings.HasPrefix(tt.req.path, "/v1/auth") || strings.HasPrefix(tt.req.path, "/v1/ext_authz") {
				if rec.Body.Len() != 0 {
					t.Errorf("%s: the per-request check wrote a body: %s", tt.req.path, rec.Body)
				}
			}
		})
	}
}

func errorCode(body string) string {
	_, after, ok := strings.Cut(body, `"code":"`)
	if !ok {
		return ""
	}
	code, _, _ := strings.Cut(after, `"`)
	return code
}

// The identity headers are rendered once and kept: in the memo of the
// in-process cache entry an answer came from, else in the writer's own
// cache. Either way a change to what they were rendered from renders them
// afresh, and a router with another header set never uses another's.
func TestAuthHeaders(t *testing.T) {
	t.Parallel()
	for _, withMemo := range []bool{false, true} {
		f := &fakeService{}
		h := newRouter(f, adminToken)
		var memo *session.Memo
		if withMemo {
			memo = new(session.Memo)
			f.restored.Memo = memo
		}
		for i := range 3 { // first render, then the kept rendering
			rec := authRequest(h)
			want := map[string]string{"X-Auth-User-Id": f.restored.User.ID, "X-Auth-Username": "alice", "X-Auth-Email": "a@example.com",
				"X-Auth-Roles": strings.Join(f.restored.User.Roles, ","), "X-Auth-Session-Id": sessionID, "Cache-Control": "no-store"}
			for k, v := range want {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("memo %v, round %d: %s = %q; want %q", withMemo, i, k, got, v)
				}
			}
			if withMemo && memo.Load() == nil {
				t.Errorf("round %d: nothing kept in the entry's memo", i)
			}
			if i == 1 {
				// A change of the user renders afresh (what was kept is
				// checked against what it was rendered from), even with
				// the same memo.
				f.restored.User.Roles = []string{"viewer"}
			}
		}
	}

	// Two routers with other header sets over answers sharing one memo.
	f, g := &fakeService{}, &fakeService{}
	a := newRouter(f, adminToken)
	g.restored = f.restored
	b := httpapi.New(httpapi.Config{Service: g, Cookie: httpapi.CookieConfig{Name: "session_id"}, Logger: slog.New(slog.DiscardHandler), AuthHeaders: "authelia"})
	f.restored.Memo = new(session.Memo)
	g.restored.Memo = f.restored.Memo
	for i := range 2 {
		if got := authRequest(a).Header().Get("X-Auth-Username"); got != "alice" {
			t.Errorf("round %d: sessiongw set's X-Auth-Username = %q", i, got)
		}
		rec := authRequest(b)
		if got := rec.Header().Get("Remote-User"); got != "alice" {
			t.Errorf("round %d: authelia set's Remote-User = %q", i, got)
		}
		if got := rec.Header().Get("X-Auth-Username"); got != "" {
			t.Errorf("round %d: the authelia router wrote the other set's X-Auth-Username %q", i, got)
		}
	}
}

func authRequest(h http.Handler) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", "/v1/auth", nil)
	req.Header.Set("Cookie", "session_id="+string(testToken))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestAdminAPIOffWithoutToken(t *testing.T) {
	t.Parallel()
	h := newRouter(&fakeService{}, "")
	for _, path := range []string{"/v1/admin/users/1", "/v1/admin/audit"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		h.ServeHTTP(rec, req)
		if rec.Code != 404 {
			t.Errorf("GET %s without an admin token configured = %d; want 404", path, rec.Code)
		}
	}
}

// TestUserIDInput: a user id is a string; a JSON integer still works (its
// decimal text), and a path segment may be percent-encoded.
func TestUserIDInput(t *testing.T) {
	t.Parallel()
	tests := []struct{ method, path, body, want string }{
		{"POST", "/v1/admin/sessions", `{"user_id":42}`, "42"},
		{"POST", "/v1/admin/sessions", `{"user_id":"42"}`, "42"},
		{"POST", "/v1/admin/sessions", `{"user_id":"auth0|5f7c8ec7"}`, "auth0|5f7c8ec7"},
		{"GET", "/v1/admin/users/auth0%7C5f7c8ec7", "", "auth0|5f7c8ec7"},
		{"GET", "/v1/admin/users/google-oauth2|1234", "", "google-oauth2|1234"},
		{"GET", "/v1/admin/users/a+b@example.com", "", "a+b@example.com"},
	}
	for _, tt := range tests {
		f := &fakeService{}
		h := newRouter(f, adminToken)
		req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 300 || f.userID != tt.want {
			t.Errorf("%s %s %s: %d, user id %q; want %q", tt.method, tt.path, tt.body, rec.Code, f.userID, tt.want)
		}
	}
}
