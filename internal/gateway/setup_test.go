package gateway_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sessiongw/sessiongw/internal/config"
	"github.com/sessiongw/sessiongw/internal/faultproxy"
	"github.com/sessiongw/sessiongw/internal/gateway"
	"github.com/sessiongw/sessiongw/internal/testenv"
)

// setup starts one gateway on its own schema and prefix, with a clock
// the test moves by hand.
func setup(t *testing.T, mods ...func(*config.Config)) (*testenv.Replica, *testenv.Clock) {
	t.Helper()
	cfg := testenv.Config(t)
	for _, m := range mods {
		m(&cfg)
	}
	clk := testenv.NewClock()
	return testenv.Start(t, cfg, gateway.Options{Now: clk.Now}), clk
}

func user(t *testing.T, base string, id any, name string, roles ...string) {
	t.Helper()
	if roles == nil {
		roles = []string{}
	}
	r := testenv.PutUser(t, base, id, map[string]any{"username": name, "email": name + "@example.com", "roles": roles})
	if r.Status != http.StatusCreated && r.Status != http.StatusOK {
		t.Fatalf("put user %v: %d %s", id, r.Status, r.Body)
	}
}

// auth calls /v1/auth with the token as a bearer credential.
func auth(t *testing.T, base, token string) testenv.Response {
	t.Helper()
	return testenv.Do(t, http.MethodGet, base+"/v1/auth", nil, testenv.Bearer(token)...)
}

func wantStatus(t *testing.T, what string, r testenv.Response, want int) {
	t.Helper()
	if r.Status != want {
		t.Errorf("%s: status %d (%s); want %d", what, r.Status, strings.TrimSpace(string(r.Body)), want)
	}
}

const (
	faultproxyCut  = faultproxy.Cut
	faultproxyPass = faultproxy.Pass
)
