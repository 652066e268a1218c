// Package webhook tells other systems what happened to sessions and users:
// events written by the database in the transaction of each change (the
// outbox, internal/postgres), delivered by one worker across all replicas,
// signed as the Standard Webhooks specification defines
// (https://www.standardwebhooks.com), at least once, in order per user,
// with retries that back off.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Event types (a public contract: receivers switch on them).
const (
	SessionCreated   = "session.created"
	SessionRevoked   = "session.revoked"
	SessionNewDevice = "session.new_device"
	UserDeactivated  = "user.deactivated"
	UserDeleted      = "user.deleted"
	AuditCheckpoint  = "audit.checkpoint"
)

// Types are every event type, in the order the docs list them.
var Types = []string{SessionCreated, SessionRevoked, SessionNewDevice, UserDeactivated, UserDeleted, AuditCheckpoint}

// Reasons of session.revoked (the data's "reason").
const (
	ReasonLogout          = "logout"           // the holder logged out
	ReasonRevoke          = "revoke"           // the holder revoked one of their sessions
	ReasonRevokeOthers    = "revoke_others"    // the holder revoked all their others
	ReasonAdmin           = "admin"            // the admin API revoked it
	ReasonEvicted         = "evicted"          // the session limit made room
	ReasonRotated         = "rotated"          // its token was replaced (the session continues)
	ReasonUserDeactivated = "user_deactivated" // its user was deactivated
	ReasonUserDeleted     = "user_deleted"     // its user was deleted
	ReasonIdPLogout       = "idp_logout"       // the identity provider's back-channel logout
	ReasonExternalSQL     = "external_sql"     // a change made with plain SQL
	// ReasonExpired marks cleanup deletes, which send nothing.
	ReasonExpired = "expired"
)

// KnownType reports whether t is an event type.
func KnownType(t string) bool {
	for _, k := range Types {
		if k == t {
			return true
		}
	}
	return false
}

// secretPrefix starts every signing secret.
const secretPrefix = "whsec_"

// ParseSecret decodes a signing secret: "whsec_" followed by the base64 of
// at least 24 random bytes.
func ParseSecret(s string) ([]byte, error) {
	rest, ok := strings.CutPrefix(s, secretPrefix)
	if !ok {
		return nil, errors.New(`must start with "whsec_"`)
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, errors.New(`must be "whsec_" followed by standard base64`)
	}
	if len(key) < 24 {
		return nil, fmt.Errorf("must carry at least 24 random bytes (got %d): openssl rand -base64 32", len(key))
	}
	return key, nil
}

// Sign returns the webhook-signature value of a message: "v1," and the
// base64 HMAC-SHA256 of "id.timestamp.body" under key.
func Sign(key []byte, id string, at time.Time, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(at.Unix(), 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("webhook: no valid signature")
	ErrStale        = errors.New("webhook: timestamp outside the tolerance")
)

// Verify checks a delivery as a receiver must: the signature over its id,
// timestamp and raw body under key (any of the space-separated v1
// signatures), and a timestamp within tolerance of now.
func Verify(key []byte, id, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	at := time.Unix(ts, 0)
	if d := now.Sub(at); d > tolerance || d < -tolerance {
		return ErrStale
	}
	want := Sign(key, id, at, body)
	for _, sig := range strings.Fields(signature) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return ErrBadSignature
}
