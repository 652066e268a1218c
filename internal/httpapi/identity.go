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

func writeIdentity(h http.Header, set []identityHeader, r session.Restored) {
	for _, ih := range set {
		var v string
		switch ih.field {
		case fieldUserID:
			v = strconv.FormatInt(r.User.ID, 10)
		case fieldUsername:
			v = r.User.Username
		case fieldEmail:
			v = r.User.Email
		case fieldRoles:
			v = strings.Join(r.User.Roles, ",")
		case fieldSessionID:
			v = r.Session.ID
		}
		h[ih.name] = []string{v}
	}
}
