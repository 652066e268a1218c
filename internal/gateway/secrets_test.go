package gateway_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sessiongw/sessiongw/internal/gateway"
	"github.com/sessiongw/sessiongw/internal/redis"
	"github.com/sessiongw/sessiongw/internal/testenv"
	"github.com/sessiongw/sessiongw/internal/testenv/redistest"
)

// TestNoRawTokenAnywhere drives every token-bearing path with debug logging
// and then looks for the raw tokens in every Postgres row, every Redis key
// and value under the prefix, every published message and every log line.
func TestNoRawTokenAnywhere(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t)
	rdb := redistest.Client(t, cfg.RedisURL)
	ctx := context.Background()

	var mu sync.Mutex
	var messages []string
	ps := rdb.Subscribe(ctx, redis.Channel(cfg.RedisPrefix))
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	go func() {
		for m := range ps.Channel() {
			mu.Lock()
			messages = append(messages, m.Payload)
			mu.Unlock()
		}
	}()

	rep := testenv.Start(t, cfg, gateway.Options{})
	base := rep.URL
	user(t, base, 1, "alice")
	var tokens []string
	for range 4 {
		tok, _ := testenv.NewSession(t, base, 1, false, "agent")
		tokens = append(tokens, tok)
	}
	for _, tok := range tokens {
		auth(t, base, tok)
		testenv.Do(t, http.MethodGet, base+"/v1/session", nil, "Cookie", "session_id="+tok)
		testenv.Do(t, http.MethodPost, base+"/v1/session/activity", nil, "X-Session-Token", tok)
	}
	testenv.Do(t, http.MethodGet, base+"/v1/session/all", nil, testenv.Bearer(tokens[0])...)
	testenv.Do(t, http.MethodDelete, base+"/v1/session", nil, testenv.Bearer(tokens[1])...)
	testenv.Do(t, http.MethodPost, base+"/v1/admin/users/1/sessions/revoke", map[string]string{"except_token": tokens[0]}, testenv.Admin()...)
	testenv.Do(t, http.MethodDelete, base+"/v1/session/others", nil, testenv.Bearer(tokens[0])...)
	auth(t, base, tokens[0]) // refill the caches with the surviving session
	rep.Gateway.Batcher().Flush(ctx)

	var haystacks []string
	// Every row of every table in the test's schema, as text.
	rows, err := rep.Gateway.Pool().Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) < 2 {
		t.Fatalf("tables = %v, %v", tables, err)
	}
	for _, tbl := range tables {
		rows, err := rep.Gateway.Pool().Query(ctx, `SELECT t::text FROM `+pgx.Identifier{tbl}.Sanitize()+` t`)
		if err != nil {
			t.Fatal(err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		haystacks = append(haystacks, texts...)
	}
	keys, err := rdb.Keys(ctx, cfg.RedisPrefix+":*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("Redis keys = %v, %v; want the cached session", keys, err)
	}
	for _, k := range keys {
		v, _ := rdb.Get(ctx, k).Result()
		haystacks = append(haystacks, k, v)
	}
	mu.Lock()
	if len(messages) == 0 {
		t.Error("no invalidation was published")
	}
	haystacks = append(haystacks, messages...)
	mu.Unlock()
	logs := rep.Logs.String()
	haystacks = append(haystacks, logs)

	for _, tok := range tokens {
		for _, form := range []string{tok, strings.ToUpper(tok), strings.ReplaceAll(tok, "-", "")} {
			for _, h := range haystacks {
				if strings.Contains(strings.ToLower(h), strings.ToLower(form)) {
					t.Fatalf("a raw token appears in %.200q", h)
				}
			}
		}
	}
}
