package config_test

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/config"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseDefaults(t *testing.T) {
	t.Parallel()
	c, _, err := config.Parse("t", nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "127.0.0.1:8080" || c.CacheTTL != 5*time.Minute || c.SessionTTL != 24*time.Hour ||
		c.RememberMeTTL != 720*time.Hour || c.CookieName != "session_id" || c.RedisPrefix != "sessiongw" ||
		c.CleanupInterval != time.Hour || !c.AutoMigrate || c.AdminToken != "" || c.LocalCacheTTL != 5*time.Minute {
		t.Errorf("defaults = %+v", c)
	}
}

func TestParseEnvAndFlags(t *testing.T) {
	t.Parallel()
	e := env(map[string]string{
		"SESSIONGW_HTTP_ADDR": "127.0.0.1:9000", "SESSIONGW_CACHE_TTL": "10m",
		"SESSIONGW_COOKIE_NAME": "sid", "SESSIONGW_AUTO_MIGRATE": "false", "SESSIONGW_CLEANUP_INTERVAL": "0",
	})
	c, _, err := config.Parse("t", []string{"--http-addr", "127.0.0.1:9100", "--cache-ttl=7m"}, e, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "127.0.0.1:9100" || c.CacheTTL != 7*time.Minute {
		t.Errorf("flags did not win: %+v", c)
	}
	if c.CookieName != "sid" || c.AutoMigrate || c.CleanupInterval != 0 {
		t.Errorf("environment not applied: %+v", c)
	}
	c, _, err = config.Parse("t", []string{"--no-migrate"}, env(nil), io.Discard)
	if err != nil || c.AutoMigrate {
		t.Errorf("--no-migrate: AutoMigrate = %v, %v; want false", c.AutoMigrate, err)
	}
}

func TestParseErrorsNameTheSetting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"SESSIONGW_CACHE_TTL": "1m"}, nil, "SESSIONGW_CACHE_TTL"},
		{map[string]string{"SESSIONGW_CACHE_TTL": "11m"}, nil, "SESSIONGW_CACHE_TTL"},
		{map[string]string{"SESSIONGW_CACHE_TTL": "soon"}, nil, "SESSIONGW_CACHE_TTL"},
		{nil, []string{"--session-ttl", "forever"}, "--session-ttl"},
		{map[string]string{"SESSIONGW_DATABASE_URL": "mysql://x"}, nil, "SESSIONGW_DATABASE_URL"},
		{map[string]string{"SESSIONGW_REDIS_URL": "http://x"}, nil, "SESSIONGW_REDIS_URL"},
		{map[string]string{"SESSIONGW_HTTP_ADDR": "8080"}, nil, "SESSIONGW_HTTP_ADDR"},
		{map[string]string{"SESSIONGW_ADMIN_TOKEN": "short"}, nil, "SESSIONGW_ADMIN_TOKEN"},
		{map[string]string{"SESSIONGW_COOKIE_NAME": "a b"}, nil, "SESSIONGW_COOKIE_NAME"},
		{map[string]string{"SESSIONGW_REDIS_PREFIX": "has space"}, nil, "SESSIONGW_REDIS_PREFIX"},
		{map[string]string{"SESSIONGW_CLEANUP_INTERVAL": "1s"}, nil, "SESSIONGW_CLEANUP_INTERVAL"},
		{map[string]string{"SESSIONGW_AUTO_MIGRATE": "maybe"}, nil, "SESSIONGW_AUTO_MIGRATE"},
		{map[string]string{"SESSIONGW_REMEMBER_ME_TTL": "1h"}, nil, "SESSIONGW_REMEMBER_ME_TTL"},
		{map[string]string{"SESSIONGW_LOCAL_CACHE_TTL": "6m"}, nil, "SESSIONGW_LOCAL_CACHE_TTL"},
		{map[string]string{"SESSIONGW_IDLE_TIMEOUT": "1m"}, nil, "SESSIONGW_IDLE_TIMEOUT"},
		{map[string]string{"SESSIONGW_IDLE_TIMEOUT": "1000h"}, nil, "SESSIONGW_IDLE_TIMEOUT"},
		{map[string]string{"SESSIONGW_ROLLING": "sometimes"}, nil, "SESSIONGW_ROLLING"},
		{map[string]string{"SESSIONGW_ROLLING": "true", "SESSIONGW_ABSOLUTE_TTL": "24h"}, nil, "SESSIONGW_ABSOLUTE_TTL"},
	}
	for _, tt := range tests {
		_, _, err := config.Parse("t", tt.args, env(tt.env), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%v %v) error = %v; want one naming %s", tt.env, tt.args, err, tt.want)
		}
	}
}

func TestExpiryPolicyExamplesParse(t *testing.T) {
	t.Parallel()
	for _, e := range []map[string]string{
		{"SESSIONGW_IDLE_TIMEOUT": "15m", "SESSIONGW_ROLLING": "true", "SESSIONGW_SESSION_TTL": "15m", "SESSIONGW_REMEMBER_ME_TTL": "12h", "SESSIONGW_ABSOLUTE_TTL": "12h"},
		{"SESSIONGW_ROLLING": "true", "SESSIONGW_SESSION_TTL": "24h", "SESSIONGW_REMEMBER_ME_TTL": "720h", "SESSIONGW_ABSOLUTE_TTL": "2160h"},
	} {
		c, _, err := config.Parse("t", nil, env(e), io.Discard)
		if err != nil || !c.Rolling {
			t.Errorf("docs/session-policy.md example %v: %v", e, err)
		}
	}
}

func TestParseRedactsAdminToken(t *testing.T) {
	t.Parallel()
	_, _, err := config.Parse("t", nil, env(map[string]string{"SESSIONGW_ADMIN_TOKEN": "tiny-secret"}), io.Discard)
	if err == nil || strings.Contains(err.Error(), "tiny-secret") {
		t.Errorf("error = %v; want an error that does not show the token", err)
	}
}

// TestEverySettingIsDocumented keeps docs/configuration.md and the example file in step
// with the settings table.
func TestEverySettingIsDocumented(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"../../docs/configuration.md", "../../config/sessiongw.env.example"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range config.Settings() {
			if !strings.Contains(string(b), s[0]) || !strings.Contains(string(b), s[1]) {
				t.Errorf("%s does not document %s (%s)", file, s[0], s[1])
			}
		}
	}
}

func TestTrustedProxies(t *testing.T) {
	t.Parallel()
	c, _, err := config.Parse("t", nil, env(map[string]string{"SESSIONGW_TRUSTED_PROXIES": " 10.0.0.0/8, 192.0.2.7 ,2001:db8::/32"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"}
	if len(c.TrustedProxies) != len(want) {
		t.Fatalf("TrustedProxies = %v; want %v", c.TrustedProxies, want)
	}
	for i, p := range c.TrustedProxies {
		if p.String() != want[i] {
			t.Errorf("TrustedProxies[%d] = %s; want %s", i, p, want[i])
		}
	}
	if _, _, err := config.Parse("t", nil, env(map[string]string{"SESSIONGW_TRUSTED_PROXIES": "10.0.0.0/8,proxy.local"}), io.Discard); err == nil || !strings.Contains(err.Error(), "SESSIONGW_TRUSTED_PROXIES") {
		t.Errorf("bad proxy entry: error = %v; want one naming SESSIONGW_TRUSTED_PROXIES", err)
	}
}

func TestProxySettings(t *testing.T) {
	t.Parallel()
	c, _, err := config.Parse("t", nil, env(map[string]string{
		"SESSIONGW_AUTH_HEADERS": "authelia", "SESSIONGW_LOGIN_URL": "https://login.example.com/in",
		"SESSIONGW_REDIRECT_ALLOWED_HOSTS": " App.Example.com, admin.example.com:8443 ,",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.AuthHeaders != "authelia" || c.LoginURL != "https://login.example.com/in" ||
		len(c.RedirectAllowedHosts) != 2 || c.RedirectAllowedHosts[0] != "app.example.com" {
		t.Errorf("parsed %+v", c)
	}
	for k, v := range map[string]string{"SESSIONGW_AUTH_HEADERS": "nginx", "SESSIONGW_LOGIN_URL": "/login"} {
		if _, _, err := config.Parse("t", nil, env(map[string]string{k: v}), io.Discard); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%q: error = %v; want one naming it", k, v, err)
		}
	}
}

func TestSecretsFromFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	token := write("token", "from-a-file-0123456789\n")
	dsn := write("dsn", "postgres://app:s3cret@db:5432/sessions?sslmode=disable\n")
	c, _, err := config.Parse("t", nil, env(map[string]string{"SESSIONGW_ADMIN_TOKEN_FILE": token, "SESSIONGW_DATABASE_URL_FILE": dsn}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.AdminToken != "from-a-file-0123456789" || c.DatabaseURL != "postgres://app:s3cret@db:5432/sessions?sslmode=disable" {
		t.Errorf("from files: token %q, database URL %q (trailing newline kept?)", c.AdminToken, c.DatabaseURL)
	}
	// A flag still wins over the file.
	c, _, err = config.Parse("t", []string{"--admin-token", "from-the-flag-0123456789"}, env(map[string]string{"SESSIONGW_ADMIN_TOKEN_FILE": token}), io.Discard)
	if err != nil || c.AdminToken != "from-the-flag-0123456789" {
		t.Errorf("flag over file: %q, %v", c.AdminToken, err)
	}
	for name, e := range map[string]map[string]string{
		"both":    {"SESSIONGW_ADMIN_TOKEN": "x-0123456789abcdef", "SESSIONGW_ADMIN_TOKEN_FILE": token},
		"missing": {"SESSIONGW_ADMIN_TOKEN_FILE": filepath.Join(dir, "nope")},
	} {
		if _, _, err := config.Parse("t", nil, env(e), io.Discard); err == nil || !strings.Contains(err.Error(), "SESSIONGW_ADMIN_TOKEN") {
			t.Errorf("%s: error %v; want one naming SESSIONGW_ADMIN_TOKEN", name, err)
		}
	}
	// A bad URL from a file is reported without its password.
	bad := write("bad", "mysql://app:s3cret@db/x")
	_, _, err = config.Parse("t", nil, env(map[string]string{"SESSIONGW_DATABASE_URL_FILE": bad}), io.Discard)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("bad URL from a file: %v; want an error without the password", err)
	}
}

func TestConfigFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "sessiongw.yaml")
	if err := os.WriteFile(path, []byte(`
cache_ttl: 7m
local_cache_size: 5000
rolling: true
trusted_proxies: [10.0.0.0/8, 192.168.1.1]
log_level: warn
`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, sources, _, err := config.ParseWithSources("t", []string{"--log-level", "error"},
		env(map[string]string{"SESSIONGW_CONFIG": path, "SESSIONGW_LOCAL_CACHE_SIZE": "6000"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.CacheTTL != 7*time.Minute || !c.Rolling || len(c.TrustedProxies) != 2 {
		t.Errorf("from the file: cache TTL %s, rolling %v, trusted proxies %v", c.CacheTTL, c.Rolling, c.TrustedProxies)
	}
	if c.LocalCacheSize != 6000 || c.LogLevel != "error" {
		t.Errorf("precedence: local cache size %d (env over file), log level %q (flag over file)", c.LocalCacheSize, c.LogLevel)
	}
	from := map[string]string{}
	for _, s := range sources {
		from[s.Env] = s.From
	}
	if from["SESSIONGW_CACHE_TTL"] != "config file" || from["SESSIONGW_LOCAL_CACHE_SIZE"] != "SESSIONGW_LOCAL_CACHE_SIZE" ||
		from["SESSIONGW_LOG_LEVEL"] != "--log-level" || from["SESSIONGW_SESSION_TTL"] != "default" {
		t.Errorf("sources: %v", from)
	}
	// --config wins over SESSIONGW_CONFIG.
	other := filepath.Join(dir, "other.yaml")
	if err := os.WriteFile(other, []byte("cache_ttl: 9m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, _, err := config.Parse("t", []string{"--config", other}, env(map[string]string{"SESSIONGW_CONFIG": path}), io.Discard); err != nil || c.CacheTTL != 9*time.Minute {
		t.Errorf("--config over SESSIONGW_CONFIG: %v, %v", c.CacheTTL, err)
	}
	for name, content := range map[string]string{
		"unknown key":  "cache_tll: 5m\n",
		"bad value":    "cache_ttl: 1m\n",
		"nested value": "cache_ttl: {a: 1}\n",
		"not YAML":     "cache_ttl: [\n",
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yaml")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := config.Parse("t", []string{"--config", p}, env(nil), io.Discard); err == nil || !strings.Contains(strings.ToLower(err.Error()), "cache_t") && name != "not YAML" {
			t.Errorf("%s: %v; want an error naming the key", name, err)
		}
	}
	if _, _, err := config.Parse("t", []string{"--config", filepath.Join(dir, "missing.yaml")}, env(nil), io.Discard); err == nil {
		t.Errorf("a missing configuration file was accepted")
	}
}

// TestExampleConfigFileIsCompleteAndValid: the shipped example parses,
// sets every setting, and equals the defaults.
func TestExampleConfigFileIsCompleteAndValid(t *testing.T) {
	t.Parallel()
	c, sources, _, err := config.ParseWithSources("t", []string{"--config", "../../config/sessiongw.example.yaml"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sources {
		if s.From != "config file" {
			t.Errorf("the example does not set %s", s.Env)
		}
	}
	def, _, err := config.Parse("t", nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, def) {
		t.Errorf("the example's values differ from the defaults:\n%+v\n%+v", c, def)
	}
}

func TestRedisTopologySettings(t *testing.T) {
	t.Parallel()
	c, _, err := config.Parse("t", nil, env(map[string]string{
		"SESSIONGW_REDIS_ADDRS": " 10.0.0.1:26379, sentinel-2:26379 ,", "SESSIONGW_REDIS_MASTER_NAME": "mymaster",
		"SESSIONGW_REDIS_SENTINEL_PASSWORD": "s3cret", "SESSIONGW_REDIS_URL": "rediss://app:pw@ignored:6379/2",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.RedisAddrs) != 2 || c.RedisAddrs[1] != "sentinel-2:26379" || c.RedisMasterName != "mymaster" || c.RedisSentinelPassword != "s3cret" {
		t.Errorf("parsed %+v", c)
	}
	_, sources, _, err := config.ParseWithSources("t", nil, env(map[string]string{
		"SESSIONGW_REDIS_ADDRS": "10.0.0.1:26379", "SESSIONGW_REDIS_MASTER_NAME": "m", "SESSIONGW_REDIS_SENTINEL_PASSWORD": "s3cret",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range sources {
		if strings.Contains(src.Value, "s3cret") {
			t.Errorf("config check would print the Sentinel password: %+v", src)
		}
	}
	for _, tc := range []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"SESSIONGW_REDIS_MASTER_NAME": "m"}, "SESSIONGW_REDIS_MASTER_NAME"},
		{map[string]string{"SESSIONGW_REDIS_ADDRS": "10.0.0.1"}, "SESSIONGW_REDIS_ADDRS"},
		{map[string]string{"SESSIONGW_REDIS_ADDRS": "10.0.0.1:7000", "SESSIONGW_REDIS_URL": "redis://x:1/3"}, "SESSIONGW_REDIS_URL"},
		{map[string]string{"SESSIONGW_REDIS_ADDRS": "10.0.0.1:7000", "SESSIONGW_REDIS_URL": "unix:///tmp/redis.sock"}, "SESSIONGW_REDIS_URL"},
		{map[string]string{"SESSIONGW_REDIS_SENTINEL_PASSWORD": "x"}, "SESSIONGW_REDIS_SENTINEL_PASSWORD"},
		{map[string]string{"SESSIONGW_REDIS_CA_FILE": "/etc/ssl/redis-ca.pem"}, "SESSIONGW_REDIS_CA_FILE"},
	} {
		_, _, err := config.Parse("t", nil, env(tc.vars), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error = %v; want one naming %s", tc.vars, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%v: error shows the Sentinel password", tc.vars)
		}
	}
	// A cluster with database 0 and a Sentinel with another database are fine.
	for _, vars := range []map[string]string{
		{"SESSIONGW_REDIS_ADDRS": "10.0.0.1:7000,10.0.0.2:7000", "SESSIONGW_REDIS_URL": "redis://x:1/0"},
		{"SESSIONGW_REDIS_ADDRS": "10.0.0.1:26379", "SESSIONGW_REDIS_MASTER_NAME": "m", "SESSIONGW_REDIS_URL": "redis://x:1/3"},
	} {
		if _, _, err := config.Parse("t", nil, env(vars), io.Discard); err != nil {
			t.Errorf("%v: %v", vars, err)
		}
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"postgres://u:pw@db/x?sslmode=disable&password=QuerySecretPw", "postgres://u:xxxxx@db/x?password=xxxxx&sslmode=disable"},
		{"postgres://db/x?sslpassword=KeySecret&sslkey=/k.pem", "postgres://db/x?sslkey=%2Fk.pem&sslpassword=xxxxx"},
		{"rediss://default:RedisPw@r:6380/0?dial_timeout=1s", "rediss://default:xxxxx@r:6380/0?dial_timeout=1s"},
		{"redis://r/0?auth_token=T0k", "redis://r/0?auth_token=xxxxx"},
		{"postgres://%zz", "[REDACTED]"},
	}
	for _, tt := range tests {
		if got := config.RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
	// config check never prints a query-string password.
	_, sources, _, err := config.ParseWithSources("t", nil, env(map[string]string{
		"SESSIONGW_DATABASE_URL": "postgres://u@db/x?sslmode=disable&password=QuerySecretPw"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sources {
		if strings.Contains(s.Value, "QuerySecretPw") {
			t.Errorf("%s printed as %q", s.Env, s.Value)
		}
	}
}

const goodSecret = "whsec_c2Vzc2lvbmd3LXRlc3Qtc2VjcmV0LTAxMjM0NTY3"

func TestWebhookEndpoints(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte(goodSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "c.yaml")
	write := func(body string) {
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`webhooks:
  - name: audit-sink
    url: https://audit.example.com/hooks
    secret_file: ` + secretFile + `
    events: [audit.checkpoint]
  - name: alerts
    url: http://10.0.0.5:9000/in
    secret: ` + goodSecret + `
`)
	c, _, err := config.Parse("t", []string{"--config", file}, env(map[string]string{
		"SESSIONGW_WEBHOOK_URL": "https://app.example.com/sessiongw", "SESSIONGW_WEBHOOK_SECRET": goodSecret,
		"SESSIONGW_WEBHOOK_EVENTS": "session.revoked,user.deleted",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := []config.WebhookEndpoint{
		{Name: "default", URL: "https://app.example.com/sessiongw", Secret: goodSecret, Events: []string{"session.revoked", "user.deleted"}},
		{Name: "audit-sink", URL: "https://audit.example.com/hooks", Secret: goodSecret, Events: []string{"audit.checkpoint"}},
		{Name: "alerts", URL: "http://10.0.0.5:9000/in", Secret: goodSecret},
	}
	if !reflect.DeepEqual(c.Webhooks, want) || c.WebhookMaxAge != 24*time.Hour {
		t.Errorf("webhooks = %+v, max age %s", c.Webhooks, c.WebhookMaxAge)
	}
	_, sources, _, err := config.ParseWithSources("t", nil, env(map[string]string{"SESSIONGW_WEBHOOK_URL": "https://a.example/", "SESSIONGW_WEBHOOK_SECRET": goodSecret}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sources {
		if s.Env == "SESSIONGW_WEBHOOK_SECRET" && s.Value != "[REDACTED]" {
			t.Errorf("config check shows the webhook secret: %q", s.Value)
		}
	}

	for name, c := range map[string]struct {
		env  map[string]string
		file string
		want string
	}{
		"url without secret":  {map[string]string{"SESSIONGW_WEBHOOK_URL": "https://a.example/"}, "", "SESSIONGW_WEBHOOK_SECRET for \"default\") must start"},
		"secret without url":  {map[string]string{"SESSIONGW_WEBHOOK_SECRET": goodSecret}, "", "absolute http(s) URL"},
		"short secret":        {map[string]string{"SESSIONGW_WEBHOOK_URL": "https://a.example/", "SESSIONGW_WEBHOOK_SECRET": "whsec_c2hvcnQ="}, "", "at least 24 random bytes"},
		"unknown event":       {map[string]string{"SESSIONGW_WEBHOOK_URL": "https://a.example/", "SESSIONGW_WEBHOOK_SECRET": goodSecret, "SESSIONGW_WEBHOOK_EVENTS": "session.created,session.deleted"}, "", `unknown event type "session.deleted"`},
		"duplicate name":      {map[string]string{"SESSIONGW_WEBHOOK_URL": "https://a.example/", "SESSIONGW_WEBHOOK_SECRET": goodSecret}, "webhooks:\n  - {name: default, url: 'https://b.example/', secret: " + goodSecret + "}\n", "used twice"},
		"bad name":            {nil, "webhooks:\n  - {name: 'My Hook', url: 'https://b.example/', secret: " + goodSecret + "}\n", "endpoint name \"My Hook\""},
		"unknown key":         {nil, "webhooks:\n  - {name: a, url: 'https://b.example/', secret: " + goodSecret + ", retries: 3}\n", `unknown key "retries"`},
		"secret and file":     {nil, "webhooks:\n  - {name: a, url: 'https://b.example/', secret: " + goodSecret + ", secret_file: /x}\n", "not both"},
		"max age":             {map[string]string{"SESSIONGW_WEBHOOK_MAX_AGE": "1000h"}, "", "SESSIONGW_WEBHOOK_MAX_AGE"},
		"oidc no audience":    {map[string]string{"SESSIONGW_OIDC_ISSUERS": "https://idp.example.com"}, "", "SESSIONGW_OIDC_AUDIENCE"},
		"oidc plain http":     {map[string]string{"SESSIONGW_OIDC_ISSUERS": "http://idp.example.com", "SESSIONGW_OIDC_AUDIENCE": "app"}, "", "must be https"},
		"jwt without url":     {map[string]string{"SESSIONGW_IDENTITY_JWT": "true"}, "", "SESSIONGW_PUBLIC_URL"},
		"key file without on": {map[string]string{"SESSIONGW_JWT_KEY_FILE": "/k.pem"}, "", "SESSIONGW_JWT_KEY_FILE"},
	} {
		var args []string
		if c.file != "" {
			f := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(f, []byte(c.file), 0o600); err != nil {
				t.Fatal(err)
			}
			args = []string{"--config", f}
		}
		_, _, err := config.Parse("t", args, env(c.env), io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want an error containing %q", name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), goodSecret) {
			t.Errorf("%s: the error shows the secret: %v", name, err)
		}
	}
	if _, _, err := config.Parse("t", nil, env(map[string]string{"SESSIONGW_OIDC_ISSUERS": "http://127.0.0.1:9999/realm", "SESSIONGW_OIDC_AUDIENCE": "app",
		"SESSIONGW_IDENTITY_JWT": "true", "SESSIONGW_PUBLIC_URL": "https://auth.example.com"}), io.Discard); err != nil {
		t.Errorf("OIDC on loopback and an identity JWT: %v", err)
	}
}

func TestDevicesPageSettings(t *testing.T) {
	t.Parallel()
	ok := map[string]string{"SESSIONGW_UI_APP_NAME": "Acme Notes", "SESSIONGW_UI_RETURN_URL": "https://app.example.com/notes",
		"SESSIONGW_UI_SECURITY_URL": "/account/password", "SESSIONGW_REDIRECT_ALLOWED_HOSTS": "app.example.com"}
	c, _, err := config.Parse("t", nil, env(ok), io.Discard)
	if err != nil || c.UIAppName != "Acme Notes" || c.UIReturnURL != "https://app.example.com/notes" || c.UISecurityURL != "/account/password" {
		t.Fatalf("%+v, %v", c, err)
	}
	for name, bad := range map[string]map[string]string{
		"host not allowed":    {"SESSIONGW_UI_RETURN_URL": "https://evil.example.com/"},
		"scheme-relative":     {"SESSIONGW_UI_RETURN_URL": "//evil.example.com/x"},
		"javascript":          {"SESSIONGW_UI_SECURITY_URL": "javascript:alert(1)"},
		"backslash":           {"SESSIONGW_UI_SECURITY_URL": "/\\evil.example.com"},
		"long app name":       {"SESSIONGW_UI_APP_NAME": strings.Repeat("x", 61)},
		"control in the name": {"SESSIONGW_UI_APP_NAME": "Acme\x07"},
	} {
		if _, _, err := config.Parse("t", nil, env(bad), io.Discard); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
