package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/sessiongw/sessiongw/internal/config"
	"github.com/sessiongw/sessiongw/internal/postgres"
	"github.com/sessiongw/sessiongw/internal/session"
)

// Writes: logins (session create) and logouts (revoke, with the
// acknowledged invalidation) per second on three replicas, each against a
// same-run baseline of the bare Postgres write it implies (an INSERT, an
// UPDATE, each its own transaction, with pgx), at the same concurrency.

const writeWorkers = 16

// loop runs f from writeWorkers goroutines for d (or until f reports it has
// no more work) and measures it like wrk does.
func loop(ctx context.Context, d time.Duration, f func(ctx context.Context, worker int) (bool, error)) (result, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu   sync.Mutex
		lats []time.Duration
		errs atomic.Int64
		n    atomic.Int64
	)
	start, cpu0 := time.Now(), readCPUSplit()
	var wg sync.WaitGroup
	for w := range writeWorkers {
		wg.Go(func() {
			var mine []time.Duration
			for ctx.Err() == nil {
				t0 := time.Now()
				more, err := f(ctx, w)
				if ctx.Err() != nil {
					break
				}
				if err != nil {
					errs.Add(1)
				} else if more {
					n.Add(1)
					mine = append(mine, time.Since(t0))
				}
				if !more {
					break
				}
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	r := result{requests: n.Load(), duration: time.Since(start), non2xx: errs.Load(), split: readCPUSplit().sub(cpu0)}
	r.setLatencies(lats)
	return r, nil
}

// writeRows measures creates and revokes on three replicas.
func (b *bench) writeRows(ctx context.Context) ([]row, error) {
	gws, stop, err := b.startReplicas(ctx, 3)
	if err != nil {
		return nil, err
	}
	defer stop()
	pool, err := postgres.Connect(ctx, b.dsn)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS write_baseline (LIKE sessions INCLUDING DEFAULTS INCLUDING INDEXES)`); err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: writeWorkers * 2}}

	// The gateway's own Postgres writes, run bare (no HTTP, no Redis) at
	// the same concurrency while the replicas run: how fast Postgres alone
	// lets a login and a logout go, which bounds the gateway's rows.
	cfg, _, err := config.Parse("sessiongw-bench", nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		return nil, err
	}
	store := postgres.NewStore(pool)
	store.SetOrigin("bench-bare") // a logout's pipeline, as a replica sends it
	limit := session.Limit{Default: cfg.MaxSessionsPerUser, Policy: cfg.SessionLimitPolicy}
	var bareHashes []session.Hash
	// A replica marks the outbox entries it propagated done, in batches
	// every 20 ms; the bare logouts' entries are marked the same way.
	var (
		dmu     sync.Mutex
		doneIDs []int64
	)
	mctx, stopMarking := context.WithCancel(ctx)
	defer stopMarking()
	go func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-mctx.Done():
				return
			case <-t.C:
			}
			dmu.Lock()
			ids := doneIDs
			doneIDs = nil
			dmu.Unlock()
			if len(ids) > 0 {
				_ = store.MarkOutboxDone(mctx, ids)
			}
		}
	}()

	// Logins: POST /v1/admin/sessions, round robin over the replicas; the
	// tokens are kept for the logouts.
	var (
		tmu    sync.Mutex
		tokens []string
		seq    atomic.Int64
	)
	var baseIDs []uuid.UUID
	var bmu sync.Mutex
	var login func(ctx context.Context, keep bool) (bool, error)
	insert := func(ctx context.Context, _ int) (bool, error) {
		id := uuid.New()
		i := seq.Add(1)
		h := make([]byte, 32)
		_, _ = rand.Read(h)
		_, err := pool.Exec(ctx, `INSERT INTO write_baseline (token_hash, public_id, user_id, created_at, expires_at, last_activity_at, ip_address, last_ip_address, user_agent)
			VALUES ($1, $2, $3, now(), now() + interval '1 day', now(), '192.0.2.1', '192.0.2.1', 'bench')`, h, id, strconv.FormatInt(i%1000+1, 10))
		if err == nil {
			bmu.Lock()
			baseIDs = append(baseIDs, id)
			bmu.Unlock()
		}
		return true, err
	}
	create := func(ctx context.Context, w int) (bool, error) { return login(ctx, true) }
	// storeCreate is a login's Postgres write alone: the session the
	// service would make for the same user, client and defaults, through
	// one Store, which batches the creates in flight as a replica does.
	storeCreate := func(ctx context.Context, _ int) (bool, error) {
		tok, err := session.NewToken()
		if err != nil {
			return true, err
		}
		i := seq.Add(1)
		now := time.Now().UTC()
		_, _, err = store.CreateSession(ctx, session.NewSession{
			Hash: tok.Hash(), ID: uuid.NewString(), UserID: strconv.FormatInt(i%1000+1, 10), Kind: session.KindSession,
			CreatedAt: now, ExpiresAt: session.ExpiresAt(now, false, cfg.SessionTTL, cfg.RememberMeTTL),
			IPAddress: "192.0.2.1", UserAgent: "bench", AuthenticatedAt: now, AMR: []string{},
		}, limit)
		if err == nil {
			tmu.Lock()
			bareHashes = append(bareHashes, tok.Hash())
			tmu.Unlock()
		}
		return true, err
	}
	login = func(ctx context.Context, keep bool) (bool, error) {
		i := seq.Add(1)
		body, _ := json.Marshal(map[string]any{"user_id": strconv.FormatInt(i%1000+1, 10), "ip_address": "192.0.2.1", "user_agent": "bench"})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, gws[int(i)%3].url+"/v1/admin/sessions", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+benchAdminToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return true, err
		}
		defer resp.Body.Close()
		var out struct{ Token string }
		if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&out) != nil {
			return true, fmt.Errorf("create: %d", resp.StatusCode)
		}
		if keep {
			tmu.Lock()
			tokens = append(tokens, out.Token)
			tmu.Unlock()
		}
		return true, nil
	}
	// What the three replicas send, background loops included.
	var roundTrips int64
	counted := func(f func(context.Context, int) (bool, error)) func(time.Duration) (result, error) {
		return func(d time.Duration) (result, error) {
			sum := func() (pg, rd int64) {
				for _, gw := range gws {
					pg += gw.counters.pgRoundTrips.Load()
					rd += gw.counters.redisCommands.Load()
				}
				return pg, rd
			}
			pg0, rd0 := sum()
			r, err := loop(ctx, d, f)
			pg, rd := sum()
			roundTrips += pg - pg0
			r.redisCalls = rd - rd0
			return r, err
		}
	}
	perOp := func(r, base result, what string) string {
		return fmt.Sprintf("%.1f Postgres round trips (statements, pipelines, COPYs; background loops included) and %.1f Redis commands per operation, over the three replicas; CPU per operation: %s; per bare %s of the baseline: %s",
			float64(roundTrips)/float64(max(r.requests, 1)), float64(r.redisCalls)/float64(max(r.requests, 1)),
			r.split.perOp(r.requests), what, base.split.perOp(base.requests))
	}
	fmt.Fprintln(os.Stderr, "writes: logins")
	cs, err := b.alternateAll("logins", func(d time.Duration) (result, error) { return loop(ctx, d, insert) },
		counted(create), func(d time.Duration) (result, error) { return loop(ctx, d, storeCreate) })
	if err != nil {
		return nil, err
	}
	cBase, cRes, cBare := cs[0], cs[1], cs[2]

	// The UPDATE baselines update the rows the INSERTs wrote, round robin
	// (an UPDATE may outpace the INSERTs that made its rows).
	bmu.Lock()
	ids := slices.Clone(baseIDs) // the steady INSERTs append to baseIDs later
	bmu.Unlock()
	if len(ids) == 0 {
		return nil, fmt.Errorf("writes: the INSERT baseline wrote no row")
	}
	var bnext atomic.Int64
	update := func(ctx context.Context, _ int) (bool, error) {
		i := int(bnext.Add(1)) - 1
		_, err := pool.Exec(ctx, `UPDATE write_baseline SET expires_at = now() WHERE public_id = $1`, ids[i%len(ids)])
		return true, err
	}

	// Each logout takes a token of its own: the saturated row up to twice
	// as many as the logins row made in the same time (a logout has been
	// the slower of the two in every run), the steady row writeRate a
	// second. Top up, outside any measurement, so that neither runs out;
	// one that did would measure less load than it names, so it fails the
	// run below instead.
	reserve := writeRate * int(b.o.duration.Seconds()+1)
	want, wantBare := 2*len(tokens)+reserve, 2*len(bareHashes)
	fmt.Fprintf(os.Stderr, "writes: %d more sessions for the logouts, %d for the bare ones\n", max(0, want-len(tokens)), max(0, wantBare-len(bareHashes)))
	if _, err := loop(ctx, time.Hour, func(ctx context.Context, w int) (bool, error) {
		tmu.Lock()
		done, doneBare := len(tokens) >= want, len(bareHashes) >= wantBare
		tmu.Unlock()
		switch {
		case !done:
			return create(ctx, w)
		case !doneBare:
			return storeCreate(ctx, w)
		}
		return false, nil
	}); err != nil {
		return nil, err
	}
	// storeDelete is a logout's Postgres write alone.
	var nextBare, bareRanOut atomic.Int64
	storeDelete := func(ctx context.Context, _ int) (bool, error) {
		i := int(nextBare.Add(1)) - 1
		if i >= len(bareHashes) {
			bareRanOut.Add(1)
			return false, nil
		}
		d, err := store.DeleteSession(ctx, bareHashes[i])
		switch {
		case err != nil:
			return true, err
		case !d.Found:
			return true, fmt.Errorf("bare logout: no session")
		case d.Outbox != 0:
			dmu.Lock()
			doneIDs = append(doneIDs, d.Outbox)
			dmu.Unlock()
		}
		return true, nil
	}

	// Logouts: DELETE /v1/session, each token once, through any replica;
	// right after each answer another replica must refuse the token.
	var next, stale, checked atomic.Int64
	var smu sync.Mutex
	staleStatus := map[int]int{} // status → count, of the checks that were not 401
	// logoutOne logs out the next of toks (next counts them; out counts the
	// calls that found none left), checking one
	// in ten on another replica right after.
	logoutOne := func(ctx context.Context, toks []string, next, out *atomic.Int64) (bool, error) {
		i := int(next.Add(1)) - 1
		if i >= len(toks) {
			out.Add(1)
			return false, nil
		}
		tok := toks[i]
		req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, gws[i%3].url+"/v1/session", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		if err != nil {
			return true, err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			return true, fmt.Errorf("logout: %d", resp.StatusCode)
		}
		if i%10 == 0 { // another replica, at once (outside the measured latency would be fairer; this is a sample)
			st := authStatus(ctx, client, gws[(i+1)%3].url, tok)
			if st == 0 { // no answer: the measurement ended meanwhile, or a transport error
				if ctx.Err() != nil {
					return true, nil
				}
				return true, fmt.Errorf("check on another replica: no answer")
			}
			checked.Add(1)
			if st != http.StatusUnauthorized {
				stale.Add(1)
				smu.Lock()
				staleStatus[st]++
				smu.Unlock()
			}
		}
		return true, nil
	}
	logoutOf := func(toks []string, next, out *atomic.Int64) func(ctx context.Context, w int) (bool, error) {
		return func(ctx context.Context, _ int) (bool, error) { return logoutOne(ctx, toks, next, out) }
	}
	// The last reserve tokens are the steady row's.
	reserved := tokens[len(tokens)-reserve:]
	var ranOut, steadyRanOut atomic.Int64
	logout := logoutOf(tokens[:len(tokens)-reserve], &next, &ranOut)
	var nextReserved atomic.Int64
	fmt.Fprintln(os.Stderr, "writes: logouts")
	loginNote := perOp(cRes, cBase, "INSERT")
	roundTrips = 0
	ls, err := b.alternateAll("logouts", func(d time.Duration) (result, error) { return loop(ctx, d, update) },
		counted(logout), func(d time.Duration) (result, error) { return loop(ctx, d, storeDelete) })
	if err != nil {
		return nil, err
	}
	lBase, lRes, lBare := ls[0], ls[1], ls[2]
	saturated := checked.Load()

	// Revocation latency at a steady login/logout load: writeRate logins
	// and writeRate logouts a second (open loop: each starts at its
	// scheduled time, and its latency counts from then), against the bare
	// INSERT and UPDATE at the same rates.
	fmt.Fprintln(os.Stderr, "writes: logout latency at a steady load")
	steadyBase := func(d time.Duration) (result, error) {
		return steady(ctx, d, update, insert)
	}
	steadyLogouts := func(d time.Duration) (result, error) {
		return steady(ctx, d, logoutOf(reserved, &nextReserved, &steadyRanOut), func(ctx context.Context, _ int) (bool, error) { return login(ctx, false) })
	}
	sBase, sRes, err := b.alternate("logout-latency", steadyBase, steadyLogouts)
	if err != nil {
		return nil, err
	}
	if stale.Load() > 0 {
		return nil, fmt.Errorf("%d of %d logged-out tokens were not refused (401) by another replica afterwards; statuses: %v", stale.Load(), checked.Load(), staleStatus)
	}
	if steadyRanOut.Load() > 0 {
		return nil, fmt.Errorf("writes: the steady logouts ran out of sessions (%d calls found none): the measurement is not valid", steadyRanOut.Load())
	}
	note := fmt.Sprintf("3 replicas, %d workers; latency p50 %s, p99 %s, max %s (the acknowledged wait included); %d tokens checked on another replica right after their logout returned: 0 accepted; %s",
		writeWorkers, ms(lRes.p50), ms(lRes.p99), ms(lRes.max), saturated, perOp(lRes, lBase, "UPDATE"))
	if ranOut.Load() > 0 {
		note += fmt.Sprintf("; every prepared session was logged out %.1f s into the %s of measurement, and the rate counts the time they ran", lRes.duration.Seconds(), b.o.duration)
	}
	steadyNote := fmt.Sprintf("%d logins and %d logouts a second over the 3 replicas, each started at its scheduled time (open loop; latency counted from then); logout p50 %s, p99 %s, max %s (the acknowledged wait included), against the bare UPDATE's %s, %s, %s under its INSERT/UPDATE load at the same rates; %d more tokens checked on another replica right after their logout returned: 0 accepted",
		writeRate, writeRate, ms(sRes.p50), ms(sRes.p99), ms(sRes.max), ms(sBase.p50), ms(sBase.p99), ms(sBase.max), checked.Load()-saturated) +
		fmt.Sprintf("; the machine's cores were %s busy (the bare INSERTs and UPDATEs: %s)", busy(sRes), busy(sBase))
	bareNote := func(bare, gw result, what string) string {
		n := fmt.Sprintf("the gateway's %s reach %.2f x this row; CPU per operation: %s", what, gw.rps()/bare.rps(), bare.split.perOp(bare.requests))
		if what == "logouts" && bareRanOut.Load() > 0 {
			n += fmt.Sprintf("; every prepared session was deleted %.1f s into the %s of measurement, and the rate counts the time they ran", bare.duration.Seconds(), b.o.duration)
		}
		return n
	}
	return []row{
		{name: "bare pgx INSERT of a session row, one transaction each", isBaseline: true, res: cBase},
		{name: fmt.Sprintf("logins: POST /v1/admin/sessions on 3 replicas (%d workers; audit chain on)", writeWorkers), res: cRes, note: loginNote},
		{name: fmt.Sprintf("a login's Postgres writes alone: Store.CreateSession over pgx (a login's one statement; one Store, so the creates of all %d workers in flight share its batches, where each replica batches only its own), the replicas running", writeWorkers),
			again: true, res: cBare, note: bareNote(cBare, cRes, "logins")},
		{name: "bare pgx UPDATE of a session row, one transaction each", isBaseline: true, res: lBase},
		{name: "logouts: DELETE /v1/session on 3 replicas, acknowledged by all (audit chain on)", res: lRes, note: note},
		{name: fmt.Sprintf("a logout's Postgres writes alone, one logout per transaction: Store.DeleteSession (the delete, its outbox row and NOTIFY, its audit record, in one pipeline) over pgx, outbox entries marked done every 20 ms as a replica does, %d workers, the replicas running (they hear the NOTIFYs and chain the audit records)", writeWorkers),
			again: true, res: lBare, note: bareNote(lBare, lRes, "logouts")},
		{name: fmt.Sprintf("bare pgx UPDATE at %d a second, beside %d INSERTs a second", writeRate, writeRate), isBaseline: true, res: sBase},
		{name: fmt.Sprintf("logout latency: DELETE /v1/session at %d a second beside %d logins a second, 3 replicas, acknowledged by all", writeRate, writeRate), res: sRes, note: steadyNote},
	}, nil
}

// busy is the share of the machine's cores r kept busy, and Postgres's
// part of it.
func busy(r result) string {
	cores := float64(runtime.NumCPU()) * r.duration.Seconds()
	return fmt.Sprintf("%.0f%%, Postgres %.0f%%", 100*r.split.machine.Seconds()/cores, 100*r.split.postgres.Seconds()/cores)
}

// writeRate is the steady row's logins and logouts per second each: a
// million logins an hour is 278 a second at the mean.
const writeRate = 280

// steady runs measured at writeRate a second and background at the same
// rate, each call started at its scheduled time in its own goroutine (an
// open loop: a slow answer does not delay the next start), for d; the
// result is measured's, with latencies counted from the scheduled start.
func steady(ctx context.Context, d time.Duration, measured, background func(ctx context.Context, i int) (bool, error)) (result, error) {
	ctx, cancel := context.WithTimeout(ctx, d+10*time.Second) // calls started before d may finish
	defer cancel()
	var (
		mu   sync.Mutex
		lats []time.Duration
		errs atomic.Int64
		wg   sync.WaitGroup
	)
	start, cpu0 := time.Now(), readCPUSplit()
	every := time.Second / writeRate
	for i := 0; ; i++ {
		at := start.Add(time.Duration(i) * every)
		if at.Sub(start) >= d {
			break
		}
		time.Sleep(time.Until(at))
		wg.Go(func() { _, _ = background(ctx, i) })
		wg.Go(func() {
			more, err := measured(ctx, i)
			lat := time.Since(at)
			switch {
			case err != nil:
				errs.Add(1)
			case more:
				mu.Lock()
				lats = append(lats, lat)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	r := result{requests: int64(len(lats)), duration: d, non2xx: errs.Load(), split: readCPUSplit().sub(cpu0)}
	r.setLatencies(lats)
	return r, nil
}

func authStatus(ctx context.Context, c *http.Client, base, tok string) int {
	return statusOf(ctx, c, base+"/v1/auth", "Authorization", "Bearer "+tok)
}

// statusOf is the status of GET url with one header (none when header is
// empty); 0 when no answer came.
func statusOf(ctx context.Context, c *http.Client, url, header, value string) int {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if header != "" {
		req.Header.Set(header, value)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// setLatencies sets r's percentiles and maximum from every call's latency.
func (r *result) setLatencies(lats []time.Duration) {
	slices.Sort(lats)
	pct := func(p float64) time.Duration {
		if len(lats) == 0 {
			return 0
		}
		return lats[min(len(lats)-1, int(float64(len(lats))*p))]
	}
	r.p50, r.p99, r.p999 = pct(.50), pct(.99), pct(.999)
	if len(lats) > 0 {
		r.max = lats[len(lats)-1]
	}
}

// startReplicas starts n gateways of one deployment with the default
// settings; stop stops them all.
func (b *bench) startReplicas(ctx context.Context, n int) (gws []*gatewayUnderTest, stop func(), err error) {
	stop = func() {
		for _, gw := range gws {
			gw.stop()
		}
	}
	for range n {
		gw, err := b.startGateway(ctx, DefaultLocalTTL, false)
		if err != nil {
			stop()
			return nil, nil, err
		}
		gws = append(gws, gw)
	}
	return gws, stop, nil
}
