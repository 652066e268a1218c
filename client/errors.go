package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Errors to match with errors.Is. Every error of a call that reached a
// gateway and was refused is an *Error, which matches one of these by its
// status.
var (
	// ErrUnauthenticated: 401. No token, a malformed one, or one that is
	// unknown, expired or revoked: the user must sign in.
	ErrUnauthenticated = errors.New("sessiongw: not authenticated")
	// ErrForbidden: 403, or a requirement not met. The session is valid,
	// but its user is inactive, lacks a role the check asks for, or must
	// authenticate again (Error.Reason says which).
	ErrForbidden = errors.New("sessiongw: forbidden")
	// ErrUnavailable: 503, a timeout or a connection error: the answer
	// could not be determined. Never treat it as "logged out"; retry, or
	// answer 503 yourself.
	ErrUnavailable = errors.New("sessiongw: unavailable")
)

// Error is a gateway's refusal.
type Error struct {
	Status  int    // the HTTP status
	Code    string // the error code ("invalid_session", "missing_role", …)
	Message string
	// Reason is the gateway's X-Auth-Reason, when a valid session was
	// refused: "reauthentication_required", "missing_role" or
	// "invalid_requirement".
	Reason string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("sessiongw: %d %s", e.Status, e.Code)
	}
	return fmt.Sprintf("sessiongw: %d %s: %s", e.Status, e.Code, e.Message)
}

// Is matches ErrUnauthenticated (401), ErrForbidden (403, and a session
// that must authenticate again) and ErrUnavailable (503).
func (e *Error) Is(target error) bool {
	switch target {
	case ErrUnauthenticated:
		return e.Status == http.StatusUnauthorized && e.Reason != "reauthentication_required"
	case ErrForbidden:
		return e.Status == http.StatusForbidden || e.Reason == "reauthentication_required"
	case ErrUnavailable:
		return e.Status == http.StatusServiceUnavailable
	}
	return false
}

// statusError turns a refusal into an *Error, from its JSON body when it
// has one.
func statusError(resp *http.Response, body []byte) *Error {
	e := &Error{Status: resp.StatusCode, Reason: resp.Header.Get("X-Auth-Reason")}
	var b struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(body, &b) == nil && b.Error.Code != "" {
		e.Code, e.Message = b.Error.Code, b.Error.Message
	}
	if e.Code == "" {
		e.Code = e.Reason
	}
	if e.Code == "" {
		e.Code = http.StatusText(resp.StatusCode)
	}
	return e
}

// unavailable wraps a transport failure (timeout, refused connection) so
// that it matches ErrUnavailable; a cancelled context stays itself.
func unavailable(err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
