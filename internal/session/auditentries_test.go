package session_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/session"
)

func TestUserChangeEntry(t *testing.T) {
	t.Parallel()
	alice := session.User{ID: "1", Username: "alice", Email: "a@example.com", IsActive: true, Roles: []string{"user"}}
	renamed := alice
	renamed.Username, renamed.Roles = "alicia", []string{"user", "admin"}
	off := alice
	off.IsActive = false
	tests := []struct {
		name      string
		old       session.User
		created   bool
		now       session.User
		wantOK    bool
		wantEvent string
		wantDet   map[string]any
	}{
		{"Created", session.User{}, true, alice, true, session.EventUserCreated, map[string]any{"is_active": true}},
		{"Unchanged", alice, false, alice, false, "", nil},
		{"Changed", alice, false, renamed, true, session.EventUserUpdated, map[string]any{"changed": []string{"username", "roles"}, "sessions": 2}},
		{"Deactivated", alice, false, off, true, session.EventUserDeactivated, map[string]any{"changed": []string{"is_active"}, "sessions": 2}},
		{"Reactivated", off, false, alice, true, session.EventUserUpdated, map[string]any{"changed": []string{"is_active"}, "sessions": 2}},
	}
	for _, tt := range tests {
		e, ok := session.UserChangeEntry(tt.old, tt.created, tt.now, 2)
		if ok != tt.wantOK || e.Event != tt.wantEvent || (tt.wantOK && !reflect.DeepEqual(e.Details, tt.wantDet)) {
			t.Errorf("%s: UserChangeEntry = %+v, %v; want %s %v", tt.name, e, ok, tt.wantEvent, tt.wantDet)
		}
		if ok && e.UserID != "1" {
			t.Errorf("%s: user id %q; want 1", tt.name, e.UserID)
		}
	}
}

func TestSessionEntries(t *testing.T) {
	t.Parallel()
	exp := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	s := session.Session{ID: "b78e32c8-1c73-4b34-b244-ba6ed8fb239b", UserID: "7", ExpiresAt: exp, RememberMe: true}
	tests := []struct {
		name string
		got  session.AuditEntry
		want session.AuditEntry
	}{
		{"Created", session.SessionCreatedEntry(s), session.AuditEntry{Event: session.EventSessionCreated, UserID: "7", SessionID: s.ID,
			Details: map[string]any{"remember_me": true, "expires_at": "2026-12-02T12:00:00Z"}}},
		{"Logout", session.LogoutEntry("7", s.ID), session.AuditEntry{Event: session.EventSessionCleared, UserID: "7", SessionID: s.ID}},
		{"RevokedByAdmin", session.RevokedEntry("7", s.ID, session.ActorAdmin), session.AuditEntry{Event: session.EventSessionRevoked, UserID: "7", SessionID: s.ID,
			Details: map[string]any{"by": "admin"}}},
		{"RevokedAll", session.RevokedUserSessionsEntry("7", false, "", 3), session.AuditEntry{Event: session.EventSessionsRevokedAll, UserID: "7",
			Details: map[string]any{"count": 3}}},
		{"RevokedOthers", session.RevokedUserSessionsEntry("7", true, s.ID, 2), session.AuditEntry{Event: session.EventSessionsRevokedOthers, UserID: "7", SessionID: s.ID,
			Details: map[string]any{"count": 2}}},
		{"UserDeleted", session.UserDeletedEntry("7", 4), session.AuditEntry{Event: session.EventUserDeleted, UserID: "7", Details: map[string]any{"sessions": 4}}},
		{"NewDevice", session.NewDeviceEntry("7", s.ID, []string{session.DeviceAddress}), session.AuditEntry{Event: session.EventSessionNewDevice, UserID: "7", SessionID: s.ID,
			Details: map[string]any{"new": []string{"ip_address"}}}},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %+v; want %+v", tt.name, tt.got, tt.want)
		}
	}
	if _, ok := session.ExpiredEntry(0); ok {
		t.Error("ExpiredEntry(0) records a batch that deleted nothing")
	}
	if e, ok := session.ExpiredEntry(5); !ok || e.Event != session.EventSessionsExpired || e.Details["count"] != 5 {
		t.Errorf("ExpiredEntry(5) = %+v, %v", e, ok)
	}
}

func TestIsNewDevice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		known int
		fresh []string
		want  bool
	}{
		{"FirstSignIn", 0, []string{session.DeviceAddress, session.DeviceUserAgent}, false},
		{"KnownDevice", 2, nil, false},
		{"NewAddress", 2, []string{session.DeviceAddress}, true},
		{"NewBrowser", 1, []string{session.DeviceUserAgent}, true},
	}
	for _, tt := range tests {
		if got := session.IsNewDevice(tt.known, tt.fresh); got != tt.want {
			t.Errorf("%s: IsNewDevice(%d, %v) = %v; want %v", tt.name, tt.known, tt.fresh, got, tt.want)
		}
	}
}
