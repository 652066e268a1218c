package gateway_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sessiongw/sessiongw/internal/gateway"
	"github.com/sessiongw/sessiongw/internal/testenv"
)

// jwks fetches a replica's published keys.
func jwks(t *testing.T, base string) jose.JSONWebKeySet {
	t.Helper()
	r := testenv.Do(t, http.MethodGet, base+"/.well-known/jwks.json", nil)
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "application/jwk-set+json" {
		t.Fatalf("jwks: %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	var set jose.JSONWebKeySet
	r.Decode(t, &set)
	return set
}

type idClaims struct {
	Iss, Sub, Aud, Sid, Email string
	Username                  string `json:"preferred_username"`
	Roles                     []string
	Iat, Exp                  int64
}

// verifyJWT checks tok against set as an upstream would: the signature
// under the key its kid names, with an allowed algorithm.
func verifyJWT(set jose.JSONWebKeySet, tok string) (idClaims, string, error) {
	jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA})
	if err != nil {
		return idClaims{}, "", err
	}
	kid := jws.Signatures[0].Header.KeyID
	keys := set.Key(kid)
	if len(keys) == 0 {
		return idClaims{}, kid, jose.ErrUnsupportedKeyType
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		return idClaims{}, kid, err
	}
	var c idClaims
	err = json.Unmarshal(payload, &c)
	return c, kid, err
}

func authJWT(t *testing.T, h http.Handler, tok string, kv ...string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/v1/auth", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Header().Get("X-Auth-Jwt")
}

// TestIdentityJWT: with the identity JWT on, every allow carries the
// identity signed with a key both replicas share through Postgres and
// publish; it is signed once per session per half-lifetime, changes with
// the user, names the trusted proxy's host as its audience, and forged or
// altered tokens do not verify.
func TestIdentityJWT(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t)
	cfg.IdentityJWT, cfg.PublicURL = true, "https://auth.example.com"
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}
	reps := []*testenv.Replica{testenv.Start(t, cfg, gateway.Options{}), testenv.Start(t, cfg, gateway.Options{})}
	testenv.PutUser(t, reps[0].URL, 1, map[string]any{"username": "alice", "email": "a@example.com", "roles": []string{"dev"}})
	tok, sid := testenv.NewSession(t, reps[0].URL, 1, false, "")
	set := jwks(t, reps[1].URL)
	if len(set.Keys) != 1 || set.Keys[0].Algorithm != "ES256" || set.Keys[0].IsPublic() != true {
		t.Fatalf("published keys = %+v", set.Keys)
	}

	status, jwt := authJWT(t, reps[0].Gateway.Handler(), tok)
	if status != http.StatusOK || jwt == "" {
		t.Fatalf("allow: %d, X-Auth-Jwt %q", status, jwt)
	}
	c, kid, err := verifyJWT(set, jwt) // with the other replica's keys
	if err != nil || kid != set.Keys[0].KeyID {
		t.Fatalf("verify: %v (kid %s)", err, kid)
	}
	if c.Iss != cfg.PublicURL || c.Sub != "1" || c.Sid != sid || c.Email != "a@example.com" || c.Username != "alice" ||
		strings.Join(c.Roles, ",") != "dev" || c.Aud != "" || c.Exp-c.Iat != 60 || time.Since(time.Unix(c.Iat, 0)) > time.Minute {
		t.Errorf("claims = %+v", c)
	}
	// Signed once: the next allow reuses it.
	if _, again := authJWT(t, reps[0].Gateway.Handler(), tok); again != jwt {
		t.Error("a second allow signed a new token")
	}
	if m := scrape(t, reps[0].URL); !strings.Contains(m, "sessiongw_identity_jwt_signed_total 1") {
		t.Errorf("signatures counted:\n%s", grepLines(m, "jwt"))
	}
	// The audience comes from a trusted proxy only.
	req := httptest.NewRequest(http.MethodGet, "/v1/auth", nil)
	req.RemoteAddr = "198.51.100.10:4444"
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("X-Forwarded-Host", "App.Example.com")
	rec := httptest.NewRecorder()
	reps[0].Gateway.Handler().ServeHTTP(rec, req)
	if c, _, err := verifyJWT(set, rec.Header().Get("X-Auth-Jwt")); err != nil || c.Aud != "app.example.com" {
		t.Errorf("through a trusted proxy: aud %q, %v", c.Aud, err)
	}
	if _, j := authJWT(t, reps[0].Gateway.Handler(), tok, "X-Forwarded-Host", "evil.example.com"); j != jwt {
		t.Error("an untrusted client chose the audience")
	}
	// A change to the user is signed afresh.
	testenv.PutUser(t, reps[0].URL, 1, map[string]any{"username": "alice", "email": "a@example.com", "roles": []string{"dev", "ops"}})
	_, j2 := authJWT(t, reps[0].Gateway.Handler(), tok)
	if c, _, err := verifyJWT(set, j2); err != nil || strings.Join(c.Roles, ",") != "dev,ops" {
		t.Errorf("after a role change: %+v, %v", c.Roles, err)
	}
	// Denials carry none.
	if status, j := authJWT(t, reps[0].Gateway.Handler(), "3f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3c"); status != http.StatusUnauthorized || j != "" {
		t.Errorf("a denial: %d with X-Auth-Jwt %q", status, j)
	}

	// Forgeries.
	foreign, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: foreign, KeyID: set.Keys[0].KeyID}}, nil)
	payload, _ := json.Marshal(map[string]any{"iss": cfg.PublicURL, "sub": "1", "roles": []string{"admin"}, "exp": time.Now().Add(time.Minute).Unix()})
	forged, _ := s.Sign(payload)
	forgedTok, _ := forged.CompactSerialize()
	parts := strings.Split(jwt, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
	for name, bad := range map[string]string{"a foreign key under our kid": forgedTok, "a tampered payload": tampered} {
		if _, _, err := verifyJWT(set, bad); err == nil {
			t.Errorf("%s verified", name)
		}
	}
}

// TestIdentityJWTKeyFile: keys from a PEM file (EC P-256 and Ed25519): the
// first signs, all are published; putting the new key first rotates.
func TestIdentityJWTKeyFile(t *testing.T) {
	t.Parallel()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	pemOf := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	dir := t.TempDir()
	write := func(name string, blocks ...[]byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, bytes.Join(blocks, nil), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, file, alg string
	}{
		{"EC first", write("a.pem", pemOf(ec), pemOf(ed)), "ES256"},
		{"Ed25519 first (rotated)", write("b.pem", pemOf(ed), pemOf(ec)), "EdDSA"},
	} {
		cfg := testenv.Config(t)
		cfg.IdentityJWT, cfg.PublicURL, cfg.JWTKeyFile = true, "https://auth.example.com", tc.file
		rep := testenv.Start(t, cfg, gateway.Options{})
		testenv.PutUser(t, rep.URL, 1, map[string]any{"username": "alice"})
		tok, _ := testenv.NewSession(t, rep.URL, 1, false, "")
		set := jwks(t, rep.URL)
		_, jwt := authJWT(t, rep.Gateway.Handler(), tok)
		c, kid, err := verifyJWT(set, jwt)
		if err != nil || len(set.Keys) != 2 || set.Key(kid)[0].Algorithm != tc.alg || c.Sub != "1" {
			t.Errorf("%s: %d keys, signed by %s (%v): %v", tc.name, len(set.Keys), kid, set.Key(kid), err)
		}
	}
	cfg := testenv.Config(t)
	cfg.IdentityJWT, cfg.PublicURL, cfg.JWTKeyFile = true, "https://auth.example.com", write("bad.pem", []byte("not a key\n"))
	if _, err := gateway.New(t.Context(), cfg, slog.New(slog.DiscardHandler), gateway.Options{}); err == nil || !strings.Contains(err.Error(), "no private key") {
		t.Errorf("a key file without keys: %v", err)
	}
}

// TestIdentityJWTOff: off by default: no header, no keys.
func TestIdentityJWTOff(t *testing.T) {
	t.Parallel()
	rep := testenv.Start(t, testenv.Config(t), gateway.Options{})
	testenv.PutUser(t, rep.URL, 1, map[string]any{"username": "alice"})
	tok, _ := testenv.NewSession(t, rep.URL, 1, false, "")
	if status, j := authJWT(t, rep.Gateway.Handler(), tok); status != http.StatusOK || j != "" {
		t.Errorf("off: %d, X-Auth-Jwt %q", status, j)
	}
	if r := testenv.Do(t, http.MethodGet, rep.URL+"/.well-known/jwks.json", nil); r.Status != http.StatusNotFound {
		t.Errorf("jwks when off: %d", r.Status)
	}
}

// BenchmarkAuthWarmHitWithJWT is the warm hit with the identity JWT on:
// the token is signed once and reused for half its lifetime.
func BenchmarkAuthWarmHitWithJWT(b *testing.B) {
	cfg := testenv.Config(b)
	cfg.LogLevel = "info"
	cfg.IdentityJWT, cfg.PublicURL = true, "https://auth.example.com"
	rep := testenv.Start(b, cfg, gateway.Options{})
	testenv.PutUser(b, rep.URL, 1, map[string]any{"username": "bench", "roles": []string{"user"}})
	tok, _ := testenv.NewSession(b, rep.URL, 1, false, "")
	h := rep.Gateway.Handler()
	req := httptest.NewRequest(http.MethodGet, "/v1/auth", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Header().Get("X-Auth-Jwt") == "" {
		b.Fatalf("warm-up: %d", rec.Code)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
	}
}
