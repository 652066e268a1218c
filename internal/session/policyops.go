package session

import (
	"context"
	"fmt"
	"time"
)

// Source is where a request's token came from.
type Source int

// Token sources.
const (
	FromCookie Source = iota
	FromBearer        // Authorization: Bearer
	FromHeader        // X-Session-Token
)

// Authorize is the per-request check (/v1/auth and its variants):
// Validate, then the check's requirements (freshness, methods, roles). An
// API token is accepted only as a bearer token, never from a cookie or
// another header. It returns what Validate returns, and
// ErrReauthenticationRequired or ErrMissingRole.
//
// Each set of requirements must hold (a proxy may give one in the check's
// query and another in a header).
func (s *Service) Authorize(ctx context.Context, t Token, c Client, from Source, reqs ...Requirements) (Restored, error) {
	r, err := s.Validate(ctx, t, c)
	if err != nil {
		return Restored{}, err
	}
	if r.Session.IsAPIToken() && from != FromBearer {
		return Restored{}, ErrUnauthenticated
	}
	if len(reqs) > 0 {
		now := s.now()
		for _, q := range reqs {
			if err := q.Check(r, now); err != nil {
				return Restored{}, err
			}
		}
	}
	return r, nil
}

// validateSession is Validate for the holder's own endpoints, which concern
// sessions: an API token is refused there (it is managed by the admin API).
func (s *Service) validateSession(ctx context.Context, t Token, c Client) (Restored, error) {
	r, err := s.Validate(ctx, t, c)
	if err != nil {
		return Restored{}, err
	}
	if r.Session.IsAPIToken() {
		return Restored{}, ErrUnauthenticated
	}
	return r, nil
}

// Rotate gives the holder's session a new token (after a login, to defeat
// session fixation, or after a privilege change): the public id, creation
// time, expiry and place in the devices list stay; the old token is refused
// on every replica before this returns.
func (s *Service) Rotate(ctx context.Context, t Token, c Client) (Token, Session, error) {
	r, err := s.validateSession(ctx, t, c)
	if err != nil {
		return "", Session{}, err
	}
	old := t.Hash()
	return s.rotate(ctx, r.Session.ID, &old)
}

// RotateByID is Rotate for an admin, by public session id;
// ErrSessionNotFound if there is no such session.
func (s *Service) RotateByID(ctx context.Context, id string) (Token, Session, error) {
	return s.rotate(ctx, id, nil)
}

func (s *Service) rotate(ctx context.Context, id string, old *Hash) (Token, Session, error) {
	next, err := NewToken()
	if err != nil {
		return "", Session{}, err
	}
	ss, replaced, err := s.store.RotateSession(ctx, id, old, next.Hash())
	if err != nil {
		return "", Session{}, fmt.Errorf("rotate session: %w", err)
	}
	s.invalidate(ctx, []Hash{replaced})
	return next, ss, nil
}

// Reauthenticated records that the user of session id proved who they are
// again now, by amr (the app re-checked a password, a second factor, …):
// checks with max_age or amr see it at once, on every replica.
func (s *Service) Reauthenticated(ctx context.Context, id string, amr []string) (Session, error) {
	if err := ValidateAMR(amr); err != nil {
		return Session{}, err
	}
	ss, h, err := s.store.Reauthenticate(ctx, id, s.now(), nonNil(amr))
	if err != nil {
		return Session{}, fmt.Errorf("reauthenticated: %w", err)
	}
	s.invalidate(ctx, []Hash{h})
	return ss, nil
}

// APITokenParams are the inputs of CreateAPIToken.
type APITokenParams struct {
	Name      string
	ExpiresAt time.Time // zero: MaxAPITokenLifetime from now
	Roles     []string  // nil: the user's roles; otherwise a subset of them
}

// MaxAPITokenLifetime bounds an API token's life (and is its default).
const MaxAPITokenLifetime = 365 * 24 * time.Hour

// CreateAPIToken creates a named API token for an active user. The token
// is in this return value only.
func (s *Service) CreateAPIToken(ctx context.Context, userID string, p APITokenParams) (Token, APIToken, error) {
	u, err := s.GetUser(ctx, userID)
	if err != nil {
		return "", APIToken{}, err
	}
	if p.Name, err = identityText("name", p.Name, 128); err != nil {
		return "", APIToken{}, err
	}
	if p.Name == "" {
		return "", APIToken{}, Invalid("name", "is required")
	}
	now := s.now()
	switch {
	case p.ExpiresAt.IsZero():
		p.ExpiresAt = now.Add(MaxAPITokenLifetime)
	case !p.ExpiresAt.After(now):
		return "", APIToken{}, Invalid("expires_at", "must be in the future")
	case p.ExpiresAt.After(now.Add(MaxAPITokenLifetime)):
		return "", APIToken{}, Invalid("expires_at", "must be within a year")
	}
	for _, r := range p.Roles {
		if !contains(u.Roles, r) {
			return "", APIToken{}, Invalid("roles", fmt.Sprintf("%q is not one of the user's roles", r))
		}
	}
	t, id, err := newCredential()
	if err != nil {
		return "", APIToken{}, err
	}
	ns := NewSession{Hash: t.Hash(), ID: id, UserID: userID, Kind: KindAPIToken, Name: p.Name, TokenRoles: p.Roles,
		CreatedAt: now, ExpiresAt: p.ExpiresAt.UTC().Truncate(time.Microsecond), AuthenticatedAt: now, AMR: []string{}}
	ss, _, err := s.store.CreateSession(ctx, ns, Limit{})
	if err != nil {
		return "", APIToken{}, fmt.Errorf("create API token: %w", err)
	}
	return t, APIToken{ID: ss.ID, UserID: userID, Name: p.Name, CreatedAt: ss.CreatedAt, ExpiresAt: ss.ExpiresAt, Roles: p.Roles}, nil
}

// ListAPITokens lists a user's API tokens; ErrUserNotFound for an unknown
// user.
func (s *Service) ListAPITokens(ctx context.Context, userID string) ([]APIToken, error) {
	if _, err := ParseUserID(userID); err != nil {
		return nil, err
	}
	list, err := s.store.ListAPITokens(ctx, userID, s.now())
	if err != nil {
		return nil, fmt.Errorf("list API tokens: %w", err)
	}
	return list, nil
}

// RevokeAPIToken deletes an API token; it is refused on every replica
// before this returns. ErrTokenNotFound if there is none.
func (s *Service) RevokeAPIToken(ctx context.Context, id string) error {
	h, err := s.store.DeleteAPIToken(ctx, id)
	if err != nil {
		return fmt.Errorf("revoke API token: %w", err)
	}
	s.invalidate(ctx, []Hash{h})
	return nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
