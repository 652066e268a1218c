package httpapi

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sessiongw/sessiongw/internal/session"
)

// requireHeader carries a check's requirements from a proxy that cannot put
// them in the check's query (Envoy's ext_authz appends the original path
// and query to its path prefix): the same syntax as the query.
const requireHeader = "X-Sessiongw-Require"

// maxMaxAge bounds max_age (a year).
const maxMaxAge = 365 * 24 * time.Hour

// requirementsOf reads what the check asks beyond a valid session, as
// max_age=SECONDS&amr=M1,M2&roles=R1,R2&roles_match=any|all, from the
// query (when withQuery) and from the X-Sessiongw-Require header. Each
// source present is a set of requirements of its own and every set must
// hold, so a requirement a client adds can only make its own check
// stricter. Without either the answer is nil and costs nothing.
func requirementsOf(r *http.Request, withQuery bool) ([]session.Requirements, error) {
	hdr := r.Header[requireHeader]
	if (!withQuery || r.URL.RawQuery == "") && len(hdr) == 0 {
		return nil, nil
	}
	var out []session.Requirements
	if withQuery && r.URL.RawQuery != "" {
		q, err := parseRequirements(r.URL.RawQuery)
		if err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	for _, h := range hdr {
		q, err := parseRequirements(h)
		if err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, nil
}

func parseRequirements(raw string) (session.Requirements, error) {
	var q session.Requirements
	v, err := url.ParseQuery(raw)
	if err != nil {
		return q, errBadRequirement
	}
	for name, vals := range v {
		if len(vals) != 1 {
			return q, errBadRequirement
		}
		val := vals[0]
		switch name {
		case "max_age":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n < 0 || time.Duration(n)*time.Second > maxMaxAge {
				return q, errBadRequirement
			}
			q.MaxAge, q.HasMaxAge = time.Duration(n)*time.Second, true
		case "amr":
			q.AMR = list(val)
			if len(q.AMR) == 0 || session.ValidateAMR(q.AMR) != nil {
				return q, errBadRequirement
			}
		case "roles":
			q.Roles = list(val)
			if len(q.Roles) == 0 {
				return q, errBadRequirement
			}
		case "roles_match":
			switch val {
			case "any":
			case "all":
				q.AllRoles = true
			default:
				return q, errBadRequirement
			}
		default:
			// Another parameter (a cache buster, say) asks nothing.
		}
	}
	return q, nil
}

// list splits a comma-separated value, dropping blanks.
func list(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
