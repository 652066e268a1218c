package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessiongw/sessiongw/internal/session"
)

// The realistic mix: wrk validates tokens drawn from a Zipf distribution
// over the rotation (every session but the reserve), while a churn loop
// keeps logouts/revokes and logins each at mixChurn of the gateway's
// /v1/auth answers. Logouts and revokes take sessions from the reserve:
// they are cached like every other session, but a client that logged out
// stops sending its cookie, so wrk never asks for them again. Every new
// session is validated once, as a browser does right after its login.
const (
	mixChurn = 0.005 // of /v1/auth answers, for logouts+revokes and for logins
	zipfS    = 1.1   // Zipf exponent of token popularity
	zipfDraw = 200_000
)

// rotation is the number of sessions wrk requests; the rest are the reserve.
func (b *bench) rotation() int { return len(b.tokens) - len(b.tokens)/10 }

// zipfFile writes zipfDraw tokens drawn from the rotation with Zipf
// popularity; wrk's uniform pick from this file yields the same law.
func (b *bench) zipfFile() (string, error) {
	path := filepath.Join(b.tokenDir, "tokens-zipf.txt")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	r := rand.New(rand.NewPCG(1, 2))
	z := rand.NewZipf(r, zipfS, 1, uint64(b.rotation()-1))
	var buf strings.Builder
	for range zipfDraw {
		buf.WriteString(b.tokens[z.Uint64()])
		buf.WriteByte('\n')
	}
	return path, os.WriteFile(path, []byte(buf.String()), 0o600)
}

// churnStats is what one churn loop did.
type churnStats struct {
	logouts, revokes, logins int64
	revoked                  []victim // checked afterwards
	errors                   []string
}

// churnWorkers is how many logouts/revokes, and how many logins, may be
// in flight at once (a revoke waits for the replicas' acknowledgements).
const churnWorkers = 4

// churn runs until ctx ends, drawing victims from the reserve.
func (b *bench) churn(ctx context.Context, gw *gatewayUnderTest) *churnStats {
	st := &churnStats{}
	var mu sync.Mutex
	fail := func(err error) {
		mu.Lock()
		st.errors = append(st.errors, err.Error())
		mu.Unlock()
	}
	client := &http.Client{Timeout: 10 * time.Second}
	var want, outs, ins atomic.Int64
	// next hands out operation numbers while fewer than want were taken.
	next := func(taken *atomic.Int64) (int64, bool) {
		for ctx.Err() == nil {
			n := taken.Load()
			if n >= want.Load() {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			if taken.CompareAndSwap(n, n+1) {
				return n, true
			}
		}
		return 0, false
	}
	var fresh []victim // logged in during the run, validated once
	logout := func(n int64) {
		v, ok := b.takeVictim()
		if !ok {
			mu.Lock()
			if len(fresh) > 0 {
				v, fresh, ok = fresh[0], fresh[1:], true
			}
			mu.Unlock()
		}
		if !ok {
			fail(errors.New("no session left to log out (reserve used up, no logins yet)"))
			return
		}
		var err error
		if n%2 == 0 {
			err = b.call(client, http.MethodDelete, gw.url+"/v1/session", v.token, nil, http.StatusNoContent, nil)
		} else {
			err = b.call(client, http.MethodDelete, gw.url+"/v1/admin/sessions/"+v.id, "", nil, http.StatusNoContent, nil)
		}
		if err != nil {
			fail(err)
		}
		mu.Lock()
		defer mu.Unlock()
		st.revoked = append(st.revoked, v)
		if n%2 == 0 {
			st.logouts++
		} else {
			st.revokes++
		}
	}
	login := func(n int64) {
		var created struct {
			Token   string `json:"token"`
			Session struct {
				ID string `json:"id"`
			} `json:"session"`
		}
		body := map[string]any{"user_id": n%1000 + 1, "ip_address": "192.0.2.7", "user_agent": "sessiongw-bench"}
		if err := b.call(client, http.MethodPost, gw.url+"/v1/admin/sessions", "", body, http.StatusCreated, &created); err != nil {
			fail(err)
		} else if err := b.call(client, http.MethodGet, gw.url+"/v1/auth", created.Token, nil, http.StatusOK, nil); err != nil {
			fail(fmt.Errorf("new session: %w", err))
		}
		mu.Lock()
		st.logins++
		if created.Token != "" {
			fresh = append(fresh, victim{created.Token, created.Session.ID})
		}
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for range churnWorkers {
		wg.Go(func() {
			for n, ok := next(&outs); ok; n, ok = next(&outs) {
				logout(n)
			}
		})
		wg.Go(func() {
			for n, ok := next(&ins); ok; n, ok = next(&ins) {
				login(n)
			}
		})
	}
	// One logout or revoke and one login at once, then mixChurn of the
	// answers: every run, however short, churns.
	start := gw.authRequests()
	for ctx.Err() == nil {
		want.Store(max(1, int64(float64(gw.authRequests()-start)*mixChurn)))
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	wg.Wait()
	return st
}

// verifyRevoked checks, after the load, that no logged-out or revoked
// session of the run is accepted. It asks the gateway's service directly,
// each check as its own client: over HTTP, all from 127.0.0.1, thousands of
// lookups that find nothing would trip the per-address rate limit (503).
func (b *bench) verifyRevoked(ctx context.Context, gw *gatewayUnderTest, st *churnStats) {
	for n, v := range st.revoked {
		_, err := gw.g.Service().Validate(ctx, session.Token(v.token), session.Client{IP: fmt.Sprintf("verify-%d", n)})
		if !errors.Is(err, session.ErrUnauthenticated) {
			st.errors = append(st.errors, fmt.Sprintf("revoked session %s: validation answered %v, want unauthenticated", v.id, err))
		}
	}
}

var victimMu sync.Mutex

// victim is a session the churn logs out or revokes.
type victim struct{ token, id string }

// takeVictim hands out reserve sessions, each once per bench.
func (b *bench) takeVictim() (victim, bool) {
	victimMu.Lock()
	defer victimMu.Unlock()
	if b.nextVictim == 0 {
		b.nextVictim = b.rotation()
	}
	if b.nextVictim >= len(b.tokens) {
		return victim{}, false
	}
	b.nextVictim++
	return victim{b.tokens[b.nextVictim-1], b.ids[b.nextVictim-1]}, true
}

// call sends one request (bearer token or the admin token) and checks the
// status.
func (b *bench) call(client *http.Client, method, url, token string, body any, want int, out any) error {
	var rd *bytes.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	} else {
		req.Header.Set("Authorization", "Bearer "+benchAdminToken)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d, want %d", method, url, resp.StatusCode, want)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

// mix measures the realistic mix on gw while the churn loop runs.
func (b *bench) mix(ctx context.Context, gw *gatewayUnderTest, tokens string) (result, *churnStats, error) {
	cctx, cancel := context.WithCancel(ctx)
	var st *churnStats
	done := make(chan struct{})
	go func() { st = b.churn(cctx, gw); close(done) }()
	res, err := b.measure(ctx, gw, tokens, b.o.connections, b.o.duration)
	cancel()
	<-done
	b.verifyRevoked(ctx, gw, st)
	return res, st, err
}

// mixPair runs the mix with caches off (the baseline) and on, each on a
// fresh gateway. warmP99 is the warm-cache p99 of this run (the target
// compares with it).
func (b *bench) mixPair(ctx context.Context, warmP99 time.Duration) ([]row, error) {
	zipf, err := b.zipfFile()
	if err != nil {
		return nil, err
	}
	var rows []row
	for _, cached := range []bool{false, true} {
		localTTL := time.Duration(0)
		if cached {
			localTTL = DefaultLocalTTL
		}
		gw, err := b.startGateway(ctx, localTTL, !cached)
		if err != nil {
			return nil, err
		}
		res, st, err := b.mix(ctx, gw, zipf)
		gw.stop()
		if err != nil {
			return nil, err
		}
		if len(st.errors) > 0 {
			return nil, fmt.Errorf("realistic mix: %d errors, first: %s", len(st.errors), st.errors[0])
		}
		res.churn = st.logouts + st.revokes + st.logins
		churn := fmt.Sprintf("%d logouts, %d admin revokes and %d logins (each new session validated once) during the run; every logged-out or revoked session was refused afterwards",
			st.logouts, st.revokes, st.logins)
		if !cached {
			rows = append(rows, row{name: "the same mix, caches off (Postgres every request)", isBaseline: true, res: res, note: churn})
			continue
		}
		noPG := 1 - float64(res.pgQueries)/float64(max(res.gatewayAuths, 1))
		rows = append(rows, row{name: fmt.Sprintf("realistic mix: Zipf(s=%.1f) tokens over %d sessions, %.1f%% logouts/revokes and %.1f%% logins; in-process cache starts empty, Redis warm",
			zipfS, b.rotation(), mixChurn*100, mixChurn*100), res: res,
			note: fmt.Sprintf("%.4f of /v1/auth answers needed no Postgres query; p99 %.2f x the warm-cache p99; %s", noPG,
				float64(res.p99)/float64(max(warmP99, time.Microsecond)), churn)})
	}
	return rows, nil
}
