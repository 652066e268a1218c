package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/sessiongw/sessiongw/internal/config"
	"github.com/sessiongw/sessiongw/internal/testenv"
)

// browser starts a headless Chromium (Debian's chromium package) for the
// test; a missing browser fails the test, it never skips.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed (apt-get install chromium; .ci/run and make test install it): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("lang", "en-US"), chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelTab(); cancelAlloc() })
	return ctx
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("browser: evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript condition in the page.
func waitFor(t *testing.T, ctx context.Context, cond string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("browser: waiting for %s: %v", cond, err)
	}
}

func setCookie(t *testing.T, ctx context.Context, base, tok string) {
	t.Helper()
	if _, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{Name: "session_id", Value: tok, URL: base, Path: "/"}); err != nil {
		t.Fatalf("browser: set cookie: %v", err)
	}
}

// artifactDir is where the screenshots go: $SESSIONGW_ARTIFACTS, or
// artifacts/ui at the top of the repository.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SESSIONGW_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "artifacts", "ui")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("browser: screenshot: %v", err)
	}
	path := filepath.Join(artifactDir(t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(png))
}

func colorScheme(t *testing.T, ctx context.Context, scheme string) {
	t.Helper()
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	}); err != nil {
		t.Fatalf("browser: emulate %s scheme: %v", scheme, err)
	}
}

type pageRow struct {
	ID      string `json:"id"`
	Device  string `json:"device"`
	Current bool   `json:"current"`
	New     bool   `json:"new"`
	Address string `json:"address"`
	Times   string `json:"times"`
}

const readRows = `Array.from(document.querySelectorAll('li.session')).map(li => ({
	id: li.dataset.id, device: li.querySelector('.device').textContent,
	current: !!li.querySelector('.badge.current'), new: !!li.querySelector('.badge.new'),
	address: li.querySelector('dd').textContent,
	times: Array.from(li.querySelectorAll('time')).map(t => t.textContent).join('|')}))`

// TestDevicesPageInABrowser drives the page in headless Chromium: three
// sessions with different user agents, opened with one of them; sign out
// another device, then all others (through the confirmation, by keyboard
// first), then this device.
func TestDevicesPageInABrowser(t *testing.T) {
	t.Parallel()
	const loginURL = "https://login.example.com/signin"
	rep, _ := setup(t, func(c *config.Config) { c.UI = true; c.LoginURL = loginURL; c.TrustedProxies = nil })
	user(t, rep.URL, 1, "alice")
	tokA, idA, _ := testenv.NewSessionFrom(t, rep.URL, 1, false, "192.0.2.10", uaWindowsChrome)
	tokB, idB, _ := testenv.NewSessionFrom(t, rep.URL, 1, false, "198.51.100.20", uaIPhoneSafari)
	tokC, idC, _ := testenv.NewSessionFrom(t, rep.URL, 1, false, "203.0.113.30", uaLinuxFirefox)
	// Older logins, as a real list has them.
	for id, ago := range map[string][2]string{idB: {"3 days", "2 hours"}, idC: {"12 days", "3 days"}} {
		if _, err := rep.Gateway.Pool().Exec(context.Background(),
			`UPDATE sessions SET created_at = now() - $2::interval, last_activity_at = now() - $3::interval WHERE public_id = $1`,
			id, ago[0], ago[1]); err != nil {
			t.Fatal(err)
		}
	}

	ctx := browser(t)
	do(t, ctx, "desktop viewport", chromedp.EmulateViewport(1280, 800))
	setCookie(t, ctx, rep.URL, tokA)
	do(t, ctx, "open the page", chromedp.Navigate(rep.URL+"/ui/sessions"))
	waitFor(t, ctx, `document.querySelectorAll('li.session').length === 3`)

	rows := eval[[]pageRow](t, ctx, readRows)
	// Current first, then by last activity; times relative, in the
	// browser's language.
	want := []pageRow{
		{ID: idA, Device: "Chrome on Windows", Current: true, Address: "192.0.2.10", Times: "now|now"},
		{ID: idB, Device: "Safari on iOS", New: true, Address: "198.51.100.20", Times: "3 days ago|2 hours ago"},
		{ID: idC, Device: "Firefox on Linux", New: true, Address: "203.0.113.30", Times: "2 weeks ago|3 days ago"},
	}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("rows:\n%+v\nwant\n%+v", rows, want)
	}
	if label := eval[string](t, ctx, fmt.Sprintf(`document.querySelector('li[data-id=%q] button').getAttribute('aria-label')`, idC)); label != "Sign out Firefox on Linux (203.0.113.30)" {
		t.Errorf("sign-out button label %q", label)
	}
	screenshot(t, ctx, "devices-desktop.png")
	do(t, ctx, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2)), chromedp.Reload())
	waitFor(t, ctx, `document.querySelectorAll('li.session').length === 3`)
	if overflow := eval[bool](t, ctx, `document.documentElement.scrollWidth > window.innerWidth`); overflow {
		t.Error("the page scrolls sideways at phone width")
	}
	screenshot(t, ctx, "devices-phone.png")
	do(t, ctx, "back to desktop", chromedp.EmulateViewport(1280, 800))
	light := eval[string](t, ctx, `getComputedStyle(document.body).backgroundColor`)
	colorScheme(t, ctx, "dark")
	if dark := eval[string](t, ctx, `getComputedStyle(document.body).backgroundColor`); dark == light || dark != "rgb(13, 17, 23)" {
		t.Errorf("dark scheme background %q (light %q)", dark, light)
	}
	screenshot(t, ctx, "devices-dark.png")
	colorScheme(t, ctx, "light")

	// Sign out one other device: its row goes, its token is dead.
	do(t, ctx, "sign out Firefox on Linux", chromedp.Click(chromedp.CSS(fmt.Sprintf(`li[data-id=%q] button`, idC))))
	waitFor(t, ctx, fmt.Sprintf(`!document.querySelector('li[data-id=%q]') && document.querySelectorAll('li.session').length === 2`, idC))
	if s := eval[string](t, ctx, `document.getElementById('status').textContent`); s != "Signed out Firefox on Linux." {
		t.Errorf("status %q", s)
	}
	if tag := eval[string](t, ctx, `document.activeElement.tagName`); tag != "BUTTON" && tag != "H1" {
		t.Errorf("focus went to %s after the row was removed", tag)
	}
	wantStatus(t, "signed-out device on /v1/auth", auth(t, rep.URL, tokC), http.StatusUnauthorized)
	wantStatus(t, "this device still valid", auth(t, rep.URL, tokA), http.StatusOK)

	// "Sign out of all other devices" by keyboard: Enter opens the
	// confirmation with Cancel focused; Escape closes it and changes nothing.
	do(t, ctx, "focus the button", chromedp.Focus(chromedp.ID("sign-out-others")))
	do(t, ctx, "press Enter", chromedp.KeyEvent(kb.Enter))
	waitFor(t, ctx, `document.getElementById('confirm').open && document.activeElement.id === 'confirm-no'`)
	do(t, ctx, "press Escape", chromedp.KeyEvent(kb.Escape))
	waitFor(t, ctx, `!document.getElementById('confirm').open && document.activeElement.id === 'sign-out-others'`)
	wantStatus(t, "other device after a cancelled confirmation", auth(t, rep.URL, tokB), http.StatusOK)
	// Now confirm.
	do(t, ctx, "open the confirmation", chromedp.Click(chromedp.ID("sign-out-others")))
	waitFor(t, ctx, `document.getElementById('confirm').open`)
	if text := eval[string](t, ctx, `document.getElementById('confirm-text').textContent`); text != "The other device will have to sign in again." {
		t.Errorf("confirmation text %q", text)
	}
	do(t, ctx, "confirm", chromedp.Click(chromedp.ID("confirm-yes")))
	waitFor(t, ctx, `document.querySelectorAll('li.session').length === 1 && document.getElementById('sign-out-others').disabled`)
	if s := eval[string](t, ctx, `document.getElementById('status').textContent`); s != "Signed out of 1 other device." {
		t.Errorf("status %q", s)
	}
	wantStatus(t, "other device after sign-out-all-others", auth(t, rep.URL, tokB), http.StatusUnauthorized)
	wantStatus(t, "this device after sign-out-all-others", auth(t, rep.URL, tokA), http.StatusOK)

	// Sign out this device: the signed-out state, with the login link.
	do(t, ctx, "sign out this device", chromedp.Click(chromedp.ID("sign-out-this")))
	waitFor(t, ctx, `!document.getElementById('signed-out').hidden && document.getElementById('signed-in').hidden`)
	if href := eval[string](t, ctx, `document.getElementById('login-link').href`); href != loginURL {
		t.Errorf("login link %q; want %q", href, loginURL)
	}
	wantStatus(t, "this device after signing out", auth(t, rep.URL, tokA), http.StatusUnauthorized)
	if errText := eval[string](t, ctx, `document.getElementById('error').textContent`); errText != "" {
		t.Errorf("an error was shown: %q", errText)
	}

	// Opening the page again without a session shows the signed-out state.
	do(t, ctx, "reload signed out", chromedp.Reload())
	waitFor(t, ctx, `!document.getElementById('signed-out').hidden && !document.getElementById('login').hidden`)
}

// TestDevicesPageShowsErrorsInWords: a failed call is explained, not
// swallowed (here the session is revoked behind the page's back, then
// Postgres-independent: the server refuses an unknown session id).
func TestDevicesPageShowsErrorsInWords(t *testing.T) {
	t.Parallel()
	rep, tokA, _, idB := twoDevices(t)
	ctx := browser(t)
	setCookie(t, ctx, rep.URL, tokA)
	do(t, ctx, "open the page", chromedp.Navigate(rep.URL+"/ui/sessions"))
	waitFor(t, ctx, `document.querySelectorAll('li.session').length === 2`)
	// Someone else signs that device out first: the page's call then finds
	// no such session.
	wantStatus(t, "revoke behind the page's back", testenv.Do(t, http.MethodDelete, rep.URL+"/v1/session/all/"+idB, nil, testenv.Bearer(tokA)...), http.StatusNoContent)
	do(t, ctx, "sign out the gone device", chromedp.Click(chromedp.CSS(fmt.Sprintf(`li[data-id=%q] button`, idB))))
	waitFor(t, ctx, `!document.getElementById('error').hidden`)
	msg := eval[string](t, ctx, `document.getElementById('error').textContent`)
	if !strings.HasPrefix(msg, "Could not sign out Safari on iOS.") || !strings.Contains(msg, "session") {
		t.Errorf("error text %q", msg)
	}
	if role := eval[string](t, ctx, `document.getElementById('error').getAttribute('role')`); role != "alert" {
		t.Errorf("error role %q; want alert", role)
	}
}

// TestAnotherOriginCannotSignOut: a page on another origin of the same
// site (so the browser does send the session cookie) tries every way a
// page can call the sign-out endpoints. None works, and every session
// stays valid.
func TestAnotherOriginCannotSignOut(t *testing.T) {
	t.Parallel()
	rep, tokA, tokB, idB := twoDevices(t)
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>running</title>
<iframe name="sink"></iframe>
<form id="f" method="POST" target="sink" action="%[1]s/v1/session/others?_method=DELETE"><input name="_method" value="DELETE"></form>
<form id="g" method="POST" target="sink" action="%[1]s/v1/session/activity"><input name="x" value="1"></form>
<script>
const gw = %[1]q, results = [];
async function attempt(name, url, opts) {
  try { const r = await fetch(url, opts); results.push(name + ':' + r.type + ':' + r.status); }
  catch (e) { results.push(name + ':blocked'); }
}
(async () => {
  await attempt('delete-others', gw + '/v1/session/others', {method: 'DELETE', credentials: 'include'});
  await attempt('delete-one', gw + '/v1/session/all/%[2]s', {method: 'DELETE', credentials: 'include'});
  await attempt('logout', gw + '/v1/session', {method: 'DELETE', credentials: 'include'});
  await attempt('no-cors-activity', gw + '/v1/session/activity', {method: 'POST', mode: 'no-cors', credentials: 'include', body: 'x'});
  document.getElementById('f').submit();
  await new Promise(r => setTimeout(r, 300));
  document.getElementById('g').submit();
  await new Promise(r => setTimeout(r, 300));
  document.title = 'done ' + results.join(' ');
})();
</script>`, rep.URL, idB)
	}))
	t.Cleanup(evil.Close)

	ctx := browser(t)
	setCookie(t, ctx, rep.URL, tokA)
	do(t, ctx, "open the other origin's page", chromedp.Navigate(evil.URL))
	waitFor(t, ctx, `document.title.startsWith('done')`)
	title := eval[string](t, ctx, `document.title`)
	for _, name := range []string{"delete-others", "delete-one", "logout"} {
		if !strings.Contains(title, name+":blocked") {
			t.Errorf("%s was not blocked by the browser: %s", name, title)
		}
	}
	// The two form posts and the no-cors POST reach the gateway with the
	// cookie; the gateway refuses them.
	logs := rep.Logs.String()
	if n := strings.Count(logs, `"route":"/v1/session/activity","status":403`); n < 2 {
		t.Errorf("the gateway refused %d cross-origin activity POSTs; want the no-cors fetch and the form (logs: %s)", n, lastLines(logs, 20))
	}
	if strings.Contains(logs, `"method":"DELETE","route":"/v1/session`) {
		t.Errorf("a DELETE from the other origin reached the gateway: %s", lastLines(logs, 20))
	}
	wantStatus(t, "this device after the other origin's page", auth(t, rep.URL, tokA), http.StatusOK)
	wantStatus(t, "other device after the other origin's page", auth(t, rep.URL, tokB), http.StatusOK)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestDevicesPageThroughNginx: the page on the application's origin,
// through deploy/nginx/sessiongw.conf as shipped (the snippet in docs/proxies.md).
func TestDevicesPageThroughNginx(t *testing.T) {
	t.Parallel()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "app: hello %s", r.Header.Get("X-Auth-Username"))
	}))
	t.Cleanup(app.Close)
	rep, tokA, tokB, idB := twoDevices(t)
	site := startNginx(t, strings.TrimPrefix(rep.URL, "http://"), strings.TrimPrefix(app.URL, "http://"))

	ctx := browser(t)
	setCookie(t, ctx, site, tokA)
	do(t, ctx, "open the app through nginx", chromedp.Navigate(site+"/"))
	if body := eval[string](t, ctx, `document.body.textContent`); body != "app: hello alice" {
		t.Fatalf("the app behind nginx answered %q", body)
	}
	do(t, ctx, "open the devices page through nginx", chromedp.Navigate(site+"/ui/sessions"))
	waitFor(t, ctx, `document.querySelectorAll('li.session').length === 2`)
	do(t, ctx, "sign out the phone", chromedp.Click(chromedp.CSS(fmt.Sprintf(`li[data-id=%q] button`, idB))))
	waitFor(t, ctx, `document.querySelectorAll('li.session').length === 1`)
	if msg := eval[string](t, ctx, `document.getElementById('error').textContent`); msg != "" {
		t.Fatalf("the page showed an error through nginx: %q", msg)
	}
	wantStatus(t, "signed-out phone", auth(t, rep.URL, tokB), http.StatusUnauthorized)
	wantStatus(t, "this device", auth(t, rep.URL, tokA), http.StatusOK)
	// A cross-origin POST through nginx is still refused (the check sees
	// the browser's headers, which nginx passes on).
	r := testenv.Do(t, http.MethodPost, site+"/v1/session/activity", nil, append(cookie(tokA), "Sec-Fetch-Site", "cross-site")...)
	if r.Status != http.StatusForbidden {
		t.Errorf("cross-site POST through nginx: %d %s; want 403", r.Status, r.Body)
	}
	// Without Sec-Fetch-Site, Origin is compared with the Host nginx kept.
	r = testenv.Do(t, http.MethodPost, site+"/v1/session/activity", nil, append(cookie(tokA), "Origin", "http://evil.example")...)
	if r.Status != http.StatusForbidden {
		t.Errorf("foreign-Origin POST through nginx: %d %s; want 403", r.Status, r.Body)
	}
	r = testenv.Do(t, http.MethodPost, site+"/v1/session/activity", nil, append(cookie(tokA), "Origin", site)...)
	if r.Status != http.StatusNoContent {
		t.Errorf("same-Origin POST through nginx: %d %s; want 204 (is Host kept?)", r.Status, r.Body)
	}
}
