package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/localcache"
	"github.com/sessiongw/sessiongw/internal/testenv/pgtest"
	"github.com/sessiongw/sessiongw/internal/testenv/redistest"
)

// runHarness runs the harness with o (a short run on its own Postgres and
// Redis, set up here) and returns its rows and itself (its options as run
// in b.o).
func runHarness(t *testing.T, o options) ([]row, *bench) {
	t.Helper()
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Fatalf("wrk is not installed (apt-get install wrk; .ci/run does): %v", err)
	}
	o.redisURL, _ = redistest.New(t)
	o.databaseURL = pgtest.New(t)
	o.duration, o.connections, o.sessions = time.Second, 8, 2000
	ctx := context.Background()
	b, err := newBench(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.close)
	rows, err := b.runAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return rows, b
}

// TestHarnessRunsAndCounts checks that the benchmark harness runs every
// scenario and attributes Postgres and Redis calls correctly. It asserts
// counts, never speed.
func TestHarnessRunsAndCounts(t *testing.T) {
	rows, b := runHarness(t, options{nginxConf: "../../deploy/nginx/sessiongw.conf", cached: localcache.HotMax + 20_000}) // the compact tier in use
	o := b.o
	if len(rows) != 31 {
		t.Fatalf("rows = %d; want 31", len(rows))
	}
	perReq := func(i int) (pg, rd float64) {
		r := rows[i].res
		if r.requests == 0 {
			t.Fatalf("%s: no requests", rows[i].name)
		}
		return float64(r.pgQueries) / float64(r.requests), float64(r.redisCalls) / float64(r.requests)
	}
	if pg, rd := perReq(1); pg != 0 || rd > 0.001 {
		t.Errorf("warm in-process cache: %.4f Postgres queries and %.4f Redis commands per request; want none", pg, rd)
	}
	// Background traffic (pub/sub health checks, acks) adds a little.
	// Valid traffic is cached, so every Postgres query during the flood row
	// is the flood's, and the rate limit (burst 100, 50/s) bounds them.
	if fr := rows[2].res; fr.requests == 0 || fr.pgQueries > 100+int64(50*(fr.duration.Seconds()+1))+20 {
		t.Errorf("flood: %d valid requests; %d Postgres queries in %s; want the rate limit to bound them", fr.requests, fr.pgQueries, fr.duration)
	}
	// Through nginx: every request was an auth subrequest answered from the
	// warm in-process cache.
	if pg, rd := perReq(4); pg != 0 || rd > 0.001 || !rows[3].isBaseline {
		t.Errorf("through nginx: %.4f Postgres queries and %.4f Redis commands per request; want none", pg, rd)
	}
	if r := rows[4].res; r.appHits < r.requests {
		t.Errorf("through nginx: the app behind nginx received %d of %d requests (did the load bypass nginx?)", r.appHits, r.requests)
	}
	for _, i := range []int{1, 4} { // direct, and through nginx: every request reached the gateway
		if r := rows[i].res; r.gatewayAuths < r.requests {
			t.Errorf("%s: the gateway answered %d of %d requests", rows[i].name, r.gatewayAuths, r.requests)
		}
	}
	if pg, rd := perReq(6); pg != 0 || rd < 0.99 || rd > 1.05 {
		t.Errorf("Redis hit: %.4f Postgres queries and %.4f Redis commands per request; want 0 and 1", pg, rd)
	}
	// Caches off: one query per answer. The counters are read one after
	// the other while requests still in flight when the load stopped finish
	// (at most one per connection), and concurrent lookups of the one token
	// may share a query (coalescing), so allow that much either way.
	if r := rows[8].res; r.gatewayAuths == 0 || r.pgQueries > r.gatewayAuths+int64(o.connections) || r.pgQueries < r.gatewayAuths*98/100 {
		t.Errorf("caches off: %d Postgres queries for %d answers (%d connections); want one per answer", r.pgQueries, r.gatewayAuths, o.connections)
	}
	// Caches off over sessions whose activity is written: a query per
	// answer (fewer where concurrent lookups of one session coalesce), no
	// activity statement.
	if r := rows[10].res; !rows[9].isBaseline || r.gatewayAuths == 0 || r.pgQueries < r.gatewayAuths*9/10 || r.pgQueries > r.gatewayAuths+int64(o.connections) ||
		!strings.HasPrefix(rows[10].note, "0 activity statements") {
		t.Errorf("caches off, activity written: %d Postgres queries for %d answers; %s", r.pgQueries, r.gatewayAuths, rows[10].note)
	}
	// Each distinct session requested costs one query; a short run may not
	// request all 1,000.
	// The realistic mix churned sessions during both runs (the harness
	// itself fails when a revoked session was accepted afterwards); with
	// caches on, Postgres answered only the new sessions and the cold tail.
	for _, i := range []int{11, 12} {
		if r := rows[i].res; r.churn < 2 || r.gatewayAuths < r.requests {
			t.Errorf("%s: %d logouts/revokes/logins, the gateway answered %d of %d requests", rows[i].name, r.churn, r.gatewayAuths, r.requests)
		}
	}
	// Concurrent requests for one hot session share a lookup even with
	// caches off, hence not quite one query per request.
	if pg, _ := perReq(11); pg < 0.5 {
		t.Errorf("mix, caches off: %.4f Postgres queries per request; want about 1", pg)
	}
	if pg, _ := perReq(12); pg > 0.05 {
		t.Errorf("mix, caches on: %.4f Postgres queries per request; want the caches to answer most", pg)
	}
	// The Go client: with a warm near cache every validation was answered
	// in the app's process (the middleware's requests all succeeded, so
	// each was validated).
	// (Under the race detector with every package's tests running, up to a
	// few validations in a hundred miss: the near cache's trust window can
	// lapse for a moment on a starved machine, and then the client asks the
	// gateway, as it must. A broken near cache answers none.)
	if r := rows[14].res; !rows[13].isBaseline || r.requests == 0 || r.nearHits < r.requests*95/100 {
		t.Errorf("near cache: %d hits for %d requests; want (almost) every request answered from it", r.nearHits, r.requests)
	}
	if r := rows[16].res; !rows[15].isBaseline || r.requests == 0 {
		t.Errorf("client.Validate row: %d requests", r.requests)
	}
	// The identity JWT row: warm, every request answered by the gateway.
	if pg, _ := perReq(18); pg != 0 || !rows[17].isBaseline || rows[18].res.gatewayAuths < rows[18].res.requests {
		t.Errorf("identity JWT: %.4f Postgres queries per request, %d answers for %d requests", pg, rows[18].res.gatewayAuths, rows[18].res.requests)
	}
	// Writes: logins and logouts happened, each beside its baseline, also
	// at the steady rate (the harness itself fails when a logged-out token
	// was accepted afterwards).
	for _, i := range []int{20, 23, 26} {
		if r := rows[i].res; !rows[i-1].isBaseline || r.requests == 0 || r.non2xx != 0 {
			t.Errorf("%s: %d requests, %d errors", rows[i].name, r.requests, r.non2xx)
		}
	}
	// The same logins' and logouts' Postgres writes alone, measured
	// against the same baselines.
	for _, i := range []int{21, 24} {
		if r := rows[i].res; !rows[i].again || r.requests == 0 || r.non2xx != 0 || !strings.Contains(rows[i].note, "CPU per operation") {
			t.Errorf("%s: %d operations, %d errors; note %q", rows[i].name, r.requests, r.non2xx, rows[i].note)
		}
	}
	// Activity at scale: every session's activity written, no statement
	// failed.
	if n := rows[27].res.requests; n < int64(o.sessions)/2 || !strings.Contains(rows[27].note, fmt.Sprintf("%d of %d sessions had last_activity_at written", n, n)) ||
		!strings.Contains(rows[27].note, ", 0 failed") {
		t.Errorf("activity at scale (%d sessions): %s; want every one written and no failure", n, rows[27].note)
	}
	// Many cached sessions: every answer from the in-process cache.
	if r := rows[29].res; !rows[28].isBaseline || r.requests == 0 || r.pgQueries != 0 || r.redisCalls != 0 || r.gatewayAuths < r.requests ||
		!strings.Contains(rows[29].note, "bytes of live heap") {
		t.Errorf("many cached: %d requests, %d Postgres queries, %d Redis commands, %d answers; note %q", r.requests, r.pgQueries, r.redisCalls, r.gatewayAuths, rows[29].note)
	}
	if q, d := rows[30].res.pgQueries, rows[30].res.distinct; d < 100 || d > 1000 || q < d || float64(q) > 1.05*float64(d) {
		t.Errorf("cold start: %d Postgres queries for %d distinct sessions; want one per session (at most 1.05 x)", q, d)
	}
	var out bytes.Buffer
	out.WriteString(b.report(rows, nil))
	t.Log(out.String())
	for _, want := range []string{"| scenario |", "baseline", "cold start", "Machine:", "MEMORY USAGE"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestWriteReportKeepsTheHandWrittenPart(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/BENCHMARKS.md"
	if err := writeReport(path, "bench", "bench", "table v1\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append(b, []byte("\n## Log\nkept\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeReport(path, "bench", "bench", "table v2\n"); err != nil {
		t.Fatal(err)
	}
	// The peers section joins the file, then is replaced alone.
	for _, v := range []string{"peers v1\n", "peers v2\n"} {
		if err := writeReport(path, "peers", "bench-peers", v); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := os.ReadFile(path)
	for _, want := range []string{"table v2", "## Log\nkept", "peers v2", "<!-- peers:begin (generated by make bench-peers) -->"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("BENCHMARKS.md after reruns lacks %q:\n%s", want, got)
		}
	}
	for _, gone := range []string{"table v1", "peers v1"} {
		if strings.Contains(string(got), gone) {
			t.Errorf("BENCHMARKS.md after reruns still holds %q:\n%s", gone, got)
		}
	}
}

// The peer rows read the peer's version from its binary and its CPU time
// from /proc: checked on this test's own binary and process.
func TestPeerVersionAndCPU(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if v, goVer, err := moduleVersion(exe); err != nil || v == "" || !strings.HasPrefix(goVer, "go1.") {
		t.Errorf("moduleVersion(test binary) = %q, %q, %v", v, goVer, err)
	}
	if _, _, err := moduleVersion("/nonexistent"); err == nil {
		t.Error("moduleVersion of a missing binary succeeded")
	}
	// Spinning makes it grow (by a clock tick, 10 ms, at least).
	c0 := procCPU(os.Getpid())
	if c0 <= 0 {
		t.Fatalf("procCPU(self) = %s", c0)
	}
	deadline := time.Now().Add(time.Minute)
	for procCPU(os.Getpid()) == c0 {
		if time.Now().After(deadline) {
			t.Fatal("procCPU did not grow in a minute of spinning")
		}
	}
}

// -postgres-only measures the two caches-off pairs alone: every answer a
// Postgres query, and none of the second pair's an activity statement.
func TestHarnessPostgresOnly(t *testing.T) {
	rows, _ := runHarness(t, options{postgresOnly: true})
	if len(rows) != 4 || !rows[0].isBaseline || !rows[2].isBaseline {
		t.Fatalf("rows = %d; want two pairs", len(rows))
	}
	for _, i := range []int{1, 3} {
		if r := rows[i].res; r.gatewayAuths == 0 || r.pgQueries < r.gatewayAuths*9/10 || r.distinct != 0 {
			t.Errorf("%s: %d Postgres queries for %d answers, %d distinct counted; want a query per answer and no distinct count", rows[i].name, r.pgQueries, r.gatewayAuths, r.distinct)
		}
	}
	if !strings.HasPrefix(rows[3].note, "0 activity statements") {
		t.Errorf("activity written: %s", rows[3].note)
	}
}
