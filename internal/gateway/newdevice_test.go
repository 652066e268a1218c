package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/session"
	"github.com/sessiongw/sessiongw/internal/testenv"
	"github.com/sessiongw/sessiongw/internal/testenv/testdeps"
)

func restoredNewDevice(t *testing.T, base, tok, ua string) bool {
	t.Helper()
	r := testenv.Do(t, http.MethodGet, base+"/v1/session", nil, append(testenv.Bearer(tok), "User-Agent", ua)...)
	wantStatus(t, "restore", r, http.StatusOK)
	var out struct {
		Session struct {
			NewDevice *bool `json:"new_device"`
		} `json:"session"`
	}
	r.Decode(t, &out)
	if out.Session.NewDevice == nil {
		t.Fatalf("restore answer has no session.new_device: %s", r.Body)
	}
	return *out.Session.NewDevice
}

func newDeviceRecords(t *testing.T, base string) []auditRecord {
	t.Helper()
	var out []auditRecord
	for _, r := range auditLog(t, base, "?limit=1000").Records {
		if r.Event == session.EventSessionNewDevice {
			out = append(out, r)
		}
	}
	return out
}

func TestNewDeviceDetection(t *testing.T) {
	t.Parallel()
	rep, clk := setup(t)
	base := rep.URL
	user(t, base, 1, "alice")
	const firefox, chrome, safari = "Firefox/1", "Chrome/2", "Safari/3"

	// The first device of a user is not "new"; the same one again is not
	// either; another user agent is.
	tokA, idA, newA := testenv.NewSessionFrom(t, base, 1, false, "127.0.0.1", firefox)
	tokB, _, newB := testenv.NewSessionFrom(t, base, 1, false, "127.0.0.1", firefox)
	tokC, idC, newC := testenv.NewSessionFrom(t, base, 1, false, "127.0.0.1", chrome)
	if newA || newB || !newC {
		t.Fatalf("new_device at creation: first %v, same device %v, other user agent %v; want false, false, true", newA, newB, newC)
	}
	recs := newDeviceRecords(t, base)
	if len(recs) != 1 || recs[0].SessionID != idC || recs[0].UserAgent != chrome || fmt.Sprint(recs[0].Details["new"]) != "[user_agent]" {
		t.Fatalf("session.new_device records: %+v", recs)
	}
	if !restoredNewDevice(t, base, tokC, chrome) {
		t.Errorf("restore of the new device's session says new_device false")
	}
	var list struct {
		Sessions []struct {
			ID        string `json:"id"`
			NewDevice bool   `json:"new_device"`
		} `json:"sessions"`
	}
	testenv.Do(t, http.MethodGet, base+"/v1/admin/users/1/sessions", nil, testenv.Admin()...).Decode(t, &list)
	for _, s := range list.Sessions {
		if s.NewDevice != (s.ID == idC) {
			t.Errorf("admin list: session %s new_device %v", s.ID, s.NewDevice)
		}
	}

	// The holder acknowledges it; every cached copy follows.
	wantStatus(t, "acknowledge", testenv.Do(t, http.MethodDelete, base+"/v1/session/new_device", nil, testenv.Bearer(tokC)...), http.StatusNoContent)
	if restoredNewDevice(t, base, tokC, chrome) {
		t.Errorf("new_device still set after the acknowledgement")
	}
	wantStatus(t, "acknowledge without a session", testenv.Do(t, http.MethodDelete, base+"/v1/session/new_device", nil), http.StatusUnauthorized)

	// Per-request activity goes through the batched writer: a request from
	// a user agent this user never used flags the session at the flush.
	flush(rep) // the restores above were from the sessions' own devices
	before := len(newDeviceRecords(t, base))
	clk.Advance(2 * time.Minute)
	wantStatus(t, "auth from a new user agent", testenv.Do(t, http.MethodGet, base+"/v1/auth", nil, append(testenv.Bearer(tokA), "User-Agent", safari)...), http.StatusOK)
	wantStatus(t, "auth from a known user agent", testenv.Do(t, http.MethodGet, base+"/v1/auth", nil, append(testenv.Bearer(tokB), "User-Agent", chrome)...), http.StatusOK)
	var flagged bool
	if err := rep.Gateway.Pool().QueryRow(context.Background(), `SELECT new_device FROM sessions WHERE public_id = $1`, idA).Scan(&flagged); err != nil || flagged {
		t.Fatalf("flagged on the request path (before the flush): %v %v", flagged, err)
	}
	flush(rep)
	recs = newDeviceRecords(t, base)
	if len(recs) != before+1 || recs[len(recs)-1].SessionID != idA || recs[len(recs)-1].UserAgent != safari {
		t.Fatalf("after the flush: %d session.new_device records (was %d), last %+v; want one more, for session A from %s", len(recs), before, recs[len(recs)-1], safari)
	}
	// The flag was set by the batch writer, not through the API: cached
	// copies are dropped by the outbox relay (every replica, within
	// moments), which this waits for.
	testdeps.WaitFor(t, 15*time.Second, func() bool { return restoredNewDevice(t, base, tokA, firefox) }, "session A not flagged (on restore) after activity from a new user agent")
	if restoredNewDevice(t, base, tokB, firefox) {
		t.Errorf("session B flagged for a user agent the user already used")
	}

	// Devices no session uses any more are forgotten after the window.
	var devices int
	count := func() int {
		if err := rep.Gateway.Pool().QueryRow(context.Background(), `SELECT count(*) FROM user_devices`).Scan(&devices); err != nil {
			t.Fatal(err)
		}
		return devices
	}
	if n := count(); n != 4 { // 127.0.0.1 and three user agents
		t.Errorf("%d known devices; want 4", n)
	}
	clk.Advance(rep.Config.NewDeviceWindow + 48*time.Hour)
	wantStatus(t, "cleanup", testenv.Do(t, http.MethodPost, base+"/v1/admin/cleanup", nil, testenv.Admin()...), http.StatusOK)
	if n := count(); n != 0 {
		t.Errorf("%d known devices after the window, with every session expired; want 0", n)
	}
}
