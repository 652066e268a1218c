package postgres

import (
	"context"

	"github.com/sessiongw/sessiongw/internal/webhook"
)

// ParseNotify is parseNotify, for the external tests.
var ParseNotify = parseNotify

// FanOutUnchained is FanOut without chaining the audit records first, as
// when a record commits between that chaining and the fan-out's query.
func (s *Store) FanOutUnchained(ctx context.Context, routes []webhook.Route, limit int) (int, error) {
	return s.fanOut(ctx, routes, limit)
}

// BeforeLoginBatch runs f before each batch of logins, with its size.
func (s *Store) BeforeLoginBatch(f func(n int)) { s.beforeLoginBatch = f }

// PendingLogins is how many logins wait for the next batch.
func (s *Store) PendingLogins() int {
	return s.logins.Pending()
}
