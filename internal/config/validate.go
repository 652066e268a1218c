package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/sessiongw/sessiongw/internal/webhook"
)

var (
	prefixRE       = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)
	cookieRE       = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")
	cookieDomainRE = regexp.MustCompile(`^\.?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
)

// rule is one check of the configuration: the setting it is about, and
// what is wrong ("" when nothing is).
type rule struct {
	env   string
	check func(c Config) string
}

// within checks that a duration lies in [lo, hi]; off, when set, also
// allows 0.
func within(get func(Config) time.Duration, lo, hi time.Duration, off bool, what string) func(Config) string {
	return func(c Config) string {
		d := get(c)
		if (off && d == 0) || (d >= lo && d <= hi) {
			return ""
		}
		return fmt.Sprintf("must be %s (got %s)", what, d)
	}
}

func oneOf(get func(Config) string, allowed ...string) func(Config) string {
	return func(c Config) string {
		for _, a := range allowed {
			if get(c) == a {
				return ""
			}
		}
		list := strings.Join(allowed[:len(allowed)-1], ", ") + " or " + allowed[len(allowed)-1]
		return fmt.Sprintf("must be %s (got %q)", list, get(c))
	}
}

// rules are every check, in the order the settings are documented.
var rules = []rule{
	{"SESSIONGW_DATABASE_URL", func(c Config) string {
		if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return "must be a postgres:// URL"
		}
		return ""
	}},
	{"SESSIONGW_REDIS_URL", checkRedisURL},
	{"SESSIONGW_REDIS_CA_FILE", func(c Config) string {
		if c.RedisCAFile != "" && !strings.HasPrefix(c.RedisURL, "rediss://") {
			return "needs a rediss:// SESSIONGW_REDIS_URL (TLS)"
		}
		return ""
	}},
	{"SESSIONGW_REDIS_MASTER_NAME", func(c Config) string {
		if c.RedisMasterName != "" && len(c.RedisAddrs) == 0 {
			return "needs SESSIONGW_REDIS_ADDRS (the Sentinels)"
		}
		return ""
	}},
	{"SESSIONGW_REDIS_SENTINEL_PASSWORD", func(c Config) string {
		if c.RedisSentinelPassword != "" && c.RedisMasterName == "" {
			return "only applies to Sentinel (SESSIONGW_REDIS_MASTER_NAME)"
		}
		return ""
	}},
	{"SESSIONGW_HTTP_ADDR", func(c Config) string {
		if _, port, err := net.SplitHostPort(c.HTTPAddr); err != nil || port == "" {
			return fmt.Sprintf("must be host:port (got %q)", c.HTTPAddr)
		}
		return ""
	}},
	{"SESSIONGW_ADMIN_TOKEN", func(c Config) string {
		if c.AdminToken != "" && len(c.AdminToken) < 16 {
			return "must be at least 16 characters"
		}
		return ""
	}},
	{"SESSIONGW_NEAR_CACHE_TOKEN", func(c Config) string {
		if c.NearCacheToken != "" && len(c.NearCacheToken) < 16 {
			return "must be at least 16 characters"
		}
		return ""
	}},
	{"SESSIONGW_CACHE_TTL", within(func(c Config) time.Duration { return c.CacheTTL }, 5*time.Minute, 10*time.Minute, false, "between 5m and 10m")},
	{"SESSIONGW_LOCAL_CACHE_TTL", func(c Config) string {
		return within(func(c Config) time.Duration { return c.LocalCacheTTL }, 0, c.CacheTTL, false, "between 0 (off) and SESSIONGW_CACHE_TTL")(c)
	}},
	{"SESSIONGW_SESSION_TTL", within(func(c Config) time.Duration { return c.SessionTTL }, time.Minute, 1<<62, false, "at least 1m")},
	{"SESSIONGW_REMEMBER_ME_TTL", func(c Config) string {
		if c.RememberMeTTL < c.SessionTTL {
			return fmt.Sprintf("must be at least SESSIONGW_SESSION_TTL (got %s)", c.RememberMeTTL)
		}
		return ""
	}},
	{"SESSIONGW_IDLE_TIMEOUT", func(c Config) string {
		return within(func(c Config) time.Duration { return c.IdleTimeout }, 5*time.Minute, c.RememberMeTTL, true, "0 (off) or between 5m and SESSIONGW_REMEMBER_ME_TTL")(c)
	}},
	{"SESSIONGW_ABSOLUTE_TTL", func(c Config) string {
		if c.Rolling && c.AbsoluteTTL < c.RememberMeTTL {
			return fmt.Sprintf("must be at least SESSIONGW_REMEMBER_ME_TTL when SESSIONGW_ROLLING is on (got %s)", c.AbsoluteTTL)
		}
		return ""
	}},
	{"SESSIONGW_NEW_DEVICE_WINDOW", within(func(c Config) time.Duration { return c.NewDeviceWindow }, 24*time.Hour, 1<<62, false, "at least 24h")},
	{"SESSIONGW_COOKIE_NAME", func(c Config) string {
		if !cookieRE.MatchString(c.CookieName) {
			return "must be a valid cookie name"
		}
		return ""
	}},
	{"SESSIONGW_COOKIE_SAMESITE", oneOf(func(c Config) string { return c.CookieSameSite }, "lax", "strict", "none")},
	{"SESSIONGW_COOKIE_SECURE", func(c Config) string {
		switch {
		case !c.CookieSecure && strings.HasPrefix(c.CookieName, "__Host-"):
			return "must be true with a __Host- cookie name (browsers refuse such a cookie without Secure)"
		case !c.CookieSecure && strings.HasPrefix(c.CookieName, "__Secure-"):
			return "must be true with a __Secure- cookie name"
		case !c.CookieSecure && c.CookieSameSite == "none":
			return "must be true with SESSIONGW_COOKIE_SAMESITE=none (browsers refuse SameSite=None without Secure)"
		}
		return ""
	}},
	{"SESSIONGW_COOKIE_DOMAIN", func(c Config) string {
		switch {
		case c.CookieDomain != "" && strings.HasPrefix(c.CookieName, "__Host-"):
			return "must be empty with a __Host- cookie name (such a cookie is host-only)"
		case c.CookieDomain != "" && !cookieDomainRE.MatchString(c.CookieDomain):
			return fmt.Sprintf("must be a domain name (got %q)", c.CookieDomain)
		}
		return ""
	}},
	{"SESSIONGW_MAX_SESSIONS_PER_USER", func(c Config) string {
		if c.MaxSessionsPerUser > 10000 {
			return "must be at most 10000"
		}
		return ""
	}},
	{"SESSIONGW_SESSION_LIMIT_POLICY", oneOf(func(c Config) string { return c.SessionLimitPolicy }, "evict_oldest", "evict_idlest", "refuse")},
	{"SESSIONGW_REDIS_PREFIX", func(c Config) string {
		if !prefixRE.MatchString(c.RedisPrefix) {
			return "must be 1-64 characters of letters, digits, _ . : -"
		}
		return ""
	}},
	{"SESSIONGW_CLEANUP_INTERVAL", within(func(c Config) time.Duration { return c.CleanupInterval }, time.Minute, 1<<62, true, "0 (off) or at least 1m")},
	{"SESSIONGW_INVALIDATION_TIMEOUT", within(func(c Config) time.Duration { return c.InvalidationTimeout }, 100*time.Millisecond, 10*time.Second, false, "between 100ms and 10s")},
	{"SESSIONGW_DB_OUTAGE_GRACE", within(func(c Config) time.Duration { return c.DBOutageGrace }, 0, time.Hour, false, "between 0 (off) and 1h")},
	{"SESSIONGW_SHUTDOWN_DRAIN", within(func(c Config) time.Duration { return c.ShutdownDrain }, 0, time.Minute, false, "between 0 and 1m")},
	{"SESSIONGW_AUDIT_RETENTION", within(func(c Config) time.Duration { return c.AuditRetention }, 24*time.Hour, 1<<62, true, "0 (keep every record) or at least 24h")},
	{"SESSIONGW_AUDIT_CHECKPOINT_INTERVAL", within(func(c Config) time.Duration { return c.AuditCheckpointInterval }, time.Minute, 24*time.Hour, true, "0 (never) or between 1m and 24h")},
	{"SESSIONGW_AUTH_HEADERS", oneOf(func(c Config) string { return c.AuthHeaders }, "sessiongw", "oauth2-proxy", "authelia")},
	{"SESSIONGW_LOGIN_URL", func(c Config) string {
		if c.LoginURL == "" {
			return ""
		}
		if u, err := url.Parse(c.LoginURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "must be an absolute http(s) URL"
		}
		return ""
	}},
	{"SESSIONGW_WEBHOOK_URL", checkWebhooks},
	{"SESSIONGW_WEBHOOK_MAX_AGE", within(func(c Config) time.Duration { return c.WebhookMaxAge }, time.Minute, 720*time.Hour, false, "between 1m and 720h")},
	{"SESSIONGW_OIDC_ISSUERS", func(c Config) string {
		for _, iss := range c.OIDCIssuers {
			if msg := checkPublicURL(iss); msg != "" {
				return fmt.Sprintf("%q %s", iss, msg)
			}
		}
		return ""
	}},
	{"SESSIONGW_OIDC_AUDIENCE", func(c Config) string {
		if len(c.OIDCIssuers) > 0 && c.OIDCAudience == "" {
			return "is required with SESSIONGW_OIDC_ISSUERS (the client id the logout tokens are addressed to)"
		}
		return ""
	}},
	{"SESSIONGW_PUBLIC_URL", func(c Config) string {
		switch {
		case c.IdentityJWT && c.PublicURL == "":
			return "is required with SESSIONGW_IDENTITY_JWT (the tokens' issuer)"
		case c.PublicURL != "":
			return checkPublicURL(c.PublicURL)
		}
		return ""
	}},
	{"SESSIONGW_JWT_KEY_FILE", func(c Config) string {
		if c.JWTKeyFile != "" && !c.IdentityJWT {
			return "only applies with SESSIONGW_IDENTITY_JWT=true"
		}
		return ""
	}},
	{"SESSIONGW_UI_APP_NAME", func(c Config) string {
		if len([]rune(c.UIAppName)) > 60 || strings.ContainsFunc(c.UIAppName, func(r rune) bool { return !unicode.IsPrint(r) }) {
			return "must be at most 60 printable characters"
		}
		return ""
	}},
	{"SESSIONGW_UI_RETURN_URL", func(c Config) string { return checkPageURL(c.UIReturnURL, c.RedirectAllowedHosts) }},
	{"SESSIONGW_UI_SECURITY_URL", func(c Config) string { return checkPageURL(c.UISecurityURL, c.RedirectAllowedHosts) }},
	{"SESSIONGW_LOG_LEVEL", oneOf(func(c Config) string { return c.LogLevel }, "debug", "info", "warn", "error")},
	{"SESSIONGW_LOG_FORMAT", oneOf(func(c Config) string { return c.LogFormat }, "json", "text")},
}

var webhookNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)

// checkWebhooks checks every endpoint: SESSIONGW_WEBHOOK_URL's ("default")
// and the configuration file's.
func checkWebhooks(c Config) string {
	var msgs []string
	seen := map[string]bool{}
	for _, h := range c.Webhooks {
		name := h.Name
		switch {
		case !webhookNameRE.MatchString(name):
			msgs = append(msgs, fmt.Sprintf("endpoint name %q must be 1-40 of a-z, 0-9, _ and - (starting with a letter or digit)", name))
		case seen[name]:
			msgs = append(msgs, fmt.Sprintf("endpoint name %q is used twice (SESSIONGW_WEBHOOK_URL is the one named \"default\")", name))
		}
		seen[name] = true
		if u, err := url.Parse(h.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			msgs = append(msgs, fmt.Sprintf("endpoint %q: the URL must be an absolute http(s) URL", name))
		}
		if _, err := webhook.ParseSecret(h.Secret); err != nil {
			msgs = append(msgs, fmt.Sprintf("endpoint %q: the secret (SESSIONGW_WEBHOOK_SECRET for \"default\") %s", name, err))
		}
		for _, e := range h.Events {
			if !webhook.KnownType(e) {
				msgs = append(msgs, fmt.Sprintf("endpoint %q: unknown event type %q (known: %s)", name, e, strings.Join(webhook.Types, ", ")))
			}
		}
	}
	return strings.Join(msgs, "; ")
}

// checkPageURL accepts what a page may link to: a path on the same origin,
// or an absolute http(s) URL on a host of the redirect allow-list.
func checkPageURL(raw string, allowed []string) string {
	if raw == "" {
		return ""
	}
	if strings.HasPrefix(raw, "/") && !strings.HasPrefix(raw, "//") && !strings.Contains(raw, "\\") {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "must be a path (/account) or an absolute http(s) URL"
	}
	for _, h := range allowed {
		if strings.EqualFold(h, u.Host) || strings.EqualFold(h, u.Hostname()) {
			return ""
		}
	}
	return fmt.Sprintf("host %q is not in SESSIONGW_REDIRECT_ALLOWED_HOSTS", u.Host)
}

// checkPublicURL accepts an absolute https URL, or http on a loopback host
// (for development and tests).
func checkPublicURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "must be an absolute URL"
	}
	switch u.Scheme {
	case "https":
		return ""
	case "http":
		if ip := net.ParseIP(u.Hostname()); u.Hostname() == "localhost" || (ip != nil && ip.IsLoopback()) {
			return ""
		}
		return "must be https (http only on a loopback host)"
	}
	return "must be an https URL"
}

func checkRedisURL(c Config) string {
	u, err := url.Parse(c.RedisURL)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
		return "must be a redis://, rediss:// or unix:// URL"
	}
	if len(c.RedisAddrs) == 0 {
		return ""
	}
	db := strings.Trim(u.Path, "/")
	switch {
	case u.Scheme == "unix":
		return "must be redis:// or rediss:// with SESSIONGW_REDIS_ADDRS"
	case c.RedisMasterName == "" && db != "" && db != "0":
		return fmt.Sprintf("Redis Cluster has only database 0 (got %q)", u.Path)
	}
	return ""
}

// Validate checks every setting once; each message names the variable and
// its flag.
func (c Config) Validate() error {
	var errs []error
	for _, r := range rules {
		if msg := r.check(c); msg != "" {
			errs = append(errs, fmt.Errorf("config: %s: %s", describe(r.env), msg))
		}
	}
	return errors.Join(errs...)
}

// describe names a variable with its flag: "SESSIONGW_X (--x)".
func describe(env string) string {
	for _, s := range settings {
		if s.env == env {
			return env + " (--" + s.flag + ")"
		}
	}
	return env
}
