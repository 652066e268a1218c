package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

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
