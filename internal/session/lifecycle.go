package session

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Logout clears the session of t for the client c, committed and
// propagated (with the other logouts in flight on this replica: see
// logouts.go) before it returns. It is idempotent: an
// unknown token is not an error, but it spends the client's budget of
// lookups that find nothing, like a validation would; over budget, only a
// session the caches still hold may be logged out (ErrRateLimited
// otherwise), so a flood of unknown tokens cannot cost a transaction each.
func (s *Service) Logout(ctx context.Context, t Token, c Client) error {
	h := t.Hash()
	if s.limiter != nil && !s.limiter.Allow(c.IP) && !s.cached(ctx, h) {
		return ErrRateLimited
	}
	found, err := s.logout(ctx, Logout{Hash: h, Actor: ActorFrom(ctx)})
	if err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	if !found && s.limiter != nil {
		s.limiter.Failed(c.IP)
	}
	return nil
}

// RecordActivity writes activity (an address and user agent the holder
// reports) for the session of t directly (not batched) and drops cached
// copies so the next restore shows it. c is the client making the request
// (its address is what the rate limit counts).
func (s *Service) RecordActivity(ctx context.Context, t Token, c Client, ip, userAgent string) error {
	ip, err := NormalizeIP(ip)
	if err != nil {
		return err
	}
	if err := ValidateUserAgent(userAgent); err != nil {
		return err
	}
	h := t.Hash()
	r, err := s.restore(ctx, h, c.IP)
	if err != nil {
		return err
	}
	if r.Session.IsAPIToken() {
		return ErrUnauthenticated
	}
	if s.reports != nil && !s.reports.AllowReport(r.Session.ID, ip+"\x00"+userAgent) {
		return ErrTooManyReports
	}
	if err := s.store.RecordActivity(ctx, h, s.now(), ip, userAgent); err != nil {
		return fmt.Errorf("record activity: %w", err)
	}
	s.invalidate(ctx, []Hash{h})
	return nil
}

// CurrentSession is a listed session flagged as the caller's own or not.
type CurrentSession struct {
	Session
	Current bool `json:"current"`
}

// ListOwn lists the active sessions of the holder of t.
func (s *Service) ListOwn(ctx context.Context, t Token, c Client) ([]CurrentSession, error) {
	r, err := s.validateSession(ctx, t, c)
	if err != nil {
		return nil, err
	}
	list, err := s.store.ListSessions(ctx, r.User.ID, s.now())
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	out := make([]CurrentSession, len(list))
	for i, ss := range list {
		out[i] = CurrentSession{Session: ss, Current: ss.ID == r.Session.ID}
	}
	return out, nil
}

// RevokeOwn revokes one of the holder's sessions by public id;
// ErrSessionNotFound when the id is not one of theirs.
func (s *Service) RevokeOwn(ctx context.Context, t Token, c Client, id string) error {
	r, err := s.validateSession(ctx, t, c)
	if err != nil {
		return err
	}
	h, err := s.store.DeleteSessionByID(ctx, id, r.User.ID)
	if err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	s.invalidate(ctx, []Hash{h})
	return nil
}

// RevokeOthers revokes every session of the holder except the current one.
func (s *Service) RevokeOthers(ctx context.Context, t Token, c Client) (int, error) {
	r, err := s.validateSession(ctx, t, c)
	if err != nil {
		return 0, err
	}
	h := t.Hash()
	hs, err := s.store.DeleteUserSessions(ctx, r.User.ID, &h)
	if err != nil {
		return 0, fmt.Errorf("revoke other sessions: %w", err)
	}
	s.invalidate(ctx, hs)
	return len(hs), nil
}

// UpsertUser creates or updates a user; every cached session of the user is
// dropped on every replica, so deactivation and role changes apply at once.
func (s *Service) UpsertUser(ctx context.Context, u User) (User, bool, error) {
	if u.Roles == nil {
		u.Roles = []string{}
	}
	u, err := NormalizeUser(u)
	if err != nil {
		return User{}, false, err
	}
	out, created, hs, err := s.store.UpsertUser(ctx, u)
	if err != nil {
		return User{}, false, fmt.Errorf("upsert user: %w", err)
	}
	s.invalidate(ctx, hs)
	return out, created, nil
}

// GetUser returns a user or ErrUserNotFound.
func (s *Service) GetUser(ctx context.Context, id string) (User, error) {
	if _, err := ParseUserID(id); err != nil {
		return User{}, err
	}
	u, err := s.store.GetUser(ctx, id)
	if err != nil {
		return User{}, fmt.Errorf("get user: %w", err)
	}
	return u, nil
}

// DeleteUser deletes a user and every session of theirs.
func (s *Service) DeleteUser(ctx context.Context, id string) error {
	if _, err := ParseUserID(id); err != nil {
		return err
	}
	hs, err := s.store.DeleteUser(ctx, id)
	if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	s.invalidate(ctx, hs)
	return nil
}

// CreateParams are the inputs of CreateSession.
type CreateParams struct {
	UserID     string
	RememberMe bool
	IPAddress  string
	UserAgent  string
	// AuthenticatedAt is when the user proved who they are (zero: now); AMR
	// says how.
	AuthenticatedAt time.Time
	AMR             []string
	// OIDC links the session to the identity provider's session, so that
	// its back-channel logout ends it.
	OIDC *OIDCRef
}

// Created is a new session: its token (which exists only here; the store
// keeps its hash), the session, and the public ids of sessions evicted to
// make room for it under the session limit.
type Created struct {
	Token   Token
	Session Session
	Evicted []string
}

// maxAuthenticatedAge bounds how long ago a login may say the user
// authenticated.
const maxAuthenticatedAge = 30 * 24 * time.Hour

// CreateSession starts a session for an active user. When the user is at
// the session limit, the policy evicts sessions (revoked on every replica
// before this returns) or refuses with ErrSessionLimit.
func (s *Service) CreateSession(ctx context.Context, p CreateParams) (Created, error) {
	if _, err := ParseUserID(p.UserID); err != nil {
		return Created{}, err
	}
	ip, err := NormalizeIP(p.IPAddress)
	if err != nil {
		return Created{}, err
	}
	if err := ValidateUserAgent(p.UserAgent); err != nil {
		return Created{}, err
	}
	if err := ValidateAMR(p.AMR); err != nil {
		return Created{}, err
	}
	if err := ValidateOIDCRef(p.OIDC); err != nil {
		return Created{}, err
	}
	now := s.now()
	authAt := p.AuthenticatedAt
	switch {
	case authAt.IsZero():
		authAt = now
	case authAt.After(now.Add(time.Minute)):
		return Created{}, Invalid("authenticated_at", "is in the future")
	case authAt.Before(now.Add(-maxAuthenticatedAge)):
		return Created{}, Invalid("authenticated_at", "is more than 30 days ago")
	}
	t, id, err := newCredential()
	if err != nil {
		return Created{}, err
	}
	ns := NewSession{
		Hash: t.Hash(), ID: id, UserID: p.UserID, Kind: KindSession,
		CreatedAt: now, ExpiresAt: ExpiresAt(now, p.RememberMe, s.sessionTTL, s.rememberTTL),
		IPAddress: ip, UserAgent: p.UserAgent, RememberMe: p.RememberMe,
		AuthenticatedAt: authAt.UTC(), AMR: nonNil(p.AMR), OIDC: p.OIDC,
	}
	ss, evicted, err := s.store.CreateSession(ctx, ns, s.limit)
	if err != nil {
		return Created{}, fmt.Errorf("create session: %w", err)
	}
	out := Created{Token: t, Session: ss, Evicted: make([]string, len(evicted))}
	hs := make([]Hash, len(evicted))
	for i, e := range evicted {
		out.Evicted[i], hs[i] = e.ID, e.Hash
	}
	s.invalidate(ctx, hs)
	return out, nil
}

// newCredential returns a fresh token and public id.
func newCredential() (Token, string, error) {
	t, err := NewToken()
	if err != nil {
		return "", "", err
	}
	id, err := uuid.NewRandom()
	if err != nil {
		return "", "", fmt.Errorf("session: new id: %w", err)
	}
	return t, id.String(), nil
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

// ListUserSessions lists a user's active sessions; ErrUserNotFound for an
// unknown user.
func (s *Service) ListUserSessions(ctx context.Context, userID string) ([]Session, error) {
	if _, err := s.GetUser(ctx, userID); err != nil {
		return nil, err
	}
	list, err := s.store.ListSessions(ctx, userID, s.now())
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return list, nil
}

// RevokeUserSessions revokes every session of a user, except the one of
// except when it is non-empty.
func (s *Service) RevokeUserSessions(ctx context.Context, userID string, except Token) (int, error) {
	if _, err := ParseUserID(userID); err != nil {
		return 0, err
	}
	var keep *Hash
	if except != "" {
		h := except.Hash()
		keep = &h
	}
	hs, err := s.store.DeleteUserSessions(ctx, userID, keep)
	if err != nil {
		return 0, fmt.Errorf("revoke user sessions: %w", err)
	}
	s.invalidate(ctx, hs)
	return len(hs), nil
}

// RevokeByID revokes any session by public id; ErrSessionNotFound if none.
func (s *Service) RevokeByID(ctx context.Context, id string) error {
	h, err := s.store.DeleteSessionByID(ctx, id, "")
	if err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	s.invalidate(ctx, []Hash{h})
	return nil
}

// cleanupBatch bounds one delete statement of Cleanup.
const cleanupBatch = 5000

// Cleanup deletes expired sessions in batches and returns how many.
func (s *Service) Cleanup(ctx context.Context) (int, error) {
	total := 0
	now := s.now()
	for {
		hs, err := s.store.DeleteExpired(ctx, now, cleanupBatch)
		if err != nil {
			return total, fmt.Errorf("cleanup: %w", err)
		}
		total += len(hs)
		s.invalidate(ctx, hs)
		if len(hs) < cleanupBatch {
			break
		}
	}
	if s.deviceWindow > 0 {
		if _, err := s.store.PruneDevices(ctx, now.Add(-s.deviceWindow)); err != nil {
			return total, fmt.Errorf("cleanup: %w", err)
		}
	}
	if s.auditRetention > 0 && s.audit != nil {
		if _, err := s.PruneAudit(ctx, now.Add(-s.auditRetention)); err != nil {
			return total, fmt.Errorf("cleanup: %w", err)
		}
	}
	return total, nil
}

// AcknowledgeNewDevice clears the new-device flag of the holder's session.
func (s *Service) AcknowledgeNewDevice(ctx context.Context, t Token, c Client) error {
	if _, err := s.validateSession(ctx, t, c); err != nil {
		return err
	}
	h := t.Hash()
	if err := s.store.AcknowledgeNewDevice(ctx, h); err != nil {
		return fmt.Errorf("acknowledge new device: %w", err)
	}
	s.invalidate(ctx, []Hash{h})
	return nil
}

// OwnStats summarises the active sessions of the holder of t.
func (s *Service) OwnStats(ctx context.Context, t Token, c Client) (Stats, error) {
	r, err := s.validateSession(ctx, t, c)
	if err != nil {
		return Stats{}, err
	}
	st, err := s.store.SessionStats(ctx, r.User.ID, s.now())
	if err != nil {
		return Stats{}, fmt.Errorf("session stats: %w", err)
	}
	return st, nil
}

// UserStats summarises a user's active sessions; ErrUserNotFound for an
// unknown user.
func (s *Service) UserStats(ctx context.Context, userID string) (Stats, error) {
	if _, err := s.GetUser(ctx, userID); err != nil {
		return Stats{}, err
	}
	st, err := s.store.SessionStats(ctx, userID, s.now())
	if err != nil {
		return Stats{}, fmt.Errorf("session stats: %w", err)
	}
	return st, nil
}
