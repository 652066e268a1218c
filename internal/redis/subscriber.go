package redis

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiongw/sessiongw/internal/session"
)

// This file is the subscriber side of the Bus: the subscription, the
// heartbeats that prove it hears every invalidation (and so grant trust),
// and recovery after an interruption or a change of Redis master.

// Handler receives what the subscriber hears.
type Handler interface {
	// HandleInvalidation drops the named in-process entries. The channel it
	// returns (nil: nothing to wait for) closes once downstream caches
	// (near caches in app processes) have dropped them too; the replica
	// acknowledges only then, and not at all if it never closes.
	HandleInvalidation(hs []session.Hash) <-chan struct{}
	// HandleFlush drops every in-process entry; the channel is as above.
	HandleFlush() <-chan struct{}
	// HandleSubscriptionReset is called on every (re)subscription: messages
	// published while the subscription was down are lost.
	HandleSubscriptionReset()
	// HandleHeartbeat is called when this replica hears its own heartbeat
	// seq while it trusts its caches: every invalidation published before
	// that heartbeat was sent has been handled.
	HandleHeartbeat(seq uint64)
}

// Run subscribes, sends heartbeats and dispatches invalidations to h until
// ctx ends. go-redis reconnects by itself; each (re)subscription is
// reported to h and suspends trust until the next heartbeat is heard and
// Recover has passed. A subscription that stops hearing this replica's own
// heartbeats for two windows while Redis takes them is replaced: after a
// Sentinel failover go-redis moves commands to the new master but leaves
// an open subscription on the old one.
func (b *Bus) Run(ctx context.Context, h Handler) error {
	go b.heartbeats(ctx, h)
	for {
		b.heardAt.Store(int64(time.Since(b.start)))
		select {
		case <-b.deaf: // from before this subscription
		default:
		}
		var ps *goredis.PubSub
		if b.sharded {
			ps = b.rdb.SSubscribe(ctx, b.channel, b.ackChannel(b.id))
		} else {
			ps = b.rdb.Subscribe(ctx, b.channel, b.ackChannel(b.id))
		}
		done := b.listen(ctx, ps.ChannelWithSubscriptions(goredis.WithChannelSize(1000)), h)
		ps.Close()
		if done {
			return nil
		}
		b.log.Warn("not hearing this replica's own heartbeats; subscribing again")
	}
}

// listen dispatches messages until ctx ends or the channel closes (true),
// or the subscription goes deaf (false).
func (b *Bus) listen(ctx context.Context, ch <-chan any, h Handler) bool {
	for {
		select {
		case <-ctx.Done():
			return true
		case <-b.deaf:
			return false
		case m, ok := <-ch:
			if !ok {
				return true
			}
			switch m := m.(type) {
			case *goredis.Subscription:
				if (m.Kind == "subscribe" || m.Kind == "ssubscribe") && m.Channel == b.channel {
					b.reset(h)
				}
			case *goredis.Message:
				if m.Channel == b.channel {
					b.handle(ctx, m.Payload, h)
				} else {
					b.handleAck(m.Payload)
				}
			}
		}
	}
}

// reset suspends trust until the next heard heartbeat and Recover: what
// was published meanwhile may be lost.
func (b *Bus) reset(h Handler) {
	b.mu.Lock()
	b.resets.Add(1)
	b.clean.Store(false)
	b.mu.Unlock()
	b.trustUntil.Store(0)
	h.HandleSubscriptionReset()
}

func (b *Bus) heartbeats(ctx context.Context, h Handler) {
	t := time.NewTicker(b.beat)
	defer t.Stop()
	for {
		if ids, err := b.masterRunIDs(ctx); err == nil {
			if b.masters != "" && ids != b.masters {
				b.log.Warn("Redis master changed (failover or restart); re-checking before trusting caches again")
				b.reset(h)
			}
			b.masters = ids
		} else if ctx.Err() == nil {
			b.log.Debug("reading the Redis master's run id failed", "err", err)
		}
		seq := b.hbSeq.Add(1)
		b.mu.Lock()
		b.hbSent[seq] = time.Since(b.start)
		for s := range b.hbSent {
			if s+64 < seq {
				delete(b.hbSent, s)
			}
		}
		b.mu.Unlock()
		hctx, cancel := context.WithTimeout(ctx, b.window)
		err := heartbeatScript.Run(hctx, b.rdb, []string{b.registry, b.channel}, b.id,
			"h|"+b.id+"|"+strconv.FormatUint(seq, 10), b.publishCmd()).Err()
		cancel()
		if err != nil && ctx.Err() == nil {
			b.log.Debug("heartbeat failed", "err", err)
		}
		if err == nil && time.Since(b.start)-time.Duration(b.heardAt.Load()) > 2*b.window {
			select {
			case b.deaf <- struct{}{}:
			default:
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (b *Bus) handle(ctx context.Context, payload string, h Handler) {
	kind, rest, _ := strings.Cut(payload, "|")
	origin, rest, _ := strings.Cut(rest, "|")
	switch kind {
	case "h":
		if origin != b.id {
			return
		}
		seq, err := strconv.ParseUint(rest, 10, 64)
		if err != nil {
			return
		}
		b.mu.Lock()
		sent, ok := b.hbSent[seq]
		b.mu.Unlock()
		if !ok {
			return
		}
		b.heardAt.Store(int64(time.Since(b.start)))
		if b.clean.Load() {
			if until := int64(sent + b.window); until > b.trustUntil.Load() {
				b.trustUntil.Store(until)
			}
			h.HandleHeartbeat(seq)
			return
		}
		if b.recovering.CompareAndSwap(false, true) {
			go b.recoverTrust(ctx)
		}
	case "i":
		msgID, body, ok := strings.Cut(rest, "|")
		if !ok {
			b.log.Warn("ignoring malformed invalidation message")
			return
		}
		var downstream <-chan struct{}
		if body == "*" {
			downstream = h.HandleFlush()
		} else {
			hs := parseHashes(body)
			if len(hs) == 0 {
				b.log.Warn("ignoring malformed invalidation message")
				return
			}
			downstream = h.HandleInvalidation(hs)
		}
		go b.ack(ctx, origin, msgID, downstream)
	}
}

// ack acknowledges invalidation msgID of origin once downstream (if any)
// has closed, within the window: to origin over Redis, or, for this
// replica's own message, to its own waiting publisher.
func (b *Bus) ack(ctx context.Context, origin, msgID string, downstream <-chan struct{}) {
	if downstream != nil {
		t := time.NewTimer(b.window)
		defer t.Stop()
		select {
		case <-downstream:
		case <-t.C:
			return // a downstream cache did not confirm: do not vouch for it
		case <-ctx.Done():
			return
		}
	}
	if origin == b.id {
		b.handleAck(msgID + "|" + b.id)
		return
	}
	actx, cancel := context.WithTimeout(ctx, b.window)
	defer cancel()
	_ = b.send(actx, b.ackChannel(origin), msgID+"|"+b.id)
}

// recoverTrust runs the recovery check; the next heard heartbeat then
// restores trust. A reset during the check voids it: messages may have been
// lost after it began.
func (b *Bus) recoverTrust(ctx context.Context) {
	defer b.recovering.Store(false)
	gen := b.resets.Load()
	if b.recover != nil {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := b.recover(rctx); err != nil {
			b.log.Warn("cache trust not restored yet", "err", err)
			return
		}
	}
	b.mu.Lock() // orders the check of gen with a concurrent reset's handling
	if b.resets.Load() == gen {
		b.clean.Store(true)
	}
	b.mu.Unlock()
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

// masterRunIDs names the master(s) this replica talks to: the run id of
// the server (standalone, Sentinel's current master) or of every master of
// a cluster, sorted. A failover or a restart changes it.
func (b *Bus) masterRunIDs(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, b.window)
	defer cancel()
	runID := func(ctx context.Context, c goredis.Cmdable) (string, error) {
		info, err := c.Info(ctx, "server").Result()
		if err != nil {
			return "", err
		}
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(line, "run_id:"); ok {
				return strings.TrimSpace(v), nil
			}
		}
		return "", fmt.Errorf("INFO server has no run_id")
	}
	cc, ok := b.rdb.(*goredis.ClusterClient)
	if !ok {
		return runID(ctx, b.rdb)
	}
	var mu sync.Mutex
	var ids []string
	err := cc.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error {
		id, err := runID(ctx, node)
		mu.Lock()
		ids = append(ids, id)
		mu.Unlock()
		return err
	})
	if err != nil {
		return "", err
	}
	slices.Sort(ids)
	return strings.Join(ids, ","), nil
}
