package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/gateway"
	"github.com/sessiongw/sessiongw/internal/postgres"
	"github.com/sessiongw/sessiongw/internal/testenv"
)

// TestAuditCommands runs "audit head" and "audit verify" against a chain
// the gateway wrote, before and after tampering.
func TestAuditCommands(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t)
	rep := testenv.Start(t, cfg, gateway.Options{})
	testenv.PutUser(t, rep.URL, 1, map[string]any{"username": "alice"})
	testenv.NewSession(t, rep.URL, 1, false, "")
	testenv.NewSession(t, rep.URL, 1, false, "")
	getenv := func(k string) string {
		if k == "SESSIONGW_DATABASE_URL" {
			return cfg.DatabaseURL
		}
		return ""
	}
	cli := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(t.Context(), args, getenv, &out, &out)
		return out.String(), err
	}

	head, err := cli("audit", "head")
	if err != nil || !strings.HasPrefix(head, "3:") || len(strings.TrimSpace(head)) != 2+64 {
		t.Fatalf("audit head: %v, %q", err, head)
	}
	anchor := strings.TrimSpace(head)
	if out, err := cli("audit", "verify"); err != nil || !strings.HasPrefix(out, "OK 3 records (head "+anchor+")") {
		t.Errorf("audit verify: %v, %q", err, out)
	}
	for _, flag := range [][]string{{"--expect-head", anchor}, {"--expect-head=" + anchor}, {"-expect-head", anchor}} {
		if out, err := cli(append([]string{"audit", "verify"}, flag...)...); err != nil || !strings.HasPrefix(out, "OK 3 records") {
			t.Errorf("audit verify %v: %v, %q", flag, err, out)
		}
	}
	if _, err := cli("audit", "verify", "--expect-head", "3:nothex"); err == nil || !strings.Contains(err.Error(), "SEQ:HASH") {
		t.Errorf("a malformed --expect-head: %v", err)
	}
	if _, err := cli("audit"); err == nil {
		t.Errorf("audit without a subcommand succeeded")
	}

	pool, err := postgres.Connect(context.Background(), cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(context.Background(), `UPDATE audit_log SET client_ip = '203.0.113.9' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	out, err := cli("audit", "verify")
	if err == nil || !strings.HasPrefix(out, "BROKEN at record 2: ") {
		t.Errorf("audit verify after tampering: %v, %q; want a non-zero exit naming record 2", err, out)
	}
}

// TestAuditPruneCommand prunes the old part of a chain the gateway wrote:
// the rest verifies, the prune is itself audited, and moving the base or
// removing the prune record is caught.
func TestAuditPruneCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testenv.Config(t)
	rep := testenv.Start(t, cfg, gateway.Options{})
	pool, err := postgres.Connect(ctx, cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	testenv.PutUser(t, rep.URL, 1, map[string]any{"username": "alice"})
	testenv.NewSession(t, rep.URL, 1, false, "")
	var cut time.Time // the database's clock, between the old and new records
	if err := pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&cut); err != nil {
		t.Fatal(err)
	}
	testenv.NewSession(t, rep.URL, 1, false, "")
	testenv.NewSession(t, rep.URL, 1, false, "")
	getenv := func(k string) string {
		if k == "SESSIONGW_DATABASE_URL" {
			return cfg.DatabaseURL
		}
		return ""
	}
	cli := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(t.Context(), args, getenv, &out, &out)
		return out.String(), err
	}
	atBase, _ := cli("audit", "head") // 2:…, the last record the prune removes
	var first []byte                  // record 1, inside the pruned part
	if err := pool.QueryRow(ctx, `SELECT hash FROM audit_log WHERE seq = 1`).Scan(&first); err != nil {
		t.Fatal(err)
	}
	oldAnchor := fmt.Sprintf("1:%x", first)
	if _, err := cli("audit", "prune"); err == nil {
		t.Error("audit prune without --before or --older-than succeeded")
	}
	out, err := cli("audit", "prune", "--before", cut.UTC().Format(time.RFC3339Nano))
	if err != nil || !strings.HasPrefix(out, "pruned 2 audit record(s) through 2:") {
		t.Fatalf("audit prune: %v, %q", err, out)
	}
	out, err = cli("audit", "verify")
	if err != nil || !strings.HasPrefix(out, "OK 3 records") { // sessions 2 and 3, and the prune
		t.Fatalf("audit verify after the prune: %v, %q", err, out)
	}
	head, _ := cli("audit", "head")
	for _, anchor := range []string{strings.TrimSpace(head), strings.TrimSpace(atBase)} {
		if out, err := cli("audit", "verify", "--expect-head", anchor); err != nil {
			t.Errorf("verify against %s (the new head, the base): %v, %q", anchor, err, out)
		}
	}
	if out, err := cli("audit", "verify", "--expect-head", oldAnchor); err == nil {
		t.Errorf("verify against an anchor inside the pruned part passed: %q", out)
	} else if !strings.Contains(out, "pruned") {
		t.Errorf("verify against a pruned anchor: %q; want it to say the record was pruned", out)
	}
	var pruned int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE event = 'audit.pruned'`).Scan(&pruned); err != nil || pruned != 1 {
		t.Errorf("audit.pruned records = %d, %v; want 1", pruned, err)
	}
	// Removing more from the start and moving the base to match is caught.
	if _, err := pool.Exec(ctx, `DELETE FROM audit_log WHERE seq = 3;
		UPDATE audit_head SET base_seq = 3, base_hash = (SELECT prev_hash FROM audit_log WHERE seq = 4)`); err != nil {
		t.Fatal(err)
	}
	if out, err := cli("audit", "verify"); err == nil || !strings.HasPrefix(out, "BROKEN") {
		t.Errorf("verify after removing a record and moving the base: %v, %q", err, out)
	}
}
