package gateway_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/sessiongw/sessiongw/internal/config"
	"github.com/sessiongw/sessiongw/internal/testenv"
	"github.com/sessiongw/sessiongw/internal/ui"
)

const (
	uaWindowsChrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
	uaIPhoneSafari  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
	uaLinuxFirefox  = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
)

func cookie(tok string) []string { return []string{"Cookie", "session_id=" + tok} }

// twoDevices starts a replica with the devices page and gives alice two
// sessions: tokA on Windows (this device) and idB on an iPhone.
func twoDevices(t *testing.T) (rep *testenv.Replica, tokA, tokB, idB string) {
	t.Helper()
	rep, _ = setup(t, func(c *config.Config) { c.UI = true; c.LogLevel = "debug" })
	user(t, rep.URL, 1, "alice")
	tokA, _ = testenv.NewSession(t, rep.URL, 1, false, uaWindowsChrome)
	tokB, idB = testenv.NewSession(t, rep.URL, 1, false, uaIPhoneSafari)
	return rep, tokA, tokB, idB
}

// TestDevicesPageIsOffByDefault: without SESSIONGW_UI nothing is served
// under /ui/.
func TestDevicesPageIsOffByDefault(t *testing.T) {
	t.Parallel()
	rep, _ := setup(t)
	for _, p := range []string{"/ui/sessions", "/ui/assets/sessions.js"} {
		wantStatus(t, p, testenv.Do(t, http.MethodGet, rep.URL+p, nil), http.StatusNotFound)
	}
}

// TestDevicesPageHeaders: the page and its assets come from the binary with
// a strict CSP, no framing, and no inline script; the page is never
// cached, an asset at its current version for a year (13); the page comes
// in the language Accept-Language asks for (8); configured URLs and names
// are escaped into it.
func TestDevicesPageHeaders(t *testing.T) {
	t.Parallel()
	rep, _ := setup(t, func(c *config.Config) {
		c.UI, c.LoginURL, c.UIAppName, c.UIReturnURL = true, `https://login.example.com/in?a=1&b="x"`, `Acme <Notes>`, "/notes?x=1&y=2"
	})
	page := string(testenv.Do(t, http.MethodGet, rep.URL+"/ui/sessions", nil).Body)
	version := regexp.MustCompile(`/ui/assets/sessions\.js\?v=([0-9a-f]{12})"`).FindStringSubmatch(page)
	if version == nil {
		t.Fatalf("the page does not link a versioned script:\n%s", page)
	}
	for path, want := range map[string][2]string{
		"/ui/sessions": {"text/html; charset=utf-8", "no-store"},
		"/ui/assets/sessions.css?v=" + version[1]: {"text/css; charset=utf-8", "public, max-age=31536000, immutable"},
		"/ui/assets/sessions.js?v=" + version[1]:  {"text/javascript; charset=utf-8", "public, max-age=31536000, immutable"},
		"/ui/assets/favicon.svg?v=" + version[1]:  {"image/svg+xml", "public, max-age=31536000, immutable"},
		"/ui/assets/sessions.js":                  {"text/javascript; charset=utf-8", "public, max-age=300"},
		"/ui/assets/sessions.js?v=0123456789ab":   {"text/javascript; charset=utf-8", "public, max-age=300"},
	} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			r := testenv.Do(t, method, rep.URL+path, nil)
			wantStatus(t, method+" "+path, r, http.StatusOK)
			for h, want := range map[string]string{
				"Content-Type": want[0], "Content-Security-Policy": ui.ContentSecurityPolicy, "Cache-Control": want[1],
				"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
			} {
				if got := r.Header.Get(h); got != want {
					t.Errorf("%s %s: %s = %q; want %q", method, path, h, got, want)
				}
			}
			if r.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("%s %s: sends Access-Control-Allow-Origin", method, path)
			}
		}
	}
	for _, want := range []string{"frame-ancestors 'none'", "script-src 'self';", "default-src 'none'"} {
		if !strings.Contains(ui.ContentSecurityPolicy, want) {
			t.Errorf("CSP lacks %q", want)
		}
	}
	if strings.Contains(ui.ContentSecurityPolicy, "unsafe") {
		t.Errorf("CSP allows something unsafe: %s", ui.ContentSecurityPolicy)
	}
	for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(page, -1) {
		if !strings.Contains(tag, `src="/ui/assets/`) {
			t.Errorf("inline or foreign script tag %q", tag)
		}
	}
	if strings.Contains(page, "style=") || regexp.MustCompile(`\son[a-z]+=`).MatchString(page) {
		t.Error("the page has inline styles or event handlers, which the CSP would block")
	}
	for _, want := range []string{`data-login-url="https://login.example.com/in?a=1&amp;b=%22x%22"`, `Acme &lt;Notes&gt;`, `href="/notes?x=1&amp;y=2"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	for accept, lang := range map[string]string{"": "en", "de-CH,de;q=0.9,en;q=0.5": "de", "fr-CA": "fr", "es-419,es;q=0.9": "es", "ja,zh;q=0.5": "en", "it, fr;q=0.3": "fr"} {
		r := testenv.Do(t, http.MethodGet, rep.URL+"/ui/sessions", nil, "Accept-Language", accept)
		if !strings.Contains(string(r.Body), `<html lang="`+lang+`"`) || r.Header.Get("Vary") != "Accept-Language" || r.Header.Get("Content-Language") != lang {
			t.Errorf("Accept-Language %q: Content-Language %q, Vary %q; want %s", accept, r.Header.Get("Content-Language"), r.Header.Get("Vary"), lang)
		}
	}
	wantStatus(t, "POST to the page", testenv.Do(t, http.MethodPost, rep.URL+"/ui/sessions", nil), http.StatusMethodNotAllowed)
	wantStatus(t, "unknown asset", testenv.Do(t, http.MethodGet, rep.URL+"/ui/assets/other.js", nil), http.StatusNotFound)
}

// TestOwnSessionsNameTheirDevices: GET /v1/session/all (and the admin
// list) carry the device parsed from each user agent.
func TestOwnSessionsNameTheirDevices(t *testing.T) {
	t.Parallel()
	rep, _ := setup(t)
	user(t, rep.URL, 1, "alice")
	tok, _ := testenv.NewSession(t, rep.URL, 1, false, uaWindowsChrome)
	testenv.NewSession(t, rep.URL, 1, false, uaIPhoneSafari)
	testenv.NewSession(t, rep.URL, 1, false, "")
	want := map[string]string{uaWindowsChrome: "Chrome on Windows/desktop", uaIPhoneSafari: "Safari on iOS/mobile", "": "Unknown device/"}
	for _, r := range []testenv.Response{
		testenv.Do(t, http.MethodGet, rep.URL+"/v1/session/all", nil, testenv.Bearer(tok)...),
		testenv.Do(t, http.MethodGet, rep.URL+"/v1/admin/users/1/sessions", nil, testenv.Admin()...),
	} {
		var body struct {
			Sessions []struct {
				UserAgent  string `json:"user_agent"`
				Device     string `json:"device"`
				DeviceType string `json:"device_type"`
			} `json:"sessions"`
		}
		r.Decode(t, &body)
		if len(body.Sessions) != 3 {
			t.Fatalf("%d sessions; want 3: %s", len(body.Sessions), r.Body)
		}
		for _, s := range body.Sessions {
			if got := s.Device + "/" + s.DeviceType; got != want[s.UserAgent] {
				t.Errorf("user agent %q: device %q; want %q", s.UserAgent, got, want[s.UserAgent])
			}
		}
	}
}

// TestCrossOriginStateChangesRefused is the CSRF posture: a browser request
// from another origin (Sec-Fetch-Site, or Origin against Host) cannot
// change state with the session cookie; the same calls from this origin,
// or from a non-browser client, work. No endpoint answers CORS.
func TestCrossOriginStateChangesRefused(t *testing.T) {
	t.Parallel()
	rep, tok, _, otherID := twoDevices(t)
	calls := []struct{ method, path string }{
		{http.MethodDelete, "/v1/session/others"},
		{http.MethodDelete, "/v1/session/all/" + otherID},
		{http.MethodDelete, "/v1/session/new_device"},
		{http.MethodPost, "/v1/session/activity"},
		{http.MethodDelete, "/v1/session"},
	}
	for _, attack := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"}, // another port or subdomain
		{"Origin", "http://evil.example"},
	} {
		for _, c := range calls {
			r := testenv.Do(t, c.method, rep.URL+c.path, nil, append(cookie(tok), attack...)...)
			if r.Status != http.StatusForbidden || r.ErrorCode() != "cross_origin" {
				t.Errorf("%s %s with %s: %d %s; want 403 cross_origin", c.method, c.path, attack, r.Status, r.Body)
			}
		}
	}
	// Nothing changed.
	r := testenv.Do(t, http.MethodGet, rep.URL+"/v1/session/all", nil, cookie(tok)...)
	wantStatus(t, "list after the attacks", r, http.StatusOK)
	if n := strings.Count(string(r.Body), `"id"`); n != 2 {
		t.Errorf("%d sessions after the refused calls; want 2", n)
	}
	// No method override sneaks a DELETE in through a form-compatible POST.
	for _, kv := range [][]string{{"X-HTTP-Method-Override", "DELETE"}, {"X-Method-Override", "DELETE"}} {
		r := testenv.Do(t, http.MethodPost, rep.URL+"/v1/session/others?_method=DELETE", "", append(cookie(tok), kv...)...)
		wantStatus(t, "POST with a method override", r, http.StatusMethodNotAllowed)
	}
	wantStatus(t, "other session still valid", auth(t, rep.URL, tok), http.StatusOK)
	// A preflight gets no CORS grant, so browsers never send the DELETE.
	pre := testenv.Do(t, http.MethodOptions, rep.URL+"/v1/session/others", nil,
		"Origin", "http://evil.example", "Access-Control-Request-Method", "DELETE", "Access-Control-Request-Headers", "content-type")
	for _, h := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Credentials"} {
		if v := pre.Header.Get(h); v != "" {
			t.Errorf("preflight answered %s: %s", h, v)
		}
	}
	// The same calls from the page's own origin work.
	sameOrigin := append(cookie(tok), "Sec-Fetch-Site", "same-origin", "Origin", rep.URL)
	wantStatus(t, "same-origin revoke", testenv.Do(t, http.MethodDelete, rep.URL+"/v1/session/all/"+otherID, nil, sameOrigin...), http.StatusNoContent)
	wantStatus(t, "same-origin logout", testenv.Do(t, http.MethodDelete, rep.URL+"/v1/session", nil, sameOrigin...), http.StatusNoContent)
	wantStatus(t, "after logout", auth(t, rep.URL, tok), http.StatusUnauthorized)
}
