package session_test

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/sessiongw/sessiongw/internal/session"
)

// In-memory fakes of the Service's collaborators, for tests of the domain
// alone (no Postgres, no Redis). They keep just enough state to answer as
// the real adapters do; what SQL, Lua and TTLs do is tested against the
// real servers in the adapters' own packages.

// clock is the injected time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// memStore is the source of truth.
type memStore struct {
	mu       sync.Mutex
	users    map[string]session.User
	sessions map[session.Hash]session.Session
	oidc     map[session.Hash]session.OIDCRef
	jtis     map[string]bool
	restores int           // Restore calls
	down     bool          // every call fails with ErrUnavailable
	block    chan struct{} // when set, Restore waits for it
	// beforeDelete, when set, sees each batch of logouts before it is
	// written (and may hold it there).
	beforeDelete func([]session.Logout)
}

func newMemStore() *memStore {
	return &memStore{users: map[string]session.User{}, sessions: map[session.Hash]session.Session{},
		oidc: map[session.Hash]session.OIDCRef{}, jtis: map[string]bool{}}
}

func (m *memStore) RevokeOIDC(_ context.Context, l session.IdPLogout) ([]session.Hash, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.unavailable(); err != nil {
		return nil, err
	}
	key := l.Ref.Issuer + " " + l.TokenID
	if m.jtis[key] {
		return nil, session.ErrLogoutReplayed
	}
	m.jtis[key] = true
	var hs []session.Hash
	for h, r := range m.oidc {
		if r.Issuer != l.Ref.Issuer {
			continue
		}
		if (l.Ref.SessionID != "" && r.SessionID == l.Ref.SessionID && (l.Ref.Subject == "" || r.Subject == l.Ref.Subject)) ||
			(l.Ref.SessionID == "" && r.Subject == l.Ref.Subject) {
			hs = append(hs, h)
			delete(m.sessions, h)
			delete(m.oidc, h)
		}
	}
	return hs, nil
}

var errDown = errors.New("memstore: down")

func (m *memStore) unavailable() error {
	if m.down {
		return errors.Join(session.ErrUnavailable, errDown)
	}
	return nil
}

func (m *memStore) setDown(down bool) {
	m.mu.Lock()
	m.down = down
	m.mu.Unlock()
}

func (m *memStore) restoreCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.restores
}

func (m *memStore) hashesOf(userID string, except *session.Hash) []session.Hash {
	var hs []session.Hash
	for h, s := range m.sessions {
		if s.UserID == userID && (except == nil || h != *except) {
			hs = append(hs, h)
		}
	}
	sort.Slice(hs, func(i, j int) bool { return string(hs[i][:]) < string(hs[j][:]) })
	return hs
}

func (m *memStore) UpsertUser(_ context.Context, u session.User) (session.User, bool, []session.Hash, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.unavailable(); err != nil {
		return session.User{}, false, nil, err
	}
	_, existed := m.users[u.ID]
	m.users[u.ID] = u
	if !existed {
		return u, true, nil, nil
	}
	return u, false, m.hashesOf(u.ID, nil), nil
}

func (m *memStore) GetUser(_ context.Context, id string) (session.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.unavailable(); err != nil {
		return session.User{}, err
	}
	u, ok := m.users[id]
	if !ok {
		return session.User{}, session.ErrUserNotFound
	}
	return u, nil
}

func (m *memStore) DeleteUser(_ context.Context, id string) ([]session.Hash, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[id]; !ok {
		return nil, session.ErrUserNotFound
	}
	hs := m.hashesOf(id, nil)
	for _, h := range hs {
		delete(m.sessions, h)
	}
	delete(m.users, id)
	return hs, nil
}

func (m *memStore) CreateSession(_ context.Context, n session.NewSession, limit session.Limit) (session.Session, []session.Evicted, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.unavailable(); err != nil {
		return session.Session{}, nil, err
	}
	u, ok := m.users[n.UserID]
	if !ok {
		return session.Session{}, nil, session.ErrUserNotFound
	}
	if !u.IsActive {
		return session.Session{}, nil, &session.ConflictError{Reason: "user " + n.UserID + " is inactive"}
	}
	if n.Kind == "" {
		n.Kind = session.KindSession
	}
	var evicted []session.Evicted
	if max := limit.For(u.MaxSessions); max > 0 && n.Kind == session.KindSession {
		var active []session.Hash
		for h, s := range m.sessions {
			if s.UserID == n.UserID && s.Kind == session.KindSession && s.ExpiresAt.After(n.CreatedAt) {
				active = append(active, h)
			}
		}
		if len(active) >= max {
			if limit.Policy == session.PolicyRefuse {
				return session.Session{}, nil, session.ErrSessionLimit
			}
			sort.Slice(active, func(i, j int) bool {
				a, b := m.sessions[active[i]], m.sessions[active[j]]
				if limit.Policy == session.PolicyEvictIdlest && !a.LastActivityAt.Equal(b.LastActivityAt) {
					return a.LastActivityAt.Before(b.LastActivityAt)
				}
				return a.CreatedAt.Before(b.CreatedAt)
			})
			for _, h := range active[:len(active)-max+1] {
				evicted = append(evicted, session.Evicted{Hash: h, ID: m.sessions[h].ID})
				delete(m.sessions, h)
			}
		}
	}
	s := session.Session{ID: n.ID, UserID: n.UserID, CreatedAt: n.CreatedAt, ExpiresAt: n.ExpiresAt, LastActivityAt: n.CreatedAt,
		IPAddress: n.IPAddress, UserAgent: n.UserAgent, RememberMe: n.RememberMe, AuthenticatedAt: n.AuthenticatedAt, AMR: n.AMR,
		Kind: n.Kind, TokenName: n.Name}
	m.sessions[n.Hash] = s
	if n.OIDC != nil {
		m.oidc[n.Hash] = *n.OIDC
	}
	return s, evicted, nil
}

func (m *memStore) RotateSession(_ context.Context, id string, old *session.Hash, next session.Hash) (session.Session, session.Hash, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for h, s := range m.sessions {
		if s.ID == id && s.Kind == session.KindSession && (old == nil || *old == h) {
			delete(m.sessions, h)
			m.sessions[next] = s
			return s, h, nil
		}
	}
	return session.Session{}, session.Hash{}, session.ErrSessionNotFound
}

func (m *memStore) Reauthenticate(_ context.Context, id string, at time.Time, amr []string) (session.Session, session.Hash, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for h, s := range m.sessions {
		if s.ID == id && s.Kind == session.KindSession {
			s.AuthenticatedAt, s.AMR = at, amr
			m.sessions[h] = s
			return s, h, nil
		}
	}
	return session.Session{}, session.Hash{}, session.ErrSessionNotFound
}

func (m *memStore) ListAPITokens(_ context.Context, userID string, now time.Time) ([]session.APIToken, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []session.APIToken{}
	for _, s := range m.sessions {
		if s.UserID == userID && s.Kind == session.KindAPIToken && s.ExpiresAt.After(now) {
			out = append(out, session.APIToken{ID: s.ID, UserID: userID, Name: s.TokenName, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt})
		}
	}
	return out, nil
}

func (m *memStore) DeleteAPIToken(_ context.Context, id string) (session.Hash, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for h, s := range m.sessions {
		if s.ID == id && s.Kind == session.KindAPIToken {
			delete(m.sessions, h)
			return h, nil
		}
	}
	return session.Hash{}, session.ErrTokenNotFound
}

func (m *memStore) Restore(ctx context.Context, h session.Hash) (session.Restored, error) {
	m.mu.Lock()
	block := m.block
	m.restores++
	m.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return session.Restored{}, session.ErrUnavailable
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.unavailable(); err != nil {
		return session.Restored{}, err
	}
	s, ok := m.sessions[h]
	if !ok {
		return session.Restored{}, session.ErrUnauthenticated
	}
	u := m.users[s.UserID]
	u.Roles = slices.Clone(u.Roles)
	return session.Restored{Session: s, User: u}, nil
}

func (m *memStore) DeleteSessions(_ context.Context, ls []session.Logout) (session.LoggedOut, error) {
	if m.beforeDelete != nil {
		m.beforeDelete(ls)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.unavailable(); err != nil {
		return session.LoggedOut{}, err
	}
	out := session.LoggedOut{Found: make([]bool, len(ls))}
	deleted := map[session.Hash]bool{}
	for i, l := range ls {
		if _, ok := m.sessions[l.Hash]; ok {
			deleted[l.Hash] = true
			delete(m.sessions, l.Hash)
		}
		out.Found[i] = deleted[l.Hash]
	}
	return out, nil
}

func (m *memStore) DeleteSessionByID(_ context.Context, id string, userID string) (session.Hash, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for h, s := range m.sessions {
		if s.ID == id && (userID == "" || s.UserID == userID) {
			delete(m.sessions, h)
			return h, nil
		}
	}
	return session.Hash{}, session.ErrSessionNotFound
}

func (m *memStore) DeleteUserSessions(_ context.Context, userID string, except *session.Hash) ([]session.Hash, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[userID]; !ok {
		return nil, session.ErrUserNotFound
	}
	hs := m.hashesOf(userID, except)
	for _, h := range hs {
		delete(m.sessions, h)
	}
	return hs, nil
}

func (m *memStore) ListSessions(_ context.Context, userID string, now time.Time) ([]session.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []session.Session{}
	for _, s := range m.sessions {
		if s.UserID == userID && s.ExpiresAt.After(now) {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out, nil
}

func (m *memStore) RecordActivity(_ context.Context, h session.Hash, at time.Time, ip, ua string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[h]
	if !ok {
		return session.ErrUnauthenticated
	}
	if at.After(s.LastActivityAt) {
		s.LastActivityAt = at
	}
	s.IPAddress, s.UserAgent = ip, ua
	m.sessions[h] = s
	return nil
}

func (m *memStore) DeleteExpired(_ context.Context, now time.Time, limit int) ([]session.Hash, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var hs []session.Hash
	for h, s := range m.sessions {
		if len(hs) < limit && !s.ExpiresAt.After(now) {
			hs = append(hs, h)
		}
	}
	for _, h := range hs {
		delete(m.sessions, h)
	}
	return hs, nil
}

func (m *memStore) AcknowledgeNewDevice(_ context.Context, h session.Hash) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.sessions[h]
	s.NewDevice = false
	m.sessions[h] = s
	return nil
}

func (m *memStore) PruneDevices(context.Context, time.Time) (int, error) { return 0, nil }

func (m *memStore) SessionStats(_ context.Context, userID string, now time.Time) (session.Stats, error) {
	list, _ := m.ListSessions(context.Background(), userID, now)
	return session.Stats{ActiveSessions: len(list)}, nil
}

// memShared is the shared cache with leased fills, as the Redis adapter
// behaves: Get takes a lease on a miss unless one is held; Fill installs
// only under its lease; Delete drops entry and lease.
type memShared struct {
	mu      sync.Mutex
	now     func() time.Time
	entries map[session.Hash]sharedEntry
	leases  map[session.Hash]session.Lease
	seq     int
	fail    bool // every call fails (Redis unreachable)
	peeks   int
}

type sharedEntry struct {
	r       session.Restored
	expires time.Time
}

func newMemShared(now func() time.Time) *memShared {
	return &memShared{now: now, entries: map[session.Hash]sharedEntry{}, leases: map[session.Hash]session.Lease{}}
}

var errRedisDown = errors.New("memshared: unreachable")

func (m *memShared) get(h session.Hash) (session.Restored, bool) {
	e, ok := m.entries[h]
	if !ok || !m.now().Before(e.expires) {
		return session.Restored{}, false
	}
	return e.r, true
}

func (m *memShared) has(h session.Hash) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.get(h)
	return ok
}

func (m *memShared) Peek(_ context.Context, h session.Hash) (session.Restored, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.peeks++
	if m.fail {
		return session.Restored{}, false, errRedisDown
	}
	r, ok := m.get(h)
	return r, ok, nil
}

func (m *memShared) Get(_ context.Context, h session.Hash) (session.Restored, bool, session.Lease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return session.Restored{}, false, "", errRedisDown
	}
	if r, ok := m.get(h); ok {
		return r, true, "", nil
	}
	if _, held := m.leases[h]; held {
		return session.Restored{}, false, "", nil
	}
	m.seq++
	l := session.Lease("lease-" + strconv.Itoa(m.seq))
	m.leases[h] = l
	return session.Restored{}, false, l, nil
}

func (m *memShared) Fill(_ context.Context, h session.Hash, l session.Lease, r session.Restored, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return false, errRedisDown
	}
	if m.leases[h] != l || l == "" {
		return false, nil
	}
	delete(m.leases, h)
	m.entries[h] = sharedEntry{r: r, expires: m.now().Add(ttl)}
	return true, nil
}

func (m *memShared) Delete(_ context.Context, hs []session.Hash) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errRedisDown
	}
	for _, h := range hs {
		delete(m.entries, h)
		delete(m.leases, h)
	}
	return nil
}

func (m *memShared) DeleteAll(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries = map[session.Hash]sharedEntry{}
	m.leases = map[session.Hash]session.Lease{}
	return nil
}

// memLocal is an in-process cache with per-entry expiry on the clock.
type memLocal struct {
	mu      sync.Mutex
	now     func() time.Time
	entries map[session.Hash]sharedEntry
}

func newMemLocal(now func() time.Time) *memLocal {
	return &memLocal{now: now, entries: map[session.Hash]sharedEntry{}}
}

func (m *memLocal) Get(h session.Hash) (session.Restored, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[h]
	if !ok || !m.now().Before(e.expires) {
		return session.Restored{}, false
	}
	return e.r, true
}

func (m *memLocal) has(h session.Hash) bool { _, ok := m.Get(h); return ok }

func (m *memLocal) Set(h session.Hash, r session.Restored, ttl time.Duration) {
	m.mu.Lock()
	m.entries[h] = sharedEntry{r: r, expires: m.now().Add(ttl)}
	m.mu.Unlock()
}

func (m *memLocal) Delete(hs []session.Hash) {
	m.mu.Lock()
	for _, h := range hs {
		delete(m.entries, h)
	}
	m.mu.Unlock()
}

func (m *memLocal) Clear() {
	m.mu.Lock()
	m.entries = map[session.Hash]sharedEntry{}
	m.mu.Unlock()
}

// bus is the invalidation channel between the Services of one test: a
// publish reaches every other member at once (as an acked publish has
// returned only once every live replica dropped its copy).
type bus struct {
	mu        sync.Mutex
	members   []*session.Service
	published [][]session.Hash
	fail      bool
}

type busPublisher struct {
	b    *bus
	self **session.Service
}

func (p busPublisher) Publish(_ context.Context, hs []session.Hash) error {
	p.b.mu.Lock()
	if p.b.fail {
		p.b.mu.Unlock()
		return errRedisDown
	}
	p.b.published = append(p.b.published, slices.Clone(hs))
	members := slices.Clone(p.b.members)
	p.b.mu.Unlock()
	for _, m := range members {
		if m != *p.self {
			m.HandleInvalidation(hs)
		}
	}
	return nil
}

func (p busPublisher) PublishAll(context.Context) error {
	p.b.mu.Lock()
	members := slices.Clone(p.b.members)
	p.b.mu.Unlock()
	for _, m := range members {
		if m != *p.self {
			m.HandleFlush()
		}
	}
	return nil
}

func (b *bus) publishedHashes() []session.Hash {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []session.Hash
	for _, hs := range b.published {
		out = append(out, hs...)
	}
	return out
}

// limiter is a per-client budget of failed lookups.
type limiter struct {
	mu     sync.Mutex
	budget int
	failed map[string]int
}

func newLimiter(budget int) *limiter { return &limiter{budget: budget, failed: map[string]int{}} }

func (l *limiter) Allow(client string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed[client] < l.budget
}

func (l *limiter) Failed(client string) {
	l.mu.Lock()
	l.failed[client]++
	l.mu.Unlock()
}

func (l *limiter) spent(client string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed[client]
}

// trust is a switch for the replica's trust in its caches.
type trust struct {
	mu sync.Mutex
	ok bool
}

func (t *trust) Trusted() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ok
}

func (t *trust) set(ok bool) {
	t.mu.Lock()
	t.ok = ok
	t.mu.Unlock()
}

// activity records touches and answers LastTouched from them.
type activity struct {
	mu      sync.Mutex
	touched map[string]time.Time
	n       int
}

func (a *activity) Touch(id string, at time.Time, _ session.Client) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.touched == nil {
		a.touched = map[string]time.Time{}
	}
	a.n++
	if at.After(a.touched[id]) {
		a.touched[id] = at
	}
}

func (a *activity) LastTouched(id string) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.touched[id]
	return t, ok
}
