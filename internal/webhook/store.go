package webhook

import (
	"context"
	"encoding/json"
	"time"
)

// Store is the outbox the events are written to and delivered from
// (internal/postgres).
type Store interface {
	// RegisterEndpoints records that this replica delivers to these
	// endpoints; events are written only while some endpoint is
	// registered, and an endpoint no replica registers for an hour is
	// forgotten.
	RegisterEndpoints(ctx context.Context, names []string) error
	// Lead runs run while this replica is the deployment's one worker,
	// cancelling its context when it stops being it; wake receives a value
	// when new events were written. It returns when ctx ends.
	Lead(ctx context.Context, run func(ctx context.Context, wake <-chan struct{})) error
	// FanOut turns up to limit new events into deliveries, one per route
	// that takes the event's type; it returns how many events it took.
	FanOut(ctx context.Context, routes []Route, limit int) (int, error)
	// Due returns, for endpoint, the oldest pending delivery of each user
	// whose time has come (at most limit): a user's later events wait.
	Due(ctx context.Context, endpoint string, limit int) ([]Delivery, error)
	// Record stores the outcome of an attempt at a pending delivery.
	Record(ctx context.Context, endpoint string, eventID int64, o Outcome) error
	// WakeEndpoint makes every pending delivery of endpoint due now.
	WakeEndpoint(ctx context.Context, endpoint string) error
	// ExpirePending marks failed the pending deliveries to endpoint of
	// events written before before.
	ExpirePending(ctx context.Context, endpoint string, before time.Time) (int, error)
	// AddCheckpoint writes an audit.checkpoint event with the audit head.
	AddCheckpoint(ctx context.Context) error
	// OldestPending returns, per endpoint, when the oldest event still
	// pending there was written.
	OldestPending(ctx context.Context) (map[string]time.Time, error)
	// Deliveries lists deliveries, newest event first.
	Deliveries(ctx context.Context, q Query) ([]DeliveryInfo, error)
	// Replay delivers again every event written since since that a route
	// takes; it returns how many deliveries it queued.
	Replay(ctx context.Context, routes []Route, since time.Time) (int, error)
	// PurgeEvents deletes events written before before that have no
	// pending delivery.
	PurgeEvents(ctx context.Context, before time.Time) (int, error)
}

// Route says which event types go to an endpoint.
type Route struct {
	Endpoint string
	Types    []string // empty: all
}

// Takes reports whether the route takes events of type t.
func (r Route) Takes(t string) bool {
	if len(r.Types) == 0 {
		return true
	}
	for _, x := range r.Types {
		if x == t {
			return true
		}
	}
	return false
}

// Event is one event as the outbox holds it.
type Event struct {
	ID       int64
	UID      string // the webhook-id, the same on every attempt
	Type     string
	UserID   string
	At       time.Time
	AuditSeq *int64
	// Data is what the trigger wrote (including the user agent, which the
	// body replaces with a device name).
	Data json.RawMessage
}

// Delivery is one event on its way to one endpoint.
type Delivery struct {
	Endpoint string
	Attempts int // made so far
	Event    Event
}

// Delivery states.
const (
	StatePending   = "pending"
	StateDelivered = "delivered"
	StateFailed    = "failed"
)

// Outcome is the result of one attempt.
type Outcome struct {
	State  string
	Status int // the receiver's HTTP status (0: none)
	Error  string
	NextAt time.Time // StatePending: when to try again
}

// Query selects deliveries to list.
type Query struct {
	State    string // "" for any
	Endpoint string // "" for any
	Limit    int    // default 100
}

// DeliveryInfo is a delivery as the command line lists it.
type DeliveryInfo struct {
	Event      Event
	Endpoint   string
	State      string
	Attempts   int
	NextAt     time.Time
	LastStatus int
	LastError  string
	UpdatedAt  time.Time
}
