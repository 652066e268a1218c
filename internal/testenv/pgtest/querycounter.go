package pgtest

import (
	"context"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// QueryCounter is a pgx tracer that counts queries whose SQL contains Match
// and the most of them in flight at once.
type QueryCounter struct {
	Match    string
	n        atomic.Int64
	inFlight atomic.Int64
	peak     atomic.Int64
}

type matchedKey struct{}

// TraceQueryStart implements pgx.QueryTracer.
func (q *QueryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if !strings.Contains(d.SQL, q.Match) {
		return ctx
	}
	q.n.Add(1)
	now := q.inFlight.Add(1)
	for {
		p := q.peak.Load()
		if now <= p || q.peak.CompareAndSwap(p, now) {
			break
		}
	}
	return context.WithValue(ctx, matchedKey{}, true)
}

// TraceQueryEnd implements pgx.QueryTracer.
func (q *QueryCounter) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	if ctx.Value(matchedKey{}) != nil {
		q.inFlight.Add(-1)
	}
}

// Count returns the number of matching queries so far.
func (q *QueryCounter) Count() int64 { return q.n.Load() }

// Peak returns the most matching queries that were in flight at once.
func (q *QueryCounter) Peak() int64 { return q.peak.Load() }
