package session

import (
	"context"
	"time"
)

// Store is the source of truth (Postgres). Methods return the sentinel
// errors named on them, ErrUnavailable (wrapped) when the store cannot be
// reached, and other errors for bugs.
type Store interface {
	// UpsertUser creates or replaces a user. It returns the stored user,
	// whether it was created, and the hashes of the user's sessions (whose
	// cached copies are now stale).
	UpsertUser(ctx context.Context, u User) (User, bool, []Hash, error)
	// GetUser returns ErrUserNotFound for an unknown id.
	GetUser(ctx context.Context, id int64) (User, error)
	// DeleteUser deletes the user and their sessions, returning the hashes
	// of the deleted sessions; ErrUserNotFound for an unknown id.
	DeleteUser(ctx context.Context, id int64) ([]Hash, error)
	// CreateSession inserts a session. ErrUserNotFound for an unknown user,
	// ErrConflict for an inactive one.
	CreateSession(ctx context.Context, s NewSession) (Session, error)
	// Restore returns the session with its user, expired or not;
	// ErrUnauthenticated when no session has that hash.
	Restore(ctx context.Context, h Hash) (Restored, error)
	// DeleteSession deletes a session by hash, reporting whether it existed.
	DeleteSession(ctx context.Context, h Hash) (bool, error)
	// DeleteSessionByID deletes a session by public id, restricted to
	// userID when it is non-zero; ErrSessionNotFound when none matched.
	DeleteSessionByID(ctx context.Context, id string, userID int64) (Hash, error)
	// DeleteUserSessions deletes every session of the user except the one
	// with hash except (when non-nil) and returns the deleted hashes;
	// ErrUserNotFound for an unknown user.
	DeleteUserSessions(ctx context.Context, userID int64, except *Hash) ([]Hash, error)
	// ListSessions returns the user's sessions that expire after now,
	// newest first.
	ListSessions(ctx context.Context, userID int64, now time.Time) ([]Session, error)
	// RecordActivity sets last activity, address and user agent of a
	// session; ErrUnauthenticated when it no longer exists.
	RecordActivity(ctx context.Context, h Hash, at time.Time, ip, userAgent string) error
	// DeleteExpired deletes up to limit sessions that expired at or before
	// now and returns their hashes.
	DeleteExpired(ctx context.Context, now time.Time, limit int) ([]Hash, error)
}

// SharedCache is the cache shared by every replica (Redis). A miss is
// (Restored{}, false, nil); an error means the cache could not answer.
type SharedCache interface {
	Get(ctx context.Context, h Hash) (Restored, bool, error)
	Set(ctx context.Context, h Hash, r Restored, ttl time.Duration) error
	Delete(ctx context.Context, hs []Hash) error
}

// LocalCache is the small in-process cache in front of the shared one.
type LocalCache interface {
	Get(h Hash) (Restored, bool)
	Set(h Hash, r Restored, ttl time.Duration)
	Delete(hs []Hash)
	Clear()
}

// Publisher tells every replica to drop its in-process copies.
type Publisher interface {
	Publish(ctx context.Context, hs []Hash) error
}

// ActivitySink receives per-request activity, to be written in batches.
type ActivitySink interface {
	Touch(sessionID string, at time.Time)
}

// Observer counts what the Service does (metrics). Methods must be cheap.
type Observer interface {
	CacheLookup(layer string, hit bool)
	StoreLookup()
	InvalidationsPublished(n int)
	InvalidationsReceived(n int)
	SubscriptionReset()
}

// Cache layer names passed to Observer.CacheLookup.
const (
	LayerLocal  = "local"
	LayerShared = "redis"
)

// NopObserver discards observations.
type NopObserver struct{}

func (NopObserver) CacheLookup(string, bool)   {}
func (NopObserver) StoreLookup()               {}
func (NopObserver) InvalidationsPublished(int) {}
func (NopObserver) InvalidationsReceived(int)  {}
func (NopObserver) SubscriptionReset()         {}

type nopActivity struct{}

func (nopActivity) Touch(string, time.Time) {}
