package session

import (
	"slices"
	"time"
)

// AuditEntry is what one change records in the audit log; the store
// appends it, in the change's own transaction, with the actor carried by
// the context. The functions below are the rules of what each change
// records; the store only supplies the facts it learnt while writing.
type AuditEntry struct {
	Event     string
	UserID    string
	SessionID string
	Details   map[string]any
}

// SessionCreatedEntry records a new session.
func SessionCreatedEntry(s Session) AuditEntry {
	return AuditEntry{Event: EventSessionCreated, UserID: s.UserID, SessionID: s.ID,
		Details: map[string]any{"remember_me": s.RememberMe, "expires_at": s.ExpiresAt.UTC().Format(time.RFC3339)}}
}

// SessionEvictedEntry records a session revoked to make room under the
// session limit (policy: evict_oldest or evict_idlest).
func SessionEvictedEntry(userID, sessionID, policy string) AuditEntry {
	return AuditEntry{Event: EventSessionEvicted, UserID: userID, SessionID: sessionID, Details: map[string]any{"policy": policy}}
}

// SessionRotatedEntry records a session given a new token.
func SessionRotatedEntry(userID, sessionID string) AuditEntry {
	return AuditEntry{Event: EventSessionRotated, UserID: userID, SessionID: sessionID}
}

// ReauthenticatedEntry records a fresh authentication of a session's user.
func ReauthenticatedEntry(userID, sessionID string, amr []string) AuditEntry {
	return AuditEntry{Event: EventSessionReauthenticated, UserID: userID, SessionID: sessionID, Details: map[string]any{"amr": nonNil(amr)}}
}

// APITokenCreatedEntry records a new API token (its name, never the
// secret).
func APITokenCreatedEntry(t Session) AuditEntry {
	return AuditEntry{Event: EventAPITokenCreated, UserID: t.UserID, SessionID: t.ID,
		Details: map[string]any{"name": t.TokenName, "expires_at": t.ExpiresAt.UTC().Format(time.RFC3339)}}
}

// APITokenRevokedEntry records an API token deleted (reason: "admin", or
// "user_deactivated").
func APITokenRevokedEntry(userID, tokenID, reason string) AuditEntry {
	return AuditEntry{Event: EventAPITokenRevoked, UserID: userID, SessionID: tokenID, Details: map[string]any{"reason": reason}}
}

// LogoutEntry records a session cleared by its holder's logout.
func LogoutEntry(userID string, sessionID string) AuditEntry {
	return AuditEntry{Event: EventSessionCleared, UserID: userID, SessionID: sessionID}
}

// RevokedEntry records one session revoked by public id; by is the kind
// of actor that did it (self or admin).
func RevokedEntry(userID string, sessionID, by string) AuditEntry {
	return AuditEntry{Event: EventSessionRevoked, UserID: userID, SessionID: sessionID, Details: map[string]any{"by": by}}
}

// RevokedUserSessionsEntry records the revocation of a user's sessions:
// all of them, or (keep) all but the caller's, whose public id is kept
// when known.
func RevokedUserSessionsEntry(userID string, keep bool, keptID string, count int) AuditEntry {
	e := AuditEntry{Event: EventSessionsRevokedAll, UserID: userID, Details: map[string]any{"count": count}}
	if keep {
		e.Event, e.SessionID = EventSessionsRevokedOthers, keptID
	}
	return e
}

// ExpiredEntry records one cleanup batch; a batch that deleted nothing
// records nothing (ok false).
func ExpiredEntry(count int) (e AuditEntry, ok bool) {
	if count == 0 {
		return AuditEntry{}, false
	}
	return AuditEntry{Event: EventSessionsExpired, Details: map[string]any{"count": count}}, true
}

// UserChangeEntry records a user written by an upsert: created (with its
// state), or changed (naming the fields, never their values: an email
// address is personal data), or deactivated. An update that changed
// nothing records nothing (ok false). sessions is how many sessions the
// user had, whose cached copies the change dropped.
func UserChangeEntry(old User, created bool, now User, sessions int) (e AuditEntry, ok bool) {
	if created {
		return AuditEntry{Event: EventUserCreated, UserID: now.ID, Details: map[string]any{"is_active": now.IsActive}}, true
	}
	changed := ChangedFields(old, now)
	if len(changed) == 0 {
		return AuditEntry{}, false
	}
	event := EventUserUpdated
	if old.IsActive && !now.IsActive {
		event = EventUserDeactivated
	}
	return AuditEntry{Event: event, UserID: now.ID, Details: map[string]any{"changed": changed, "sessions": sessions}}, true
}

// ChangedFields names the user fields that differ between a and b.
func ChangedFields(a, b User) []string {
	changed := []string{}
	if a.Username != b.Username {
		changed = append(changed, "username")
	}
	if a.Email != b.Email {
		changed = append(changed, "email")
	}
	if a.IsActive != b.IsActive {
		changed = append(changed, "is_active")
	}
	if !slices.Equal(a.Roles, b.Roles) {
		changed = append(changed, "roles")
	}
	if (a.MaxSessions == nil) != (b.MaxSessions == nil) || (a.MaxSessions != nil && *a.MaxSessions != *b.MaxSessions) {
		changed = append(changed, "max_sessions")
	}
	return changed
}

// UserDeletedEntry records a deleted user and how many sessions went too.
func UserDeletedEntry(userID string, sessions int) AuditEntry {
	return AuditEntry{Event: EventUserDeleted, UserID: userID, Details: map[string]any{"sessions": sessions}}
}

// NewDeviceEntry records a session flagged by the new-device rule; fresh
// names what was new (DeviceAddress, DeviceUserAgent).
func NewDeviceEntry(userID string, sessionID string, fresh []string) AuditEntry {
	return AuditEntry{Event: EventSessionNewDevice, UserID: userID, SessionID: sessionID, Details: map[string]any{"new": fresh}}
}

// NewDeviceAcknowledgedEntry records the holder clearing the flag.
func NewDeviceAcknowledgedEntry(userID string, sessionID string) AuditEntry {
	return AuditEntry{Event: EventNewDeviceAcknowledged, UserID: userID, SessionID: sessionID}
}

// AdminAuthFailedEntry records a request with a wrong admin token.
func AdminAuthFailedEntry() AuditEntry { return AuditEntry{Event: EventAdminAuthFailed} }
