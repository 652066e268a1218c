package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/sessiongw/sessiongw/internal/postgres"
	"github.com/sessiongw/sessiongw/internal/session"
)

// Serving: the HTTP server, the background loops, and the ordered shutdown.

// MaxRequestHead is the most a request's line and headers may hold
// together; a longer one is refused with 431.
const MaxRequestHead = 16 << 10

// AuditSequenceInterval is how often a replica chains the audit records
// committed since its last pass (postgres.Store.SequenceAudit); readers of
// the chain chain what is pending first, so it bounds only how long a
// record waits outside the chain when nobody reads it.
const AuditSequenceInterval = 200 * time.Millisecond

// subscribeWait bounds how long Serve waits for the invalidation
// subscription before accepting requests anyway.
const subscribeWait = 10 * time.Second

// Serve runs the HTTP server on ln and the background loops until ctx ends,
// then shuts down in order: stop accepting and drain requests, stop the
// background loops, flush pending activity, close Redis and Postgres.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener) error {
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := g.bus.Run(bg, busHandler{g}); err != nil {
			g.log.Error("invalidation subscriber stopped", "err", err)
		}
	})
	wg.Go(func() { g.svc.RunRelay(bg, time.Second) })
	wg.Go(func() {
		postgres.Listen(bg, g.pool, g.log,
			func(n session.Notice) { g.svc.HandleNotify(bg, n) },
			// Notifications sent while disconnected are lost.
			func() { g.svc.HandleFlush(); g.svc.WakeRelay() })
	})
	wg.Go(func() { g.batcher.Run(bg) })
	wg.Go(func() { g.store.RunAuditSequencer(bg, AuditSequenceInterval, g.log) })
	if g.cfg.CleanupInterval > 0 {
		wg.Go(func() { g.runCleanup(bg) })
	}
	if g.cfg.AuditCheckpointInterval > 0 {
		wg.Go(func() { g.runAuditCheckpoints(bg) })
	}
	if g.webhooks != nil {
		wg.Go(func() { g.webhooks.Run(bg) })
	}

	select {
	case <-g.ready:
	case <-time.After(subscribeWait):
		g.log.Warn("invalidation subscription not established yet; serving anyway")
	case <-ctx.Done():
	}

	srv := &http.Server{
		Handler:           g.served,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// net/http reads up to MaxHeaderBytes plus 4 KiB before it refuses
		// a request head (431): this makes the whole head (request line
		// and headers) at most 16 KiB, the documented limit.
		MaxHeaderBytes: MaxRequestHead - 4<<10,
		ErrorLog:       slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	g.log.Info("sessiongw listening", "addr", ln.Addr().String())

	var err error
	select {
	case <-ctx.Done():
		// Drain: fail readiness and close every connection after its next
		// answer, so load balancers and keep-alive clients leave before
		// the listener and idle connections close.
		g.draining.Store(true)
		g.log.Info("draining before shutdown", "for", g.cfg.ShutdownDrain.String())
		select {
		case <-time.After(g.cfg.ShutdownDrain):
		case err = <-serveErr:
		}
	case err = <-serveErr:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	g.hub.CloseAll() // near-cache streams end; their clients reconnect elsewhere
	if serr := srv.Shutdown(shutdownCtx); serr != nil {
		g.log.Warn("http shutdown", "err", serr)
	}
	stopBG()
	wg.Wait()
	g.batcher.Flush(shutdownCtx)
	g.Close()
	g.log.Info("sessiongw stopped")
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func (g *Gateway) runCleanup(ctx context.Context) {
	t := time.NewTicker(g.cfg.CleanupInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := g.svc.Cleanup(ctx)
			if err != nil {
				g.log.Warn("cleanup failed", "err", err)
				continue
			}
			g.log.Info("cleanup deleted expired sessions", "count", n)
		}
	}
}

// runAuditCheckpoints logs the audit head at start and every checkpoint
// interval, and exports its sequence number: an anchor outside the
// database for `sessiongw audit verify --expect-head` (docs/audit.md).
func (g *Gateway) runAuditCheckpoints(ctx context.Context) {
	t := time.NewTicker(g.cfg.AuditCheckpointInterval)
	defer t.Stop()
	for {
		if head, err := g.svc.AuditHead(ctx); err == nil {
			g.metrics.AuditCheckpoint(head.Seq)
			g.log.Info("audit checkpoint", "head", head.String())
		} else if ctx.Err() == nil {
			g.log.Warn("audit checkpoint: reading the head failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
