package httpapi

import (
	"net/http"
	"strconv"
	"strings"

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
)

type identityHeader struct {
	name  string // canonical form
	field identityField
}

// identityHeaders are the header sets of SESSIONGW_AUTH_HEADERS, so that
// upstream apps written for another auth proxy need no change. Every header
// of the set is always written on allow (empty when the user has no value),
// so a proxy that copies them never lets a client-supplied value through.
var identityHeaders = map[string][]identityHeader{
	"sessiongw": {
		{"X-Auth-User-Id", fieldUserID}, {"X-Auth-Username", fieldUsername}, {"X-Auth-Email", fieldEmail},
		{"X-Auth-Roles", fieldRoles}, {"X-Auth-Session-Id", fieldSessionID},
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

// renderedIdentity is a header set's values for one session, rendered
// once when the session is cached in process (see IdentityRenderer).
type renderedIdentity struct {
	set  *identityHeader // the set rendered (its first header)
	vals []string        // one value per header of the set
}

// IdentityRenderer returns the session.Options.Render function that
// pre-renders the identity header set (SESSIONGW_AUTH_HEADERS) for cached
// sessions, so that answering from the in-process cache formats nothing and
// allocates no header values.
func IdentityRenderer(set string) func(session.Restored) any {
	headers := headerSet(set)
	return func(r session.Restored) any {
		vals := make([]string, len(headers))
		for i, ih := range headers {
			vals[i] = identityValue(ih.field, r)
		}
		return &renderedIdentity{set: &headers[0], vals: vals}
	}
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
		return strconv.FormatInt(r.User.ID, 10)
	case fieldUsername:
		return r.User.Username
	case fieldEmail:
		return r.User.Email
	case fieldRoles:
		return strings.Join(r.User.Roles, ",")
	case fieldSessionID:
		return r.Session.ID
	}
	return ""
}

// writeIdentity sets every header of the set. A pre-rendered value is
// shared between answers as a one-element slice whose capacity is its
// length: net/http only reads it, and an Add elsewhere would copy it.
func writeIdentity(h http.Header, set []identityHeader, r session.Restored) {
	if pre, ok := r.Rendered.(*renderedIdentity); ok && pre.set == &set[0] && len(pre.vals) == len(set) {
		for i, ih := range set {
			h[ih.name] = pre.vals[i : i+1 : i+1]
		}
		return
	}
	for _, ih := range set {
		h[ih.name] = []string{identityValue(ih.field, r)}
	}
}
