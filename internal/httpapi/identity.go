package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/sessiongw/sessiongw/internal/session"
)

// identityField is one value of the identity set on an allowed request.
type identityField int

const (
	fieldUserID identityField = iota
	fieldUsername
	fieldEmail
	fieldRoles
	fieldSessionID
	fieldAuthenticatedAt
	fieldTokenName
)

type identityHeader struct {
	name  string // canonical form
	field identityField
}

// identityHeaders are the header sets of SESSIONGW_AUTH_HEADERS, so that
// upstream apps written for another auth proxy need no change. Every header
// of the set is always written on allow (empty when the user has no value),
// so a proxy that copies them never lets a client-supplied value through
// (and Caddy 2.6, which copies a missing one as its literal placeholder,
// never passes "{http.reverse_proxy.header.…}" upstream).
var identityHeaders = map[string][]identityHeader{
	"sessiongw": {
		{"X-Auth-User-Id", fieldUserID}, {"X-Auth-Username", fieldUsername}, {"X-Auth-Email", fieldEmail},
		{"X-Auth-Roles", fieldRoles}, {"X-Auth-Session-Id", fieldSessionID},
		{"X-Auth-Authenticated-At", fieldAuthenticatedAt}, {"X-Auth-Token-Name", fieldTokenName},
	},
	"oauth2-proxy": {
		{"X-Auth-Request-User", fieldUserID}, {"X-Auth-Request-Email", fieldEmail},
		{"X-Auth-Request-Groups", fieldRoles}, {"X-Auth-Request-Preferred-Username", fieldUsername},
	},
	"authelia": {
		{"Remote-User", fieldUsername}, {"Remote-Email", fieldEmail},
		{"Remote-Groups", fieldRoles}, {"Remote-Name", fieldUsername},
	},
}

// IdentityHeaderNames lists the headers of a set (for documentation and tests).
func IdentityHeaderNames(set string) []string {
	var out []string
	for _, h := range identityHeaders[set] {
		out = append(out, h.name)
	}
	return out
}

// AllIdentityHeaderNames lists every header any identity set may carry
// upstream, once each: what a proxy in front of an app must never let a
// client send itself, in any spelling (the shipped proxy configurations
// and their tests use this list).
func AllIdentityHeaderNames() []string {
	seen := map[string]bool{}
	var out []string
	for _, set := range []string{"sessiongw", "oauth2-proxy", "authelia"} {
		for _, h := range identityHeaders[set] {
			if !seen[h.name] {
				seen[h.name] = true
				out = append(out, h.name)
			}
		}
	}
	return append(out, jwtHeader)
}

// headerSet returns the named identity header set (default "sessiongw").
func headerSet(name string) []identityHeader {
	if h, ok := identityHeaders[name]; ok {
		return h
	}
	return identityHeaders["sessiongw"]
}

func identityValue(f identityField, r session.Restored) string {
	switch f {
	case fieldUserID:
		return r.User.ID
	case fieldUsername:
		return r.User.Username
	case fieldEmail:
		return r.User.Email
	case fieldRoles:
		return strings.Join(r.User.Roles, ",")
	case fieldSessionID:
		return r.Session.ID
	case fieldAuthenticatedAt:
		return r.Session.AuthenticatedAt.UTC().Format(time.RFC3339)
	case fieldTokenName:
		return r.Session.TokenName
	}
	return ""
}

// identityWriter writes the identity header set of an allowed request.
// Rendering the values (formatting the user id, joining the roles, one
// header slice per value) would cost an allocation per header on every
// request, so they are rendered once and kept: in the memo of the
// in-process cache entry the answer came from (no second lookup on a hit),
// or, for answers from Redis or Postgres, in a bounded cache keyed by
// public session id. Either way they record what they were rendered from
// and are used only while that still matches the answer exactly: a change
// to the user or session renders afresh, so neither needs invalidating.
type identityWriter struct {
	set   []identityHeader
	cache *otter.Cache[string, *renderedIdentity]
	// jwt, when set, adds X-Auth-Jwt: the identity signed, kept beside the
	// rendered values and signed again after half its lifetime.
	jwt     TokenSigner
	trusted []netip.Prefix // proxies whose X-Forwarded-Host names the audience
	now     func() time.Time
}

// TokenSigner signs the identity for upstreams (internal/idtoken).
type TokenSigner interface {
	// Sign returns r's token for audience aud ("" for none) and when to
	// sign it again.
	Sign(r session.Restored, aud string) (string, time.Time, error)
	// JWKS is the public keys, served at /.well-known/jwks.json.
	JWKS() []byte
}

// jwtHeader carries the signed identity.
const jwtHeader = "X-Auth-Jwt"

// signedIdentity is one audience's token of a session.
type signedIdentity struct {
	aud   string
	val   []string // the header value, capacity 1
	renew time.Time
}

// maxAudiences bounds the tokens kept per session (one per host it is used
// on).
const maxAudiences = 4

// renderedIdentity is one session's rendered header values.
type renderedIdentity struct {
	by                                     *identityWriter // whose header set
	userID, username, email, id, tokenName string
	authenticatedAt                        time.Time
	roles                                  []string
	// vals holds one one-element slice per header of the set, each with
	// capacity 1: net/http only reads them, and an Add elsewhere copies.
	vals [][]string
	// jwts are its signed tokens (copy on write).
	jwts atomic.Pointer[[]signedIdentity]
}

func newIdentityWriter(set string, size int, jwt TokenSigner, trusted []netip.Prefix) *identityWriter {
	if size <= 0 {
		size = 10_000
	}
	return &identityWriter{set: headerSet(set), jwt: jwt, trusted: trusted, now: time.Now, cache: otter.Must(&otter.Options[string, *renderedIdentity]{
		MaximumSize: size,
		// An idle entry goes after a while; a live one is re-rendered
		// only when it no longer matches.
		ExpiryCalculator: otter.ExpiryAccessing[string, *renderedIdentity](10 * time.Minute),
	})}
}

// write sets every header of the set on h for r (and the signed identity,
// when on, for the audience req's trusted proxy names).
func (w *identityWriter) write(h http.Header, r session.Restored, req *http.Request) error {
	pre := w.rendered(r)
	for i, ih := range w.set {
		h[ih.name] = pre.vals[i]
	}
	if w.jwt == nil {
		return nil
	}
	val, err := w.token(pre, r, w.audience(req))
	if err != nil {
		return err
	}
	h[jwtHeader] = val
	return nil
}

// token returns the session's signed token for aud, signing it when there
// is none yet or it is past half its lifetime.
func (w *identityWriter) token(pre *renderedIdentity, r session.Restored, aud string) ([]string, error) {
	now := w.now()
	var list []signedIdentity
	if p := pre.jwts.Load(); p != nil {
		list = *p
	}
	for _, s := range list {
		if s.aud == aud && now.Before(s.renew) {
			return s.val, nil
		}
	}
	tok, renew, err := w.jwt.Sign(r, aud)
	if err != nil {
		return nil, err
	}
	next := make([]signedIdentity, 0, maxAudiences)
	next = append(next, signedIdentity{aud: aud, val: []string{tok}, renew: renew})
	for _, s := range list {
		if s.aud != aud && len(next) < maxAudiences {
			next = append(next, s)
		}
	}
	pre.jwts.Store(&next) // a concurrent signer may win: either token is valid
	return next[0].val, nil
}

// audience is the host a trusted proxy says the request is for
// (X-Forwarded-Host), or "" when it does not come from one.
func (w *identityWriter) audience(req *http.Request) string {
	if req == nil || len(w.trusted) == 0 {
		return ""
	}
	host := req.Header.Get("X-Forwarded-Host")
	if host == "" {
		return ""
	}
	peer, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		return ""
	}
	a, err := netip.ParseAddr(peer)
	if err != nil {
		return ""
	}
	a = a.Unmap()
	for _, p := range w.trusted {
		if p.Contains(a) {
			if i := strings.IndexByte(host, ','); i >= 0 { // the first proxy's
				host = host[:i]
			}
			return strings.ToLower(strings.TrimSpace(host))
		}
	}
	return ""
}

// rendered returns r's rendered values: from the memo of the in-process
// cache entry r came from, else from this writer's own cache (which keeps
// them, and their signed tokens, across refills), rendering them when
// neither has them for exactly this answer; the entry's memo keeps them
// for its next hits.
func (w *identityWriter) rendered(r session.Restored) *renderedIdentity {
	if pre, ok := r.Memo.Load().(*renderedIdentity); ok && pre.by == w && pre.matches(r) {
		return pre
	}
	pre, ok := w.cache.GetIfPresent(r.Session.ID)
	if !ok || !pre.matches(r) {
		pre = w.render(r)
		w.cache.Set(r.Session.ID, pre)
	}
	r.Memo.Store(pre)
	return pre
}

func (w *identityWriter) render(r session.Restored) *renderedIdentity {
	p := &renderedIdentity{by: w, userID: r.User.ID, username: r.User.Username, email: r.User.Email, id: r.Session.ID,
		tokenName: r.Session.TokenName, authenticatedAt: r.Session.AuthenticatedAt,
		roles: slices.Clone(r.User.Roles), vals: make([][]string, len(w.set))}
	for i, ih := range w.set {
		p.vals[i] = []string{identityValue(ih.field, r)}
	}
	return p
}

func (p *renderedIdentity) matches(r session.Restored) bool {
	return p.userID == r.User.ID && p.username == r.User.Username && p.email == r.User.Email &&
		p.id == r.Session.ID && p.tokenName == r.Session.TokenName && p.authenticatedAt.Equal(r.Session.AuthenticatedAt) &&
		slices.Equal(p.roles, r.User.Roles)
}
