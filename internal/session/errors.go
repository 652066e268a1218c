package session

import (
	"errors"
	"fmt"
)

// Sentinel errors returned by the Service and by the adapters it uses.
// The HTTP layer maps each to one status code in one table.
var (
	// ErrNoToken: the request carried no session token.
	ErrNoToken = errors.New("no session token")
	// ErrMalformedToken: the token is not a well-formed UUID v4.
	ErrMalformedToken = errors.New("malformed session token")
	// ErrUnauthenticated: the token is unknown, expired or revoked.
	ErrUnauthenticated = errors.New("session is not valid")
	// ErrUserInactive: the session is valid but its user is deactivated.
	ErrUserInactive = errors.New("user is inactive")
	// ErrUserNotFound: no user has that id.
	ErrUserNotFound = errors.New("user not found")
	// ErrSessionNotFound: no session with that public id (for that user).
	ErrSessionNotFound = errors.New("session not found")
	// ErrTokenNotFound: no API token with that id.
	ErrTokenNotFound = errors.New("API token not found")
	// ErrConflict: the request conflicts with the current state.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the input is not acceptable; wrapped by *InvalidError.
	ErrInvalid = errors.New("invalid input")
	// ErrUnavailable: a store needed for the answer could not be reached, so
	// the answer cannot be determined. Callers should retry.
	ErrUnavailable = errors.New("service unavailable")
	// ErrNotAcknowledged: an invalidation was published but not every live
	// replica confirmed it in time; those replicas stopped trusting their
	// caches, so the invalidation still holds.
	ErrNotAcknowledged = errors.New("invalidation not acknowledged by every replica in time")
	// ErrRateLimited: this client made too many lookups that reached the
	// store; retry later.
	ErrRateLimited = errors.New("too many lookups of unknown sessions; retry later")
	// ErrReauthenticationRequired: the session is valid, but the user last
	// authenticated too long ago, or not with a method the check requires.
	ErrReauthenticationRequired = errors.New("re-authentication required")
	// ErrMissingRole: the session is valid, but its user holds none (or not
	// all) of the roles the check requires.
	ErrMissingRole = errors.New("missing role")
	// ErrSessionLimit: the user has as many sessions as the limit allows
	// and the policy is to refuse new ones.
	ErrSessionLimit = errors.New("session limit reached")
	// ErrTooManyReports: the holder reported activity too often, or too
	// many different addresses and user agents, for one session.
	ErrTooManyReports = errors.New("too many activity reports for this session; retry later")
)

// InvalidError describes one unacceptable input field. errors.Is(err,
// ErrInvalid) holds for it.
type InvalidError struct {
	Field  string
	Reason string
}

func (e *InvalidError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Reason) }

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

// Invalid returns an *InvalidError for field.
func Invalid(field, reason string) error { return &InvalidError{Field: field, Reason: reason} }

// PublicMessage is safe to show to the caller.
func (e *InvalidError) PublicMessage() string { return e.Error() }

// ConflictError explains an ErrConflict. errors.Is(err, ErrConflict) holds.
type ConflictError struct{ Reason string }

func (e *ConflictError) Error() string { return e.Reason }

// Unwrap makes errors.Is(err, ErrConflict) hold.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// PublicMessage is safe to show to the caller.
func (e *ConflictError) PublicMessage() string { return e.Reason }
