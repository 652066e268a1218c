package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/sessiongw/sessiongw/client"
	"github.com/sessiongw/sessiongw/internal/gateway"
	"github.com/sessiongw/sessiongw/internal/testenv"
)

// TestWebApp drives the example as a browser would, against a real
// gateway: sign in, reach the private page, sign out, and the old cookie
// is refused.
func TestWebApp(t *testing.T) {
	cfg := testenv.Config(t)
	cfg.CookieSecure = false // the test talks plain HTTP
	rep := testenv.Start(t, cfg, gateway.Options{})
	c, err := client.New(rep.URL, client.WithAdminToken(testenv.AdminToken))
	if err != nil {
		t.Fatal(err)
	}
	users := demoUsers()
	if err := provision(context.Background(), c, users); err != nil {
		t.Fatal(err)
	}
	app := httptest.NewServer(newApp(c, users))
	defer app.Close()
	site, _ := url.Parse(app.URL)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	read := func(resp *http.Response, err error) (int, string, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Request.URL.Path
	}

	if s, body, path := read(browser.Get(app.URL + "/account")); s != http.StatusOK || path != "/" || !strings.Contains(body, "Sign in") {
		t.Errorf("the private page before signing in: %d at %s; want the login form", s, path)
	}
	if s, body, _ := read(browser.PostForm(app.URL+"/login", url.Values{"username": {"alice"}, "password": {"guess"}})); s != http.StatusUnauthorized || !strings.Contains(body, "Wrong user name or password") {
		t.Errorf("a wrong password: %d %q", s, body)
	}
	if s, _, _ := read(browser.PostForm(app.URL+"/login", url.Values{"username": {"nobody"}, "password": {"x"}})); s != http.StatusUnauthorized {
		t.Errorf("an unknown user: %d; want 401", s)
	}
	if len(jar.Cookies(site)) != 0 {
		t.Fatal("a failed sign-in set a cookie")
	}
	s, body, path := read(browser.PostForm(app.URL+"/login", url.Values{"username": {"alice"}, "password": {"wonderland"}}))
	if s != http.StatusOK || path != "/account" || !strings.Contains(body, "Hello alice") || !strings.Contains(body, "user 1 ") {
		t.Fatalf("signing in: %d at %s: %q", s, path, body)
	}
	cookies := jar.Cookies(site)
	if len(cookies) != 1 || cookies[0].Name != "session_id" {
		t.Fatalf("cookies after sign-in: %v", cookies)
	}
	old := cookies[0]
	if list, err := c.UserSessions(context.Background(), "1"); err != nil || len(list) != 1 || list[0].AMR[0] != "pwd" {
		t.Errorf("the gateway's sessions of alice: %+v, %v", list, err)
	}

	// A cross-site form post (a forged logout) is refused.
	req, _ := http.NewRequest(http.MethodPost, app.URL+"/logout", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.AddCookie(old)
	if s, _, _ := read(noFollow.Do(req)); s != http.StatusForbidden {
		t.Errorf("a cross-site POST /logout: %d; want 403", s)
	}

	if s, body, path := read(browser.Post(app.URL+"/logout", "", nil)); s != http.StatusOK || path != "/" || !strings.Contains(body, "Sign in") {
		t.Errorf("signing out: %d at %s", s, path)
	}
	if len(jar.Cookies(site)) != 0 {
		t.Error("the browser kept the cookie after signing out")
	}
	req, _ = http.NewRequest(http.MethodGet, app.URL+"/account", nil)
	req.AddCookie(old)
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Errorf("the old cookie after signing out: %d to %q; want a redirect to the login form", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, err := c.Validate(context.Background(), old.Value); err == nil {
		t.Error("the gateway still accepts the signed-out session")
	}
}
