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
	// whether it was created, and the hashes of the user's sessions and
	// API tokens (whose cached copies are now stale). Deactivating a user
	// deletes their API tokens.
	UpsertUser(ctx context.Context, u User) (User, bool, []Hash, error)
	// GetUser returns ErrUserNotFound for an unknown id.
	GetUser(ctx context.Context, id string) (User, error)
	// DeleteUser deletes the user and their sessions, returning the hashes
	// of the deleted sessions; ErrUserNotFound for an unknown id.
	DeleteUser(ctx context.Context, id string) ([]Hash, error)
	// CreateSession inserts a session or an API token. For a session the
	// limit applies, under a lock on the user's row (so concurrent creates
	// for one user queue): when the user already has as many unexpired
	// sessions as limit.For(their override) allows, the policy evicts the
	// oldest or idlest ones (deleted and audited as session.evicted in the
	// same transaction, and returned) or refuses with ErrSessionLimit.
	// ErrUserNotFound for an unknown user, ErrConflict for an inactive one.
	CreateSession(ctx context.Context, s NewSession, limit Limit) (Session, []Evicted, error)
	// RotateSession gives the session with public id id (and, when old is
	// not nil, that token) the token hash next, keeping everything else; it
	// returns the session and the replaced hash. ErrSessionNotFound when
	// none matched.
	RotateSession(ctx context.Context, id string, old *Hash, next Hash) (Session, Hash, error)
	// Reauthenticate records that the user of session id authenticated
	// again at at, by amr. ErrSessionNotFound when there is no such session.
	Reauthenticate(ctx context.Context, id string, at time.Time, amr []string) (Session, Hash, error)
	// ListAPITokens lists the user's API tokens that expire after now;
	// ErrUserNotFound for an unknown user.
	ListAPITokens(ctx context.Context, userID string, now time.Time) ([]APIToken, error)
	// DeleteAPIToken deletes an API token by id; ErrTokenNotFound if none.
	DeleteAPIToken(ctx context.Context, id string) (Hash, error)
	// Restore returns the session with its user, expired or not;
	// ErrUnauthenticated when no session has that hash.
	Restore(ctx context.Context, h Hash) (Restored, error)
	// DeleteSessions deletes the sessions (not API tokens) of a batch of
	// logouts in one transaction, with an audit record each, reporting
	// which existed and the one outbox entry naming them, which the caller
	// propagates itself.
	DeleteSessions(ctx context.Context, ls []Logout) (LoggedOut, error)
	// DeleteSessionByID deletes a session (not an API token) by public id, restricted to
	// userID when it is not empty; ErrSessionNotFound when none matched.
	DeleteSessionByID(ctx context.Context, id string, userID string) (Hash, error)
	// DeleteUserSessions deletes every session (not API token) of the user except the one
	// with hash except (when non-nil) and returns the deleted hashes;
	// ErrUserNotFound for an unknown user.
	DeleteUserSessions(ctx context.Context, userID string, except *Hash) ([]Hash, error)
	// ListSessions returns the user's sessions (not API tokens) that expire
	// after now, newest first.
	ListSessions(ctx context.Context, userID string, now time.Time) ([]Session, error)
	// RecordActivity sets last activity, address and user agent of a
	// session; ErrUnauthenticated when it no longer exists.
	RecordActivity(ctx context.Context, h Hash, at time.Time, ip, userAgent string) error
	// DeleteExpired deletes up to limit sessions that expired at or before
	// now and returns their hashes.
	DeleteExpired(ctx context.Context, now time.Time, limit int) ([]Hash, error)
	// AcknowledgeNewDevice clears the session's new-device flag.
	AcknowledgeNewDevice(ctx context.Context, h Hash) error
	// PruneDevices forgets addresses and user agents last seen before
	// before and used by no session still active then; it returns how many.
	PruneDevices(ctx context.Context, before time.Time) (int, error)
	// RevokeOIDC records l's token ID (ErrLogoutReplayed if it is known)
	// and deletes the sessions l names (by issuer and session id, or by
	// issuer and subject when l has no session id), auditing each, in one
	// transaction; it returns the deleted hashes.
	RevokeOIDC(ctx context.Context, l IdPLogout) ([]Hash, error)
	// SessionStats summarises the user's sessions that expire after now,
	// computed by the store (no session is loaded into memory).
	SessionStats(ctx context.Context, userID string, now time.Time) (Stats, error)
}

// AuditLog is the tamper-evident record of changes. The Store appends to it
// inside the transaction of every change it makes, with the Actor carried by
// the context; these methods read the chain and append records that come
// with no change of their own.
type AuditLog interface {
	AppendAudit(ctx context.Context, e AuditEntry) error
	// AuditRecords pages through the log in sequence order.
	AuditRecords(ctx context.Context, f AuditFilter) ([]AuditRecord, error)
	// WalkAudit tells w where the stored chain starts and ends, then hands
	// it every record in sequence order until it returns false, all from
	// one snapshot; it returns the chain's bounds.
	WalkAudit(ctx context.Context, w AuditWalker) (AuditChain, error)
	// PruneAudit deletes the records written before before, after
	// appending an audit.pruned record (made by prune from the last record
	// it deletes) and moving the chain's base to that record; it returns
	// what it pruned (Records 0: nothing was old enough, nothing written).
	PruneAudit(ctx context.Context, before time.Time, prune func(through AuditHead, records int) AuditEntry) (AuditPruned, error)
}

// AuditWalker reads the chain (a ChainVerifier is one).
type AuditWalker interface {
	Start(AuditChain)
	Add(AuditRecord) bool
}

// AuditChain is where the stored chain starts and ends: Base is the last
// pruned record (seq 0 and GenesisHash when nothing was pruned), Head the
// latest record.
type AuditChain struct {
	Base AuditHead
	Head AuditHead
}

// AuditPruned says what one prune removed: the records up to and including
// Through.
type AuditPruned struct {
	Through AuditHead `json:"through"`
	Records int       `json:"records"`
}

// Stats summarises a user's active sessions. The times are nil when the
// user has no active session.
type Stats struct {
	ActiveSessions    int        `json:"active_sessions"`
	DistinctDevices   int        `json:"distinct_devices"`   // user agents
	DistinctAddresses int        `json:"distinct_addresses"` // client addresses
	OldestSessionAt   *time.Time `json:"oldest_session_at"`
	NewestSessionAt   *time.Time `json:"newest_session_at"`
	LastActivityAt    *time.Time `json:"last_activity_at"`
}

// Lease is the right to fill the shared cache after a miss; empty means
// another lookup holds it (do not fill).
type Lease string

// SharedCache is the cache shared by every replica (Redis). An error means
// the cache could not answer (the caller falls back to the store).
type SharedCache interface {
	// Peek returns the entry, if any: one plain read.
	Peek(ctx context.Context, h Hash) (Restored, bool, error)
	// Get returns the entry, or on a miss a lease for Fill.
	Get(ctx context.Context, h Hash) (Restored, bool, Lease, error)
	// Fill installs r only while lease is still held, i.e. no invalidation
	// of h happened since Get; it reports whether it did.
	Fill(ctx context.Context, h Hash, lease Lease, r Restored, ttl time.Duration) (bool, error)
	// Delete removes entries and their leases.
	Delete(ctx context.Context, hs []Hash) error
	// DeleteAll removes every entry and lease.
	DeleteAll(ctx context.Context) error
}

// Invalidation is one outbox entry: these sessions, or all (TRUNCATE).
type Invalidation struct {
	Hashes []Hash
	All    bool
}

// Deleted is what a delete did: whether it found the session, and the id
// of the outbox entry that the replica making the change propagates and
// then marks done itself (0: none; the relays propagate it).
type Deleted struct {
	Found  bool
	Outbox int64
}

// Logout is one logout of a batch: the session's hash and who asked for it
// (its audit record names them).
type Logout struct {
	Hash  Hash
	Actor Actor
}

// LoggedOut is what a batch of logouts did: Found[i] reports whether the
// i-th logout's session existed (for each of several logouts of one
// session), and Outbox is the outbox entry naming the deleted sessions,
// which the replica propagates and then marks done itself (0: none, or
// the relays propagate it).
type LoggedOut struct {
	Found  []bool
	Outbox int64
}

// Notice is one outbox notification.
type Notice struct {
	ID int64
	// Carried is what the entry names when the notification carried it
	// (nil: read the entry).
	Carried *Invalidation
	// Owned: the replica that made the change propagates it itself; the
	// relays leave it alone until it has had time to (see ClaimOutbox).
	Owned bool
}

// Outbox is the Postgres invalidation outbox, written by triggers in the
// transaction of every change.
type Outbox interface {
	// ClaimOutbox locks up to limit pending entries (skipping entries other
	// relays hold, and owned entries younger than settle: their origin
	// propagates them), calls fn, and marks them done if fn succeeds. It
	// returns how many it claimed.
	ClaimOutbox(ctx context.Context, limit int, settle time.Duration, fn func([]Invalidation) error) (int, error)
	// MarkOutboxDone marks entries done that their origin propagated.
	MarkOutboxDone(ctx context.Context, ids []int64) error
	// OutboxEntry returns one entry by id.
	OutboxEntry(ctx context.Context, id int64) (Invalidation, error)
	// OutboxBacklog counts pending entries, locked or not.
	OutboxBacklog(ctx context.Context) (int, error)
	// PurgeOutbox deletes done entries older than before.
	PurgeOutbox(ctx context.Context, before time.Time) (int, error)
	// RecentInvalidations returns the entries written within the last
	// `within` (by the store's clock), done or not.
	RecentInvalidations(ctx context.Context, within time.Duration) ([]Invalidation, error)
}

// Trust tells whether this replica currently hears every invalidation, and
// so may serve from its caches.
type Trust interface {
	Trusted() bool
}

// LocalCache is the small in-process cache in front of the shared one.
type LocalCache interface {
	Get(h Hash) (Restored, bool)
	Set(h Hash, r Restored, ttl time.Duration)
	Delete(hs []Hash)
	Clear()
}

// Publisher tells every replica to drop its in-process copies. Publish
// returns ErrNotAcknowledged when some replica did not confirm within its
// bound (it has then stopped trusting its caches).
type Publisher interface {
	Publish(ctx context.Context, hs []Hash) error
	PublishAll(ctx context.Context) error
}

// ActivitySink receives per-request activity, to be written in batches.
type ActivitySink interface {
	Touch(sessionID string, at time.Time, c Client)
	// LastTouched returns the latest activity of the session this replica
	// has seen but may not have written yet (for the idle timeout).
	LastTouched(sessionID string) (time.Time, bool)
}

// Observer counts what the Service does (metrics). Methods must be cheap.
type Observer interface {
	CacheLookup(layer string, hit bool)
	StoreLookup()
	InvalidationsPublished(n int)
	InvalidationsReceived(n int)
	SubscriptionReset()
	FillRefused()
	OutboxRelayed(n int)
	// OutboxNotified: a Postgres notification of an outbox entry was
	// handled, reading the entry (read) or failing to and flushing the
	// in-process caches to be safe (!read).
	OutboxNotified(read bool)
}

// Cache layer names passed to Observer.CacheLookup.
const (
	LayerLocal  = "local"
	LayerShared = "redis"
	LayerGrace  = "grace" // a confirmed copy used while Postgres is down
)

// NopObserver discards observations.
type NopObserver struct{}

func (NopObserver) CacheLookup(string, bool)   {}
func (NopObserver) StoreLookup()               {}
func (NopObserver) InvalidationsPublished(int) {}
func (NopObserver) InvalidationsReceived(int)  {}
func (NopObserver) SubscriptionReset()         {}
func (NopObserver) FillRefused()               {}
func (NopObserver) OutboxRelayed(int)          {}
func (NopObserver) OutboxNotified(bool)        {}

// NoSharedCache is the SharedCache of a Service without one: every lookup
// misses and nothing is filled, so every validation that the in-process
// cache cannot answer reads the store.
type NoSharedCache struct{}

// Peek implements SharedCache: always a miss.
func (NoSharedCache) Peek(context.Context, Hash) (Restored, bool, error) {
	return Restored{}, false, nil
}

// Get implements SharedCache: always a miss, with no lease.
func (NoSharedCache) Get(context.Context, Hash) (Restored, bool, Lease, error) {
	return Restored{}, false, "", nil
}

// Fill implements SharedCache: never fills.
func (NoSharedCache) Fill(context.Context, Hash, Lease, Restored, time.Duration) (bool, error) {
	return false, nil
}

// Delete implements SharedCache.
func (NoSharedCache) Delete(context.Context, []Hash) error { return nil }

// DeleteAll implements SharedCache.
func (NoSharedCache) DeleteAll(context.Context) error { return nil }

// nopPublisher is the Publisher of a single replica: nobody to tell.
type nopPublisher struct{}

func (nopPublisher) Publish(context.Context, []Hash) error { return nil }
func (nopPublisher) PublishAll(context.Context) error      { return nil }

type nopActivity struct{}

func (nopActivity) Touch(string, time.Time, Client) {}

func (nopActivity) LastTouched(string) (time.Time, bool) { return time.Time{}, false }
