package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
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
	Icon    string `json:"icon"`
	Current bool   `json:"current"`
	New     bool   `json:"new"`
	Button  bool   `json:"button"`
	Active  string `json:"active"`
	Address string `json:"address"`
}

const readRows = `Array.from(document.querySelectorAll('li.session')).map(li => ({
	id: li.dataset.id, device: li.querySelector('.device').textContent,
	icon: li.querySelector('svg.icon').getAttribute('class').replace('icon icon-', ''),
	current: !!li.querySelector('.badge.current'), new: !!li.querySelector('.badge.new'),
	button: !!li.querySelector('button.sign-out'),
	active: (li.querySelector('dd').querySelector('time') || li.querySelector('dd')).textContent,
	address: li.querySelectorAll('dd')[1].textContent}))`

// browserIn is browser with Chromium's UI language (and so Accept-Language
// and navigator.languages) set to lang.
func browserIn(t *testing.T, lang string) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed (apt-get install chromium; .ci/run and make test install it): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("lang", lang), chromedp.Flag("accept-lang", lang),
		chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelTab(); cancelAlloc() })
	return ctx
}

// axeViolations runs axe-core (npm ci in internal/ui/testdata; make test
// does) on the page and returns its WCAG 2.x A and AA violations.
func axeViolations(t *testing.T, ctx context.Context) []string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "ui", "testdata", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		t.Fatalf("axe-core is not installed (npm ci in internal/ui/testdata; make test does): %v", err)
	}
	// DevTools evaluation is not subject to the page's CSP.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](string(src)+";true")); err != nil {
		t.Fatalf("browser: load axe-core: %v", err)
	}
	v, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})
		.then(r => r.violations.map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', ')))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("browser: axe: %v", err)
	}
	return v
}

func wantNoAxeViolations(t *testing.T, ctx context.Context, state string) {
	t.Helper()
	for _, v := range axeViolations(t, ctx) {
		t.Errorf("axe (%s): %s", state, v)
	}
}

// fakeClock replaces, before the page's script runs, Date.now and
// setInterval with ones the test drives: __advance(ms) moves the clock and
// runs the intervals.
const fakeClock = `(() => {
	let offset = 0; const realNow = Date.now; const cbs = [];
	Date.now = () => realNow() + offset;
	window.setInterval = (f) => { cbs.push(f); return cbs.length; };
	window.__advance = (ms) => { offset += ms; cbs.forEach(f => f()); };
})();`

// devicesScene starts a gateway with the page and gives alice five
// sessions: curl (her first, so not flagged as new), then this Chrome on
// Windows, Safari on an iPhone (an IPv6 address), Firefox on Linux and
// Edge on Windows, each flagged as a new device. Older ones look older.
func devicesScene(t *testing.T, mods ...func(*config.Config)) (rep *testenv.Replica, tok, id map[string]string) {
	t.Helper()
	rep, _ = setup(t, append([]func(*config.Config){func(c *config.Config) { c.UI = true; c.TrustedProxies = nil }}, mods...)...)
	user(t, rep.URL, 1, "alice")
	tok, id = map[string]string{}, map[string]string{}
	for _, d := range []struct{ name, ip, ua string }{
		{"curl", "192.0.2.5", "curl/8.5.0"},
		{"chrome", "192.0.2.10", uaWindowsChrome},
		{"safari", "2001:db8:85a3:1234:5678:8a2e:370:7334", uaIPhoneSafari},
		{"firefox", "203.0.113.30", uaLinuxFirefox},
		{"edge", "198.51.100.40", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0"},
	} {
		tok[d.name], id[d.name], _ = testenv.NewSessionFrom(t, rep.URL, 1, false, d.ip, d.ua)
	}
	for name, ago := range map[string][2]string{"curl": {"40 days", "20 days"}, "safari": {"3 days", "2 hours"}, "firefox": {"12 days", "3 days"}, "edge": {"20 days", "5 days"}} {
		if _, err := rep.Gateway.Pool().Exec(context.Background(),
			`UPDATE sessions SET created_at = now() - $2::interval, last_activity_at = now() - $3::interval WHERE public_id = $1`,
			id[name], ago[0], ago[1]); err != nil {
			t.Fatal(err)
		}
	}
	return rep, tok, id
}

func openPage(t *testing.T, ctx context.Context, base, tok string, rows int) {
	t.Helper()
	setCookie(t, ctx, base, tok)
	do(t, ctx, "open the page", chromedp.Navigate(base+"/ui/sessions"))
	waitFor(t, ctx, fmt.Sprintf(`document.querySelectorAll('li.session').length === %d`, rows))
}

func text(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	return eval[string](t, ctx, fmt.Sprintf(`document.getElementById(%q).textContent.trim()`, id))
}

func visible(t *testing.T, ctx context.Context, sel string) bool {
	t.Helper()
	return eval[bool](t, ctx, fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && !e.closest('[hidden]') && e.getClientRects().length > 0; })()`, sel))
}

// TestDevicesPageInABrowser drives the page in headless Chromium as a
// person would, and audits it with axe-core in each state it shows.
func TestDevicesPageInABrowser(t *testing.T) {
	t.Parallel()
	const loginURL = "https://login.example.com/signin"
	rep, tok, id := devicesScene(t, func(c *config.Config) {
		c.LoginURL, c.UIAppName, c.UIReturnURL, c.UISecurityURL = loginURL, "Acme Notes", "/notes", "/account/password"
	})
	ctx := browser(t)
	do(t, ctx, "desktop viewport", chromedp.EmulateViewport(1280, 900))
	openPage(t, ctx, rep.URL, tok["chrome"], 5)

	rows := eval[[]pageRow](t, ctx, readRows)
	// This device first and "Active now" (5), then by last activity; an
	// icon per device type and no sign-out button on this device's row (2);
	// the latest address, a long IPv6 one shortened (4, 11).
	want := []pageRow{
		{ID: id["chrome"], Device: "Chrome on Windows", Icon: "desktop", Current: true, New: true, Active: "Active now", Address: "192.0.2.10"},
		{ID: id["safari"], Device: "Safari on iOS", Icon: "mobile", New: true, Button: true, Active: "2 hours ago", Address: "2001:db8:85a3:…:7334"},
		{ID: id["firefox"], Device: "Firefox on Linux", Icon: "desktop", New: true, Button: true, Active: "3 days ago", Address: "203.0.113.30"},
		{ID: id["edge"], Device: "Edge on Windows", Icon: "desktop", New: true, Button: true, Active: "5 days ago", Address: "198.51.100.40"},
		{ID: id["curl"], Device: "Automated client", Icon: "bot", Button: true, Active: "3 weeks ago", Address: "192.0.2.5"},
	}
	for i := range rows {
		// The shortened address's full form is in the text for screen readers.
		rows[i].Address = strings.Replace(rows[i].Address, "2001:db8:85a3:1234:5678:8a2e:370:7334", "", 1)
	}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("rows:\n%+v\nwant\n%+v", rows, want)
	}
	// The badge explains itself (4).
	if n := eval[int](t, ctx, `Array.from(document.querySelectorAll('.new-hint')).filter(p => p.textContent.startsWith('New sign-in from an address or browser not seen before.')).length`); n != 4 {
		t.Errorf("%d explained new-device badges; want 4", n)
	}
	// The app's header and a way back (9); a favicon (13).
	if got := text(t, ctx, "back"); got != "Back to Acme Notes" || eval[string](t, ctx, `document.getElementById('back').getAttribute('href')`) != "/notes" {
		t.Errorf("back link %q", got)
	}
	icon, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch(document.querySelector('link[rel=icon]').href).then(r => r.status + ' ' + r.headers.get('content-type'))`, chromedp.EvalAwaitPromise))
	if err != nil || icon != "200 image/svg+xml" {
		t.Errorf("favicon: %q, %v", icon, err)
	}
	wantNoAxeViolations(t, ctx, "desktop")
	screenshot(t, ctx, "devices-desktop.png")

	// Exact times and the full address on focus (7, 11). (A headless
	// window has no system focus; emulate it, or :focus never matches.)
	if _, err := chromedp.Call(ctx, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "focus the phone's last activity", chromedp.Focus(chromedp.CSS(fmt.Sprintf(`li[data-id=%q] .when`, id["safari"]))))
	if w := eval[float64](t, ctx, `document.activeElement.querySelector('.exact').getBoundingClientRect().width`); w < 20 {
		t.Error("the exact time does not show on focus")
	}
	do(t, ctx, "focus the phone's address", chromedp.Focus(chromedp.CSS(fmt.Sprintf(`li[data-id=%q] .reveal`, id["safari"]))))
	if full := eval[string](t, ctx, `getComputedStyle(document.activeElement.querySelector('.full')).position + ' ' + document.activeElement.querySelector('.full').textContent`); full != "static 2001:db8:85a3:1234:5678:8a2e:370:7334" {
		t.Errorf("the full address on focus: %q", full)
	}

	do(t, ctx, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2)), chromedp.Reload())
	waitFor(t, ctx, `document.querySelectorAll('li.session').length === 5`)
	if overflow := eval[bool](t, ctx, `document.documentElement.scrollWidth > window.innerWidth`); overflow {
		t.Error("the page scrolls sideways at phone width")
	}
	screenshot(t, ctx, "devices-phone.png")
	do(t, ctx, "back to desktop", chromedp.EmulateViewport(1280, 900))
	colorScheme(t, ctx, "dark")
	if dark := eval[string](t, ctx, `getComputedStyle(document.body).backgroundColor`); dark != "rgb(13, 17, 23)" {
		t.Errorf("dark scheme background %q", dark)
	}
	wantNoAxeViolations(t, ctx, "dark")
	screenshot(t, ctx, "devices-dark.png")
	colorScheme(t, ctx, "light")

	// Dismiss this device's new-device notice (4).
	do(t, ctx, "dismiss", chromedp.Click(chromedp.CSS(`li[data-current] button.dismiss`)))
	waitFor(t, ctx, `!document.querySelector('li[data-current] .badge.new') && document.getElementById('status').textContent === 'Notice dismissed.'`)

	// Sign out one device: its row goes; "Not you?" offers the security link (12).
	do(t, ctx, "sign out Firefox on Linux", chromedp.Click(chromedp.CSS(fmt.Sprintf(`li[data-id=%q] button.sign-out`, id["firefox"]))))
	waitFor(t, ctx, fmt.Sprintf(`!document.querySelector('li[data-id=%q]') && document.querySelectorAll('li.session').length === 4`, id["firefox"]))
	if s := text(t, ctx, "status"); s != "Signed out Firefox on Linux." {
		t.Errorf("status %q", s)
	}
	if !visible(t, ctx, "#security-link") || eval[string](t, ctx, `document.getElementById('security-link').getAttribute('href')`) != "/account/password" {
		t.Error("no security link after signing a device out")
	}
	wantStatus(t, "signed-out device", auth(t, rep.URL, tok["firefox"]), http.StatusUnauthorized)

	// A device signed out elsewhere: its "Sign out" removes the row, no error (1).
	wantStatus(t, "revoke behind the page's back", testenv.Do(t, http.MethodDelete, rep.URL+"/v1/session/all/"+id["safari"], nil, testenv.Bearer(tok["chrome"])...), http.StatusNoContent)
	do(t, ctx, "sign out the gone device", chromedp.Click(chromedp.CSS(fmt.Sprintf(`li[data-id=%q] button.sign-out`, id["safari"]))))
	waitFor(t, ctx, `document.querySelectorAll('li.session').length === 3`)
	if s, e := text(t, ctx, "status"), text(t, ctx, "error-text"); s != "Safari on iOS was already signed out." || e != "" {
		t.Errorf("status %q, error %q", s, e)
	}

	// "Sign out of all other devices" counts from a fresh list (1): Edge is
	// gone meanwhile, so one other device (curl) remains.
	wantStatus(t, "revoke Edge behind the page's back", testenv.Do(t, http.MethodDelete, rep.URL+"/v1/session/all/"+id["edge"], nil, testenv.Bearer(tok["chrome"])...), http.StatusNoContent)
	do(t, ctx, "focus the button", chromedp.Focus(chromedp.ID("sign-out-others")))
	do(t, ctx, "press Enter", chromedp.KeyEvent(kb.Enter))
	waitFor(t, ctx, `document.getElementById('confirm').open && document.activeElement.id === 'confirm-no'`)
	if got := text(t, ctx, "confirm-text"); got != "The other device will have to sign in again." {
		t.Errorf("confirmation %q", got)
	}
	do(t, ctx, "press Escape", chromedp.KeyEvent(kb.Escape))
	waitFor(t, ctx, `!document.getElementById('confirm').open && document.activeElement.id === 'sign-out-others'`)
	wantStatus(t, "curl after a cancelled confirmation", auth(t, rep.URL, tok["curl"]), http.StatusOK)
	do(t, ctx, "open the confirmation", chromedp.Click(chromedp.ID("sign-out-others")))
	waitFor(t, ctx, `document.getElementById('confirm').open`)
	do(t, ctx, "confirm", chromedp.Click(chromedp.ID("confirm-yes")))
	// The empty state says so; the button goes (6).
	waitFor(t, ctx, `document.querySelectorAll('li.session').length === 1 && !document.getElementById('none-else').hidden && document.getElementById('sign-out-others').hidden`)
	if s := text(t, ctx, "status"); s != "Signed out of 1 other device." {
		t.Errorf("status %q", s)
	}
	if got := text(t, ctx, "none-else"); got != "You're not signed in anywhere else." {
		t.Errorf("empty state %q", got)
	}
	wantStatus(t, "curl after sign-out-all-others", auth(t, rep.URL, tok["curl"]), http.StatusUnauthorized)
	wantNoAxeViolations(t, ctx, "alone")

	// Signing out this device asks first (2), clears the cookie and offers
	// to sign in again, back to this page (3).
	do(t, ctx, "sign out this device", chromedp.Click(chromedp.ID("sign-out-this")))
	waitFor(t, ctx, `document.getElementById('confirm').open`)
	if got := text(t, ctx, "confirm-title"); got != "Sign out of this device?" {
		t.Errorf("confirmation title %q", got)
	}
	do(t, ctx, "cancel", chromedp.Click(chromedp.ID("confirm-no")))
	waitFor(t, ctx, `!document.getElementById('confirm').open && document.activeElement.id === 'sign-out-this'`)
	wantStatus(t, "this device after cancelling", auth(t, rep.URL, tok["chrome"]), http.StatusOK)
	do(t, ctx, "sign out this device", chromedp.Click(chromedp.ID("sign-out-this")))
	waitFor(t, ctx, `document.getElementById('confirm').open`)
	do(t, ctx, "confirm", chromedp.Click(chromedp.ID("confirm-yes")))
	waitFor(t, ctx, `!document.getElementById('signed-out').hidden && document.getElementById('signed-in').hidden`)
	wantStatus(t, "this device after signing out", auth(t, rep.URL, tok["chrome"]), http.StatusUnauthorized)
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{rep.URL}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cookies.Cookies {
		if c.Name == "session_id" {
			t.Errorf("the browser kept the session cookie after signing out: %+v", c)
		}
	}
	href := eval[string](t, ctx, `document.getElementById('login-link').href`)
	if u, err := url.Parse(href); err != nil || u.Host != "login.example.com" || u.Query().Get("rd") != rep.URL+"/ui/sessions" {
		t.Errorf("sign-in link %q; want the login URL with rd back to the page", href)
	}
	wantNoAxeViolations(t, ctx, "signed out")
}

// TestDevicesPageWithoutALoginURL: signed out with no login URL, the page
// still says what to do (3).
func TestDevicesPageWithoutALoginURL(t *testing.T) {
	t.Parallel()
	rep, _ := setup(t, func(c *config.Config) { c.UI = true })
	ctx := browser(t)
	do(t, ctx, "open the page without a session", chromedp.Navigate(rep.URL+"/ui/sessions"))
	waitFor(t, ctx, `!document.getElementById('signed-out').hidden`)
	if !visible(t, ctx, "#no-login") || visible(t, ctx, "#login") {
		t.Error("without a login URL the page does not say how to sign in again")
	}
	if got := text(t, ctx, "no-login"); got != "To sign in again, go back to the app you came from." {
		t.Errorf("signed-out text %q", got)
	}
}

// TestDevicesPageTimesMoveOn: relative times refresh every minute while
// the page is open (7).
func TestDevicesPageTimesMoveOn(t *testing.T) {
	t.Parallel()
	rep, tok, id := devicesScene(t)
	ctx := browser(t)
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: fakeClock}); err != nil {
		t.Fatal(err)
	}
	openPage(t, ctx, rep.URL, tok["chrome"], 5)
	sel := fmt.Sprintf(`document.querySelector('li[data-id=%q] time').textContent`, id["safari"])
	if got := eval[string](t, ctx, sel); got != "2 hours ago" {
		t.Fatalf("before: %q", got)
	}
	eval[bool](t, ctx, `(__advance(3600 * 1000), true)`)
	if got := eval[string](t, ctx, sel); got != "3 hours ago" {
		t.Errorf("an hour later: %q; want 3 hours ago", got)
	}
}

// TestDevicesPageInEveryLanguage: the page's words and its times in the
// browser's language (8).
func TestDevicesPageInEveryLanguage(t *testing.T) {
	t.Parallel()
	rep, tok, id := devicesScene(t)
	for _, tc := range []struct {
		lang, title, chrome, ago, active, others string
	}{
		{"en-US", "Your devices", "Chrome on Windows", "2 hours ago", "Active now", "Sign out of all other devices"},
		{"de-DE", "Ihre Geräte", "Chrome unter Windows", "vor 2 Stunden", "Gerade aktiv", "Von allen anderen Geräten abmelden"},
		{"fr-FR", "Vos appareils", "Chrome sous Windows", "il y a 2 heures", "Actif en ce moment", "Déconnecter tous les autres appareils"},
		{"es-ES", "Tus dispositivos", "Chrome en Windows", "hace 2 horas", "Activo ahora", "Cerrar sesión en todos los demás dispositivos"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			t.Parallel()
			ctx := browserIn(t, tc.lang)
			do(t, ctx, "desktop viewport", chromedp.EmulateViewport(1280, 900))
			openPage(t, ctx, rep.URL, tok["chrome"], 5)
			got := []string{
				eval[string](t, ctx, `document.documentElement.lang`), text(t, ctx, "title"),
				eval[string](t, ctx, `document.querySelector('li[data-current] .device').textContent`),
				eval[string](t, ctx, fmt.Sprintf(`document.querySelector('li[data-id=%q] time').textContent`, id["safari"])),
				eval[string](t, ctx, `document.querySelector('li[data-current] dd').textContent`),
				text(t, ctx, "sign-out-others"),
			}
			want := []string{strings.SplitN(tc.lang, "-", 2)[0], tc.title, tc.chrome, tc.ago, tc.active, tc.others}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s:\n got %q\nwant %q", tc.lang, got, want)
			}
			if tc.lang == "de-DE" {
				wantNoAxeViolations(t, ctx, tc.lang)
				screenshot(t, ctx, "devices-de.png")
			}
		})
	}
}

// TestDevicesPageWithoutJavaScript: a message, not "Loading…" forever (10).
func TestDevicesPageWithoutJavaScript(t *testing.T) {
	t.Parallel()
	rep, tok, _ := devicesScene(t)
	ctx := browser(t)
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	setCookie(t, ctx, rep.URL, tok["chrome"])
	do(t, ctx, "open the page", chromedp.Navigate(rep.URL+"/ui/sessions"), chromedp.WaitReady("body"))
	if !visible(t, ctx, "#noscript") || visible(t, ctx, "#loading") {
		t.Error("with JavaScript off the page shows no explanation, or still says it is loading")
	}
	if got := text(t, ctx, "noscript"); !strings.Contains(got, "needs JavaScript") {
		t.Errorf("noscript text %q", got)
	}
}

// TestDevicesPageLoadErrorCanBeRetried: a failed load says so and offers
// to try again, which then works (12).
func TestDevicesPageLoadErrorCanBeRetried(t *testing.T) {
	t.Parallel()
	rep, tok, _ := devicesScene(t)
	ctx := browser(t)
	if _, err := chromedp.Call(ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{URLPatterns: []*network.BlockPattern{{URLPattern: rep.URL + "/v1/session/all", Block: true}}}); err != nil {
		t.Fatal(err)
	}
	setCookie(t, ctx, rep.URL, tok["chrome"])
	do(t, ctx, "open the page", chromedp.Navigate(rep.URL+"/ui/sessions"))
	waitFor(t, ctx, `!document.getElementById('error').hidden && !document.getElementById('retry').hidden`)
	if got := text(t, ctx, "error-text"); got != "Your devices could not be loaded. The server could not be reached. Check your connection and try again." {
		t.Errorf("error %q", got)
	}
	if _, err := chromedp.Call(ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{URLPatterns: []*network.BlockPattern{}}); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "try again", chromedp.Click(chromedp.ID("retry")))
	waitFor(t, ctx, `document.querySelectorAll('li.session').length === 5 && document.getElementById('error').hidden`)
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
	if msg := eval[string](t, ctx, `document.getElementById('error-text').textContent`); msg != "" {
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
