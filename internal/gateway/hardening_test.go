package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/gateway"
	"github.com/sessiongw/sessiongw/internal/ratelimit"
	"github.com/sessiongw/sessiongw/internal/session"
	"github.com/sessiongw/sessiongw/internal/testenv"
	"github.com/sessiongw/sessiongw/internal/testenv/pgtest"
)

// TestUnknownTokensAreMeteredOnEveryEndpoint floods every endpoint that
// looks a token up with random well-formed tokens from one address each,
// and counts the Postgres lookups by token that got through: the rate
// limit (5/s, bursts of 10) bounds them everywhere, logout's idempotent 204
// included, and the flood is eventually refused (429; 503 on /v1/auth).
func TestUnknownTokensAreMeteredOnEveryEndpoint(t *testing.T) {
	t.Parallel()
	counter := &pgtest.QueryCounter{Match: "token_hash = $1"}
	cfg := testenv.Config(t)
	cfg.RateLimit = 5
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	rep := testenv.Start(t, cfg, gateway.Options{PGTracer: counter})
	user(t, rep.URL, 1, "alice")
	valid, sid := testenv.NewSession(t, rep.URL, 1, false, "")
	wantStatus(t, "warm", auth(t, rep.URL, valid), http.StatusOK)

	endpoints := []struct {
		method, path, body string
		limited            int
	}{
		{"GET", "/v1/auth", "", http.StatusServiceUnavailable},
		{"GET", "/v1/auth/redirect", "", http.StatusServiceUnavailable},
		{"GET", "/v1/session", "", http.StatusTooManyRequests},
		{"DELETE", "/v1/session", "", http.StatusTooManyRequests},
		{"GET", "/v1/session/all", "", http.StatusTooManyRequests},
		{"GET", "/v1/session/stats", "", http.StatusTooManyRequests},
		{"POST", "/v1/session/activity", `{"ip_address":"192.0.2.1"}`, http.StatusTooManyRequests},
		{"DELETE", "/v1/session/others", "", http.StatusTooManyRequests},
		{"DELETE", "/v1/session/new_device", "", http.StatusTooManyRequests},
		{"DELETE", "/v1/session/all/" + sid, "", http.StatusTooManyRequests},
	}
	const flood = 60
	for i, ep := range endpoints {
		client := fmt.Sprintf("198.51.100.%d", i+1)
		before, start := counter.Count(), time.Now()
		limited := 0
		for range flood {
			tok, _ := session.NewToken()
			var body any
			if ep.body != "" {
				body = ep.body
			}
			r := testenv.Do(t, ep.method, rep.URL+ep.path, body, "Authorization", "Bearer "+tok.Reveal(), "X-Forwarded-For", client)
			switch r.Status {
			case ep.limited:
				limited++
			case http.StatusUnauthorized, http.StatusNoContent: // unknown token; logout is idempotent
			default:
				t.Fatalf("%s %s with an unknown token: %d %s", ep.method, ep.path, r.Status, r.Body)
			}
		}
		queries := counter.Count() - before
		if allowed := 10 + int64(5*time.Since(start).Seconds()) + 2; queries > allowed {
			t.Errorf("%s %s: %d Postgres lookups for %d unknown tokens; want at most %d (5/s, bursts of 10)", ep.method, ep.path, queries, flood, allowed)
		}
		if limited == 0 {
			t.Errorf("%s %s: no request of the flood was refused", ep.method, ep.path)
		}
		// The flooding address's own valid (cached) session still works.
		wantStatus(t, ep.path+": valid session of the flooding address", testenv.Do(t, http.MethodGet, rep.URL+"/v1/session", nil,
			"Authorization", "Bearer "+valid, "X-Forwarded-For", client), http.StatusOK)
	}
	// Logout of a cached session works even over budget.
	client := "198.51.100.1" // spent by the /v1/auth flood above
	wantStatus(t, "logout of a valid session over budget", testenv.Do(t, http.MethodDelete, rep.URL+"/v1/session", nil,
		"Authorization", "Bearer "+valid, "X-Forwarded-For", client), http.StatusNoContent)
	wantStatus(t, "after that logout", auth(t, rep.URL, valid), http.StatusUnauthorized)
}

// TestIdentityValuesAreChecked: the attack's usernames, roles and NULs get
// a clear 400 naming the field (never a 500), usernames are unique
// regardless of case, and any user id the API accepts works everywhere.
func TestIdentityValuesAreChecked(t *testing.T) {
	t.Parallel()
	rep, _ := setup(t)
	base := rep.URL
	wantStatus(t, "admin", testenv.PutUser(t, base, "1", map[string]any{"username": "admin"}), http.StatusCreated)
	wantStatus(t, "same user again", testenv.PutUser(t, base, "1", map[string]any{"username": "admin", "roles": []string{"x"}}), http.StatusOK)
	r := testenv.PutUser(t, base, "2", map[string]any{"username": "Admin"})
	if r.Status != http.StatusConflict || r.ErrorCode() != "conflict" {
		t.Errorf("a second user named Admin: %d %s; want 409 conflict", r.Status, r.Body)
	}
	for _, tt := range []struct {
		field string
		body  map[string]any
	}{
		{"username", map[string]any{"username": "admin "}},
		{"username", map[string]any{"username": "admin\n"}},
		{"username", map[string]any{"username": "\u00a0admin"}},
		{"username", map[string]any{"username": "ad\u0000min"}},
		{"email", map[string]any{"username": "carol", "email": "c\u0000@example.com"}},
		{"roles", map[string]any{"username": "carol", "roles": []string{"ro\u000ble"}}},
		{"roles", map[string]any{"username": "carol", "roles": []string{"x\u007f"}}},
		{"roles", map[string]any{"username": "carol", "roles": []string{"admin\u3000"}}},
	} {
		r := testenv.PutUser(t, base, "3", tt.body)
		if r.Status != http.StatusBadRequest || r.ErrorCode() != "invalid_input" || !strings.Contains(string(r.Body), tt.field) {
			t.Errorf("%q: %d %s; want 400 invalid_input naming %s", tt.body, r.Status, r.Body, tt.field)
		}
	}
	// NULs in a session's user agent (admin) and activity body (holder).
	r = testenv.Do(t, http.MethodPost, base+"/v1/admin/sessions", `{"user_id":"1","user_agent":"a\u0000b"}`, testenv.Admin()...)
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "user_agent") {
		t.Errorf("user agent with a NUL: %d %s; want 400 naming user_agent", r.Status, r.Body)
	}
	tok, _ := testenv.NewSession(t, base, "1", false, "")
	for _, body := range []string{`{"user_agent":"a\u0000b"}`, `{"ip_address":"192.0.2.1\u0000"}`} {
		r = testenv.Do(t, http.MethodPost, base+"/v1/session/activity", body, testenv.Bearer(tok)...)
		if r.Status != http.StatusBadRequest || r.ErrorCode() != "invalid_input" {
			t.Errorf("activity %s: %d %s; want 400 invalid_input", body, r.Status, r.Body)
		}
	}
	// Ids of every form the API accepts, through every admin path.
	for _, id := range []string{"auth0|5f7c8ec7c33c6c004bbafe82", "google-oauth2|1234", "b78e32c8-1c73-4b34-b244-ba6ed8fb239b", "3000000000", "a+b@example.com"} {
		path := base + "/v1/admin/users/" + url.PathEscape(id)
		wantStatus(t, "put "+id, testenv.PutUser(t, base, id, map[string]any{"username": "u-" + id}), http.StatusCreated)
		tok, _ := testenv.NewSession(t, base, id, false, "")
		if got := auth(t, base, tok).Header.Get("X-Auth-User-Id"); got != id {
			t.Errorf("X-Auth-User-Id = %q; want %q", got, id)
		}
		for _, p := range []string{"", "/sessions", "/stats"} {
			wantStatus(t, "GET "+p+" of "+id, testenv.Do(t, http.MethodGet, path+p, nil, testenv.Admin()...), http.StatusOK)
		}
		var page struct {
			Records []struct {
				UserID string `json:"user_id"`
			}
		}
		r := testenv.Do(t, http.MethodGet, base+"/v1/admin/audit?user_id="+url.QueryEscape(id), nil, testenv.Admin()...)
		wantStatus(t, "audit of "+id, r, http.StatusOK)
		r.Decode(t, &page)
		if len(page.Records) < 2 || page.Records[0].UserID != id {
			t.Errorf("audit of %s: %+v; want its user.created and session.created", id, page.Records)
		}
		wantStatus(t, "revoke all of "+id, testenv.Do(t, http.MethodPost, path+"/sessions/revoke", nil, testenv.Admin()...), http.StatusOK)
		wantStatus(t, "delete "+id, testenv.Do(t, http.MethodDelete, path, nil, testenv.Admin()...), http.StatusNoContent)
	}
}

// TestRequestHeadLimit: the documented 16 KiB for the request line and
// headers together is the real limit (net/http reads 4 KiB more than
// MaxHeaderBytes, which made it 20 KiB).
func TestRequestHeadLimit(t *testing.T) {
	t.Parallel()
	rep, _ := setup(t)
	addr := strings.TrimPrefix(rep.URL, "http://")
	send := func(total int) int {
		head := "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: "
		end := "\r\n\r\n"
		pad := total - len(head) - len(end)
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Write([]byte(head + strings.Repeat("a", pad) + end)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("a %d-byte request head: %v", total, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := send(gateway.MaxRequestHead - 100); s != http.StatusOK {
		t.Errorf("a request head of %d bytes: %d; want 200", gateway.MaxRequestHead-100, s)
	}
	if s := send(gateway.MaxRequestHead + 100); s != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a request head of %d bytes: %d; want 431", gateway.MaxRequestHead+100, s)
	}
}

// TestActivityReportsAreBounded replays the attack: a session holder posts
// 500 activity reports with random addresses and user agents. Only a few
// distinct values per session are recorded (so device rows and
// session.new_device records stay bounded); the rest are 429.
func TestActivityReportsAreBounded(t *testing.T) {
	t.Parallel()
	rep, _ := setup(t)
	user(t, rep.URL, 1, "alice")
	testenv.NewSession(t, rep.URL, 1, false, "first-device") // the user now has known devices
	tok, _ := testenv.NewSession(t, rep.URL, 1, false, "second-device")
	accepted, limited := 0, 0
	for i := range 500 {
		body := map[string]any{"ip_address": fmt.Sprintf("198.51.%d.%d", i/250, i%250+1), "user_agent": fmt.Sprintf("agent/%d", i)}
		switch r := testenv.Do(t, http.MethodPost, rep.URL+"/v1/session/activity", body, testenv.Bearer(tok)...); r.Status {
		case http.StatusNoContent:
			accepted++
		case http.StatusTooManyRequests:
			limited++
		default:
			t.Fatalf("report %d: %d %s", i, r.Status, r.Body)
		}
	}
	if accepted > ratelimit.DefaultDistinctReports || limited == 0 {
		t.Errorf("500 reports of new values: %d accepted, %d refused; want at most %d accepted", accepted, limited, ratelimit.DefaultDistinctReports)
	}
	ctx := context.Background()
	var devices, flagged int
	if err := rep.Gateway.Pool().QueryRow(ctx, `SELECT count(*) FROM user_devices WHERE user_id = '1'`).Scan(&devices); err != nil {
		t.Fatal(err)
	}
	if err := rep.Gateway.Pool().QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE event = 'session.new_device'`).Scan(&flagged); err != nil {
		t.Fatal(err)
	}
	if want := 4 + 2*ratelimit.DefaultDistinctReports; devices > want || flagged > ratelimit.DefaultDistinctReports+1 {
		t.Errorf("after the flood: %d device rows (want at most %d) and %d new-device records", devices, want, flagged)
	}
}

// TestLatestAddress: batched activity records where a session was last
// used from, which the session lists show beside the sign-in address.
func TestLatestAddress(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t)
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	rep := testenv.Start(t, cfg, gateway.Options{ActivityMinGap: time.Millisecond})
	user(t, rep.URL, 1, "alice")
	tok, _ := testenv.NewSession(t, rep.URL, 1, false, "") // signs in from 192.0.2.7
	r := testenv.Do(t, http.MethodGet, rep.URL+"/v1/auth", nil, "Authorization", "Bearer "+tok, "X-Forwarded-For", "203.0.113.50")
	wantStatus(t, "auth from another address", r, http.StatusOK)
	rep.Gateway.Batcher().Flush(context.Background())
	var list struct {
		Sessions []struct {
			IPAddress     string `json:"ip_address"`
			LastIPAddress string `json:"last_ip_address"`
		}
	}
	testenv.Do(t, http.MethodGet, rep.URL+"/v1/session/all", nil, "Authorization", "Bearer "+tok, "X-Forwarded-For", "203.0.113.50").Decode(t, &list)
	if len(list.Sessions) != 1 || list.Sessions[0].IPAddress != "192.0.2.7" || list.Sessions[0].LastIPAddress != "203.0.113.50" {
		t.Errorf("sessions = %+v; want signed in from 192.0.2.7, last used from 203.0.113.50", list.Sessions)
	}
}
