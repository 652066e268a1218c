package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// setting describes one configuration value: its variable, flag, default
// and where it goes. The table below is the single list of settings; the
// README and config/sessiongw.env.example document the same names.
type setting struct {
	env, flag, def, usage string
	set                   func(c *Config, v string) error
}

func durationInto(dst func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return errors.New("not a duration (examples: 90s, 5m, 24h)")
		}
		*dst(c) = d
		return nil
	}
}

func positiveIntInto(dst func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return errors.New("must be a positive integer")
		}
		*dst(c) = n
		return nil
	}
}

func boolInto(dst func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("must be true or false")
		}
		*dst(c) = b
		return nil
	}
}

// splitList splits a comma-separated setting, dropping blanks.
func splitList(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func stringInto(dst func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *dst(c) = v; return nil }
}

var settings = []setting{
	{"SESSIONGW_DATABASE_URL", "database-url", "postgres://postgres@127.0.0.1:5432/sessiongw?sslmode=disable", "PostgreSQL connection URL",
		stringInto(func(c *Config) *string { return &c.DatabaseURL })},
	{"SESSIONGW_REDIS_URL", "redis-url", "redis://127.0.0.1:6379/0", "Redis URL (redis:// or rediss://)",
		stringInto(func(c *Config) *string { return &c.RedisURL })},
	{"SESSIONGW_REDIS_ADDRS", "redis-addrs", "", "comma-separated host:port list; with SESSIONGW_REDIS_MASTER_NAME the Sentinels, without it Redis Cluster seed nodes (one is enough); empty: standalone Redis at SESSIONGW_REDIS_URL. When set, SESSIONGW_REDIS_URL supplies only the scheme (rediss:// for TLS), user, password, database and options; its host is ignored",
		func(c *Config, v string) error {
			c.RedisAddrs = nil
			for _, a := range splitList(v) {
				if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
					return fmt.Errorf("%q is not host:port", a)
				}
				c.RedisAddrs = append(c.RedisAddrs, a)
			}
			return nil
		}},
	{"SESSIONGW_REDIS_MASTER_NAME", "redis-master-name", "", "Sentinel: the monitored master's name (needs SESSIONGW_REDIS_ADDRS)",
		stringInto(func(c *Config) *string { return &c.RedisMasterName })},
	{"SESSIONGW_REDIS_SENTINEL_PASSWORD", "redis-sentinel-password", "", "Sentinel: the Sentinels' own password (requirepass in sentinel.conf), if any; prefer the variable or its _FILE to the flag",
		stringInto(func(c *Config) *string { return &c.RedisSentinelPassword })},
	{"SESSIONGW_REDIS_CA_FILE", "redis-ca-file", "", "with rediss://: PEM file of the certificate authorities that sign the Redis servers' certificates (every node's, with Sentinel or Cluster); empty: the system's roots",
		stringInto(func(c *Config) *string { return &c.RedisCAFile })},
	{"SESSIONGW_HTTP_ADDR", "http-addr", "127.0.0.1:8080", "HTTP listen address",
		stringInto(func(c *Config) *string { return &c.HTTPAddr })},
	{"SESSIONGW_ADMIN_TOKEN", "admin-token", "", "bearer token for /v1/admin (admin API answers 404 when empty); prefer the variable to the flag",
		stringInto(func(c *Config) *string { return &c.AdminToken })},
	{"SESSIONGW_NEAR_CACHE_TOKEN", "near-cache-token", "", "bearer token with which app processes' near caches (the Go client's WithNearCache) open the invalidation stream POST /v1/invalidations (at least 16 characters); empty: the stream is off (404); prefer the variable or its _FILE to the flag",
		stringInto(func(c *Config) *string { return &c.NearCacheToken })},
	{"SESSIONGW_CACHE_TTL", "cache-ttl", "5m", "Redis cache TTL (5m-10m)",
		durationInto(func(c *Config) *time.Duration { return &c.CacheTTL })},
	{"SESSIONGW_LOCAL_CACHE_TTL", "local-cache-ttl", "5m", "in-process cache TTL (0 disables; at most SESSIONGW_CACHE_TTL): invalidations and cache trust keep copies correct, the TTL only recycles memory",
		durationInto(func(c *Config) *time.Duration { return &c.LocalCacheTTL })},
	{"SESSIONGW_LOCAL_CACHE_SIZE", "local-cache-size", "100000", "in-process cache capacity in sessions",
		positiveIntInto(func(c *Config) *int { return &c.LocalCacheSize })},
	{"SESSIONGW_SESSION_TTL", "session-ttl", "24h", "lifetime of a new session",
		durationInto(func(c *Config) *time.Duration { return &c.SessionTTL })},
	{"SESSIONGW_REMEMBER_ME_TTL", "remember-me-ttl", "720h", "lifetime of a new remember-me session",
		durationInto(func(c *Config) *time.Duration { return &c.RememberMeTTL })},
	{"SESSIONGW_IDLE_TIMEOUT", "idle-timeout", "0", "reject a session with no recorded activity for this long; 0 = off (otherwise at least 5m; activity is recorded at most once a minute, so a session may be judged idle up to a minute early)",
		durationInto(func(c *Config) *time.Duration { return &c.IdleTimeout })},
	{"SESSIONGW_ROLLING", "rolling", "false", "rolling expiry: activity moves a session's expiry to its TTL from now (SESSIONGW_SESSION_TTL, or SESSIONGW_REMEMBER_ME_TTL for remember-me), never past SESSIONGW_ABSOLUTE_TTL after creation; the token does not change",
		boolInto(func(c *Config) *bool { return &c.Rolling })},
	{"SESSIONGW_ABSOLUTE_TTL", "absolute-ttl", "720h", "with SESSIONGW_ROLLING, the cap on a session's lifetime from its creation (at least SESSIONGW_REMEMBER_ME_TTL)",
		durationInto(func(c *Config) *time.Duration { return &c.AbsoluteTTL })},
	{"SESSIONGW_NEW_DEVICE_WINDOW", "new-device-window", "2160h", "new-device detection: an address or user agent the user used within this long (or that an active session uses) is not new (at least 24h)",
		durationInto(func(c *Config) *time.Duration { return &c.NewDeviceWindow })},
	{"SESSIONGW_COOKIE_NAME", "cookie-name", "session_id", "cookie that carries the session token",
		stringInto(func(c *Config) *string { return &c.CookieName })},
	{"SESSIONGW_COOKIE_SECURE", "cookie-secure", "true", "mark the session cookies the gateway writes Secure (HTTPS only); false only for plain-HTTP development",
		boolInto(func(c *Config) *bool { return &c.CookieSecure })},
	{"SESSIONGW_COOKIE_SAMESITE", "cookie-samesite", "lax", "SameSite of the session cookies the gateway writes: lax, strict or none (none needs SESSIONGW_COOKIE_SECURE=true)",
		stringInto(func(c *Config) *string { return &c.CookieSameSite })},
	{"SESSIONGW_COOKIE_DOMAIN", "cookie-domain", "", "Domain of the session cookies the gateway writes; empty: host-only (required for a __Host- name)",
		stringInto(func(c *Config) *string { return &c.CookieDomain })},
	{"SESSIONGW_MAX_SESSIONS_PER_USER", "max-sessions-per-user", "0", "most sessions a user may have at once (0 = no limit); a user's own max_sessions overrides it",
		func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return errors.New("must be an integer >= 0")
			}
			c.MaxSessionsPerUser = n
			return nil
		}},
	{"SESSIONGW_SESSION_LIMIT_POLICY", "session-limit-policy", "evict_oldest", "at the session limit, a new session evicts the oldest (evict_oldest) or least recently active (evict_idlest) sessions, or is refused (refuse, 409 session_limit)",
		stringInto(func(c *Config) *string { return &c.SessionLimitPolicy })},
	{"SESSIONGW_REDIS_PREFIX", "redis-prefix", "sessiongw", "namespace of every Redis key and channel",
		stringInto(func(c *Config) *string { return &c.RedisPrefix })},
	{"SESSIONGW_CLEANUP_INTERVAL", "cleanup-interval", "1h", "interval of the background cleanup of expired sessions (0 disables)",
		durationInto(func(c *Config) *time.Duration { return &c.CleanupInterval })},
	{"SESSIONGW_AUTO_MIGRATE", "auto-migrate", "true", "apply pending migrations when serve starts",
		boolInto(func(c *Config) *bool { return &c.AutoMigrate })},
	{"SESSIONGW_INVALIDATION_TIMEOUT", "invalidation-timeout", "1s", "how long a revoke waits for every replica's ack, and how long a replica trusts its caches without hearing the invalidation channel (100ms-10s)",
		durationInto(func(c *Config) *time.Duration { return &c.InvalidationTimeout })},
	{"SESSIONGW_DB_MAX_LOOKUPS", "db-max-lookups", "32", "concurrent Postgres lookups of the validation path; more wait, then get 503",
		positiveIntInto(func(c *Config) *int { return &c.MaxDBLookups })},
	{"SESSIONGW_RATE_LIMIT", "rate-limit", "50", "lookups per second per client address that may find no session in Postgres (unknown tokens), bursts of twice that; over it, that address's cache misses get 503/429; 0 disables",
		func(c *Config, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 {
				return errors.New("must be a number >= 0")
			}
			c.RateLimit = f
			return nil
		}},
	{"SESSIONGW_DB_OUTAGE_GRACE", "db-outage-grace", "0", "while Postgres is unreachable, accept a session this replica confirmed from Postgres within this long (never past its expiry, dropped by any invalidation); 0 = off (0-1h)",
		durationInto(func(c *Config) *time.Duration { return &c.DBOutageGrace })},
	{"SESSIONGW_SHUTDOWN_DRAIN", "shutdown-drain", "1s", "on SIGTERM, how long to keep serving with /readyz failing and Connection: close on every answer before stopping (0-1m)",
		durationInto(func(c *Config) *time.Duration { return &c.ShutdownDrain })},
	{"SESSIONGW_TRUSTED_PROXIES", "trusted-proxies", "", "comma-separated CIDRs or addresses of proxies whose X-Forwarded-For / X-Real-IP name the client; empty: the TCP peer is the client",
		func(c *Config, v string) error {
			c.TrustedProxies = nil
			for _, f := range splitList(v) {
				p, err := netip.ParsePrefix(f)
				if err != nil {
					a, aerr := netip.ParseAddr(f)
					if aerr != nil {
						return fmt.Errorf("%q is neither a CIDR nor an address", f)
					}
					p = netip.PrefixFrom(a, a.BitLen())
				}
				c.TrustedProxies = append(c.TrustedProxies, p.Masked())
			}
			return nil
		}},
	{"SESSIONGW_AUTH_HEADERS", "auth-headers", "sessiongw", "identity headers on allow: sessiongw (X-Auth-*), oauth2-proxy (X-Auth-Request-*) or authelia (Remote-*)",
		stringInto(func(c *Config) *string { return &c.AuthHeaders })},
	{"SESSIONGW_LOGIN_URL", "login-url", "", "absolute URL of the login page; /v1/auth/redirect sends denied browser navigations there (empty: it answers 401 like /v1/auth)",
		stringInto(func(c *Config) *string { return &c.LoginURL })},
	{"SESSIONGW_REDIRECT_ALLOWED_HOSTS", "redirect-allowed-hosts", "", "comma-separated hosts (host or host:port) that the original URL passed to the login page as rd may name; others get 401 (no open redirects)",
		func(c *Config, v string) error {
			c.RedirectAllowedHosts = nil
			for _, h := range splitList(v) {
				c.RedirectAllowedHosts = append(c.RedirectAllowedHosts, strings.ToLower(h))
			}
			return nil
		}},
	{"SESSIONGW_AUDIT_RETENTION", "audit-retention", "0", "prune audit records older than this with every cleanup, keeping the chain verifiable (an audit.pruned record names the last one removed); 0 = keep every record (otherwise at least 24h)",
		durationInto(func(c *Config) *time.Duration { return &c.AuditRetention })},
	{"SESSIONGW_AUDIT_CHECKPOINT_INTERVAL", "audit-checkpoint-interval", "1h", "how often each replica logs the audit head (SEQ:HASH, at info) and exports its sequence as sessiongw_audit_head_seq, so an anchor exists outside the database; 0 = never (otherwise 1m-24h)",
		durationInto(func(c *Config) *time.Duration { return &c.AuditCheckpointInterval })},
	{"SESSIONGW_WEBHOOK_URL", "webhook-url", "", "deliver events (session.created, session.revoked, ...) to this URL, signed as Standard Webhooks define (the endpoint named \"default\"; the configuration file's webhooks list may add more); empty: none",
		stringInto(func(c *Config) *string { return &c.defaultHook.URL })},
	{"SESSIONGW_WEBHOOK_SECRET", "webhook-secret", "", "the default endpoint's signing secret: whsec_ followed by the base64 of at least 24 random bytes (openssl rand -base64 32); prefer the variable or its _FILE to the flag",
		stringInto(func(c *Config) *string { return &c.defaultHook.Secret })},
	{"SESSIONGW_WEBHOOK_EVENTS", "webhook-events", "", "comma-separated event types the default endpoint takes; empty: all",
		func(c *Config, v string) error { c.defaultHook.Events = splitList(v); return nil }},
	{"SESSIONGW_WEBHOOK_MAX_AGE", "webhook-max-age", "24h", "retry a delivery (backing off from 5s, doubling, at most 15m apart) until the event is this old, then mark it failed (1m-720h)",
		durationInto(func(c *Config) *time.Duration { return &c.WebhookMaxAge })},
	{"SESSIONGW_OIDC_ISSUERS", "oidc-issuers", "", "comma-separated OpenID Connect issuers whose back-channel logout tokens POST /v1/oidc/backchannel-logout accepts (keys from their discovery documents); empty: the endpoint answers 404",
		func(c *Config, v string) error { c.OIDCIssuers = splitList(v); return nil }},
	{"SESSIONGW_OIDC_AUDIENCE", "oidc-audience", "", "the client id the logout tokens must name in aud (required with SESSIONGW_OIDC_ISSUERS)",
		stringInto(func(c *Config) *string { return &c.OIDCAudience })},
	{"SESSIONGW_IDENTITY_JWT", "identity-jwt", "false", "add X-Auth-Jwt to every allow: the identity signed (ES256, 60s) for upstreams to verify against GET /.well-known/jwks.json",
		boolInto(func(c *Config) *bool { return &c.IdentityJWT })},
	{"SESSIONGW_PUBLIC_URL", "public-url", "", "the gateway's public base URL: the identity JWT's iss (required with SESSIONGW_IDENTITY_JWT)",
		stringInto(func(c *Config) *string { return &c.PublicURL })},
	{"SESSIONGW_JWT_KEY_FILE", "jwt-key-file", "", "PEM file of the identity JWT's private keys (EC P-256 or Ed25519; the first signs, all are published, for rotation); empty: a key generated once and shared through Postgres",
		stringInto(func(c *Config) *string { return &c.JWTKeyFile })},
	{"SESSIONGW_UI", "ui", "false", "serve the \"Your devices\" page at /ui/sessions (signed-in devices, sign out one or all others), authenticated by the session cookie",
		boolInto(func(c *Config) *bool { return &c.UI })},
	{"SESSIONGW_UI_APP_NAME", "ui-app-name", "", "the devices page's header names the app (at most 60 characters)",
		stringInto(func(c *Config) *string { return &c.UIAppName })},
	{"SESSIONGW_UI_RETURN_URL", "ui-return-url", "", "the devices page links back to the app here: a path on the same origin (/account) or an absolute URL whose host is in SESSIONGW_REDIRECT_ALLOWED_HOSTS",
		stringInto(func(c *Config) *string { return &c.UIReturnURL })},
	{"SESSIONGW_UI_SECURITY_URL", "ui-security-url", "", "after signing a device out, the devices page offers \"Not you? Change your password\" linking here (same rules as SESSIONGW_UI_RETURN_URL)",
		stringInto(func(c *Config) *string { return &c.UISecurityURL })},
	{"SESSIONGW_LOG_LEVEL", "log-level", "info", "debug, info, warn or error",
		stringInto(func(c *Config) *string { return &c.LogLevel })},
	{"SESSIONGW_LOG_FORMAT", "log-format", "json", "json or text",
		stringInto(func(c *Config) *string { return &c.LogFormat })},
}

// Settings lists every environment variable with its flag, default and
// meaning, for documentation and `sessiongw help`.
func Settings() [][4]string {
	out := make([][4]string, len(settings))
	for i, s := range settings {
		out[i] = [4]string{s.env, "--" + s.flag, s.def, s.usage}
	}
	return out
}
