package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/postgres"
	"github.com/sessiongw/sessiongw/internal/testenv"
	"github.com/sessiongw/sessiongw/internal/testenv/pgtest"
	"github.com/sessiongw/sessiongw/internal/testenv/redistest"
	"github.com/sessiongw/sessiongw/internal/testenv/testdeps"
)

func TestVersionAndHelp(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(t.Context(), []string{"version"}, func(string) string { return "" }, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "sessiongw ") {
		t.Errorf("version printed %q", out.String())
	}
	out.Reset()
	if err := run(t.Context(), []string{"help"}, func(string) string { return "" }, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"serve", "migrate", "cleanup", "SESSIONGW_DATABASE_URL", "SESSIONGW_CLEANUP_INTERVAL"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %s", want)
		}
	}
}

func TestBadInvocations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, nil, "no command"},
		{[]string{"frobnicate"}, nil, "unknown command"},
		{[]string{"serve", "--cache-ttl", "1s"}, nil, "--cache-ttl"},
		{[]string{"serve"}, map[string]string{"SESSIONGW_SESSION_TTL": "x"}, "SESSIONGW_SESSION_TTL"},
		{[]string{"serve", "extra"}, nil, "unexpected arguments"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		err := run(t.Context(), tt.args, func(k string) string { return tt.env[k] }, &out, &out)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run(%v) = %v; want an error containing %q", tt.args, err, tt.want)
		}
	}
}

func envFor(t *testing.T, extra map[string]string) func(string) string {
	t.Helper()
	redisURL, prefix := redistest.New(t)
	m := map[string]string{
		"SESSIONGW_DATABASE_URL": pgtest.New(t),
		"SESSIONGW_REDIS_URL":    redisURL,
		"SESSIONGW_REDIS_PREFIX": prefix,
		"SESSIONGW_ADMIN_TOKEN":  testenv.AdminToken,
	}
	for k, v := range extra {
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

func TestMigrateAndCleanupCommands(t *testing.T) {
	t.Parallel()
	getenv := envFor(t, nil)
	var out bytes.Buffer
	if err := run(t.Context(), []string{"migrate"}, getenv, &out, &out); err != nil {
		t.Fatal(err)
	}
	ms, err := postgres.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), fmt.Sprintf("applied %d migration(s)", len(ms))) {
		t.Errorf("first migrate printed %q", out.String())
	}
	out.Reset()
	if err := run(t.Context(), []string{"migrate"}, getenv, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "applied 0 migration(s)") {
		t.Errorf("second migrate printed %q", out.String())
	}
	out.Reset()
	if err := run(t.Context(), []string{"cleanup"}, getenv, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "deleted 0 expired session(s)") {
		t.Errorf("cleanup printed %q", out.String())
	}
}

// TestServe runs the whole program, uses it, and stops it the way SIGTERM
// does (by ending its context).
func TestServe(t *testing.T) {
	t.Parallel()
	port := testdeps.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	getenv := envFor(t, map[string]string{"SESSIONGW_HTTP_ADDR": fmt.Sprintf("127.0.0.1:%d", port)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs testdeps.SyncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, getenv, &logs, &logs) }()

	testdeps.WaitFor(t, 20*time.Second, func() bool {
		resp, err := testenv.HTTP.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	}, "serve did not come up:\n%s", &logs)
	var hc bytes.Buffer
	if err := run(ctx, []string{"healthcheck"}, getenv, &hc, &hc); err != nil || !strings.Contains(hc.String(), "ok") {
		t.Errorf("healthcheck against the running gateway = %v (%q)", err, hc.String())
	}
	if r := testenv.PutUser(t, base, 1, map[string]any{"username": "alice"}); r.Status != http.StatusCreated {
		t.Fatalf("put user: %d %s", r.Status, r.Body)
	}
	tok, _ := testenv.NewSession(t, base, 1, false, "")
	if r := testenv.Do(t, http.MethodGet, base+"/v1/auth", nil, testenv.Bearer(tok)...); r.Status != http.StatusOK {
		t.Errorf("auth through serve: %d", r.Status)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if err := run(context.Background(), []string{"healthcheck"}, getenv, &hc, &hc); err == nil {
		t.Error("healthcheck succeeded with the gateway stopped")
	}
	if !strings.Contains(logs.String(), "sessiongw stopped") || !strings.Contains(logs.String(), "applied migrations") {
		t.Errorf("serve logs = %s", logs.String())
	}
}

func TestConfigCheck(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/sessiongw.yaml"
	if err := os.WriteFile(path, []byte("cache_ttl: 6m\ndatabase_url: postgres://app:hunter2@db:5432/sessions\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		return map[string]string{"SESSIONGW_ADMIN_TOKEN": "a-very-secret-admin-token"}[k]
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"config", "check", "--config", path, "--log-level", "warn"}, getenv, &out, &out); err != nil {
		t.Fatalf("config check: %v\n%s", err, out.String())
	}
	for _, want := range []string{"configuration is valid", "SESSIONGW_CACHE_TTL=6m", "(config file)", "SESSIONGW_LOG_LEVEL=warn", "(--log-level)",
		"SESSIONGW_ADMIN_TOKEN=[REDACTED]", "(SESSIONGW_ADMIN_TOKEN)", "SESSIONGW_SESSION_TTL=24h", "(default)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("config check output lacks %q:\n%s", want, out.String())
		}
	}
	for _, secret := range []string{"hunter2", "a-very-secret-admin-token"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("config check printed a secret")
		}
	}
	out.Reset()
	if err := run(t.Context(), []string{"config", "check", "--cache-ttl", "1h"}, getenv, &out, &out); err == nil || !strings.Contains(err.Error(), "SESSIONGW_CACHE_TTL") {
		t.Errorf("config check of an invalid configuration: %v", err)
	}
}
