// Package config parses and validates the gateway's configuration from
// environment variables and matching command-line flags (flags win).
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"

	"gopkg.in/yaml.v3"
	"strconv"
	"strings"
	"time"
)

// Config is the validated configuration.
type Config struct {
	DatabaseURL string
	RedisURL    string
	// RedisAddrs, when set, selects Sentinel (with RedisMasterName) or
	// Cluster (without); RedisURL then supplies only credentials, TLS and
	// options.
	RedisAddrs            []string
	RedisMasterName       string
	RedisSentinelPassword string
	// RedisCAFile verifies Redis's TLS certificates (rediss://) instead of
	// the system's roots.
	RedisCAFile    string
	HTTPAddr       string
	AdminToken     string
	CacheTTL       time.Duration
	LocalCacheTTL  time.Duration
	LocalCacheSize int
	SessionTTL     time.Duration
	RememberMeTTL  time.Duration
	// IdleTimeout rejects a session without recorded activity for this
	// long (0: off).
	IdleTimeout time.Duration
	// Rolling extends a session's expiry on activity, by its TTL, never
	// past AbsoluteTTL after its creation.
	Rolling     bool
	AbsoluteTTL time.Duration
	// NewDeviceWindow is how long an address or user agent stays known to
	// new-device detection after its last use.
	NewDeviceWindow time.Duration
	CookieName      string
	RedisPrefix     string
	CleanupInterval time.Duration
	AutoMigrate     bool
	// InvalidationTimeout bounds the wait for replicas' acks and is the
	// window a replica trusts its caches after its last heard heartbeat.
	InvalidationTimeout time.Duration
	MaxDBLookups        int
	ShutdownDrain       time.Duration
	DBOutageGrace       time.Duration
	// TrustedProxies are the peers whose X-Forwarded-For / X-Real-IP
	// headers name the client address.
	TrustedProxies []netip.Prefix
	// AuthHeaders names the identity header set: sessiongw, oauth2-proxy
	// or authelia.
	AuthHeaders string
	// LoginURL is where /v1/auth/redirect sends a denied browser; empty
	// disables the redirect.
	LoginURL string
	// RedirectAllowedHosts are the hosts an rd (return) URL may name.
	RedirectAllowedHosts []string
	RateLimit            float64
	// UI serves the "Your devices" page at /ui/sessions.
	UI        bool
	LogLevel  string
	LogFormat string
}

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
	{"SESSIONGW_CACHE_TTL", "cache-ttl", "5m", "Redis cache TTL (5m-10m)",
		durationInto(func(c *Config) *time.Duration { return &c.CacheTTL })},
	{"SESSIONGW_LOCAL_CACHE_TTL", "local-cache-ttl", "5s", "in-process cache TTL (0 disables; at most 1m)",
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
	{"SESSIONGW_UI", "ui", "false", "serve the \"Your devices\" page at /ui/sessions (signed-in devices, sign out one or all others), authenticated by the session cookie",
		boolInto(func(c *Config) *bool { return &c.UI })},
	{"SESSIONGW_LOG_LEVEL", "log-level", "info", "debug, info, warn or error",
		stringInto(func(c *Config) *string { return &c.LogLevel })},
	{"SESSIONGW_LOG_FORMAT", "log-format", "json", "json or text",
		stringInto(func(c *Config) *string { return &c.LogFormat })},
}

// Parse builds a Config from defaults, then the configuration file (--config
// or SESSIONGW_CONFIG), then getenv, then the flags in args (which win), and
// validates it. "--no-migrate" is accepted as a shorthand
// for --auto-migrate=false. Errors name the offending setting.
func Parse(name string, args []string, getenv func(string) string, usage io.Writer) (Config, []string, error) {
	c, _, rest, err := ParseWithSources(name, args, getenv, usage)
	return c, rest, err
}

// Source is where one setting's effective value came from.
type Source struct {
	Env, Flag string
	Value     string // redacted when it is a secret
	From      string // "default", "config file", the variable or the flag
}

// ParseWithSources is Parse, also reporting every setting's effective value
// and where it came from (for "sessiongw config check"). Precedence: flags,
// then environment variables (or their _FILE), then the configuration file
// (--config / SESSIONGW_CONFIG), then defaults.
func ParseWithSources(name string, args []string, getenv func(string) string, usage io.Writer) (Config, []Source, []string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(usage)
	vals := make([]*string, len(settings))
	for i, s := range settings {
		vals[i] = fs.String(s.flag, "", fmt.Sprintf("%s (env %s, default %q)", s.usage, s.env, s.def))
	}
	noMigrate := fs.Bool("no-migrate", false, "do not apply migrations on start (same as SESSIONGW_AUTO_MIGRATE=false)")
	configPath := fs.String("config", "", "YAML configuration file (env SESSIONGW_CONFIG); flags and environment variables override it")
	if err := fs.Parse(args); err != nil {
		return Config{}, nil, nil, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["config"] {
		*configPath = getenv("SESSIONGW_CONFIG")
	}
	file, err := readFile(*configPath)
	if err != nil {
		return Config{}, nil, nil, err
	}

	var c Config
	sources := make([]Source, len(settings))
	for i, s := range settings {
		v, src := s.def, "default"
		if fv, ok := file[s.fileKey()]; ok {
			v, src = fv, "config file"
		}
		if fromFile[s.env] {
			if path := getenv(s.env + "_FILE"); path != "" {
				if getenv(s.env) != "" {
					return Config{}, nil, nil, fmt.Errorf("config: set %s or %s_FILE, not both", s.env, s.env)
				}
				b, err := os.ReadFile(path)
				if err != nil {
					return Config{}, nil, nil, fmt.Errorf("config: %s_FILE: %w", s.env, err)
				}
				v, src = strings.TrimRight(string(b), "\r\n"), s.env+"_FILE"
			}
		}
		if e := getenv(s.env); e != "" {
			v, src = e, s.env
		}
		if set[s.flag] {
			v, src = *vals[i], "--"+s.flag
		}
		if err := s.set(&c, strings.TrimSpace(v)); err != nil {
			where := src
			if src == "config file" {
				where = *configPath + ": " + s.fileKey()
			}
			return Config{}, nil, nil, fmt.Errorf("config: %s=%q: %w", where, redact(s.env, v), err)
		}
		sources[i] = Source{Env: s.env, Flag: "--" + s.flag, Value: redact(s.env, strings.TrimSpace(v)), From: src}
	}
	if *noMigrate {
		c.AutoMigrate = false
	}
	if err := c.Validate(); err != nil {
		return Config{}, nil, nil, err
	}
	return c, sources, fs.Args(), nil
}

// fileKey is the setting's key in the configuration file: the variable's
// name without SESSIONGW_, in lower case (SESSIONGW_CACHE_TTL → cache_ttl).
func (s setting) fileKey() string { return strings.ToLower(strings.TrimPrefix(s.env, "SESSIONGW_")) }

// readFile reads a YAML configuration file into setting values. Scalars
// are taken as written; a list becomes the comma-separated form of the
// variable. An unknown key is an error (a typo would otherwise be ignored).
func readFile(path string) (map[string]string, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	known := map[string]bool{}
	for _, s := range settings {
		known[s.fileKey()] = true
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		if !known[k] {
			return nil, fmt.Errorf("config: %s: unknown setting %q", path, k)
		}
		switch v := v.(type) {
		case nil:
			out[k] = ""
		case string, bool, int, float64:
			out[k] = fmt.Sprint(v)
		case []any:
			parts := make([]string, len(v))
			for i, e := range v {
				parts[i] = fmt.Sprint(e)
			}
			out[k] = strings.Join(parts, ",")
		default:
			return nil, fmt.Errorf("config: %s: %s must be a value or a list", path, k)
		}
	}
	return out, nil
}

// fromFile are the secrets that may also come from a file named by
// <VARIABLE>_FILE (container secret mounts); the variable itself wins, and
// setting both is an error.
var fromFile = map[string]bool{"SESSIONGW_ADMIN_TOKEN": true, "SESSIONGW_DATABASE_URL": true, "SESSIONGW_REDIS_URL": true, "SESSIONGW_REDIS_SENTINEL_PASSWORD": true}

// redact keeps secrets out of error messages: the admin token entirely,
// the password of a URL.
func redact(env, v string) string {
	if v == "" {
		return ""
	}
	switch env {
	case "SESSIONGW_ADMIN_TOKEN", "SESSIONGW_REDIS_SENTINEL_PASSWORD":
		return "[REDACTED]"
	case "SESSIONGW_DATABASE_URL", "SESSIONGW_REDIS_URL":
		if u, err := url.Parse(v); err == nil {
			return u.Redacted()
		}
		return "[REDACTED]"
	}
	return v
}

var prefixRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)
var cookieRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")

// Validate checks every setting once; the message names the variable.
func (c Config) Validate() error {
	var errs []error
	bad := func(env, msg string, args ...any) {
		name := env
		for _, s := range settings {
			if s.env == env {
				name = env + " (--" + s.flag + ")"
			}
		}
		errs = append(errs, fmt.Errorf("config: %s: %s", name, fmt.Sprintf(msg, args...)))
	}
	if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		bad("SESSIONGW_DATABASE_URL", "must be a postgres:// URL")
	}
	if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
		bad("SESSIONGW_REDIS_URL", "must be a redis://, rediss:// or unix:// URL")
	} else if len(c.RedisAddrs) > 0 {
		switch {
		case u.Scheme == "unix":
			bad("SESSIONGW_REDIS_URL", "must be redis:// or rediss:// with SESSIONGW_REDIS_ADDRS")
		case c.RedisMasterName == "" && strings.Trim(u.Path, "/") != "" && strings.Trim(u.Path, "/") != "0":
			bad("SESSIONGW_REDIS_URL", "Redis Cluster has only database 0 (got %q)", u.Path)
		}
	}
	if c.RedisCAFile != "" && !strings.HasPrefix(c.RedisURL, "rediss://") {
		bad("SESSIONGW_REDIS_CA_FILE", "needs a rediss:// SESSIONGW_REDIS_URL (TLS)")
	}
	if c.RedisMasterName != "" && len(c.RedisAddrs) == 0 {
		bad("SESSIONGW_REDIS_MASTER_NAME", "needs SESSIONGW_REDIS_ADDRS (the Sentinels)")
	}
	if c.RedisSentinelPassword != "" && c.RedisMasterName == "" {
		bad("SESSIONGW_REDIS_SENTINEL_PASSWORD", "only applies to Sentinel (SESSIONGW_REDIS_MASTER_NAME)")
	}
	if _, port, err := net.SplitHostPort(c.HTTPAddr); err != nil || port == "" {
		bad("SESSIONGW_HTTP_ADDR", "must be host:port (got %q)", c.HTTPAddr)
	}
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		bad("SESSIONGW_ADMIN_TOKEN", "must be at least 16 characters")
	}
	if c.CacheTTL < 5*time.Minute || c.CacheTTL > 10*time.Minute {
		bad("SESSIONGW_CACHE_TTL", "must be between 5m and 10m (got %s)", c.CacheTTL)
	}
	if c.LocalCacheTTL < 0 || c.LocalCacheTTL > time.Minute {
		bad("SESSIONGW_LOCAL_CACHE_TTL", "must be between 0 (off) and 1m (got %s)", c.LocalCacheTTL)
	}
	if c.SessionTTL < time.Minute {
		bad("SESSIONGW_SESSION_TTL", "must be at least 1m (got %s)", c.SessionTTL)
	}
	if c.RememberMeTTL < c.SessionTTL {
		bad("SESSIONGW_REMEMBER_ME_TTL", "must be at least SESSIONGW_SESSION_TTL (got %s)", c.RememberMeTTL)
	}
	if c.IdleTimeout != 0 && (c.IdleTimeout < 5*time.Minute || c.IdleTimeout > c.RememberMeTTL) {
		bad("SESSIONGW_IDLE_TIMEOUT", "must be 0 (off) or between 5m and SESSIONGW_REMEMBER_ME_TTL (got %s)", c.IdleTimeout)
	}
	if c.Rolling && c.AbsoluteTTL < c.RememberMeTTL {
		bad("SESSIONGW_ABSOLUTE_TTL", "must be at least SESSIONGW_REMEMBER_ME_TTL when SESSIONGW_ROLLING is on (got %s)", c.AbsoluteTTL)
	}
	if c.NewDeviceWindow < 24*time.Hour {
		bad("SESSIONGW_NEW_DEVICE_WINDOW", "must be at least 24h (got %s)", c.NewDeviceWindow)
	}
	if !cookieRE.MatchString(c.CookieName) {
		bad("SESSIONGW_COOKIE_NAME", "must be a valid cookie name")
	}
	if !prefixRE.MatchString(c.RedisPrefix) {
		bad("SESSIONGW_REDIS_PREFIX", "must be 1-64 characters of letters, digits, _ . : -")
	}
	if c.CleanupInterval != 0 && c.CleanupInterval < time.Minute {
		bad("SESSIONGW_CLEANUP_INTERVAL", "must be 0 (off) or at least 1m (got %s)", c.CleanupInterval)
	}
	if c.InvalidationTimeout < 100*time.Millisecond || c.InvalidationTimeout > 10*time.Second {
		bad("SESSIONGW_INVALIDATION_TIMEOUT", "must be between 100ms and 10s (got %s)", c.InvalidationTimeout)
	}
	if c.DBOutageGrace < 0 || c.DBOutageGrace > time.Hour {
		bad("SESSIONGW_DB_OUTAGE_GRACE", "must be between 0 (off) and 1h (got %s)", c.DBOutageGrace)
	}
	if c.ShutdownDrain < 0 || c.ShutdownDrain > time.Minute {
		bad("SESSIONGW_SHUTDOWN_DRAIN", "must be between 0 and 1m (got %s)", c.ShutdownDrain)
	}
	switch c.AuthHeaders {
	case "sessiongw", "oauth2-proxy", "authelia":
	default:
		bad("SESSIONGW_AUTH_HEADERS", "must be sessiongw, oauth2-proxy or authelia (got %q)", c.AuthHeaders)
	}
	if c.LoginURL != "" {
		if u, err := url.Parse(c.LoginURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("SESSIONGW_LOGIN_URL", "must be an absolute http(s) URL")
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("SESSIONGW_LOG_LEVEL", "must be debug, info, warn or error")
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		bad("SESSIONGW_LOG_FORMAT", "must be json or text")
	}
	return errors.Join(errs...)
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
