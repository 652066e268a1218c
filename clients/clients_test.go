// Package clients_test runs the Node and Python clients' own test suites
// (node --test, pytest) against a real gateway it starts, on its own
// Postgres schema and Redis prefix, with a webhook endpoint that records
// raw deliveries (the suites verify them with the Standard Webhooks
// library) and the identity JWT on.
package clients_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/config"
	"github.com/sessiongw/sessiongw/internal/gateway"
	"github.com/sessiongw/sessiongw/internal/testenv"
)

const hookSecret = "whsec_c2Vzc2lvbmd3LXRlc3Qtc2VjcmV0LTAxMjM0NTY3"

// recorder keeps every webhook delivery as it came and serves them as JSON.
type recorder struct {
	mu  sync.Mutex
	got []map[string]any
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method == http.MethodGet {
		r.mu.Lock()
		defer r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(append([]map[string]any{}, r.got...))
		return
	}
	body, _ := io.ReadAll(req.Body)
	h := map[string]string{}
	for _, k := range []string{"webhook-id", "webhook-timestamp", "webhook-signature", "content-type"} {
		h[k] = req.Header.Get(k)
	}
	r.mu.Lock()
	r.got = append(r.got, map[string]any{"headers": h, "body": string(body)})
	r.mu.Unlock()
}

// gatewayEnv starts a gateway for a suite and returns the variables the
// suite reads.
func gatewayEnv(t *testing.T) []string {
	t.Helper()
	rec := httptest.NewServer(&recorder{})
	t.Cleanup(rec.Close)
	cfg := testenv.Config(t)
	cfg.Webhooks = []config.WebhookEndpoint{{Name: "default", URL: rec.URL + "/hook", Secret: hookSecret}}
	cfg.WebhookMaxAge = time.Hour
	cfg.IdentityJWT, cfg.PublicURL = true, "https://auth.example.com"
	rep := testenv.Start(t, cfg, gateway.Options{WebhookFirstRetry: 100 * time.Millisecond})
	return append(os.Environ(),
		"SESSIONGW_TEST_URL="+rep.URL, "SESSIONGW_TEST_ADMIN_TOKEN="+testenv.AdminToken,
		"SESSIONGW_TEST_WEBHOOK_LOG="+rec.URL+"/deliveries", "SESSIONGW_TEST_WEBHOOK_SECRET="+hookSecret,
		"SESSIONGW_TEST_ISSUER="+cfg.PublicURL)
}

// run runs a suite, failing the test with its output when it fails.
func run(t *testing.T, dir string, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v in %s: %v\n%s", name, args, dir, err, out)
	}
	t.Logf("%s", out)
}

// TestNodeClient runs clients/node's suite (npm test: tsc, then node --test).
func TestNodeClient(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not installed (Node 20; .ci/run checks)")
	}
	if _, err := os.Stat(filepath.Join("node", "node_modules", "typescript")); err != nil {
		t.Fatal("clients/node has no node_modules: run `npm ci` there (make test does)")
	}
	run(t, "node", gatewayEnv(t), "npm", "test", "--silent")
}

// python is Debian's interpreter, where apt installs FastAPI, httpx and
// pytest (a pyenv or venv python on PATH would not see them).
const python = "/usr/bin/python3"

// TestPythonClient runs clients/python's suite with pytest.
func TestPythonClient(t *testing.T) {
	t.Parallel()
	if out, err := exec.Command(python, "-c", "import fastapi, httpx, pytest, jwt").CombinedOutput(); err != nil {
		t.Fatalf("%s lacks a test dependency (apt-get install python3-fastapi python3-httpx python3-pytest python3-jwt; make test does): %s", python, out)
	}
	env := append(gatewayEnv(t), "PYTHONPATH=src", "PYTHONDONTWRITEBYTECODE=1")
	run(t, "python", env, python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests")
}
