package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessiongw/sessiongw/internal/postgres"
	"github.com/sessiongw/sessiongw/internal/session"
	"github.com/sessiongw/sessiongw/internal/testenv/pgtest"
)

func setup(t *testing.T) (*postgres.Store, *pgxpool.Pool) {
	t.Helper()
	return setupAt(t, pgtest.New(t))
}

// setupAt is setup on a pool opened with dsn (a pgtest URL with options).
func setupAt(t *testing.T, dsn string) (*postgres.Store, *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	pool, err := postgres.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := postgres.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	return postgres.NewStore(pool), pool
}

func newSession(t *testing.T, s *postgres.Store, userID string, expires time.Time) (session.Token, session.Session) {
	t.Helper()
	tok, _ := session.NewToken()
	now := time.Now().UTC().Truncate(time.Microsecond)
	ss, _, err := s.CreateSession(context.Background(), session.NewSession{
		Hash: tok.Hash(), ID: testenvUUID(t), UserID: userID, CreatedAt: now, ExpiresAt: expires,
		IPAddress: "192.0.2.1", UserAgent: "ua", AuthenticatedAt: now, AMR: []string{},
	}, session.Limit{})
	if err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return tok, ss
}

func testenvUUID(t *testing.T) string {
	t.Helper()
	tok, err := session.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	return tok.Reveal()
}

func TestMigrateConcurrentlyAppliesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.New(t)
	var wg sync.WaitGroup
	applied := make([]int, 5)
	errs := make([]error, 5)
	for i := range 5 {
		wg.Go(func() {
			pool, err := postgres.Connect(ctx, dsn)
			if err != nil {
				errs[i] = err
				return
			}
			defer pool.Close()
			applied[i], errs[i] = postgres.Migrate(ctx, pool)
		})
	}
	wg.Wait()
	ms, _ := postgres.Migrations()
	total := 0
	for i := range 5 {
		if errs[i] != nil {
			t.Fatalf("Migrate #%d: %v", i, errs[i])
		}
		total += applied[i]
	}
	if total != len(ms) {
		t.Errorf("migrations applied across 5 concurrent runs = %d; want %d", total, len(ms))
	}
}

func TestStoreErrors(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	ctx := context.Background()
	if _, err := s.GetUser(ctx, "999"); !errors.Is(err, session.ErrUserNotFound) {
		t.Errorf("GetUser(unknown) = %v; want ErrUserNotFound", err)
	}
	if _, err := s.DeleteUser(ctx, "999"); !errors.Is(err, session.ErrUserNotFound) {
		t.Errorf("DeleteUser(unknown) = %v; want ErrUserNotFound", err)
	}
	if _, err := s.DeleteUserSessions(ctx, "999", nil); !errors.Is(err, session.ErrUserNotFound) {
		t.Errorf("DeleteUserSessions(unknown) = %v; want ErrUserNotFound", err)
	}
	if _, err := s.Restore(ctx, session.Hash{1}); !errors.Is(err, session.ErrUnauthenticated) {
		t.Errorf("Restore(unknown) = %v; want ErrUnauthenticated", err)
	}
	if _, err := s.DeleteSessionByID(ctx, testenvUUID(t), ""); !errors.Is(err, session.ErrSessionNotFound) {
		t.Errorf("DeleteSessionByID(unknown) = %v; want ErrSessionNotFound", err)
	}
	tok, _ := session.NewToken()
	ns := session.NewSession{Hash: tok.Hash(), ID: testenvUUID(t), UserID: "999", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	if _, _, err := s.CreateSession(ctx, ns, session.Limit{}); !errors.Is(err, session.ErrUserNotFound) {
		t.Errorf("CreateSession(unknown user) = %v; want ErrUserNotFound", err)
	}
	if _, _, _, err := s.UpsertUser(ctx, session.User{ID: "5", Username: "u", IsActive: false, Roles: []string{}}); err != nil {
		t.Fatal(err)
	}
	ns.UserID = "5"
	if _, _, err := s.CreateSession(ctx, ns, session.Limit{}); !errors.Is(err, session.ErrConflict) {
		t.Errorf("CreateSession(inactive user) = %v; want ErrConflict", err)
	}
	if _, _, _, err := s.UpsertUser(ctx, session.User{ID: "5", Username: "u", IsActive: true, Roles: []string{}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateSession(ctx, ns, session.Limit{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateSession(ctx, ns, session.Limit{}); !errors.Is(err, session.ErrConflict) {
		t.Errorf("CreateSession(duplicate) = %v; want ErrConflict", err)
	}
}

func TestUnreachableDatabaseIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Port 1 on loopback refuses connections.
	_, err := postgres.Connect(ctx, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2")
	if !errors.Is(err, session.ErrUnavailable) {
		t.Errorf("Connect(refused) = %v; want ErrUnavailable", err)
	}
	s, pool := setup(t)
	pool.Close()
	if _, err := s.Restore(ctx, session.Hash{1}); err == nil || errors.Is(err, session.ErrUnauthenticated) {
		t.Errorf("Restore on a closed pool = %v; want an error that is not ErrUnauthenticated", err)
	}
}

func TestUpsertReturnsSessionHashesAndCreated(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	ctx := context.Background()
	u, created, hs, err := s.UpsertUser(ctx, session.User{ID: "7", Username: "bob", Email: "b@x", IsActive: true, Roles: []string{"a"}})
	if err != nil || !created || len(hs) != 0 || u.Username != "bob" {
		t.Fatalf("UpsertUser(new) = %+v, %v, %v, %v", u, created, hs, err)
	}
	tok, _ := newSession(t, s, "7", time.Now().Add(time.Hour))
	_, created, hs, err = s.UpsertUser(ctx, session.User{ID: "7", Username: "bobby", IsActive: false, Roles: []string{}})
	if err != nil || created || len(hs) != 1 || hs[0] != tok.Hash() {
		t.Fatalf("UpsertUser(update) = created %v, hashes %v, %v; want false and the session's hash", created, hs, err)
	}
	r, err := s.Restore(ctx, tok.Hash())
	if err != nil || r.User.Username != "bobby" || r.User.IsActive {
		t.Errorf("Restore after update = %+v, %v", r.User, err)
	}
}

func TestDeleteUserSessionsExcept(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	ctx := context.Background()
	if _, _, _, err := s.UpsertUser(ctx, session.User{ID: "1", Username: "a", IsActive: true, Roles: []string{}}); err != nil {
		t.Fatal(err)
	}
	keep, _ := newSession(t, s, "1", time.Now().Add(time.Hour))
	newSession(t, s, "1", time.Now().Add(time.Hour))
	newSession(t, s, "1", time.Now().Add(time.Hour))
	hs, err := s.DeleteUserSessions(ctx, "1", new(keep.Hash()))
	if err != nil || len(hs) != 2 {
		t.Fatalf("DeleteUserSessions = %d hashes, %v; want 2", len(hs), err)
	}
	if _, err := s.Restore(ctx, keep.Hash()); err != nil {
		t.Errorf("kept session: %v", err)
	}
}

func TestTouchAndDeleteExpired(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	ctx := context.Background()
	if _, _, _, err := s.UpsertUser(ctx, session.User{ID: "1", Username: "a", IsActive: true, Roles: []string{}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	live, ls := newSession(t, s, "1", now.Add(time.Hour))
	for range 3 {
		newSession(t, s, "1", now.Add(-time.Second))
	}
	later := now.Add(10 * time.Minute)
	if err := s.TouchSessions(ctx, []session.Touch{{SessionID: ls.ID, At: later}}); err != nil {
		t.Fatal(err)
	}
	// An older touch never moves activity backwards.
	if err := s.TouchSessions(ctx, []session.Touch{{SessionID: ls.ID, At: now}}); err != nil {
		t.Fatal(err)
	}
	r, _ := s.Restore(ctx, live.Hash())
	if !r.Session.LastActivityAt.Equal(later) {
		t.Errorf("last_activity_at = %v; want %v", r.Session.LastActivityAt, later)
	}
	list, _ := s.ListSessions(ctx, "1", now)
	if len(list) != 1 {
		t.Errorf("ListSessions = %d; want only the live one", len(list))
	}
	hs, err := s.DeleteExpired(ctx, now, 2)
	if err != nil || len(hs) != 2 {
		t.Fatalf("DeleteExpired(limit 2) = %d, %v; want 2", len(hs), err)
	}
	hs, _ = s.DeleteExpired(ctx, now, 100)
	if len(hs) != 1 {
		t.Errorf("second DeleteExpired = %d; want 1", len(hs))
	}
	if _, err := s.Restore(ctx, live.Hash()); err != nil {
		t.Errorf("live session deleted: %v", err)
	}
}

// Restore scans into pooled rows: every answer must be its session's own,
// whichever sessions were restored before it or beside it (a user with
// roles and one without, a session with methods and one without).
func TestRestoreAnswersAreTheirOwn(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	ctx := context.Background()
	users := []session.User{
		{ID: "1", Username: "alice", Email: "a@example.com", IsActive: true, Roles: []string{"admin", "ops"}},
		{ID: "2", Username: "bob", IsActive: true, Roles: []string{}},
	}
	amrs := [][]string{{"pwd", "otp"}, {}}
	var (
		toks []session.Token
		want []session.Restored
	)
	for i, u := range users {
		if _, _, _, err := s.UpsertUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		tok, _ := session.NewToken()
		now := time.Now().UTC().Truncate(time.Microsecond)
		ss, _, err := s.CreateSession(ctx, session.NewSession{
			Hash: tok.Hash(), ID: testenvUUID(t), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour),
			IPAddress: fmt.Sprintf("192.0.2.%d", i+1), UserAgent: "ua-" + u.Username, AuthenticatedAt: now.Add(-time.Minute), AMR: amrs[i],
		}, session.Limit{})
		if err != nil {
			t.Fatal(err)
		}
		toks, want = append(toks, tok), append(want, session.Restored{Session: ss, User: u})
	}
	same := func(i int, r session.Restored, err error) error {
		if err != nil || !reflect.DeepEqual(r, want[i]) {
			return fmt.Errorf("Restore(session %d) = %+v, %v; want %+v", i, r, err, want[i])
		}
		return nil
	}
	// In turn, keeping every answer: a later scan changes no earlier one.
	var got []session.Restored
	for k := range 6 {
		r, err := s.Restore(ctx, toks[k%2].Hash())
		if err := same(k%2, r, err); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if _, err := s.Restore(ctx, session.Hash{9}); !errors.Is(err, session.ErrUnauthenticated) {
		t.Fatalf("Restore(unknown) = %v; want ErrUnauthenticated", err)
	}
	for k, r := range got {
		if err := same(k%2, r, nil); err != nil {
			t.Errorf("answer %d changed afterwards: %v", k, err)
		}
	}
	// Side by side.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for k := range 50 {
				i := (g + k) % 2
				r, err := s.Restore(ctx, toks[i].Hash())
				if err := same(i, r, err); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
