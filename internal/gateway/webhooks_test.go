package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/config"
	"github.com/sessiongw/sessiongw/internal/gateway"
	"github.com/sessiongw/sessiongw/internal/session"
	"github.com/sessiongw/sessiongw/internal/testenv"
	"github.com/sessiongw/sessiongw/internal/testenv/contract"
	"github.com/sessiongw/sessiongw/internal/testenv/testdeps"
	"github.com/sessiongw/sessiongw/internal/webhook"
)

const hookSecret = "whsec_c2Vzc2lvbmd3LXRlc3Qtc2VjcmV0LTAxMjM0NTY3"

// delivery is one request a receiver got, verified.
type delivery struct {
	ID   string
	Type string
	At   string
	Data map[string]any
	Body string
}

// receiver is a webhook endpoint for tests: it verifies every request as
// a receiver must, records it, and answers what fail says (200 when nil).
type receiver struct {
	t   *testing.T
	srv *httptest.Server
	key []byte

	mu          sync.Mutex
	got         []delivery
	forged      int
	offContract []string             // deliveries the OpenAPI document's webhooks do not describe
	fail        func(d delivery) int // the status to answer; 0: 200
}

func newReceiver(t *testing.T) *receiver {
	key, err := webhook.ParseSecret(hookSecret)
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{t: t, key: key}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(func() {
		r.srv.Close()
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, v := range r.offContract {
			t.Errorf("a delivery does not match api/openapi.yaml's webhooks: %s", v)
		}
	})
	return r
}

// matchesWebhookContract validates a delivery's body against the schema
// api/openapi.yaml gives its type.
func matchesWebhookContract(typ string, body []byte) error {
	doc, err := contract.Load()
	if err != nil {
		return err
	}
	item := doc.T.Webhooks[typ]
	if item == nil || item.Post == nil {
		return fmt.Errorf("%s: not documented", typ)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return err
	}
	schema := item.Post.RequestBody.Value.Content.Get("application/json").Schema.Value
	if err := schema.VisitJSON(v); err != nil {
		return fmt.Errorf("%s: %v", typ, err)
	}
	return nil
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	h := req.Header
	if err := webhook.Verify(r.key, h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature"), body, time.Now(), 5*time.Minute); err != nil {
		r.mu.Lock()
		r.forged++
		r.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var b struct {
		Type      string         `json:"type"`
		Timestamp string         `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	d := delivery{ID: h.Get("webhook-id"), Type: b.Type, At: b.Timestamp, Data: b.Data, Body: string(body)}
	if err := matchesWebhookContract(b.Type, body); err != nil {
		r.mu.Lock()
		r.offContract = append(r.offContract, err.Error())
		r.mu.Unlock()
	}
	r.mu.Lock()
	fail := r.fail
	r.mu.Unlock()
	if fail != nil {
		if status := fail(d); status != 0 {
			w.WriteHeader(status)
			return
		}
	}
	r.mu.Lock()
	r.got = append(r.got, d)
	r.mu.Unlock()
}

func (r *receiver) setFail(f func(delivery) int) {
	r.mu.Lock()
	r.fail = f
	r.mu.Unlock()
}

// deliveries returns what was accepted so far.
func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// waitFor waits until cond holds for the accepted deliveries.
func (r *receiver) waitFor(timeout time.Duration, what string, cond func([]delivery) bool) []delivery {
	r.t.Helper()
	var last []delivery
	testdeps.WaitFor(r.t, timeout, func() bool { last = r.deliveries(); return cond(last) }, "%s; got %d deliveries", what, len(last))
	return last
}

// distinct is the deliveries with duplicates (same webhook-id) removed,
// in the order of their first arrival.
func distinct(ds []delivery) []delivery {
	seen := map[string]bool{}
	var out []delivery
	for _, d := range ds {
		if !seen[d.ID] {
			seen[d.ID] = true
			out = append(out, d)
		}
	}
	return out
}

// hookConfig is a deployment's configuration with the receiver as its one
// endpoint.
func hookConfig(t *testing.T, r *receiver) config.Config {
	cfg := testenv.Config(t)
	cfg.Webhooks = []config.WebhookEndpoint{{Name: "default", URL: r.srv.URL + "/hooks", Secret: hookSecret}}
	cfg.WebhookMaxAge = 24 * time.Hour
	return cfg
}

var hookOptions = gateway.Options{WebhookFirstRetry: 100 * time.Millisecond}

// TestWebhooksTellEveryChange: each kind of change is delivered once, as
// its type and reason, signed, with the audit sequence of its record and
// never a token or a token hash; changes made with plain SQL too.
func TestWebhooksTellEveryChange(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	cfg := hookConfig(t, r)
	cfg.MaxSessionsPerUser = 2
	rep := testenv.Start(t, cfg, hookOptions)
	base, adm := rep.URL, []string{"Authorization", "Bearer " + testenv.AdminToken}
	ua := "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0"
	mustUser(t, base, "u1")
	mustUser(t, base, "u2")
	var tokens []string
	login := func(user string) (tok, id string) {
		t.Helper()
		resp := testenv.Do(t, "POST", base+"/v1/admin/sessions", map[string]any{"user_id": user, "ip_address": "198.51.100.7", "user_agent": ua}, adm...)
		var out struct {
			Token   string
			Session struct{ ID string }
		}
		resp.Decode(t, &out)
		tokens = append(tokens, out.Token)
		return out.Token, out.Session.ID
	}
	t1, s1 := login("u1")
	_, s2 := login("u1")
	_, s3 := login("u1")                                                            // evicts s1 (limit 2)
	testenv.Do(t, "DELETE", base+"/v1/session", nil, "Authorization", "Bearer "+t1) // already evicted: no second event
	t4, s4 := login("u2")
	testenv.Do(t, "DELETE", base+"/v1/session", nil, "Authorization", "Bearer "+t4) // logout
	t5, s5 := login("u2")
	rot := testenv.Do(t, "POST", base+"/v1/session/rotate", nil, "Authorization", "Bearer "+t5)
	var rotated struct{ Token string }
	rot.Decode(t, &rotated)
	tokens = append(tokens, rotated.Token)
	testenv.Do(t, "DELETE", base+"/v1/admin/sessions/"+s2, nil, adm...) // admin revoke
	_, s6 := login("u2")
	testenv.Do(t, "DELETE", base+"/v1/session/others", nil, "Authorization", "Bearer "+rotated.Token) // revokes s6
	testenv.Do(t, "PUT", base+"/v1/admin/users/u1", map[string]any{"username": "u1", "is_active": false}, adm...)
	testenv.Do(t, "DELETE", base+"/v1/admin/users/u2", nil, adm...)
	// A change made with plain SQL by another service.
	mustUser(t, base, "u3")
	_, s7 := login("u3")
	if _, err := rep.Gateway.Pool().Exec(context.Background(), `DELETE FROM sessions WHERE public_id = $1`, s7); err != nil {
		t.Fatal(err)
	}

	type want struct{ typ, user, session, reason string }
	wants := []want{
		{"session.created", "u1", s1, ""}, {"session.created", "u1", s2, ""},
		{"session.revoked", "u1", s1, "evicted"}, {"session.created", "u1", s3, ""},
		{"session.created", "u2", s4, ""}, {"session.revoked", "u2", s4, "logout"},
		{"session.created", "u2", s5, ""}, {"session.revoked", "u2", s5, "rotated"},
		{"session.revoked", "u1", s2, "admin"},
		{"session.created", "u2", s6, ""}, {"session.revoked", "u2", s6, "revoke_others"},
		{"user.deactivated", "u1", "", ""}, {"session.revoked", "u1", s3, "user_deactivated"},
		{"session.revoked", "u2", s5, "user_deleted"}, {"user.deleted", "u2", "", ""},
		{"session.created", "u3", s7, ""}, {"session.revoked", "u3", s7, "external_sql"},
	}
	got := r.waitFor(20*time.Second, "every change delivered", func(ds []delivery) bool { return len(distinct(ds)) >= len(wants) })
	time.Sleep(300 * time.Millisecond) // nothing more should come
	got = distinct(r.deliveries())
	if len(got) != len(wants) {
		for _, d := range got {
			t.Logf("delivered %s %v", d.Type, d.Data)
		}
		t.Fatalf("%d events delivered; want %d", len(got), len(wants))
	}
	// Per user, in the order the changes happened.
	byUser := map[string][]delivery{}
	for _, d := range got {
		u, _ := d.Data["user_id"].(string)
		byUser[u] = append(byUser[u], d)
	}
	wantBy := map[string][]want{}
	for _, w := range wants {
		wantBy[w.user] = append(wantBy[w.user], w)
	}
	for u, ws := range wantBy {
		ds := byUser[u]
		for i, w := range ws {
			if i >= len(ds) {
				t.Errorf("user %s: event %d (%s) missing", u, i, w.typ)
				continue
			}
			d := ds[i]
			sid, _ := d.Data["session_id"].(string)
			reason, _ := d.Data["reason"].(string)
			if d.Type != w.typ || sid != w.session || (w.reason != "" && reason != w.reason) {
				t.Errorf("user %s, event %d: %s session %q reason %q; want %s %q %q", u, i, d.Type, sid, reason, w.typ, w.session, w.reason)
			}
			if strings.HasPrefix(d.Type, "session.") && w.reason != "external_sql" {
				if d.Data["device"] != "Firefox on Linux" {
					t.Errorf("%s of %s: device %v; want Firefox on Linux", d.Type, sid, d.Data["device"])
				}
				if _, ok := d.Data["audit_seq"].(float64); !ok {
					t.Errorf("%s of %s: no audit_seq: %s", d.Type, sid, d.Body)
				}
			}
			if _, err := time.Parse(time.RFC3339Nano, d.At); err != nil {
				t.Errorf("%s: timestamp %q: %v", d.Type, d.At, err)
			}
		}
	}
	for _, d := range got {
		if _, ok := d.Data["user_agent"]; ok {
			t.Errorf("%s carries the raw user agent", d.Type)
		}
		for _, tok := range tokens {
			h := session.Token(tok).Hash()
			if strings.Contains(d.Body, tok) || strings.Contains(d.Body, h.String()) {
				t.Errorf("%s carries a token or its hash: %s", d.Type, d.Body)
			}
		}
	}
	// The audit sequence names the record of the change.
	for _, d := range got {
		seq, ok := d.Data["audit_seq"].(float64)
		if !ok || d.Type != "session.created" {
			continue
		}
		var event, sid string
		if err := rep.Gateway.Pool().QueryRow(context.Background(), `SELECT event, coalesce(session_id::text, '') FROM audit_log WHERE seq = $1`, int64(seq)).Scan(&event, &sid); err != nil {
			t.Fatal(err)
		}
		if event != session.EventSessionCreated || sid != d.Data["session_id"] {
			t.Errorf("session.created of %v names audit record %v: %s of %s", d.Data["session_id"], seq, event, sid)
		}
	}
	r.mu.Lock()
	if r.forged != 0 {
		t.Errorf("%d deliveries failed verification", r.forged)
	}
	r.mu.Unlock()
}

// mustUser creates an active user.
func mustUser(t *testing.T, base, id string) {
	t.Helper()
	if r := testenv.Do(t, "PUT", base+"/v1/admin/users/"+id, map[string]any{"username": id}, "Authorization", "Bearer "+testenv.AdminToken); r.Status/100 != 2 {
		t.Fatalf("create user %s: %d %s", id, r.Status, r.Body)
	}
}

// TestWebhooksOnceAcrossReplicas: three replicas deliver; each event
// arrives exactly once when the receiver answers, however the work is
// spread.
func TestWebhooksOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	cfg := hookConfig(t, r)
	reps := []*testenv.Replica{testenv.Start(t, cfg, hookOptions), testenv.Start(t, cfg, hookOptions), testenv.Start(t, cfg, hookOptions)}
	const users, perUser = 20, 5
	for u := range users {
		mustUser(t, reps[u%3].URL, fmt.Sprintf("u%d", u))
	}
	var wg sync.WaitGroup
	for u := range users {
		wg.Go(func() {
			for i := range perUser {
				rep := reps[(u+i)%3]
				testenv.Do(t, "POST", rep.URL+"/v1/admin/sessions", map[string]any{"user_id": fmt.Sprintf("u%d", u)}, "Authorization", "Bearer "+testenv.AdminToken)
			}
		})
	}
	wg.Wait()
	got := r.waitFor(30*time.Second, "every login delivered", func(ds []delivery) bool { return len(distinct(ds)) >= users*perUser })
	time.Sleep(500 * time.Millisecond)
	got = r.deliveries()
	seen := map[string]int{}
	for _, d := range got {
		seen[d.ID]++
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s delivered %d times; want once", id, n)
		}
	}
	if len(seen) != users*perUser {
		t.Errorf("%d distinct events; want %d", len(seen), users*perUser)
	}
}

// TestWebhooksSurviveOutagesInOrder: the receiver fails at random (as a
// flaky network would) and then goes down entirely for a while; nothing is
// lost, and each user's events arrive in the order they happened.
func TestWebhooksSurviveOutagesInOrder(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	cfg := hookConfig(t, r)
	reps := []*testenv.Replica{testenv.Start(t, cfg, hookOptions), testenv.Start(t, cfg, hookOptions)}
	var rmu sync.Mutex
	rng := rand.New(rand.NewPCG(16, 1))
	r.setFail(func(delivery) int {
		rmu.Lock()
		defer rmu.Unlock()
		if rng.IntN(10) < 3 {
			return http.StatusServiceUnavailable
		}
		return 0
	})
	const users = 8
	adm := []string{"Authorization", "Bearer " + testenv.AdminToken}
	want := map[string][]string{} // user → session ids in order of change: created, then revoked
	var wmu sync.Mutex
	for u := range users {
		mustUser(t, reps[0].URL, fmt.Sprintf("u%d", u))
	}
	run := func(rounds int) {
		var wg sync.WaitGroup
		for u := range users {
			wg.Go(func() {
				uid := fmt.Sprintf("u%d", u)
				for i := range rounds {
					rep := reps[(u+i)%2]
					resp := testenv.Do(t, "POST", rep.URL+"/v1/admin/sessions", map[string]any{"user_id": uid}, adm...)
					var out struct{ Session struct{ ID string } }
					resp.Decode(t, &out)
					testenv.Do(t, "DELETE", reps[(u+i+1)%2].URL+"/v1/admin/sessions/"+out.Session.ID, nil, adm...)
					wmu.Lock()
					want[uid] = append(want[uid], "session.created "+out.Session.ID, "session.revoked "+out.Session.ID)
					wmu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	run(3)
	// Down entirely, then back.
	r.setFail(func(delivery) int { return http.StatusBadGateway })
	run(3)
	time.Sleep(time.Second)
	r.setFail(nil)
	total := users * 3 * 2 * 2
	got := r.waitFor(60*time.Second, "every event after the outage", func(ds []delivery) bool { return len(distinct(ds)) >= total })
	per := map[string][]string{}
	for _, d := range distinct(got) {
		u, _ := d.Data["user_id"].(string)
		per[u] = append(per[u], d.Type+" "+d.Data["session_id"].(string))
	}
	for u, w := range want {
		if strings.Join(per[u], "\n") != strings.Join(w, "\n") {
			t.Errorf("user %s got\n%s\nwant\n%s", u, strings.Join(per[u], "\n"), strings.Join(w, "\n"))
		}
	}
}

// TestWebhooksGiveUpAfterMaxAgeThenReplay: a receiver that never accepts
// makes deliveries fail after the maximum age; replaying them delivers
// them once it accepts again.
func TestWebhooksGiveUpAfterMaxAgeThenReplay(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	cfg := hookConfig(t, r)
	cfg.WebhookMaxAge = 2 * time.Second
	rep := testenv.Start(t, cfg, hookOptions)
	r.setFail(func(delivery) int { return http.StatusInternalServerError })
	start := time.Now().Add(-time.Second)
	mustUser(t, rep.URL, "u1")
	testenv.Do(t, "POST", rep.URL+"/v1/admin/sessions", map[string]any{"user_id": "u1"}, "Authorization", "Bearer "+testenv.AdminToken)
	store := storeOf(rep)
	testdeps.WaitFor(t, 90*time.Second, func() bool {
		l, err := store.Deliveries(context.Background(), webhook.Query{State: webhook.StateFailed})
		return err == nil && len(l) == 1
	}, "the delivery was never marked failed")
	l, _ := store.Deliveries(context.Background(), webhook.Query{State: webhook.StateFailed})
	if l[0].Attempts < 2 || !strings.Contains(l[0].LastError, "HTTP 500") || l[0].Event.Type != "session.created" {
		t.Errorf("failed delivery = %+v", l[0])
	}
	if len(r.deliveries()) != 0 {
		t.Fatal("a delivery was accepted")
	}
	r.setFail(nil)
	eps, _ := gateway.WebhookEndpoints(cfg)
	routes := webhook.New(webhook.Options{Endpoints: eps}).Routes()
	n, err := store.Replay(context.Background(), routes, start)
	if err != nil || n != 1 {
		t.Fatalf("Replay = %d, %v; want 1", n, err)
	}
	r.waitFor(30*time.Second, "the replayed delivery", func(ds []delivery) bool { return len(ds) == 1 })
	// The worker records the outcome just after the receiver answers.
	var m string
	testdeps.WaitFor(t, 10*time.Second, func() bool {
		m = scrape(t, rep.URL)
		return strings.Contains(m, `sessiongw_webhook_deliveries_total{endpoint="default",result="failed"}`) &&
			strings.Contains(m, `sessiongw_webhook_deliveries_total{endpoint="default",result="delivered"} 1`)
	}, "metrics lack the delivery results:\n%s", grepLines(m, "sessiongw_webhook"))
}

// TestWebhookAuditCheckpoints: the audit head goes out as audit.checkpoint
// every SESSIONGW_AUDIT_CHECKPOINT_INTERVAL, from one replica.
func TestWebhookAuditCheckpoints(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	cfg := hookConfig(t, r)
	cfg.AuditCheckpointInterval = 300 * time.Millisecond
	reps := []*testenv.Replica{testenv.Start(t, cfg, hookOptions), testenv.Start(t, cfg, hookOptions)}
	mustUser(t, reps[0].URL, "u1")
	since := time.Now() // the change has committed
	// A checkpoint written after the change covers it (checkpoints written
	// before it may have come first: the first two can precede it on a
	// busy machine).
	after := func(d delivery) bool {
		at, err := time.Parse(time.RFC3339Nano, d.At)
		return d.Type == "audit.checkpoint" && err == nil && at.After(since)
	}
	got := r.waitFor(20*time.Second, "two checkpoints, one after the change", func(ds []delivery) bool {
		n, later := 0, false
		for _, d := range ds {
			if d.Type == "audit.checkpoint" {
				n++
				later = later || after(d)
			}
		}
		return n >= 2 && later
	})
	head, err := reps[0].Gateway.Service().AuditHead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var first delivery
	for _, d := range got {
		if after(d) {
			first = d
			break
		}
	}
	if first.Data["head"] != head.String() {
		t.Errorf("checkpoint head %v; want %s", first.Data["head"], head)
	}
}

func storeOf(rep *testenv.Replica) webhook.Store { return rep.Gateway.WebhookStore() }

func scrape(t *testing.T, base string) string {
	t.Helper()
	return string(testenv.Do(t, "GET", base+"/metrics", nil).Body)
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
