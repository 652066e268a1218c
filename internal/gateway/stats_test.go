package gateway_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/testenv"
)

type apiStats struct {
	ActiveSessions    int        `json:"active_sessions"`
	DistinctDevices   int        `json:"distinct_devices"`
	DistinctAddresses int        `json:"distinct_addresses"`
	OldestSessionAt   *time.Time `json:"oldest_session_at"`
	NewestSessionAt   *time.Time `json:"newest_session_at"`
	LastActivityAt    *time.Time `json:"last_activity_at"`
}

func TestSessionStats(t *testing.T) {
	t.Parallel()
	rep, clk := setup(t)
	base := rep.URL
	user(t, base, 1, "alice")
	user(t, base, 2, "nobody")
	create := func(remember bool, ip, ua string) string {
		r := testenv.Do(t, http.MethodPost, base+"/v1/admin/sessions",
			map[string]any{"user_id": 1, "remember_me": remember, "ip_address": ip, "user_agent": ua}, testenv.Admin()...)
		if r.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		var out struct{ Token string }
		r.Decode(t, &out)
		return out.Token
	}
	first := clk.Now()
	tok := create(true, "192.0.2.1", "Firefox")
	clk.Advance(time.Minute)
	create(true, "192.0.2.1", "Firefox")
	clk.Advance(time.Minute)
	create(true, "198.51.100.2", "Safari")
	last := clk.Now()
	create(false, "203.0.113.3", "Lynx") // will have expired
	clk.Advance(25 * time.Hour)

	var st apiStats
	r := testenv.Do(t, http.MethodGet, base+"/v1/admin/users/1/stats", nil, testenv.Admin()...)
	wantStatus(t, "admin stats", r, http.StatusOK)
	r.Decode(t, &st)
	if st.ActiveSessions != 3 || st.DistinctDevices != 2 || st.DistinctAddresses != 2 {
		t.Errorf("stats = %+v; want 3 active, 2 devices, 2 addresses (the expired one left out)", st)
	}
	if st.OldestSessionAt == nil || !st.OldestSessionAt.Equal(first) || st.NewestSessionAt == nil || !st.NewestSessionAt.Equal(last) {
		t.Errorf("oldest/newest = %v/%v; want %v/%v", st.OldestSessionAt, st.NewestSessionAt, first, last)
	}
	if st.LastActivityAt == nil || st.LastActivityAt.Before(last) {
		t.Errorf("last activity = %v; want at least %v", st.LastActivityAt, last)
	}

	var own apiStats
	r = testenv.Do(t, http.MethodGet, base+"/v1/session/stats", nil, testenv.Bearer(tok)...)
	wantStatus(t, "own stats", r, http.StatusOK)
	r.Decode(t, &own)
	if own.ActiveSessions != 3 || own.DistinctDevices != 2 {
		t.Errorf("own stats = %+v", own)
	}

	var empty apiStats
	r = testenv.Do(t, http.MethodGet, base+"/v1/admin/users/2/stats", nil, testenv.Admin()...)
	wantStatus(t, "no sessions", r, http.StatusOK)
	r.Decode(t, &empty)
	if empty.ActiveSessions != 0 || empty.OldestSessionAt != nil || empty.LastActivityAt != nil {
		t.Errorf("stats of a user without sessions = %+v", empty)
	}
	wantStatus(t, "unknown user", testenv.Do(t, http.MethodGet, base+"/v1/admin/users/99/stats", nil, testenv.Admin()...), http.StatusNotFound)
	wantStatus(t, "bad id", testenv.Do(t, http.MethodGet, base+"/v1/admin/users/a%20b/stats", nil, testenv.Admin()...), http.StatusBadRequest)
	wantStatus(t, "own stats without a token", testenv.Do(t, http.MethodGet, base+"/v1/session/stats", nil), http.StatusUnauthorized)
	wantStatus(t, "admin stats without the admin token", testenv.Do(t, http.MethodGet, base+"/v1/admin/users/1/stats", nil), http.StatusUnauthorized)
}
