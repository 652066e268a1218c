package metrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiongw/sessiongw/internal/metrics"
	"github.com/sessiongw/sessiongw/internal/session"
)

// exported returns the names of every metric family, with every metric
// exercised once so that labelled families show.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	m := metrics.New()
	m.ObserveRequest("/v1/auth", "GET", 200, time.Millisecond)
	m.CacheLookup(session.LayerLocal, true)
	m.StoreLookup()
	m.InvalidationsPublished(1)
	m.InvalidationsReceived(1)
	m.SubscriptionReset()
	m.ActivityFlushed(1, nil)
	m.FillRefused()
	m.OutboxRelayed(1)
	m.OutboxNotified(false)
	m.InvalidationAcked(false)
	m.WatchOutboxBacklog(func(context.Context) (int, error) { return 3, nil })
	m.WebhookDelivery("default", "delivered")
	m.WebhookOldest("default", time.Second)
	m.BackchannelLogout("ok")
	m.JWTSigned()
	tr := m.PGTracer()
	tr.TraceQueryEnd(tr.TraceQueryStart(context.Background(), nil, pgx.TraceQueryStartData{}), nil, pgx.TraceQueryEndData{Err: errors.New("x")})
	hook := m.RedisHook().ProcessHook(func(context.Context, goredis.Cmder) error { return goredis.Nil })
	_ = hook(context.Background(), goredis.NewStringCmd(context.Background(), "get", "k"))
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range fams {
		names[f.GetName()] = true
	}
	return names
}

var metricName = regexp.MustCompile(`sessiongw_[a-z_]+`)

// TestDashboardUsesExportedMetrics keeps deploy/grafana/sessiongw.json and
// docs/api.md's metrics table in step with what the gateway exports.
func TestDashboardUsesExportedMetrics(t *testing.T) {
	t.Parallel()
	names := exported(t)
	known := func(n string) bool {
		for _, suffix := range []string{"", "_bucket", "_count", "_sum"} {
			if base, ok := strings.CutSuffix(n, suffix); ok && names[base] {
				return true
			}
		}
		return false
	}
	b, err := os.ReadFile("../../deploy/grafana/sessiongw.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	used := map[string]bool{}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, n := range metricName.FindAllString(tg.Expr, -1) {
				used[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_count"), "_sum")] = true
				if !known(n) {
					t.Errorf("panel %q uses %s, which the gateway does not export", p.Title, n)
				}
			}
		}
	}
	readme, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	for n := range names {
		if !strings.HasPrefix(n, "sessiongw_") {
			continue
		}
		if !used[n] {
			t.Errorf("%s is on no dashboard panel", n)
		}
		if !strings.Contains(string(readme), n) && !strings.Contains(string(readme), strings.TrimPrefix(n, "sessiongw_invalidations")) {
			t.Errorf("docs/api.md's metrics table lacks %s", n)
		}
	}
}
