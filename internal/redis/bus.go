package redis

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiongw/sessiongw/internal/session"
)

// Bus publishes and receives invalidations on {prefix}:invalidate. A message
// is the hex hashes of the sessions to drop, comma-separated; raw tokens
// never travel.
type Bus struct {
	rdb     goredis.UniversalClient
	channel string
	log     *slog.Logger
}

var _ session.Publisher = (*Bus)(nil)

// maxHashesPerMessage bounds one message (65 bytes per hash).
const maxHashesPerMessage = 1000

// NewBus returns a Bus namespaced by prefix.
func NewBus(rdb goredis.UniversalClient, prefix string, log *slog.Logger) *Bus {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Bus{rdb: rdb, channel: Channel(prefix), log: log}
}

// Channel returns the invalidation channel for prefix.
func Channel(prefix string) string { return prefix + ":invalidate" }

// Publish implements session.Publisher.
func (b *Bus) Publish(ctx context.Context, hs []session.Hash) error {
	for len(hs) > 0 {
		n := min(len(hs), maxHashesPerMessage)
		var sb strings.Builder
		sb.Grow(n * 65)
		for i, h := range hs[:n] {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(h.String())
		}
		if err := b.rdb.Publish(ctx, b.channel, sb.String()).Err(); err != nil {
			return fmt.Errorf("redis: publish: %w", err)
		}
		hs = hs[n:]
	}
	return nil
}

// Handler receives what the subscriber hears.
type Handler interface {
	// HandleInvalidation drops the named in-process entries.
	HandleInvalidation(hs []session.Hash)
	// HandleSubscriptionReset is called on every (re)subscription: messages
	// published while the subscription was down are lost.
	HandleSubscriptionReset()
}

// Run subscribes and dispatches invalidations to h until ctx ends. go-redis
// reconnects by itself; each (re)subscription is reported to h.
func (b *Bus) Run(ctx context.Context, h Handler) error {
	ps := b.rdb.Subscribe(ctx, b.channel)
	defer ps.Close()
	ch := ps.ChannelWithSubscriptions()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-ch:
			if !ok {
				return nil
			}
			switch m := m.(type) {
			case *goredis.Subscription:
				if m.Kind == "subscribe" {
					h.HandleSubscriptionReset()
				}
			case *goredis.Message:
				hs := parseHashes(m.Payload)
				if len(hs) == 0 {
					b.log.Warn("ignoring malformed invalidation message")
					continue
				}
				h.HandleInvalidation(hs)
			}
		}
	}
}

func parseHashes(payload string) []session.Hash {
	parts := strings.Split(payload, ",")
	hs := make([]session.Hash, 0, len(parts))
	for _, p := range parts {
		h, err := session.ParseHash(p)
		if err != nil {
			return nil
		}
		hs = append(hs, h)
	}
	return hs
}
