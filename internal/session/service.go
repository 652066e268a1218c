package session

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/singleflight"
)

// Options configures a Service. Store, Shared and Bus are required.
type Options struct {
	Store    Store
	Shared   SharedCache
	Local    LocalCache // nil disables the in-process cache
	Bus      Publisher
	Activity ActivitySink // nil discards per-request activity
	Observer Observer     // nil discards observations
	Logger   *slog.Logger
	Now      func() time.Time

	SessionTTL    time.Duration // lifetime of a new session
	RememberMeTTL time.Duration // lifetime of a new remember-me session
	CacheTTL      time.Duration // upper bound of a shared-cache entry
	LocalCacheTTL time.Duration // upper bound of an in-process entry
	StoreTimeout  time.Duration // bound on one coalesced lookup (default 5s)
}

// Service implements session validation, restore and the lifecycle
// operations on top of a Store and two cache layers.
type Service struct {
	store    Store
	shared   SharedCache
	local    LocalCache
	bus      Publisher
	activity ActivitySink
	obs      Observer
	log      *slog.Logger
	now      func() time.Time

	sessionTTL, rememberTTL time.Duration
	cacheTTL, localTTL      time.Duration
	storeTimeout            time.Duration
	lookups                 singleflight.Group
	epoch                   atomic.Uint64 // bumped by every invalidation
	retryMu                 sync.Mutex
	retry                   []pendingInvalidation
	retryWake               chan struct{}
	retryInterval           time.Duration
}

type pendingInvalidation struct {
	hashes []Hash
	until  time.Time
}

// NewService returns a Service. Call RunRetries in a goroutine to retry cache
// removals that failed after a committed change.
func NewService(o Options) *Service {
	s := &Service{
		store: o.Store, shared: o.Shared, local: o.Local, bus: o.Bus,
		activity: o.Activity, obs: o.Observer, log: o.Logger, now: o.Now,
		sessionTTL: o.SessionTTL, rememberTTL: o.RememberMeTTL,
		cacheTTL: o.CacheTTL, localTTL: o.LocalCacheTTL,
		storeTimeout: o.StoreTimeout, retryWake: make(chan struct{}, 1),
		retryInterval: time.Second,
	}
	if s.activity == nil {
		s.activity = nopActivity{}
	}
	if s.obs == nil {
		s.obs = NopObserver{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.storeTimeout <= 0 {
		s.storeTimeout = 5 * time.Second
	}
	return s
}

// Validate answers "is this session valid, and whose is it?". It returns
// ErrUnauthenticated, ErrUserInactive or ErrUnavailable, and records the
// activity (batched) on success.
func (s *Service) Validate(ctx context.Context, t Token) (Restored, error) {
	r, err := s.restore(ctx, t.Hash())
	if err != nil {
		return Restored{}, err
	}
	s.activity.Touch(r.Session.ID, s.now())
	return r, nil
}

func (s *Service) restore(ctx context.Context, h Hash) (Restored, error) {
	now := s.now()
	if s.local != nil {
		if r, ok := s.local.Get(h); ok {
			s.obs.CacheLookup(LayerLocal, true)
			return s.check(r, now)
		}
		s.obs.CacheLookup(LayerLocal, false)
	}
	epoch := s.epoch.Load()
	// The epoch is part of the key: a lookup that starts after an
	// invalidation never joins one that started before it.
	key := h.String() + "/" + strconv.FormatUint(epoch, 10)
	v, err, _ := s.lookups.Do(key, func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.storeTimeout)
		defer cancel()
		return s.lookup(lctx, h, epoch)
	})
	if err != nil {
		return Restored{}, err
	}
	return s.check(v.(Restored), now)
}

// lookup reads the shared cache, then the store, filling the caches on the
// way back unless an invalidation happened meanwhile.
func (s *Service) lookup(ctx context.Context, h Hash, epoch uint64) (Restored, error) {
	r, ok, err := s.shared.Get(ctx, h)
	sharedUp := err == nil
	switch {
	case err != nil:
		s.log.Warn("shared cache get failed; falling back to the store", "err", err)
	case ok:
		s.obs.CacheLookup(LayerShared, true)
		s.fillLocal(h, r, epoch)
		return r, nil
	default:
		s.obs.CacheLookup(LayerShared, false)
	}
	s.obs.StoreLookup()
	r, err = s.store.Restore(ctx, h)
	if err != nil {
		return Restored{}, err
	}
	if sharedUp && s.epoch.Load() == epoch {
		if ttl := min(s.cacheTTL, r.Session.ExpiresAt.Sub(s.now())); ttl > 0 {
			if err := s.shared.Set(ctx, h, r, ttl); err != nil {
				s.log.Warn("shared cache set failed", "err", err)
			}
		}
	}
	s.fillLocal(h, r, epoch)
	return r, nil
}

func (s *Service) fillLocal(h Hash, r Restored, epoch uint64) {
	if s.local == nil {
		return
	}
	ttl := min(s.localTTL, r.Session.ExpiresAt.Sub(s.now()))
	if ttl <= 0 || s.epoch.Load() != epoch {
		return
	}
	s.local.Set(h, r, ttl)
	// An invalidation that raced with the Set may have run before it:
	// undo the fill rather than keep a copy nobody will drop.
	if s.epoch.Load() != epoch {
		s.local.Delete([]Hash{h})
	}
}

// check re-checks expiry and the user's state on every answer, cached or not.
func (s *Service) check(r Restored, now time.Time) (Restored, error) {
	if !now.Before(r.Session.ExpiresAt) {
		return Restored{}, ErrUnauthenticated
	}
	if !r.User.IsActive {
		return Restored{}, ErrUserInactive
	}
	return r, nil
}

// Logout clears the session of t. It is idempotent: an unknown token is not
// an error.
func (s *Service) Logout(ctx context.Context, t Token) error {
	h := t.Hash()
	if _, err := s.store.DeleteSession(ctx, h); err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	s.invalidate(ctx, []Hash{h})
	return nil
}

// RecordActivity writes activity for the session of t directly (not
// batched) and drops cached copies so the next restore shows it.
func (s *Service) RecordActivity(ctx context.Context, t Token, ip, userAgent string) error {
	ip, err := NormalizeIP(ip)
	if err != nil {
		return err
	}
	if err := ValidateUserAgent(userAgent); err != nil {
		return err
	}
	h := t.Hash()
	if _, err := s.restore(ctx, h); err != nil {
		return err
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
func (s *Service) ListOwn(ctx context.Context, t Token) ([]CurrentSession, error) {
	r, err := s.Validate(ctx, t)
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
func (s *Service) RevokeOwn(ctx context.Context, t Token, id string) error {
	r, err := s.Validate(ctx, t)
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
func (s *Service) RevokeOthers(ctx context.Context, t Token) (int, error) {
	r, err := s.Validate(ctx, t)
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
	if err := ValidateUser(u); err != nil {
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
func (s *Service) GetUser(ctx context.Context, id int64) (User, error) {
	u, err := s.store.GetUser(ctx, id)
	if err != nil {
		return User{}, fmt.Errorf("get user: %w", err)
	}
	return u, nil
}

// DeleteUser deletes a user and every session of theirs.
func (s *Service) DeleteUser(ctx context.Context, id int64) error {
	hs, err := s.store.DeleteUser(ctx, id)
	if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	s.invalidate(ctx, hs)
	return nil
}

// CreateParams are the inputs of CreateSession.
type CreateParams struct {
	UserID     int64
	RememberMe bool
	IPAddress  string
	UserAgent  string
}

// CreateSession starts a session for an active user and returns its token.
// The token exists only in this return value; the store keeps its hash.
func (s *Service) CreateSession(ctx context.Context, p CreateParams) (Token, Session, error) {
	if p.UserID <= 0 {
		return "", Session{}, Invalid("user_id", "must be a positive integer")
	}
	ip, err := NormalizeIP(p.IPAddress)
	if err != nil {
		return "", Session{}, err
	}
	if err := ValidateUserAgent(p.UserAgent); err != nil {
		return "", Session{}, err
	}
	t, err := NewToken()
	if err != nil {
		return "", Session{}, err
	}
	id, err := uuid.NewRandom()
	if err != nil {
		return "", Session{}, fmt.Errorf("session: new id: %w", err)
	}
	now := s.now()
	ns := NewSession{
		Hash: t.Hash(), ID: id.String(), UserID: p.UserID,
		CreatedAt: now, ExpiresAt: ExpiresAt(now, p.RememberMe, s.sessionTTL, s.rememberTTL),
		IPAddress: ip, UserAgent: p.UserAgent, RememberMe: p.RememberMe,
	}
	ss, err := s.store.CreateSession(ctx, ns)
	if err != nil {
		return "", Session{}, fmt.Errorf("create session: %w", err)
	}
	return t, ss, nil
}

// ExpiresAt is the absolute expiry of a session created at now.
func ExpiresAt(now time.Time, rememberMe bool, ttl, rememberTTL time.Duration) time.Time {
	if rememberMe {
		return now.Add(rememberTTL)
	}
	return now.Add(ttl)
}

// ListUserSessions lists a user's active sessions; ErrUserNotFound for an
// unknown user.
func (s *Service) ListUserSessions(ctx context.Context, userID int64) ([]Session, error) {
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
func (s *Service) RevokeUserSessions(ctx context.Context, userID int64, except Token) (int, error) {
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
	h, err := s.store.DeleteSessionByID(ctx, id, 0)
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
			return total, nil
		}
	}
}

// invalidate runs after a change has committed in the store: drop our own
// copies synchronously, then remove the shared entries and tell every
// replica. A failure there does not fail the change; it is retried.
func (s *Service) invalidate(ctx context.Context, hs []Hash) {
	if len(hs) == 0 {
		return
	}
	s.dropLocal(hs)
	if err := s.propagate(context.WithoutCancel(ctx), hs); err != nil {
		s.log.Warn("cache invalidation failed; will retry", "sessions", len(hs), "err", err)
		s.retryMu.Lock()
		s.retry = append(s.retry, pendingInvalidation{hashes: hs, until: time.Now().Add(s.cacheTTL + time.Minute)})
		s.retryMu.Unlock()
		select {
		case s.retryWake <- struct{}{}:
		default:
		}
	}
}

func (s *Service) propagate(ctx context.Context, hs []Hash) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := s.shared.Delete(ctx, hs); err != nil {
		return err
	}
	if err := s.bus.Publish(ctx, hs); err != nil {
		return err
	}
	s.obs.InvalidationsPublished(len(hs))
	return nil
}

func (s *Service) dropLocal(hs []Hash) {
	s.epoch.Add(1)
	if s.local != nil {
		s.local.Delete(hs)
	}
}

// HandleInvalidation drops in-process copies named by another replica.
func (s *Service) HandleInvalidation(hs []Hash) {
	s.obs.InvalidationsReceived(len(hs))
	s.dropLocal(hs)
}

// HandleSubscriptionReset drops every in-process copy: invalidations sent
// while the subscription was down are lost, since pub/sub does not replay.
func (s *Service) HandleSubscriptionReset() {
	s.obs.SubscriptionReset()
	s.epoch.Add(1)
	if s.local != nil {
		s.local.Clear()
	}
}

// RunRetries retries failed cache removals until ctx ends. Entries are
// retried until the shared cache TTL has passed, after which no stale entry
// can remain anyway.
func (s *Service) RunRetries(ctx context.Context) {
	t := time.NewTicker(s.retryInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.retryWake:
			// Give the dependency a moment before the first retry.
			select {
			case <-ctx.Done():
				return
			case <-time.After(s.retryInterval):
			}
		}
		s.retryPending(ctx)
	}
}

// PendingRetries reports how many invalidations wait for a retry.
func (s *Service) PendingRetries() int {
	s.retryMu.Lock()
	defer s.retryMu.Unlock()
	return len(s.retry)
}

func (s *Service) retryPending(ctx context.Context) {
	// Only this loop removes entries, and invalidate only appends, so the
	// first len(work) entries stay put while we work on them unlocked.
	s.retryMu.Lock()
	work := s.retry[:len(s.retry):len(s.retry)]
	s.retryMu.Unlock()
	done := 0
	for _, p := range work {
		if time.Now().Before(p.until) {
			if err := s.propagate(ctx, p.hashes); err != nil {
				break
			}
			s.log.Info("cache invalidation retried successfully", "sessions", len(p.hashes))
		}
		done++
	}
	s.retryMu.Lock()
	s.retry = append([]pendingInvalidation(nil), s.retry[done:]...)
	s.retryMu.Unlock()
}
