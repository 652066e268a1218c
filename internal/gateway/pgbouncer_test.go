package gateway_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/sessiongw/sessiongw/internal/gateway"
	"github.com/sessiongw/sessiongw/internal/testenv"
)

// TestWithoutPreparedStatements runs the lifecycle with pgx's exec modes
// that PgBouncer in transaction pooling needs when it cannot keep prepared
// statements (before 1.21, or max_prepared_statements = 0): every query the
// gateway makes must work without them.
func TestWithoutPreparedStatements(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"exec", "simple_protocol"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			cfg := testenv.Config(t)
			u, err := url.Parse(cfg.DatabaseURL)
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			q.Set("default_query_exec_mode", mode)
			u.RawQuery = q.Encode()
			cfg.DatabaseURL = u.String()
			rep := testenv.Start(t, cfg, gateway.Options{})
			base := rep.URL
			user(t, base, 1, "alice", "admin", "dev")
			tok, _ := testenv.NewSession(t, base, 1, true, "agent")
			other, otherID := testenv.NewSession(t, base, 1, false, "agent")
			wantStatus(t, "auth", auth(t, base, tok), http.StatusOK)
			wantStatus(t, "activity", testenv.Do(t, http.MethodPost, base+"/v1/session/activity", map[string]any{"ip_address": "198.51.100.1"}, testenv.Bearer(tok)...), http.StatusNoContent)
			rep.Gateway.Batcher().Flush(context.Background())
			wantStatus(t, "list", testenv.Do(t, http.MethodGet, base+"/v1/session/all", nil, testenv.Bearer(tok)...), http.StatusOK)
			wantStatus(t, "stats", testenv.Do(t, http.MethodGet, base+"/v1/session/stats", nil, testenv.Bearer(tok)...), http.StatusOK)
			wantStatus(t, "revoke one", testenv.Do(t, http.MethodDelete, base+"/v1/admin/sessions/"+otherID, nil, testenv.Admin()...), http.StatusNoContent)
			wantStatus(t, "revoked", auth(t, base, other), http.StatusUnauthorized)
			wantStatus(t, "revoke others", testenv.Do(t, http.MethodDelete, base+"/v1/session/others", nil, testenv.Bearer(tok)...), http.StatusOK)
			wantStatus(t, "cleanup", testenv.Do(t, http.MethodPost, base+"/v1/admin/cleanup", nil, testenv.Admin()...), http.StatusOK)
			if v := verifyAudit(t, base, ""); !v.OK || v.Records < 5 {
				t.Errorf("audit chain: %+v", v)
			}
			wantStatus(t, "logout", testenv.Do(t, http.MethodDelete, base+"/v1/session", nil, testenv.Bearer(tok)...), http.StatusNoContent)
			wantStatus(t, "after logout", auth(t, base, tok), http.StatusUnauthorized)
			if n := outboxRows(t, rep); n == 0 {
				t.Errorf("no outbox rows: the triggers did not run")
			}
		})
	}
}
