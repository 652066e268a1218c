// Package idtoken signs the identity the gateway passes upstream as a
// short-lived JWT (X-Auth-Jwt), so an upstream can verify it came from the
// gateway rather than trust plain headers; and publishes the public keys as
// a JWKS (GET /.well-known/jwks.json).
package idtoken

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sessiongw/sessiongw/internal/session"
)

// Lifetime is how long a token is valid; a replica signs a session's token
// again after half of it.
const Lifetime = 60 * time.Second

// Key is one signing key.
type Key struct {
	ID  string // RFC 7638 thumbprint of the public key (base64url)
	Alg jose.SignatureAlgorithm
	Key crypto.Signer
}

// Signer signs identity tokens with its first key and publishes them all.
type Signer struct {
	issuer string
	signer jose.Signer
	jwks   []byte
	now    func() time.Time
	signed func() // counts signatures (metrics)
}

// Options adjust a Signer.
type Options struct {
	Now    func() time.Time
	Signed func()
}

// New returns a Signer for issuer with keys (the first signs).
func New(issuer string, keys []Key, o Options) (*Signer, error) {
	if len(keys) == 0 {
		return nil, errors.New("idtoken: no signing key")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Signed == nil {
		o.Signed = func() {}
	}
	k := keys[0]
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: k.Alg, Key: jose.JSONWebKey{Key: k.Key, KeyID: k.ID, Algorithm: string(k.Alg)}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("idtoken: %w", err)
	}
	var set jose.JSONWebKeySet
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Key.Public(), KeyID: k.ID, Algorithm: string(k.Alg), Use: "sig"})
	}
	jwks, err := json.Marshal(set)
	if err != nil {
		return nil, err
	}
	return &Signer{issuer: issuer, signer: sg, jwks: jwks, now: o.Now, signed: o.Signed}, nil
}

// JWKS is the public keys as a JSON Web Key Set.
func (s *Signer) JWKS() []byte { return s.jwks }

// Claims are what an identity token says.
type Claims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  string   `json:"aud,omitempty"`
	SessionID string   `json:"sid"`
	Username  string   `json:"preferred_username"`
	Email     string   `json:"email"`
	Roles     []string `json:"roles"`
	IssuedAt  int64    `json:"iat"`
	Expiry    int64    `json:"exp"`
}

// Sign returns r's identity token for audience aud ("" for none) and when
// it should be signed again (half its lifetime).
func (s *Signer) Sign(r session.Restored, aud string) (string, time.Time, error) {
	now := s.now()
	roles := r.User.Roles
	if roles == nil {
		roles = []string{}
	}
	exp := now.Add(Lifetime)
	if r.Session.ExpiresAt.Before(exp) { // never outlive the session
		exp = r.Session.ExpiresAt
	}
	b, err := json.Marshal(Claims{Issuer: s.issuer, Subject: r.User.ID, Audience: aud, SessionID: r.Session.ID,
		Username: r.User.Username, Email: r.User.Email, Roles: roles, IssuedAt: now.Unix(), Expiry: exp.Unix()})
	if err != nil {
		return "", time.Time{}, err
	}
	jws, err := s.signer.Sign(b)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("idtoken: sign: %w", err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		return "", time.Time{}, err
	}
	s.signed()
	renew := now.Add(exp.Sub(now) / 2)
	return out, renew, nil
}

// LoadKeyFile reads PEM private keys (PKCS #8 "PRIVATE KEY" or SEC 1 "EC
// PRIVATE KEY"; EC P-256 signs ES256, Ed25519 EdDSA), in file order.
func LoadKeyFile(path string) ([]Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("idtoken: %w", err)
	}
	var keys []Key
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		var k any
		switch blk.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(blk.Bytes)
		default:
			continue // certificates, parameters
		}
		if err != nil {
			return nil, fmt.Errorf("idtoken: %s: %w", path, err)
		}
		key, err := NewKey(k)
		if err != nil {
			return nil, fmt.Errorf("idtoken: %s: %w", path, err)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("idtoken: %s holds no private key (PEM PRIVATE KEY or EC PRIVATE KEY)", path)
	}
	return keys, nil
}

// NewKey wraps an EC P-256 or Ed25519 private key.
func NewKey(k any) (Key, error) {
	var alg jose.SignatureAlgorithm
	var signer crypto.Signer
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return Key{}, errors.New("an EC key must be on P-256 (ES256)")
		}
		alg, signer = jose.ES256, k
	case ed25519.PrivateKey:
		alg, signer = jose.EdDSA, k
	default:
		return Key{}, fmt.Errorf("a %T cannot sign identity tokens (use EC P-256 or Ed25519)", k)
	}
	tp, err := (&jose.JSONWebKey{Key: signer.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		return Key{}, err
	}
	return Key{ID: base64.RawURLEncoding.EncodeToString(tp), Alg: alg, Key: signer}, nil
}

// KeyStore shares generated keys between replicas (internal/postgres).
type KeyStore interface {
	// IdentityKeys returns the stored PKCS #8 keys, newest first.
	IdentityKeys(ctx context.Context) ([][]byte, error)
	// AddIdentityKey stores a key (a no-op if its id is taken).
	AddIdentityKey(ctx context.Context, kid string, pkcs8 []byte) error
}

// SharedKeys returns the keys kept in store, generating and storing an
// ES256 key first when there is none (replicas starting together may each
// store one: every stored key is published and the newest signs).
func SharedKeys(ctx context.Context, store KeyStore) ([]Key, error) {
	ders, err := store.IdentityKeys(ctx)
	if err != nil {
		return nil, err
	}
	if len(ders) == 0 {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(der)
		if err := store.AddIdentityKey(ctx, base64.RawURLEncoding.EncodeToString(sum[:]), der); err != nil {
			return nil, err
		}
		if ders, err = store.IdentityKeys(ctx); err != nil {
			return nil, err
		}
	}
	keys := make([]Key, 0, len(ders))
	for _, der := range ders {
		pk, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("idtoken: a stored key: %w", err)
		}
		k, err := NewKey(pk)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}
