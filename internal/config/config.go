// Package config builds the gateway's one Config value from defaults, a
// YAML file, environment variables (or <VARIABLE>_FILE for secrets) and
// matching command-line flags, in that rising order of precedence, and
// validates it once. settings.go is the table of every setting,
// validate.go the table of rules.
package config

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"

	"gopkg.in/yaml.v3"
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
	RedisCAFile string
	HTTPAddr    string
	AdminToken  string
	// NearCacheToken lets app processes' near caches open the invalidation
	// stream (POST /v1/invalidations); empty: the stream is off.
	NearCacheToken string
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
	// CookieSecure, CookieSameSite (lax, strict or none) and CookieDomain
	// are the attributes of the cookies the gateway writes.
	CookieSecure   bool
	CookieSameSite string
	CookieDomain   string
	// MaxSessionsPerUser bounds each user's sessions (0: no limit);
	// SessionLimitPolicy says what a create does at the limit.
	MaxSessionsPerUser int
	SessionLimitPolicy string
	RedisPrefix        string
	CleanupInterval    time.Duration
	AutoMigrate        bool
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
	// AuditRetention, when set, prunes audit records older than this with
	// every cleanup (0: keep them all).
	AuditRetention time.Duration
	// AuditCheckpointInterval is how often the audit head is logged and
	// exported, for anchoring outside the database (0: never).
	AuditCheckpointInterval time.Duration
	// Webhooks are the endpoints events are delivered to: SESSIONGW_WEBHOOK_URL
	// is the one named "default", the configuration file's webhooks list
	// may name more.
	Webhooks []WebhookEndpoint
	// WebhookMaxAge is how long a delivery is retried before it is marked
	// failed.
	WebhookMaxAge time.Duration
	// OIDCIssuers are the identity providers whose back-channel logout
	// tokens are accepted (empty: the endpoint answers 404); OIDCAudience is
	// the client id the tokens must be addressed to.
	OIDCIssuers  []string
	OIDCAudience string
	// IdentityJWT adds a signed X-Auth-Jwt to every allow, issued by
	// PublicURL and signed with the keys in JWTKeyFile (or keys generated
	// and shared through Postgres when empty).
	IdentityJWT bool
	PublicURL   string
	JWTKeyFile  string
	// defaultHook collects SESSIONGW_WEBHOOK_URL, _SECRET and _EVENTS.
	defaultHook WebhookEndpoint
	// UI serves the "Your devices" page at /ui/sessions; UIAppName and
	// UIReturnURL give it a header with a way back to the app, UISecurityURL
	// a "change your password" link after a sign-out.
	UI            bool
	UIAppName     string
	UIReturnURL   string
	UISecurityURL string
	LogLevel      string
	LogFormat     string
}

// WebhookEndpoint is one receiver of events.
type WebhookEndpoint struct {
	Name   string
	URL    string
	Secret string   // whsec_ + base64 of at least 24 random bytes
	Events []string // the event types it takes; empty: all
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
// extra, when given, registers a command's own flags on the same flag set
// (they are parsed with the settings' flags).
func ParseWithSources(name string, args []string, getenv func(string) string, usage io.Writer, extra ...func(*flag.FlagSet)) (Config, []Source, []string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(usage)
	for _, add := range extra {
		add(fs)
	}
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
	file, fileHooks, err := readFile(*configPath)
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
	if c.Webhooks, err = webhooks(c.defaultHook, fileHooks); err != nil {
		return Config{}, nil, nil, err
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
func readFile(path string) (map[string]string, []fileWebhook, error) {
	if path == "" {
		return nil, nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, nil, fmt.Errorf("config: %s: %w", path, err)
	}
	var hooks struct {
		Webhooks []fileWebhook `yaml:"webhooks"`
	}
	if _, ok := raw["webhooks"]; ok {
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(false)
		if err := dec.Decode(&hooks); err != nil {
			return nil, nil, fmt.Errorf("config: %s: webhooks: %w", path, err)
		}
		for i, h := range hooks.Webhooks {
			if len(h.Unknown) > 0 {
				for k := range h.Unknown {
					return nil, nil, fmt.Errorf("config: %s: webhooks[%d]: unknown key %q (name, url, secret, secret_file, events)", path, i, k)
				}
			}
		}
		delete(raw, "webhooks")
	}
	known := map[string]bool{}
	for _, s := range settings {
		known[s.fileKey()] = true
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		if !known[k] {
			return nil, nil, fmt.Errorf("config: %s: unknown setting %q", path, k)
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
			return nil, nil, fmt.Errorf("config: %s: %s must be a value or a list", path, k)
		}
	}
	return out, hooks.Webhooks, nil
}

// fileWebhook is one entry of the configuration file's webhooks list.
type fileWebhook struct {
	Name       string         `yaml:"name"`
	URL        string         `yaml:"url"`
	Secret     string         `yaml:"secret"`
	SecretFile string         `yaml:"secret_file"`
	Events     []string       `yaml:"events"`
	Unknown    map[string]any `yaml:",inline"`
}

// webhooks joins the endpoint of SESSIONGW_WEBHOOK_URL (def, named
// "default") with the file's, reading secret files.
func webhooks(def WebhookEndpoint, file []fileWebhook) ([]WebhookEndpoint, error) {
	var out []WebhookEndpoint
	if def.URL != "" || def.Secret != "" {
		def.Name = "default"
		out = append(out, def)
	}
	for i, h := range file {
		secret := h.Secret
		if h.SecretFile != "" {
			if secret != "" {
				return nil, fmt.Errorf("config: webhooks[%d] (%s): set secret or secret_file, not both", i, h.Name)
			}
			b, err := os.ReadFile(h.SecretFile)
			if err != nil {
				return nil, fmt.Errorf("config: webhooks[%d] (%s): secret_file: %w", i, h.Name, err)
			}
			secret = strings.TrimSpace(string(b))
		}
		out = append(out, WebhookEndpoint{Name: h.Name, URL: h.URL, Secret: secret, Events: h.Events})
	}
	return out, nil
}

// fromFile are the secrets that may also come from a file named by
// <VARIABLE>_FILE (container secret mounts); the variable itself wins, and
// setting both is an error.
var fromFile = map[string]bool{"SESSIONGW_ADMIN_TOKEN": true, "SESSIONGW_NEAR_CACHE_TOKEN": true, "SESSIONGW_WEBHOOK_SECRET": true, "SESSIONGW_DATABASE_URL": true, "SESSIONGW_REDIS_URL": true, "SESSIONGW_REDIS_SENTINEL_PASSWORD": true}

// redact keeps secrets out of error messages and `config check`: the admin
// token and the Sentinel password entirely, URLs through RedactURL.
func redact(env, v string) string {
	if v == "" {
		return ""
	}
	switch env {
	case "SESSIONGW_ADMIN_TOKEN", "SESSIONGW_REDIS_SENTINEL_PASSWORD", "SESSIONGW_NEAR_CACHE_TOKEN", "SESSIONGW_WEBHOOK_SECRET":
		return "[REDACTED]"
	case "SESSIONGW_DATABASE_URL", "SESSIONGW_REDIS_URL":
		return RedactURL(v)
	}
	return v
}

// RedactURL returns a URL fit to print or log: the password of its user
// part and the value of every query parameter that may carry a secret
// (password, sslpassword, and any name with "pass", "secret" or "token"
// in it) become "xxxxx". A value that does not parse is withheld whole.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[REDACTED]"
	}
	if u.RawQuery != "" {
		q := u.Query()
		for name := range q {
			if secretParam(name) {
				for i := range q[name] {
					q[name][i] = "xxxxx"
				}
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

func secretParam(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "pass") || strings.Contains(n, "secret") || strings.Contains(n, "token")
}
