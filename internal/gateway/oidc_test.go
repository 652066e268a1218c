package gateway_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sessiongw/sessiongw/internal/gateway"
	"github.com/sessiongw/sessiongw/internal/postgres"
	"github.com/sessiongw/sessiongw/internal/testenv"
	"github.com/sessiongw/sessiongw/internal/testenv/testdeps"
)

// idp is an OpenID Connect provider for tests: a discovery document, a
// JWKS that can rotate, and signed logout tokens.
type idp struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	keys      []idpKey // published; keys[0] signs
	jwksHits  int
	discovery int
}

type idpKey struct {
	kid string
	alg jose.SignatureAlgorithm
	key crypto.Signer
}

func newIdP(t *testing.T) *idp {
	p := &idp{t: t}
	p.rotate(jose.RS256)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.discovery++
		p.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": p.srv.URL, "jwks_uri": p.srv.URL + "/jwks", "authorization_endpoint": p.srv.URL + "/auth",
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
			"backchannel_logout_supported":          true,
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.jwksHits++
		var set jose.JSONWebKeySet
		for _, k := range p.keys {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.key.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"})
		}
		json.NewEncoder(w).Encode(set)
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// rotate adds a new signing key (first), keeping the old ones published.
func (p *idp) rotate(alg jose.SignatureAlgorithm) idpKey {
	var k crypto.Signer
	var err error
	if alg == jose.ES256 {
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		p.t.Fatal(err)
	}
	nk := idpKey{kid: string(alg) + "-" + time.Now().Format("150405.000000"), alg: alg, key: k}
	p.mu.Lock()
	p.keys = append([]idpKey{nk}, p.keys...)
	p.mu.Unlock()
	return nk
}

// sign signs claims with key (default: the current signing key).
func (p *idp) sign(claims map[string]any, key ...idpKey) string {
	p.mu.Lock()
	k := p.keys[0]
	p.mu.Unlock()
	if len(key) > 0 {
		k = key[0]
	}
	opts := (&jose.SignerOptions{}).WithType("logout+jwt").WithHeader("kid", k.kid)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.key}, opts)
	if err != nil {
		p.t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := s.Sign(b)
	if err != nil {
		p.t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		p.t.Fatal(err)
	}
	return out
}

var jtiSeq struct {
	sync.Mutex
	n int
}

// logoutClaims are valid logout token claims for sub and/or sid.
func (p *idp) logoutClaims(sub, sid string) map[string]any {
	jtiSeq.Lock()
	jtiSeq.n++
	n := jtiSeq.n
	jtiSeq.Unlock()
	now := time.Now()
	c := map[string]any{
		"iss": p.srv.URL, "aud": "sessiongw-app", "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
		"jti":    "jti-" + time.Now().Format("150405.000000") + "-" + string(rune('a'+n%26)) + strings.Repeat("x", n%7),
		"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}},
	}
	if sub != "" {
		c["sub"] = sub
	}
	if sid != "" {
		c["sid"] = sid
	}
	return c
}

func postLogout(t *testing.T, base, token string) testenv.Response {
	t.Helper()
	return testenv.Do(t, http.MethodPost, base+"/v1/oidc/backchannel-logout", url.Values{"logout_token": {token}}.Encode(),
		"Content-Type", "application/x-www-form-urlencoded")
}

// TestOIDCBackchannelLogout: a local identity provider logs users out of
// sessions on two replicas; every way a logout token can be wrong is
// refused; keys rotate.
func TestOIDCBackchannelLogout(t *testing.T) {
	t.Parallel()
	p := newIdP(t)
	r := newReceiver(t)
	cfg := hookConfig(t, r)
	cfg.OIDCIssuers = []string{p.srv.URL}
	cfg.OIDCAudience = "sessiongw-app"
	reps := []*testenv.Replica{testenv.Start(t, cfg, hookOptions), testenv.Start(t, cfg, hookOptions)}
	adm := []string{"Authorization", "Bearer " + testenv.AdminToken}
	mustUser(t, reps[0].URL, "u1")
	mustUser(t, reps[0].URL, "u2")
	login := func(user, sub, sid string) (string, string) {
		body := map[string]any{"user_id": user}
		if sub != "" {
			oidc := map[string]any{"iss": p.srv.URL, "sub": sub}
			if sid != "" {
				oidc["sid"] = sid
			}
			body["oidc"] = oidc
		}
		resp := testenv.Do(t, "POST", reps[0].URL+"/v1/admin/sessions", body, adm...)
		if resp.Status != http.StatusCreated {
			t.Fatalf("login: %d %s", resp.Status, resp.Body)
		}
		var out struct {
			Token   string
			Session struct{ ID string }
		}
		resp.Decode(t, &out)
		return out.Token, out.Session.ID
	}
	valid := func(rep *testenv.Replica, tok string) bool {
		return testenv.Do(t, "GET", rep.URL+"/v1/auth", nil, "Authorization", "Bearer "+tok).Status == http.StatusOK
	}
	a1, a1id := login("u1", "alice", "idp-s1")
	a2, _ := login("u1", "alice", "idp-s2")
	b, _ := login("u2", "bob", "idp-s3")
	plain, _ := login("u1", "", "")
	for _, tok := range []string{a1, a2, b, plain} { // warm both replicas' caches
		for _, rep := range reps {
			if !valid(rep, tok) {
				t.Fatal("a fresh session is not valid")
			}
		}
	}

	// By sid, through replica 1: ends that session on both replicas at once.
	if resp := postLogout(t, reps[1].URL, p.sign(p.logoutClaims("alice", "idp-s1"))); resp.Status != http.StatusOK || len(resp.Body) != 0 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("logout by sid: %d %q", resp.Status, resp.Body)
	}
	for i, rep := range reps {
		if valid(rep, a1) || !valid(rep, a2) || !valid(rep, b) || !valid(rep, plain) {
			t.Errorf("replica %d after logout by sid: %v %v %v %v; want only the first ended", i, valid(rep, a1), valid(rep, a2), valid(rep, b), valid(rep, plain))
		}
	}
	// An unknown sid: the same answer (nothing is revealed).
	if resp := postLogout(t, reps[0].URL, p.sign(p.logoutClaims("", "no-such-session"))); resp.Status != http.StatusOK || len(resp.Body) != 0 {
		t.Errorf("logout of an unknown sid: %d %q; want the same 200", resp.Status, resp.Body)
	}

	// Every way a token can be wrong.
	other := newIdP(t) // its keys are not the configured issuer's
	stolenKid := other.rotate(jose.RS256)
	p.mu.Lock()
	stolenKid.kid = p.keys[0].kid // an attacker's key under the issuer's kid
	p.mu.Unlock()
	replayed := p.sign(p.logoutClaims("bob", "idp-s3"))
	bad := map[string]func() string{
		"wrong audience": func() string { c := p.logoutClaims("bob", ""); c["aud"] = "another-app"; return p.sign(c) },
		"expired": func() string {
			c := p.logoutClaims("bob", "")
			c["exp"] = time.Now().Add(-time.Minute).Unix()
			return p.sign(c)
		},
		"issued long ago": func() string {
			c := p.logoutClaims("bob", "")
			c["iat"] = time.Now().Add(-10 * time.Minute).Unix()
			return p.sign(c)
		},
		"issued in future": func() string {
			c := p.logoutClaims("bob", "")
			c["iat"] = time.Now().Add(10 * time.Minute).Unix()
			return p.sign(c)
		},
		"no events":      func() string { c := p.logoutClaims("bob", ""); delete(c, "events"); return p.sign(c) },
		"a nonce":        func() string { c := p.logoutClaims("bob", ""); c["nonce"] = "n"; return p.sign(c) },
		"no jti":         func() string { c := p.logoutClaims("bob", ""); delete(c, "jti"); return p.sign(c) },
		"no sub nor sid": func() string { return p.sign(p.logoutClaims("", "")) },
		"unknown issuer": func() string { c := other.logoutClaims("bob", ""); return other.sign(c) },
		"another key":    func() string { return p.sign(p.logoutClaims("bob", ""), stolenKid) },
		"tampered":       func() string { s := p.sign(p.logoutClaims("alice", "")); return s[:len(s)-4] + "AAAA" },
		"alg none": func() string {
			return "eyJhbGciOiJub25lIn0." + strings.Split(p.sign(p.logoutClaims("bob", "")), ".")[1] + "."
		},
		"an ID token": func() string {
			c := p.logoutClaims("bob", "")
			delete(c, "events")
			c["nonce"] = "abc"
			return p.sign(c)
		},
		"not a JWT": func() string { return "hello" },
	}
	if resp := postLogout(t, reps[0].URL, replayed); resp.Status != http.StatusOK {
		t.Fatalf("the first use of a token: %d %s", resp.Status, resp.Body)
	}
	for name, mk := range bad {
		resp := postLogout(t, reps[0].URL, mk())
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(resp.Body, &e)
		if resp.Status != http.StatusBadRequest || e.Error != "invalid_request" {
			t.Errorf("%s: %d %s; want 400 invalid_request", name, resp.Status, resp.Body)
		}
	}
	if resp := postLogout(t, reps[1].URL, replayed); resp.Status != http.StatusBadRequest || !strings.Contains(string(resp.Body), "already used") {
		t.Errorf("a replayed token on the other replica: %d %s", resp.Status, resp.Body)
	}
	if !valid(reps[0], a2) {
		t.Error("a refused token ended a session")
	}

	// Rotation: the provider signs with a new key (another algorithm); the
	// gateway fetches the keys again for the unknown kid.
	// Within 2 s of the last fetch the gateway does not fetch again: it
	// answers 501 (try again), and the same token then succeeds.
	p.rotate(jose.ES256)
	rotated := p.sign(p.logoutClaims("alice", ""))
	resp := postLogout(t, reps[0].URL, rotated)
	if resp.Status == http.StatusNotImplemented {
		time.Sleep(2100 * time.Millisecond)
		resp = postLogout(t, reps[0].URL, rotated)
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("a token signed with a rotated key: %d %s", resp.Status, resp.Body)
	}
	for i, rep := range reps {
		if valid(rep, a2) || !valid(rep, plain) {
			t.Errorf("replica %d after logout by sub: alice's other session %v, the plain one %v", i, valid(rep, a2), valid(rep, plain))
		}
	}
	// A flood of unknown kids costs the provider at most one fetch per 10 s.
	p.mu.Lock()
	before := p.jwksHits
	p.mu.Unlock()
	floodStart := time.Now()
	for range 20 {
		junk := other.rotate(jose.RS256)
		postLogout(t, reps[0].URL, p.sign(p.logoutClaims("bob", ""), junk))
	}
	p.mu.Lock()
	if n := p.jwksHits - before; n > 1+int(time.Since(floodStart)/(2*time.Second)) {
		t.Errorf("20 tokens with unknown kids made %d key fetches in %s; want at most one per 2 s", n, time.Since(floodStart))
	}
	p.mu.Unlock()

	// Audited by the provider; told as idp_logout.
	if _, err := postgres.NewStore(reps[0].Gateway.Pool()).SequenceAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
	var actor, event string
	if err := reps[0].Gateway.Pool().QueryRow(context.Background(),
		`SELECT actor, event FROM audit_log WHERE session_id = $1 ORDER BY seq DESC LIMIT 1`, a1id).Scan(&actor, &event); err != nil {
		t.Fatal(err)
	}
	if actor != "idp" || event != "session.revoked" {
		t.Errorf("the audit record of a back-channel logout: %s by %s", event, actor)
	}
	r.waitFor(20*time.Second, "the idp_logout events", func(ds []delivery) bool {
		n := 0
		for _, d := range ds {
			if d.Type == "session.revoked" && d.Data["reason"] == "idp_logout" {
				n++
			}
		}
		return n == 3 // a1, b (the replayed token's first use), a2
	})
	m := scrape(t, reps[0].URL)
	for _, want := range []string{`sessiongw_oidc_backchannel_logouts_total{result="ok"}`, `sessiongw_oidc_backchannel_logouts_total{result="bad_signature"}`,
		`sessiongw_oidc_backchannel_logouts_total{result="unknown_issuer"}`, `sessiongw_oidc_backchannel_logouts_total{result="stale"}`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestOIDCBackchannelOffAndUnreachable: without issuers the endpoint is
// 404; with an issuer that does not answer, 501 (retry), never 200.
func TestOIDCBackchannelOffAndUnreachable(t *testing.T) {
	t.Parallel()
	off := testenv.Start(t, testenv.Config(t), gateway.Options{})
	if resp := postLogout(t, off.URL, "x.y.z"); resp.Status != http.StatusNotFound {
		t.Errorf("without issuers: %d", resp.Status)
	}
	p := newIdP(t)
	cfg := testenv.Config(t)
	dead := "http://127.0.0.1:" + strconv.Itoa(testdeps.FreePort(t))
	cfg.OIDCIssuers, cfg.OIDCAudience = []string{dead}, "sessiongw-app"
	rep := testenv.Start(t, cfg, gateway.Options{})
	c := p.logoutClaims("alice", "")
	c["iss"] = dead
	if resp := postLogout(t, rep.URL, p.sign(c)); resp.Status != http.StatusNotImplemented || resp.Header.Get("Retry-After") == "" {
		t.Errorf("an unreachable issuer: %d %s; want 501 with Retry-After", resp.Status, resp.Body)
	}
}
