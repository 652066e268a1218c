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
