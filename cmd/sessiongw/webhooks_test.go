package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/testenv"
	"github.com/sessiongw/sessiongw/internal/testenv/pgtest"
	"github.com/sessiongw/sessiongw/internal/testenv/redistest"
	"github.com/sessiongw/sessiongw/internal/testenv/testdeps"
	"github.com/sessiongw/sessiongw/internal/webhook"
)

const hookSecret = "whsec_c2Vzc2lvbmd3LXRlc3Qtc2VjcmV0LTAxMjM0NTY3"

// TestWebhooksSurviveAKilledWorker runs two gateway processes; the one
// delivering is killed (SIGKILL) while a receiver holds its delivery. The
// other takes over and nothing is lost (what was in flight may come twice:
// at least once). Then the webhooks commands list and replay.
func TestWebhooksSurviveAKilledWorker(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "sessiongw")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	key, _ := webhook.ParseSecret(hookSecret)
	var (
		mu      sync.Mutex
		got     []string // webhook-ids accepted
		holding = make(chan struct{})
		held    sync.Once
		release = make(chan struct{})
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := r.Header.Get("webhook-id")
		if err := webhook.Verify(key, id, r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"), body, time.Now(), 5*time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		first := false
		held.Do(func() { first = true })
		if first { // hold the first delivery until the test says
			close(holding)
			<-release
			return
		}
		mu.Lock()
		got = append(got, id)
		mu.Unlock()
	}))
	defer recv.Close()
	defer close(release)

	redisURL, prefix := redistest.New(t)
	dsn := pgtest.New(t)
	env := []string{
		"SESSIONGW_DATABASE_URL=" + dsn, "SESSIONGW_REDIS_URL=" + redisURL, "SESSIONGW_REDIS_PREFIX=" + prefix,
		"SESSIONGW_ADMIN_TOKEN=" + testenv.AdminToken, "SESSIONGW_WEBHOOK_URL=" + recv.URL, "SESSIONGW_WEBHOOK_SECRET=" + hookSecret,
		"SESSIONGW_LOG_LEVEL=debug", "PATH=" + os.Getenv("PATH"),
	}
	start := func() (*exec.Cmd, string, *testdeps.SyncBuffer) {
		port := testdeps.FreePort(t)
		cmd := exec.Command(bin, "serve")
		logs := &testdeps.SyncBuffer{}
		cmd.Env = append(env, fmt.Sprintf("SESSIONGW_HTTP_ADDR=127.0.0.1:%d", port))
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		base := fmt.Sprintf("http://127.0.0.1:%d", port)
		testdeps.WaitFor(t, 30*time.Second, func() bool {
			resp, err := testenv.HTTP.Get(base + "/readyz")
			if err == nil {
				resp.Body.Close()
			}
			return err == nil && resp.StatusCode == http.StatusOK
		}, "a gateway process did not come up:\n%s", logs)
		return cmd, base, logs
	}
	a, baseA, logsA := start()
	testdeps.WaitFor(t, 20*time.Second, func() bool { return strings.Contains(logsA.String(), "this replica delivers the events") },
		"the first process never became the worker:\n%s", logsA)
	_, _, logsB := start()

	testenv.PutUser(t, baseA, 1, map[string]any{"username": "alice"})
	for range 3 {
		testenv.NewSession(t, baseA, 1, false, "")
	}
	select {
	case <-holding:
	case <-time.After(20 * time.Second):
		t.Fatalf("no delivery arrived:\n%s", logsA)
	}
	if err := a.Process.Kill(); err != nil { // mid-delivery
		t.Fatal(err)
	}
	_ = a.Wait()
	testdeps.WaitFor(t, 30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(distinctIDs(got)) == 3
	}, "the other process did not deliver every event:\n%s", logsB)
	if !strings.Contains(logsB.String(), "this replica delivers the events") {
		t.Errorf("the second process never said it took over")
	}

	// The commands, against the same database.
	getenv := func(k string) string {
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, k+"="); ok {
				return v
			}
		}
		return ""
	}
	cli := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(t.Context(), args, getenv, &out, &out)
		return out.String(), err
	}
	testdeps.WaitFor(t, 10*time.Second, func() bool {
		out, err := cli("webhooks", "list")
		return err == nil && strings.Count(out, " delivered ") == 3
	}, "webhooks list does not show three delivered events")
	if out, err := cli("webhooks", "list", "--failed"); err != nil || strings.TrimSpace(out) != "no deliveries" {
		t.Errorf("webhooks list --failed: %v %q", err, out)
	}
	if out, err := cli("webhooks", "replay", "--since", "1h"); err != nil || !strings.Contains(out, "queued 3 deliveries") {
		t.Errorf("webhooks replay: %v %q", err, out)
	}
	testdeps.WaitFor(t, 30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= 6
	}, "the replayed events did not arrive")
	for _, bad := range [][]string{{"webhooks", "replay"}, {"webhooks", "replay", "--since", "yesterday"}, {"webhooks", "replay", "--since", "1h", "--endpoint", "nope"}} {
		if _, err := cli(bad...); err == nil {
			t.Errorf("%v succeeded", bad)
		}
	}
}

func distinctIDs(ids []string) map[string]bool {
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}
