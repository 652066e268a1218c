package gateway_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/gateway"
	"github.com/sessiongw/sessiongw/internal/httpapi"
	"github.com/sessiongw/sessiongw/internal/nginxrun"
	"github.com/sessiongw/sessiongw/internal/testenv"
	"github.com/sessiongw/sessiongw/internal/testenv/testdeps"
)

// app is the upstream behind the proxies; it records what reaches it.
type app struct {
	hits atomic.Int64
	mu   sync.Mutex
	last http.Header
}

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.hits.Add(1)
	a.mu.Lock()
	a.last = r.Header.Clone()
	a.mu.Unlock()
	fmt.Fprint(w, "app")
}

func (a *app) seen() http.Header {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

func waitListening(t *testing.T, addr string, logf func() string) {
	t.Helper()
	testdeps.WaitFor(t, 15*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, "proxy did not listen on %s:\n%s", addr, stringer(logf))
}

// stringer defers a log read to when a failure message is formatted.
type stringer func() string

func (f stringer) String() string { return f() }

// deployFile reads a shipped configuration and points its addresses at the
// test's gateway, app and listener.
func deployFile(t *testing.T, path string, repl ...string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.NewReplacer(repl...).Replace(string(b))
}

func startNginx(t *testing.T, gatewayAddr, appAddr string) string {
	t.Helper()
	listen := fmt.Sprintf("127.0.0.1:%d", testdeps.FreePort(t))
	site := deployFile(t, "../../deploy/nginx/sessiongw.conf",
		"127.0.0.1:8080", gatewayAddr, "127.0.0.1:3000", appAddr, "127.0.0.1:8000", listen)
	stop, err := nginxrun.Start(t.TempDir(), site, listen)
	if err != nil {
		t.Fatalf("%v (.ci/run installs nginx)", err)
	}
	t.Cleanup(stop)
	return "http://" + listen
}

func startCaddy(t *testing.T, listen, gatewayAddr, appAddr string, extra ...string) string {
	t.Helper()
	if _, err := exec.LookPath("caddy"); err != nil {
		t.Fatalf("caddy is not installed (apt-get install caddy; .ci/run does): %v", err)
	}
	dir := t.TempDir()
	site := deployFile(t, "../../deploy/caddy/Caddyfile",
		append([]string{"127.0.0.1:8080", gatewayAddr, "127.0.0.1:3000", appAddr, "127.0.0.1:8001", listen}, extra...)...)
	global := "{\n\tadmin off\n\tauto_https off\n\tstorage file_system " + dir + "\n}\n\n"
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(global+site), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs testdeps.SyncBuffer
	cmd := exec.Command("caddy", "run", "--config", path, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitListening(t, listen, logs.String)
	return "http://" + listen
}

// TestRealProxies puts real nginx (auth_request) and real Caddy
// (forward_auth), configured from deploy/, in front of a gateway and an app.
func TestRealProxies(t *testing.T) {
	t.Parallel()
	upstream := &app{}
	appSrv := httptest.NewServer(upstream)
	defer appSrv.Close()
	appAddr := strings.TrimPrefix(appSrv.URL, "http://")

	caddyListen := fmt.Sprintf("127.0.0.1:%d", testdeps.FreePort(t))
	cfg := testenv.Config(t)
	cfg.LoginURL = "https://login.example.com/in"
	cfg.RedirectAllowedHosts = []string{caddyListen}
	rep := testenv.Start(t, cfg, gateway.Options{})
	gatewayAddr := strings.TrimPrefix(rep.URL, "http://")
	user(t, rep.URL, 1, "alice", "admin")
	testenv.PutUser(t, rep.URL, 2, map[string]any{"username": "bob"}) // no email, no roles

	proxies := map[string]string{
		"nginx": startNginx(t, gatewayAddr, appAddr),
		"caddy": startCaddy(t, caddyListen, gatewayAddr, appAddr),
	}
	get := func(url string, kv ...string) testenv.Response { return testenv.Do(t, http.MethodGet, url, nil, kv...) }

	for name, base := range proxies {
		denied := func(what string, r testenv.Response, want int) {
			t.Helper()
			before := upstream.hits.Load()
			if r.Status != want {
				t.Errorf("%s: %s: status %d; want %d", name, what, r.Status, want)
			}
			if upstream.hits.Load() != before {
				t.Errorf("%s: %s: the app was reached", name, what)
			}
		}
		alice, _ := testenv.NewSession(t, rep.URL, 1, false, "")
		bob, _ := testenv.NewSession(t, rep.URL, 2, false, "")

		hits := upstream.hits.Load()
		r := get(base+"/page?x=1", "Cookie", "session_id="+alice)
		if r.Status != http.StatusOK || upstream.hits.Load() != hits+1 {
			t.Fatalf("%s: valid session: %d %q (app hits %d→%d)", name, r.Status, r.Body, hits, upstream.hits.Load())
		}
		if h := upstream.seen(); h.Get("X-Auth-User-Id") != "1" || h.Get("X-Auth-Username") != "alice" || h.Get("X-Auth-Roles") != "admin" {
			t.Errorf("%s: the app saw identity %v", name, h)
		}

		r = get(base+"/", "Cookie", "session_id="+bob, "X-Auth-User-Id", "1", "X-Auth-Email", "forged@example.com", "X-Auth-Roles", "admin")
		if r.Status != http.StatusOK {
			t.Fatalf("%s: bob: %d", name, r.Status)
		}
		if h := upstream.seen(); h.Get("X-Auth-User-Id") != "2" || h.Get("X-Auth-Email") != "" || h.Get("X-Auth-Roles") != "" {
			t.Errorf("%s: client-sent identity headers reached the app: user %q email %q roles %q",
				name, h.Get("X-Auth-User-Id"), h.Get("X-Auth-Email"), h.Get("X-Auth-Roles"))
		}

		denied("no session", get(base+"/"), http.StatusUnauthorized)
		denied("forged identity header without a session", get(base+"/", "X-Auth-User-Id", "1"), http.StatusUnauthorized)
		denied("malformed session", get(base+"/", "Cookie", "session_id=nope"), http.StatusUnauthorized)
		testenv.Do(t, http.MethodDelete, rep.URL+"/v1/session", nil, testenv.Bearer(bob)...)
		denied("revoked session", get(base+"/", "Cookie", "session_id="+bob), http.StatusUnauthorized)
	}

	// Caddy uses /v1/auth/redirect: a browser without a session goes to login.
	hits := upstream.hits.Load()
	r := get(proxies["caddy"]+"/orders?id=3", "Accept", "text/html")
	if r.Status != http.StatusFound {
		t.Errorf("caddy: browser without a session: %d; want 302", r.Status)
	} else if u, err := url.Parse(r.Header.Get("Location")); err != nil || u.Host != "login.example.com" ||
		u.Query().Get("rd") != "http://"+caddyListen+"/orders?id=3" {
		t.Errorf("caddy: Location = %q; want the login URL with rd=http://%s/orders?id=3", r.Header.Get("Location"), caddyListen)
	}
	if upstream.hits.Load() != hits {
		t.Error("caddy: the app was reached by a redirected request")
	}

	// Deactivation: 403 through both.
	carol, _ := testenv.NewSession(t, rep.URL, 1, false, "")
	testenv.PutUser(t, rep.URL, 1, map[string]any{"username": "alice", "is_active": false})
	for name, base := range proxies {
		hits := upstream.hits.Load()
		if r := get(base+"/", "Cookie", "session_id="+carol); r.Status != http.StatusForbidden || upstream.hits.Load() != hits {
			t.Errorf("%s: deactivated user: %d (app reached: %v); want 403", name, r.Status, upstream.hits.Load() != hits)
		}
	}

	// Gateway stopped: both proxies fail closed.
	testenv.PutUser(t, rep.URL, 1, map[string]any{"username": "alice"})
	dave, _ := testenv.NewSession(t, rep.URL, 1, false, "")
	rep.Stop(t)
	for name, base := range proxies {
		hits := upstream.hits.Load()
		r := get(base+"/", "Cookie", "session_id="+dave)
		if r.Status < 500 || upstream.hits.Load() != hits {
			t.Errorf("%s: gateway stopped: %d (app reached: %v); want a 5xx and no app", name, r.Status, upstream.hits.Load() != hits)
		}
	}
}

// wsgiEnviron maps received headers as CGI, WSGI and FastCGI servers do:
// HTTP_ + the name in upper case with '-' as '_', repeated values joined
// with ",". X-Auth-Roles and X_Auth_Roles land on the same key.
func wsgiEnviron(h http.Header) map[string]string {
	env := map[string]string{}
	for name, vals := range h {
		key := "HTTP_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		for _, v := range vals {
			if env[key] != "" {
				env[key] += ","
			}
			env[key] += v
		}
	}
	return env
}

// spellings are the ways a client may write an identity header name to
// get past a proxy that strips only the canonical one.
func spellings(name string) []string {
	under := strings.ReplaceAll(name, "-", "_")
	return []string{name, strings.ToLower(name), strings.ToUpper(name), under, strings.ToLower(under), strings.ToUpper(under)}
}

// TestProxiesStripSmuggledIdentity sends forged identity headers of every
// set (sessiongw, oauth2-proxy, authelia), in every spelling and repeated,
// through the shipped nginx and Caddy configurations, beside a valid
// session, and checks what a CGI/WSGI-style upstream would read.
func TestProxiesStripSmuggledIdentity(t *testing.T) {
	t.Parallel()
	upstream := &app{}
	appSrv := httptest.NewServer(upstream)
	defer appSrv.Close()
	appAddr := strings.TrimPrefix(appSrv.URL, "http://")
	rep := testenv.Start(t, testenv.Config(t), gateway.Options{})
	gatewayAddr := strings.TrimPrefix(rep.URL, "http://")
	user(t, rep.URL, 1, "alice", "user")
	tok, sid := testenv.NewSession(t, rep.URL, 1, false, "")

	proxies := map[string]string{
		"nginx": startNginx(t, gatewayAddr, appAddr),
		"caddy": startCaddy(t, fmt.Sprintf("127.0.0.1:%d", testdeps.FreePort(t)), gatewayAddr, appAddr),
	}
	want := map[string]string{ // what the app must read, and nothing else
		"HTTP_X_AUTH_USER_ID": "1", "HTTP_X_AUTH_USERNAME": "alice", "HTTP_X_AUTH_ROLES": "user",
		"HTTP_X_AUTH_SESSION_ID": sid, "HTTP_X_AUTH_EMAIL": "alice@example.com",
		"HTTP_X_AUTH_AUTHENTICATED_AT": auth(t, rep.URL, tok).Header.Get("X-Auth-Authenticated-At"),
	}
	if want["HTTP_X_AUTH_AUTHENTICATED_AT"] == "" {
		t.Fatal("the gateway sent no X-Auth-Authenticated-At")
	}
	for name, base := range proxies {
		req, err := http.NewRequest(http.MethodGet, base+"/smuggle", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Cookie", "session_id="+tok)
		for _, h := range httpapi.AllIdentityHeaderNames() {
			for _, sp := range spellings(h) {
				req.Header[sp] = append(req.Header[sp], "forged-admin", "forged-2") // set as written, repeated
			}
		}
		resp, err := testenv.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: a valid session with forged headers: %d", name, resp.StatusCode)
		}
		env := wsgiEnviron(upstream.seen())
		for _, h := range httpapi.AllIdentityHeaderNames() {
			key := "HTTP_" + strings.ToUpper(strings.ReplaceAll(h, "-", "_"))
			if got, ok := env[key]; got != want[key] || (!ok && want[key] != "") {
				t.Errorf("%s: the app reads %s = %q; want %q", name, key, got, want[key])
			}
		}
		for k, v := range env {
			if strings.Contains(v, "forged") {
				t.Errorf("%s: a forged value reached the app as %s = %q", name, k, v)
			}
		}
	}
}

// TestProxiesRoleCheck: the shipped nginx and Caddy configurations send
// /admin/ through a check with roles=admin: a user without the role gets
// 403 and the app is never reached there, while / still works.
func TestProxiesRoleCheck(t *testing.T) {
	t.Parallel()
	upstream := &app{}
	appSrv := httptest.NewServer(upstream)
	defer appSrv.Close()
	appAddr := strings.TrimPrefix(appSrv.URL, "http://")
	rep := testenv.Start(t, testenv.Config(t), gateway.Options{})
	gatewayAddr := strings.TrimPrefix(rep.URL, "http://")
	user(t, rep.URL, 1, "alice", "admin")
	user(t, rep.URL, 2, "bob", "user")
	alice, _ := testenv.NewSession(t, rep.URL, 1, false, "")
	bob, _ := testenv.NewSession(t, rep.URL, 2, false, "")
	proxies := map[string]string{
		"nginx": startNginx(t, gatewayAddr, appAddr),
		"caddy": startCaddy(t, fmt.Sprintf("127.0.0.1:%d", testdeps.FreePort(t)), gatewayAddr, appAddr),
	}
	for name, base := range proxies {
		get := func(path, tok string) (int, bool) {
			hits := upstream.hits.Load()
			r := testenv.Do(t, http.MethodGet, base+path, nil, "Cookie", "session_id="+tok)
			return r.Status, upstream.hits.Load() != hits
		}
		if s, reached := get("/admin/panel", alice); s != http.StatusOK || !reached || upstream.seen().Get("X-Auth-Roles") != "admin" {
			t.Errorf("%s: admin to /admin/: %d (app reached %v)", name, s, reached)
		}
		if s, reached := get("/admin/panel", bob); s != http.StatusForbidden || reached {
			t.Errorf("%s: a user without the role to /admin/: %d (app reached %v); want 403 and no app", name, s, reached)
		}
		if s, reached := get("/home", bob); s != http.StatusOK || !reached {
			t.Errorf("%s: a user without the role to /: %d (app reached %v); want 200", name, s, reached)
		}
	}
}

// TestProxiesPassTheIdentityJWT: with the identity JWT on, nginx (as
// shipped) and Caddy (with X-Auth-Jwt added to copy_headers, as its comment
// says) pass the gateway's token to the app, never a client's, with the
// proxied host as its audience.
func TestProxiesPassTheIdentityJWT(t *testing.T) {
	t.Parallel()
	upstream := &app{}
	appSrv := httptest.NewServer(upstream)
	defer appSrv.Close()
	appAddr := strings.TrimPrefix(appSrv.URL, "http://")
	cfg := testenv.Config(t)
	cfg.IdentityJWT, cfg.PublicURL = true, "https://auth.example.com"
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	rep := testenv.Start(t, cfg, gateway.Options{})
	gatewayAddr := strings.TrimPrefix(rep.URL, "http://")
	user(t, rep.URL, 1, "alice", "admin")
	set := jwks(t, rep.URL)
	caddyListen := fmt.Sprintf("127.0.0.1:%d", testdeps.FreePort(t))
	proxies := map[string]string{
		"nginx": startNginx(t, gatewayAddr, appAddr),
		"caddy": startCaddy(t, caddyListen, gatewayAddr, appAddr, "X-Auth-Token-Name\n", "X-Auth-Token-Name X-Auth-Jwt\n"),
	}
	tok, _ := testenv.NewSession(t, rep.URL, 1, false, "")
	for name, base := range proxies {
		r := testenv.Do(t, http.MethodGet, base+"/page", nil, "Cookie", "session_id="+tok, "X-Auth-Jwt", "forged.jwt.value")
		if r.Status != http.StatusOK {
			t.Fatalf("%s: %d", name, r.Status)
		}
		seen := upstream.seen()
		c, _, err := verifyJWT(set, seen.Get("X-Auth-Jwt"))
		host := strings.TrimPrefix(base, "http://")
		if err != nil || c.Sub != "1" || len(seen.Values("X-Auth-Jwt")) != 1 || (c.Aud != host && c.Aud != strings.Split(host, ":")[0]) {
			t.Errorf("%s: the app saw X-Auth-Jwt %q (%v, aud %q)", name, seen.Values("X-Auth-Jwt"), err, c.Aud)
		}
	}
}
