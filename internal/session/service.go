package session

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/sessiongw/sessiongw/internal/groupcommit"
)

// Options configures a Service. Only Store is required: every other
// collaborator has a default that keeps the Service correct on its own (no
// shared cache, a single replica, no audit log, no rate limit), which is
// what the command-line tools and the domain's own tests use.
type Options struct {
	Store  Store
	Shared SharedCache // nil: no shared cache (every miss reads the store)
	Local  LocalCache  // nil disables the in-process cache
	// Grace, when non-nil, keeps the last confirmed copy of each session
	// for OutageGrace, to answer while the store is unavailable.
	Grace       LocalCache
	OutageGrace time.Duration
	Bus         Publisher     // nil: this is the only replica
	Outbox      Outbox        // nil: no relay
	Audit       AuditLog      // nil: the audit endpoints answer ErrUnavailable
	Trust       Trust         // nil: caches always trusted
	Activity    ActivitySink  // nil discards per-request activity
	Observer    Observer      // nil discards observations
	Limiter     Limiter       // nil: store lookups are not rate-limited
	Reports     ReportLimiter // nil: what a holder reports is not bounded
	Logger      *slog.Logger  // nil discards logs
	Now         func() time.Time

	// IdleTimeout rejects a session whose latest recorded activity is at
	// least this old (0: off).
	IdleTimeout time.Duration
	// NewDeviceWindow is how long an address or user agent no session uses
	// any more stays known for new-device detection (0: forever).
	NewDeviceWindow time.Duration
	// Limit bounds each user's sessions (Limit.Default 0: no limit).
	Limit Limit
	// AuditRetention, when set, makes Cleanup prune audit records older
	// than this (0: keep every record).
	AuditRetention time.Duration
	SessionTTL     time.Duration // lifetime of a new session
	RememberMeTTL  time.Duration // lifetime of a new remember-me session
	CacheTTL       time.Duration // upper bound of a shared-cache entry
	LocalCacheTTL  time.Duration // upper bound of an in-process entry
	StoreTimeout   time.Duration // bound on one coalesced lookup (default 5s)
	// InvalidationWait is how long a change waits when it could not reach
	// Redis, so that replicas that cannot either stop trusting their caches
	// before it returns (the bus trust window; default 1s).
	InvalidationWait time.Duration
	// MaxStoreLookups caps concurrent store lookups of the validation path
	// (0 = no cap); a lookup that cannot start within StoreTimeout gets
	// ErrUnavailable.
	MaxStoreLookups int

	// BeforeFill, for tests only, runs between a lookup's store read and
	// its cache fills.
	BeforeFill func(Hash)
	// Notified, when set, is told of every invalidation heard through the
	// outbox's Postgres notifications (to pass on to caches downstream).
	Notified func(Invalidation)
}

// ReportLimiter bounds, per session, the client details a holder reports
// about itself (RecordActivity): AllowReport spends one report and says
// whether value (the reported address and user agent) may be recorded.
type ReportLimiter interface {
	AllowReport(sessionID, value string) bool
}

// Limiter rate-limits, per client, store lookups that find no session:
// Allow checks the client's budget without spending it, Failed spends it.
// Valid sessions, even uncached ones, never spend budget.
type Limiter interface {
	Allow(client string) bool
	Failed(client string)
}

// Service implements session validation, restore and the lifecycle
// operations on top of a Store and two cache layers.
type Service struct {
	store    Store
	shared   SharedCache
	local    LocalCache
	grace    LocalCache
	graceTTL time.Duration
	bus      Publisher
	outbox   Outbox
	audit    AuditLog
	// adminAuthFailures bounds the audit records of failed admin logins.
	adminAuthFailures *rate.Limiter
	trust             Trust
	activity          ActivitySink
	obs               Observer
	limiter           Limiter
	reports           ReportLimiter
	log               *slog.Logger
	now               func() time.Time

	sessionTTL, rememberTTL time.Duration
	idleTimeout             time.Duration
	deviceWindow            time.Duration
	auditRetention          time.Duration
	limit                   Limit
	cacheTTL, localTTL      time.Duration
	storeTimeout            time.Duration
	invalidationWait        time.Duration
	storeSlots              chan struct{}
	beforeFill              func(Hash)
	notified                func(Invalidation)
	lookups                 singleflight.Group
	epoch                   atomic.Uint64 // bumped by every invalidation
	relayWake               chan struct{}
	relayAll                atomic.Bool // the next relay run claims owned entries too
	doneMu                  sync.Mutex
	done                    []int64 // owned outbox entries propagated, to mark done
	tombs                   tombstones
	logouts                 *groupcommit.Queue[*logoutCall] // logouts.go
}

// NewService returns a Service. Run RunRelay in a goroutine when Outbox is
// set.
func NewService(o Options) *Service {
	s := &Service{
		store: o.Store, shared: o.Shared, local: o.Local, grace: o.Grace, graceTTL: o.OutageGrace, bus: o.Bus, outbox: o.Outbox, audit: o.Audit, trust: o.Trust,
		activity: o.Activity, obs: o.Observer, limiter: o.Limiter, reports: o.Reports, log: o.Logger, now: o.Now,
		sessionTTL: o.SessionTTL, rememberTTL: o.RememberMeTTL, idleTimeout: o.IdleTimeout, deviceWindow: o.NewDeviceWindow, auditRetention: o.AuditRetention, limit: o.Limit,
		cacheTTL: o.CacheTTL, localTTL: o.LocalCacheTTL,
		storeTimeout: o.StoreTimeout, invalidationWait: o.InvalidationWait,
		beforeFill: o.BeforeFill, notified: o.Notified, relayWake: make(chan struct{}, 1), adminAuthFailures: newAdminAuthFailureLimiter(),
	}
	if s.shared == nil {
		s.shared = NoSharedCache{}
	}
	if s.bus == nil {
		s.bus = nopPublisher{}
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
	if s.invalidationWait <= 0 {
		s.invalidationWait = time.Second
	}
	if o.MaxStoreLookups > 0 {
		s.storeSlots = make(chan struct{}, o.MaxStoreLookups)
	}
	s.logouts = groupcommit.New(maxLogoutBatch, s.writeLogoutBatch)
	return s
}

// Validate answers "is this session valid, and whose is it?" for a request
// from client (its address rate-limits lookups; address and user agent go
// with the activity, for new-device detection). It returns
// ErrUnauthenticated, ErrUserInactive, ErrUnavailable or ErrRateLimited, and
// records the activity (batched) on success.
func (s *Service) Validate(ctx context.Context, t Token, client Client) (Restored, error) {
	now := s.now()
	r, err := s.restoreAt(ctx, t.Hash(), client.IP, now)
	if err != nil {
		return Restored{}, err
	}
	s.activity.Touch(r.Session.ID, now, client)
	return r, nil
}

func (s *Service) trusted() bool { return s.trust == nil || s.trust.Trusted() }

func (s *Service) restore(ctx context.Context, h Hash, client string) (Restored, error) {
	return s.restoreAt(ctx, h, client, s.now())
}

// restoreAt answers from the in-process cache when it may, else from one
// coalesced lookup (see lookup), and checks the answer.
func (s *Service) restoreAt(ctx context.Context, h Hash, client string, now time.Time) (Restored, error) {
	trusted := s.trusted()
	if s.local != nil && trusted {
		if r, ok := s.local.Get(h); ok && s.fresh(r, now) {
			s.obs.CacheLookup(LayerLocal, true)
			return s.check(r, now)
		}
		s.obs.CacheLookup(LayerLocal, false)
	}
	l := &lookup{h: h, epoch: s.epoch.Load(), trusted: trusted, client: client}
	v, err, _ := s.lookups.Do(l.key(), func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.storeTimeout)
		defer cancel()
		return s.lookup(lctx, l)
	})
	if err != nil {
		return Restored{}, err
	}
	return s.check(v.(Restored), now)
}

// cached reports whether a copy of h is in the in-process or the shared
// cache (one Redis read at most), while the caches are trusted.
func (s *Service) cached(ctx context.Context, h Hash) bool {
	if !s.trusted() {
		return false
	}
	if s.local != nil {
		if _, ok := s.local.Get(h); ok {
			return true
		}
	}
	_, ok, err := s.shared.Peek(ctx, h)
	return ok && err == nil
}

// check re-checks expiry, the idle timeout and the user's state on every
// answer, cached or not.
func (s *Service) check(r Restored, now time.Time) (Restored, error) {
	if !now.Before(r.Session.ExpiresAt) {
		return Restored{}, ErrUnauthenticated
	}
	if s.idleTimeout > 0 && !r.Session.IsAPIToken() && !now.Before(s.lastActive(r).Add(s.idleTimeout)) {
		return Restored{}, ErrUnauthenticated
	}
	if !r.User.IsActive {
		return Restored{}, ErrUserInactive
	}
	return r, nil
}

// usableFor is how long a copy of r may be served from a cache: until its
// expiry, and with an idle timeout until it would look idle (a copy's
// activity time ages; the store's does not).
func (s *Service) usableFor(r Restored, now time.Time) time.Duration {
	d := r.Session.ExpiresAt.Sub(now)
	if s.idleTimeout > 0 && !r.Session.IsAPIToken() {
		d = min(d, s.lastActive(r).Add(s.idleTimeout).Sub(now))
	}
	return d
}

// fresh reports whether a cached copy may answer by itself: one that looks
// expired or idle is read again from the store, which may know of a rolling
// extension or of activity since the copy was made.
func (s *Service) fresh(r Restored, now time.Time) bool { return s.usableFor(r, now) > 0 }

// lastActive is the session's latest activity known here: the stored one,
// or a newer one this replica has not written yet.
func (s *Service) lastActive(r Restored) time.Time {
	at := r.Session.LastActivityAt
	if t, ok := s.activity.LastTouched(r.Session.ID); ok && t.After(at) {
		at = t
	}
	return at
}
