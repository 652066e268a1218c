package httpapi

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
)

// RedirectConfig configures /v1/auth/redirect.
type RedirectConfig struct {
	LoginURL     string   // empty: never redirect
	AllowedHosts []string // hosts (host or host:port, lower case) rd may name
}

// handleAuthRedirect makes the same decision as /v1/auth, but a denied (401)
// browser navigation is sent to the login page with the original URL as rd:
// 302 for GET and HEAD, 303 otherwise. The original URL must be on an
// allowed host, or the answer stays 401: no open redirects.
func handleAuthRedirect(svc Validator, cookieName string, identity *identityWriter, rc RedirectConfig, log *slog.Logger) echo.HandlerFunc {
	allowed := make(map[string]bool, len(rc.AllowedHosts))
	for _, h := range rc.AllowedHosts {
		allowed[h] = true
	}
	return func(c echo.Context) error {
		status, reason := authDecision(c, svc, cookieName, identity, true, log)
		req := c.Request()
		if status == http.StatusUnauthorized && rc.LoginURL != "" && browserNavigation(req) {
			if orig, ok := originalURL(req); ok && allowed[strings.ToLower(orig.Host)] {
				target, err := url.Parse(rc.LoginURL)
				if err == nil {
					q := target.Query()
					q.Set("rd", orig.String())
					if reason == reasonReauth {
						// The session is valid but not fresh enough: the
						// login page should ask the user to authenticate again.
						q.Set("reason", reasonReauth)
					}
					target.RawQuery = q.Encode()
					status = http.StatusFound
					if m := forwardedMethod(req); m != http.MethodGet && m != http.MethodHead {
						status = http.StatusSeeOther
					}
					c.Response().Header().Set("Location", target.String())
				}
			}
		}
		endEmpty(c, status)
		return nil
	}
}

// browserNavigation: the client wants HTML and is not a script.
func browserNavigation(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html") &&
		!strings.EqualFold(r.Header.Get("X-Requested-With"), "XMLHttpRequest")
}

// forwardedMethod is the original request's method: Traefik sends it as
// X-Forwarded-Method; nginx and Caddy subrequests carry it (or GET).
func forwardedMethod(r *http.Request) string {
	if m := r.Header.Get("X-Forwarded-Method"); m != "" {
		return strings.ToUpper(m)
	}
	return r.Method
}

// originalURL rebuilds the URL the user asked for: X-Original-URL (nginx,
// full URL), else X-Forwarded-Proto/Host/Uri (Traefik, Caddy), else
// X-Original-URI with the Host header (nginx, path only).
func originalURL(r *http.Request) (*url.URL, bool) {
	if v := r.Header.Get("X-Original-URL"); v != "" {
		u, err := url.Parse(v)
		return u, err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
	}
	proto := r.Header.Get("X-Forwarded-Proto")
	if proto == "" {
		proto = "https"
	}
	host := r.Header.Get("X-Forwarded-Host")
	uri := r.Header.Get("X-Forwarded-Uri")
	if uri == "" {
		uri = r.Header.Get("X-Original-URI")
		if host == "" {
			host = r.Host
		}
	}
	if host == "" || !strings.HasPrefix(uri, "/") || (proto != "http" && proto != "https") {
		return nil, false
	}
	u, err := url.Parse(proto + "://" + host + uri)
	return u, err == nil && u.Host != ""
}
