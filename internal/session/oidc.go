package session

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"
	"unicode"
)

// ActorIdP is an identity provider ending sessions through OIDC
// back-channel logout.
const ActorIdP = "idp"

// ErrLogoutReplayed: a back-channel logout token (iss, jti) was used
// before.
var ErrLogoutReplayed = errors.New("logout token already used")

// IdPLogout is a verified back-channel logout: end the sessions of Ref (by
// its SessionID when set, else every session of Ref.Subject at
// Ref.Issuer), once per token ID.
type IdPLogout struct {
	Ref     OIDCRef
	TokenID string
	// KeepUntil is how long the token ID must be remembered to refuse a
	// replay (past the token's expiry and the accepted issue-time window).
	KeepUntil time.Time
}

// ValidateOIDCRef checks a session's identity-provider references: an
// absolute issuer URL, a subject, and an optional session id, each at most
// 512 characters of printable text.
func ValidateOIDCRef(r *OIDCRef) error {
	if r == nil {
		return nil
	}
	if u, err := url.Parse(r.Issuer); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return Invalid("oidc.iss", "must be the issuer's absolute URL")
	}
	for field, v := range map[string]string{"oidc.iss": r.Issuer, "oidc.sub": r.Subject, "oidc.sid": r.SessionID} {
		if len(v) > 512 {
			return Invalid(field, "must be at most 512 characters")
		}
		for _, c := range v {
			if !unicode.IsPrint(c) {
				return Invalid(field, "must be printable text")
			}
		}
	}
	if r.Subject == "" {
		return Invalid("oidc.sub", "is required with oidc")
	}
	return nil
}

// BackchannelLogout ends the sessions a verified logout token names, with
// the acknowledged invalidation, recording the token's ID in the same
// transaction (ErrLogoutReplayed when it was seen before). It returns how
// many sessions ended; the caller must not reveal it.
func (s *Service) BackchannelLogout(ctx context.Context, l IdPLogout) (int, error) {
	if l.Ref.Subject == "" && l.Ref.SessionID == "" {
		return 0, Invalid("logout_token", "names neither a subject nor a session")
	}
	hs, err := s.store.RevokeOIDC(ctx, l)
	if err != nil {
		return 0, fmt.Errorf("back-channel logout: %w", err)
	}
	s.invalidate(ctx, hs)
	return len(hs), nil
}
