package session_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/session"
)

// world is one deployment: the store, the shared cache and the bus that
// its replicas share, and the clock.
type world struct {
	clk    *clock
	store  *memStore
	shared *memShared
	bus    *bus
}

// replica is one Service of the world with its own in-process caches.
type replica struct {
	svc      *session.Service
	local    *memLocal
	grace    *memLocal
	trust    *trust
	activity *activity
	limiter  *limiter
}

func setup(t *testing.T, mods ...func(*session.Options)) (*world, *replica) {
	t.Helper()
	clk := newClock()
	w := &world{clk: clk, store: newMemStore(), shared: newMemShared(clk.Now), bus: &bus{}}
	w.store.users["1"] = session.User{ID: "1", Username: "alice", Email: "a@example.com", IsActive: true, Roles: []string{"admin"}}
	w.store.users["2"] = session.User{ID: "2", Username: "bob", IsActive: true, Roles: []string{}}
	return w, w.replica(t, mods...)
}

// replica adds a Service to the world, configured as the gateway does
// (with mods applied last).
func (w *world) replica(t *testing.T, mods ...func(*session.Options)) *replica {
	t.Helper()
	r := &replica{local: newMemLocal(w.clk.Now), grace: newMemLocal(w.clk.Now), trust: &trust{ok: true}, activity: &activity{}, limiter: newLimiter(1000)}
	var self *session.Service
	o := session.Options{
		Store: w.store, Shared: w.shared, Local: r.local, Bus: busPublisher{b: w.bus, self: &self},
		Trust: r.trust, Activity: r.activity, Limiter: r.limiter, Now: w.clk.Now,
		SessionTTL: 24 * time.Hour, RememberMeTTL: 30 * 24 * time.Hour,
		CacheTTL: 5 * time.Minute, LocalCacheTTL: 5 * time.Second, InvalidationWait: 10 * time.Millisecond,
	}
	for _, m := range mods {
		m(&o)
	}
	if o.Grace != nil {
		o.Grace = r.grace
	}
	r.svc = session.NewService(o)
	self = r.svc
	w.bus.mu.Lock()
	w.bus.members = append(w.bus.members, r.svc)
	w.bus.mu.Unlock()
	return r
}

func withGrace(d time.Duration) func(*session.Options) {
	return func(o *session.Options) { o.Grace, o.OutageGrace = newMemLocal(time.Now), d }
}

// login creates a session for user and returns its token.
func login(t *testing.T, r *replica, userID string, rememberMe bool) session.Token {
	t.Helper()
	c, err := r.svc.CreateSession(context.Background(), session.CreateParams{UserID: userID, RememberMe: rememberMe})
	if err != nil {
		t.Fatalf("CreateSession(%s) = %v", userID, err)
	}
	return c.Token
}

func validate(r *replica, tok session.Token) (session.Restored, error) {
	return r.svc.Validate(context.Background(), tok, session.Client{IP: "192.0.2.1", UserAgent: "test"})
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v; want %v", what, err, want)
	}
}

func TestValidateOrder(t *testing.T) {
	t.Parallel()
	w, r := setup(t)
	tok := login(t, r, "1", false)
	h := tok.Hash()

	// Caches empty: the store answers, and both caches are filled.
	got, err := validate(r, tok)
	if err != nil || got.User.Username != "alice" {
		t.Fatalf("first Validate = %+v, %v", got.User, err)
	}
	if n := w.store.restoreCount(); n != 1 {
		t.Errorf("store reads after a cold validation = %d; want 1", n)
	}
	if !w.shared.has(h) || !r.local.has(h) {
		t.Errorf("after a store read: shared cached %v, local cached %v; want both", w.shared.has(h), r.local.has(h))
	}

	// In process: neither the shared cache nor the store is asked.
	peeks := w.shared.peeks
	if _, err := validate(r, tok); err != nil {
		t.Fatal(err)
	}
	if w.shared.peeks != peeks || w.store.restoreCount() != 1 {
		t.Errorf("an in-process hit asked the shared cache (%d peeks) or the store (%d reads)", w.shared.peeks-peeks, w.store.restoreCount())
	}

	// Another replica: the shared cache answers and fills its local copy.
	r2 := w.replica(t)
	if _, err := validate(r2, tok); err != nil {
		t.Fatal(err)
	}
	if w.store.restoreCount() != 1 || !r2.local.has(h) {
		t.Errorf("a shared hit read the store (%d reads) or did not fill the local cache (%v)", w.store.restoreCount(), r2.local.has(h))
	}

	// Unknown token: the store says no, and nothing is cached.
	unknown, _ := session.NewToken()
	_, err = validate(r, unknown)
	wantErr(t, "unknown token", err, session.ErrUnauthenticated)
	if w.shared.has(unknown.Hash()) || r.local.has(unknown.Hash()) {
		t.Error("an unknown token was cached")
	}
	if r.activity.n != 2 || r2.activity.n != 1 {
		t.Errorf("activity touches = %d and %d; want 2 and 1 (one per successful validation)", r.activity.n, r2.activity.n)
	}
}

func TestValidateExpiry(t *testing.T) {
	t.Parallel()
	w, r := setup(t)
	short := login(t, r, "1", false)
	long := login(t, r, "1", true)
	for _, tok := range []session.Token{short, long} {
		if _, err := validate(r, tok); err != nil {
			t.Fatal(err)
		}
	}
	w.clk.Advance(24*time.Hour - time.Second)
	if _, err := validate(r, short); err != nil {
		t.Errorf("a second before expiry: %v", err)
	}
	w.clk.Advance(time.Second)
	_, err := validate(r, short)
	wantErr(t, "at expiry (24h)", err, session.ErrUnauthenticated)
	if _, err := validate(r, long); err != nil {
		t.Errorf("remember-me session at 24h: %v", err)
	}
	w.clk.Advance(29 * 24 * time.Hour)
	_, err = validate(r, long)
	wantErr(t, "remember-me at 30d", err, session.ErrUnauthenticated)
}

func TestValidateIdleTimeout(t *testing.T) {
	t.Parallel()
	w, r := setup(t, func(o *session.Options) { o.IdleTimeout = 15 * time.Minute })
	busy := login(t, r, "1", false)
	idle := login(t, r, "1", false)
	w.clk.Advance(10 * time.Minute)
	if _, err := validate(r, busy); err != nil { // recorded as activity at +10m
		t.Fatal(err)
	}
	w.clk.Advance(5 * time.Minute)
	_, err := validate(r, idle)
	wantErr(t, "no activity for 15m", err, session.ErrUnauthenticated)
	if _, err := validate(r, busy); err != nil {
		t.Errorf("active 5m ago (not yet written to the store): %v", err)
	}
	// Another replica has not seen the activity, and the store has not
	// had it written: it judges by the stored time.
	r2 := w.replica(t, func(o *session.Options) { o.IdleTimeout = 15 * time.Minute })
	w.clk.Advance(10 * time.Minute)
	_, err = validate(r2, busy)
	wantErr(t, "idle as far as the store knows", err, session.ErrUnauthenticated)
	if _, err := validate(r, busy); err != nil {
		t.Errorf("the replica that saw activity 10m ago: %v", err)
	}
}

func TestRollingExtend(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := session.Rolling{On: true, TTL: 24 * time.Hour, RememberTTL: 720 * time.Hour, Absolute: 1000 * time.Hour}
	s := session.Session{CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
	rem := session.Session{CreatedAt: t0, ExpiresAt: t0.Add(720 * time.Hour), RememberMe: true}
	tests := []struct {
		name string
		p    session.Rolling
		s    session.Session
		at   time.Time
		want time.Time
	}{
		{"OK", p, s, t0.Add(2 * time.Hour), t0.Add(26 * time.Hour)},
		{"Off", session.Rolling{TTL: 24 * time.Hour, Absolute: 1000 * time.Hour}, s, t0.Add(2 * time.Hour), s.ExpiresAt},
		{"RememberMe", p, rem, t0.Add(100 * time.Hour), t0.Add(820 * time.Hour)},
		{"CappedByAbsolute", p, rem, t0.Add(500 * time.Hour), t0.Add(1000 * time.Hour)},
		{"NeverEarlier", session.Rolling{On: true, TTL: time.Hour, Absolute: 1000 * time.Hour}, s, t0.Add(time.Hour), s.ExpiresAt},
		{"ExpiredStaysExpired", p, s, t0.Add(25 * time.Hour), s.ExpiresAt},
		{"AtExpiryStaysExpired", p, s, s.ExpiresAt, s.ExpiresAt},
	}
	for _, tt := range tests {
		if got := tt.p.Extend(tt.s, tt.at); !got.Equal(tt.want) {
			t.Errorf("%s: Extend(at +%s) = +%s; want +%s", tt.name, tt.at.Sub(t0), got.Sub(t0), tt.want.Sub(t0))
		}
	}
}

// A lookup that read the store before a revoke must not put the old copy
// back in any cache (the epoch check on this replica, the lease on others).
func TestRacingFill(t *testing.T) {
	t.Parallel()
	t.Run("RevokeOnThisReplica", func(t *testing.T) {
		t.Parallel()
		var hook func(session.Hash)
		w, r := setup(t, func(o *session.Options) { o.BeforeFill = func(h session.Hash) { hook(h) } })
		tok := login(t, r, "1", false)
		hook = func(session.Hash) {
			hook = func(session.Hash) {}
			if err := r.svc.Logout(context.Background(), tok, session.Client{}); err != nil {
				t.Error(err)
			}
		}
		if _, err := validate(r, tok); err != nil {
			t.Fatalf("the lookup that raced the logout: %v (it read the store before it)", err)
		}
		if w.shared.has(tok.Hash()) || r.local.has(tok.Hash()) {
			t.Errorf("stale fill kept: shared %v, local %v", w.shared.has(tok.Hash()), r.local.has(tok.Hash()))
		}
		_, err := validate(r, tok)
		wantErr(t, "after the logout", err, session.ErrUnauthenticated)
	})
	t.Run("RevokeOnAnotherReplica", func(t *testing.T) {
		t.Parallel()
		var hook func(session.Hash)
		w, r := setup(t, func(o *session.Options) { o.BeforeFill = func(h session.Hash) { hook(h) } })
		other := w.replica(t)
		tok := login(t, r, "1", false)
		// The other replica's revoke deletes the shared entry and lease;
		// this replica hears of it only later (the bus is cut for it).
		hook = func(h session.Hash) {
			hook = func(session.Hash) {}
			w.store.mu.Lock()
			delete(w.store.sessions, h)
			w.store.mu.Unlock()
			if err := w.shared.Delete(context.Background(), []session.Hash{h}); err != nil {
				t.Error(err)
			}
		}
		if _, err := validate(r, tok); err != nil {
			t.Fatal(err)
		}
		if w.shared.has(tok.Hash()) || r.local.has(tok.Hash()) {
			t.Errorf("fill under a lost lease kept a copy: shared %v, local %v", w.shared.has(tok.Hash()), r.local.has(tok.Hash()))
		}
		_, err := validate(other, tok)
		wantErr(t, "the other replica", err, session.ErrUnauthenticated)
	})
}

func TestRevocationReachesEveryReplica(t *testing.T) {
	t.Parallel()
	w, a := setup(t)
	b := w.replica(t)
	tok := login(t, a, "1", false)
	keep := login(t, a, "1", false)
	for _, r := range []*replica{a, b} {
		for _, tk := range []session.Token{tok, keep} {
			if _, err := validate(r, tk); err != nil {
				t.Fatal(err)
			}
		}
	}
	n, err := a.svc.RevokeOthers(context.Background(), keep, session.Client{})
	if err != nil || n != 1 {
		t.Fatalf("RevokeOthers = %d, %v; want 1", n, err)
	}
	if got := w.bus.publishedHashes(); !slices.Equal(got, []session.Hash{tok.Hash()}) {
		t.Errorf("published %d hashes; want exactly the revoked session's", len(got))
	}
	for i, r := range []*replica{a, b} {
		_, err := validate(r, tok)
		wantErr(t, "revoked session on replica "+string(rune('A'+i)), err, session.ErrUnauthenticated)
		if _, err := validate(r, keep); err != nil {
			t.Errorf("kept session on replica %c: %v", 'A'+i, err)
		}
	}
	// Deactivation reaches every replica's copies too.
	if _, _, err := a.svc.UpsertUser(context.Background(), session.User{ID: "1", Username: "alice", IsActive: false}); err != nil {
		t.Fatal(err)
	}
	_, err = validate(b, keep)
	wantErr(t, "deactivated user on replica B", err, session.ErrUserInactive)
}

func TestUntrustedReplicaReadsTheStore(t *testing.T) {
	t.Parallel()
	w, r := setup(t)
	tok := login(t, r, "1", false)
	if _, err := validate(r, tok); err != nil {
		t.Fatal(err)
	}
	r.trust.set(false)
	// The session was revoked behind the replica's back (a message lost).
	w.store.mu.Lock()
	delete(w.store.sessions, tok.Hash())
	w.store.mu.Unlock()
	reads := w.store.restoreCount()
	_, err := validate(r, tok)
	wantErr(t, "untrusted, revoked meanwhile", err, session.ErrUnauthenticated)
	if w.store.restoreCount() != reads+1 {
		t.Errorf("untrusted replica answered without the store")
	}
	other := login(t, r, "2", false)
	if _, err := validate(r, other); err != nil {
		t.Fatal(err)
	}
	if w.shared.has(other.Hash()) || r.local.has(other.Hash()) {
		t.Error("an untrusted replica filled a cache")
	}
}

func TestGraceDuringStoreOutage(t *testing.T) {
	t.Parallel()
	w, r := setup(t, withGrace(time.Hour))
	confirmed := login(t, r, "1", false)
	revoked := login(t, r, "1", false)
	never := login(t, r, "2", false)
	for _, tok := range []session.Token{confirmed, revoked} {
		if _, err := validate(r, tok); err != nil {
			t.Fatal(err)
		}
	}
	r2 := w.replica(t)
	if err := r2.svc.Logout(context.Background(), revoked, session.Client{}); err != nil {
		t.Fatal(err)
	}
	// Postgres and Redis go away together; the replica stops trusting.
	w.store.setDown(true)
	w.shared.mu.Lock()
	w.shared.fail = true
	w.shared.mu.Unlock()
	r.trust.set(false)

	if _, err := validate(r, confirmed); err != nil {
		t.Errorf("confirmed within the grace: %v", err)
	}
	_, err := validate(r, never)
	wantErr(t, "never confirmed", err, session.ErrUnavailable)
	if _, err := validate(r, revoked); err == nil {
		t.Error("a session revoked before the outage was served from its grace copy")
	}
}

func TestRateLimitSpendsOnlyOnUnknownSessions(t *testing.T) {
	t.Parallel()
	w, r := setup(t)
	r.limiter.budget = 3
	valid := make([]session.Token, 5)
	for i := range valid {
		valid[i] = login(t, r, "1", false)
	}
	const client = "192.0.2.1"
	for _, tok := range valid {
		if _, err := validate(r, tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := r.limiter.spent(client); n != 0 {
		t.Errorf("valid uncached sessions spent %d of the budget; want 0", n)
	}
	for i := range 3 {
		tok, _ := session.NewToken()
		_, err := validate(r, tok)
		wantErr(t, "unknown token "+string(rune('1'+i)), err, session.ErrUnauthenticated)
	}
	reads, leases := w.store.restoreCount(), len(w.shared.leases)
	tok, _ := session.NewToken()
	_, err := validate(r, tok)
	wantErr(t, "over budget", err, session.ErrRateLimited)
	if w.store.restoreCount() != reads || len(w.shared.leases) != leases {
		t.Error("a rate-limited lookup read the store or took a lease")
	}
	// A cached valid session still answers for that client.
	if _, err := validate(r, valid[0]); err != nil {
		t.Errorf("cached session of a limited client: %v", err)
	}
}

func TestConcurrentLookupsAreCoalesced(t *testing.T) {
	t.Parallel()
	w, r := setup(t, func(o *session.Options) { o.Local = nil })
	tok := login(t, r, "1", false)
	block := make(chan struct{})
	w.store.mu.Lock()
	w.store.block = block
	w.store.mu.Unlock()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() { _, err := validate(r, tok); errs <- err })
	}
	for w.store.restoreCount() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the others join
	close(block)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := w.store.restoreCount(); n != 1 {
		t.Errorf("20 concurrent lookups of one session read the store %d times; want 1", n)
	}
}

func TestInvalidationWhenRedisIsDown(t *testing.T) {
	t.Parallel()
	w, r := setup(t)
	tok := login(t, r, "1", false)
	if _, err := validate(r, tok); err != nil {
		t.Fatal(err)
	}
	w.shared.mu.Lock()
	w.shared.fail = true
	w.shared.mu.Unlock()
	// The change commits and succeeds; our own copy goes at once.
	if err := r.svc.Logout(context.Background(), tok, session.Client{}); err != nil {
		t.Fatalf("Logout with Redis down = %v; want success (the outbox relay retries)", err)
	}
	if r.local.has(tok.Hash()) {
		t.Error("the local copy survived the logout")
	}
	r.trust.set(false)
	_, err := validate(r, tok)
	wantErr(t, "after the logout", err, session.ErrUnauthenticated)
}

func TestCreateSession(t *testing.T) {
	t.Parallel()
	w, r := setup(t)
	ctx := context.Background()
	tests := []struct {
		name string
		p    session.CreateParams
		want error
	}{
		{"OK", session.CreateParams{UserID: "1", IPAddress: "::ffff:192.0.2.9", UserAgent: "ua"}, nil},
		{"ErrInvalidUserID", session.CreateParams{UserID: ""}, session.ErrInvalid},
		{"ErrInvalidUserIDChars", session.CreateParams{UserID: "a b"}, session.ErrInvalid},
		{"ErrInvalidIP", session.CreateParams{UserID: "1", IPAddress: "not-an-ip"}, session.ErrInvalid},
		{"ErrInvalidUserAgent", session.CreateParams{UserID: "1", UserAgent: string(make([]byte, 513))}, session.ErrInvalid},
		{"ErrUserAgentNUL", session.CreateParams{UserID: "1", UserAgent: "a\x00b"}, session.ErrInvalid},
		{"ErrUserNotFound", session.CreateParams{UserID: "99"}, session.ErrUserNotFound},
	}
	for _, tt := range tests {
		c, err := r.svc.CreateSession(ctx, tt.p)
		tok, s := c.Token, c.Session
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: CreateSession = %v; want %v", tt.name, err, tt.want)
			continue
		}
		if tt.want != nil {
			continue
		}
		if _, err := session.ParseToken(tok.Reveal()); err != nil {
			t.Errorf("%s: token is not a UUID v4: %v", tt.name, err)
		}
		if s.IPAddress != "192.0.2.9" || !s.ExpiresAt.Equal(w.clk.Now().Add(24*time.Hour)) {
			t.Errorf("%s: session = %+v; want the address unmapped and a 24h expiry", tt.name, s)
		}
	}
	w.store.users["2"] = session.User{ID: "2", Username: "bob"}
	_, err := r.svc.CreateSession(ctx, session.CreateParams{UserID: "2"})
	wantErr(t, "inactive user", err, session.ErrConflict)
}

func TestFlushAndReset(t *testing.T) {
	t.Parallel()
	_, r := setup(t)
	tok := login(t, r, "1", false)
	if _, err := validate(r, tok); err != nil {
		t.Fatal(err)
	}
	r.svc.HandleInvalidation([]session.Hash{tok.Hash()})
	if r.local.has(tok.Hash()) {
		t.Error("HandleInvalidation kept the copy")
	}
	if _, err := validate(r, tok); err != nil {
		t.Fatal(err)
	}
	r.svc.HandleSubscriptionReset()
	if r.local.has(tok.Hash()) {
		t.Error("HandleSubscriptionReset kept the copy")
	}
}

func TestListAndRevokeOwn(t *testing.T) {
	t.Parallel()
	w, r := setup(t)
	ctx := context.Background()
	mine := login(t, r, "1", false)
	w.clk.Advance(time.Second)
	other := login(t, r, "1", false)
	bobs := login(t, r, "2", false)
	list, err := r.svc.ListOwn(ctx, mine, session.Client{})
	if err != nil || len(list) != 2 {
		t.Fatalf("ListOwn = %d sessions, %v; want 2", len(list), err)
	}
	current := 0
	for _, s := range list {
		if s.Current {
			current++
		}
	}
	if current != 1 || list[0].Current {
		t.Errorf("current flags: %+v; want only the older (second) session current", list)
	}
	bob, _ := validate(r, bobs)
	wantErr(t, "revoke someone else's session", r.svc.RevokeOwn(ctx, mine, session.Client{}, bob.Session.ID), session.ErrSessionNotFound)
	if err := r.svc.RevokeOwn(ctx, mine, session.Client{}, list[0].ID); err != nil {
		t.Fatal(err)
	}
	_, err = validate(r, other)
	wantErr(t, "revoked own session", err, session.ErrUnauthenticated)
}

func TestLogoutSpendsTheBudgetOnUnknownTokens(t *testing.T) {
	t.Parallel()
	_, r := setup(t)
	r.limiter.budget = 2
	ctx := context.Background()
	client := session.Client{IP: "192.0.2.1"}
	valid := login(t, r, "1", false)
	if _, err := validate(r, valid); err != nil { // cached
		t.Fatal(err)
	}
	for range 2 {
		tok, _ := session.NewToken()
		if err := r.svc.Logout(ctx, tok, client); err != nil {
			t.Fatalf("logout of an unknown token within budget = %v; want nil (idempotent)", err)
		}
	}
	tok, _ := session.NewToken()
	wantErr(t, "unknown token over budget", r.svc.Logout(ctx, tok, client), session.ErrRateLimited)
	if err := r.svc.Logout(ctx, valid, client); err != nil {
		t.Errorf("logout of a cached session over budget = %v; want nil", err)
	}
	_, err := r.svc.Validate(ctx, valid, session.Client{IP: "192.0.2.99"}) // another client: the first is over budget
	wantErr(t, "after logout", err, session.ErrUnauthenticated)
}

func TestBackchannelLogoutEndsTheNamedSessionsOnce(t *testing.T) {
	t.Parallel()
	_, r := setup(t)
	ctx := context.Background()
	for _, id := range []string{"u1", "u2"} {
		if _, _, err := r.svc.UpsertUser(ctx, session.User{ID: id, Username: id, IsActive: true}); err != nil {
			t.Fatal(err)
		}
	}
	const iss = "https://idp.example.com"
	mk := func(user, sub, sid string) session.Token {
		c, err := r.svc.CreateSession(ctx, session.CreateParams{UserID: user, OIDC: &session.OIDCRef{Issuer: iss, Subject: sub, SessionID: sid}})
		if err != nil {
			t.Fatal(err)
		}
		return c.Token
	}
	a1, a2, b := mk("u1", "alice", "sid-1"), mk("u1", "alice", "sid-2"), mk("u2", "bob", "sid-3")
	plain, err := r.svc.CreateSession(ctx, session.CreateParams{UserID: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	valid := func(tok session.Token) bool { _, err := r.svc.Validate(ctx, tok, session.Client{}); return err == nil }
	if n, err := r.svc.BackchannelLogout(ctx, session.IdPLogout{Ref: session.OIDCRef{Issuer: iss, Subject: "alice", SessionID: "sid-1"}, TokenID: "j1"}); err != nil || n != 1 {
		t.Fatalf("logout by sid = %d, %v; want 1", n, err)
	}
	if valid(a1) || !valid(a2) || !valid(b) || !valid(plain.Token) {
		t.Error("a logout by sid ended the wrong sessions")
	}
	if _, err := r.svc.BackchannelLogout(ctx, session.IdPLogout{Ref: session.OIDCRef{Issuer: iss, Subject: "alice"}, TokenID: "j1"}); !errors.Is(err, session.ErrLogoutReplayed) {
		t.Errorf("a replayed token ID: %v", err)
	}
	if n, err := r.svc.BackchannelLogout(ctx, session.IdPLogout{Ref: session.OIDCRef{Issuer: "https://other.example.com", Subject: "bob"}, TokenID: "j2"}); err != nil || n != 0 || !valid(b) {
		t.Errorf("another issuer's logout = %d, %v", n, err)
	}
	if n, err := r.svc.BackchannelLogout(ctx, session.IdPLogout{Ref: session.OIDCRef{Issuer: iss, Subject: "alice"}, TokenID: "j3"}); err != nil || n != 1 || valid(a2) || !valid(plain.Token) {
		t.Errorf("logout by subject = %d, %v", n, err)
	}
	for _, bad := range []*session.OIDCRef{{Issuer: "idp", Subject: "x"}, {Issuer: iss}, {Issuer: iss, Subject: "a\x00b"}} {
		if _, err := r.svc.CreateSession(ctx, session.CreateParams{UserID: "u1", OIDC: bad}); !errors.Is(err, session.ErrInvalid) {
			t.Errorf("CreateSession with oidc %+v: %v; want ErrInvalid", bad, err)
		}
	}
}

// Concurrent logouts on a replica share a batch (group commit): the
// logouts that arrive while a batch is written form the next one, a
// logout of a session twice in a batch finds it both times, and each
// returns only after its session is deleted and dropped by every replica.
func TestConcurrentLogoutsShareABatch(t *testing.T) {
	t.Parallel()
	w, r := setup(t)
	other := w.replica(t)
	ctx := context.Background()
	client := session.Client{IP: "192.0.2.1"}
	toks := make([]session.Token, 5)
	for i := range toks {
		toks[i] = login(t, r, "1", false)
		for _, rr := range []*replica{r, other} {
			if _, err := validate(rr, toks[i]); err != nil { // cached on both
				t.Fatal(err)
			}
		}
	}
	batches := make(chan []session.Logout, len(toks)+1)
	release := make(chan struct{})
	w.store.beforeDelete = func(ls []session.Logout) {
		batches <- ls
		<-release
	}
	errs := make(chan error, len(toks)+1)
	logout := func(tok session.Token) { errs <- r.svc.Logout(ctx, tok, client) }
	go logout(toks[0])
	first := <-batches // held in the store while the others arrive
	later := append(toks[1:], toks[1])
	for _, tok := range later {
		go logout(tok)
	}
	for session.PendingLogouts(r.svc) < len(later) {
		time.Sleep(time.Millisecond)
	}
	close(release)
	second := <-batches
	for range len(later) + 1 {
		if err := <-errs; err != nil {
			t.Errorf("logout = %v", err)
		}
	}
	if len(first) != 1 || first[0].Hash != toks[0].Hash() || len(second) != len(later) {
		t.Errorf("batches of %d and %d logouts; want 1 (the first alone) and %d (the rest together)", len(first), len(second), len(later))
	}
	if n := r.limiter.spent(client.IP); n != 0 {
		t.Errorf("%d logouts counted as finding nothing; want 0 (the repeated one found its session too)", n)
	}
	for i, tok := range toks {
		for _, rr := range []*replica{r, other} {
			if _, err := validate(rr, tok); !errors.Is(err, session.ErrUnauthenticated) {
				t.Errorf("session %d after its logout: %v; want ErrUnauthenticated on every replica", i, err)
			}
		}
	}
	if n := len(batches); n != 0 {
		t.Errorf("%d more batches; want none", n)
	}
}

// A logout whose request ends while its batch is being written answers
// unavailable (a 503, as a store call cut short would), and the logout
// still happens.
func TestLogoutOutlivesItsRequest(t *testing.T) {
	t.Parallel()
	w, r := setup(t)
	tok := login(t, r, "1", false)
	entered, release := make(chan struct{}), make(chan struct{})
	w.store.beforeDelete = func([]session.Logout) {
		close(entered)
		<-release
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- r.svc.Logout(ctx, tok, session.Client{IP: "192.0.2.1"}) }()
	<-entered
	cancel()
	wantErr(t, "logout cut short", <-errc, session.ErrUnavailable)
	close(release)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatal("the session was not deleted within 10s of its batch's release")
		}
		_, err := validate(r, tok)
		if errors.Is(err, session.ErrUnauthenticated) {
			break
		}
		if err != nil {
			t.Fatalf("validate after the logout = %v", err)
		}
		time.Sleep(time.Millisecond) // the batch is finishing
	}
}
