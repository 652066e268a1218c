// Package oidc verifies OpenID Connect Back-Channel Logout 1.0 logout
// tokens from the configured identity providers: keys from each issuer's
// discovery document (jwks_uri), refreshed when a token names a key not
// seen yet, and every check the specification asks of a logout token
// (coreos/go-oidc's VerifyLogout: signature, iss, aud, exp, the events
// claim, no nonce, jti, sub or sid) plus the issue time's age.
package oidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/sessiongw/sessiongw/internal/session"
)

// Refusal reasons (a closed set, for metrics and logs).
const (
	ReasonMalformed     = "malformed"
	ReasonUnknownIssuer = "unknown_issuer"
	ReasonSignature     = "bad_signature"
	ReasonClaims        = "invalid_claims"
	ReasonExpired       = "expired"
	ReasonStale         = "stale"
	ReasonUnavailable   = "issuer_unavailable"
)

// Error is a refused logout token, or (ReasonUnavailable) one that could
// not be checked because the issuer's keys could not be fetched.
type Error struct {
	Reason string
	Err    error
}

func (e *Error) Error() string { return "logout token: " + e.Reason + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// MaxIssuedAge is how old a logout token's iat may be; MaxClockSkew how far
// in the future.
const (
	MaxIssuedAge = 5 * time.Minute
	MaxClockSkew = time.Minute
)

// refreshGap is the least time between two fetches of an issuer's keys for
// tokens naming an unknown key: a flood of forged key ids costs the
// provider at most one fetch per gap, and a token naming a key not seen
// within it is answered "try again" (501), not refused.
const refreshGap = 2 * time.Second

// Receiver verifies logout tokens.
type Receiver struct {
	audience string
	client   *http.Client
	now      func() time.Time
	issuers  map[string]*issuer
}

// Options adjust a Receiver (tests).
type Options struct {
	Client *http.Client     // for discovery and keys (default: 10 s timeout)
	Now    func() time.Time // default time.Now
}

// New returns a Receiver for tokens from issuers addressed to audience.
func New(issuers []string, audience string, o Options) *Receiver {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &Receiver{audience: audience, client: o.Client, now: o.Now, issuers: map[string]*issuer{}}
	for _, iss := range issuers {
		r.issuers[iss] = &issuer{url: iss, r: r}
	}
	return r
}

// Verify checks a logout token and returns the logout it asks for.
func (r *Receiver) Verify(ctx context.Context, raw string) (session.IdPLogout, error) {
	iss, err := unverifiedIssuer(raw)
	if err != nil {
		return session.IdPLogout{}, &Error{ReasonMalformed, err}
	}
	is := r.issuers[iss]
	if is == nil {
		return session.IdPLogout{}, &Error{ReasonUnknownIssuer, fmt.Errorf("issuer %q is not in SESSIONGW_OIDC_ISSUERS", iss)}
	}
	v, keys, err := is.verifier(ctx)
	if err != nil {
		return session.IdPLogout{}, &Error{ReasonUnavailable, err}
	}
	// The signature first, to tell its failures apart (go-oidc flattens
	// them into text); VerifyLogout checks it again with the cached keys.
	if _, err := keys.VerifySignature(ctx, raw); err != nil {
		var unavailable *keysUnavailable
		if errors.As(err, &unavailable) {
			return session.IdPLogout{}, &Error{ReasonUnavailable, err}
		}
		return session.IdPLogout{}, &Error{ReasonSignature, err}
	}
	tok, err := v.VerifyLogout(ctx, raw)
	if err != nil {
		var expired *gooidc.TokenExpiredError
		if errors.As(err, &expired) {
			return session.IdPLogout{}, &Error{ReasonExpired, err}
		}
		return session.IdPLogout{}, &Error{ReasonClaims, err}
	}
	now := r.now()
	switch {
	case tok.IssuedAt.IsZero():
		return session.IdPLogout{}, &Error{ReasonClaims, errors.New("no iat claim")}
	case now.Sub(tok.IssuedAt) > MaxIssuedAge:
		return session.IdPLogout{}, &Error{ReasonStale, fmt.Errorf("issued %s ago (at most %s)", now.Sub(tok.IssuedAt).Round(time.Second), MaxIssuedAge)}
	case tok.IssuedAt.Sub(now) > MaxClockSkew:
		return session.IdPLogout{}, &Error{ReasonStale, errors.New("issued in the future")}
	}
	// Remember the token ID while the token could still be accepted.
	keep := tok.IssuedAt.Add(MaxIssuedAge + MaxClockSkew)
	if tok.Expiry.After(keep) {
		keep = tok.Expiry
	}
	if limit := now.Add(24 * time.Hour); keep.After(limit) {
		keep = limit
	}
	return session.IdPLogout{Ref: session.OIDCRef{Issuer: tok.Issuer, Subject: tok.Subject, SessionID: tok.SessionID},
		TokenID: tok.TokenID, KeepUntil: keep}, nil
}

// unverifiedIssuer reads the iss claim of a compact JWT without checking
// it (to pick the issuer whose keys then check everything).
func unverifiedIssuer(raw string) (string, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", errors.New("not a compact JWS (header.payload.signature)")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", errors.New("the payload is not base64url")
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(b, &c); err != nil || c.Iss == "" {
		return "", errors.New("the payload has no iss")
	}
	return c.Iss, nil
}

// issuer is one identity provider: its verifier, built from its discovery
// document on first use (and again after a failure, at most once per
// refreshGap).
type issuer struct {
	url string
	r   *Receiver

	mu      sync.Mutex
	v       *gooidc.IDTokenVerifier
	keys    *keySet
	tried   time.Time
	lastErr error
}

func (is *issuer) verifier(ctx context.Context) (*gooidc.IDTokenVerifier, *keySet, error) {
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.v != nil {
		return is.v, is.keys, nil
	}
	if now := is.r.now(); now.Sub(is.tried) < refreshGap && is.lastErr != nil {
		return nil, nil, is.lastErr
	}
	is.tried = is.r.now()
	dctx, cancel := context.WithTimeout(gooidc.ClientContext(ctx, is.r.client), 10*time.Second)
	defer cancel()
	p, err := gooidc.NewProvider(dctx, is.url)
	if err != nil {
		is.lastErr = fmt.Errorf("discovery of %s: %w", is.url, err)
		return nil, nil, is.lastErr
	}
	var meta struct {
		JWKS string   `json:"jwks_uri"`
		Algs []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := p.Claims(&meta); err != nil || meta.JWKS == "" {
		is.lastErr = fmt.Errorf("discovery of %s: no jwks_uri", is.url)
		return nil, nil, is.lastErr
	}
	algs := meta.Algs
	if len(algs) == 0 {
		algs = []string{gooidc.RS256}
	}
	is.keys = &keySet{url: meta.JWKS, client: is.r.client, now: is.r.now}
	is.v = gooidc.NewVerifier(is.url, is.keys, &gooidc.Config{ClientID: is.r.audience, SupportedSigningAlgs: algs, Now: is.r.now})
	return is.v, is.keys, nil
}

var errSignature = errors.New("no key of the issuer verifies the signature")

// keysUnavailable: the issuer's keys could not be fetched.
type keysUnavailable struct{ err error }

func (e *keysUnavailable) Error() string { return fmt.Sprintf("fetching the issuer's keys: %v", e.err) }

// keySet is an issuer's JWKS, fetched on first use and again when a token
// names a key id not in it, at most once per refreshGap.
type keySet struct {
	url    string
	client *http.Client
	now    func() time.Time

	mu      sync.Mutex
	keys    jose.JSONWebKeySet
	fetched time.Time
	lastErr error
}

// VerifySignature implements go-oidc's KeySet.
func (k *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	jws, err := jose.ParseSigned(jwt, []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.ES256, jose.ES384, jose.ES512,
		jose.PS256, jose.PS384, jose.PS512, jose.EdDSA})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("%w: not a single-signature JWS", errSignature)
	}
	kid := jws.Signatures[0].Header.KeyID
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.has(kid) {
		if k.now().Sub(k.fetched) < refreshGap {
			return nil, &keysUnavailable{fmt.Errorf("key %q is not among the issuer's keys fetched %s ago", kid, k.now().Sub(k.fetched).Round(time.Millisecond))}
		}
		if err := k.fetch(ctx); err != nil {
			k.lastErr = err
		}
	}
	if len(k.keys.Keys) == 0 {
		return nil, &keysUnavailable{k.lastErr}
	}
	for _, key := range k.keys.Keys {
		if kid != "" && key.KeyID != kid {
			continue
		}
		if payload, err := jws.Verify(key); err == nil {
			return payload, nil
		}
	}
	return nil, errSignature
}

func (k *keySet) has(kid string) bool {
	if kid == "" {
		return len(k.keys.Keys) > 0
	}
	return len(k.keys.Key(kid)) > 0
}

func (k *keySet) fetch(ctx context.Context) error {
	k.fetched = k.now()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return err
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %d", k.url, resp.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<20)).Decode(&set); err != nil {
		return fmt.Errorf("%s: %w", k.url, err)
	}
	k.keys, k.lastErr = set, nil
	return nil
}
