package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/sessiongw/sessiongw/client"
)

// The examples run against a stand-in for a gateway (exampleGateway, at the
// end of this file) so that `go test` runs them anywhere; in your app, New
// takes your gateway's URL.

func ExampleClient_Validate() {
	gw := exampleGateway()
	defer gw.Close()
	c, err := client.New(gw.URL)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	id, err := c.Validate(ctx, aliceToken)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(id.UserID, id.Username, id.Roles)

	_, err = c.Validate(ctx, "5f2b8c1e-3d4a-4e6f-8a9b-0c1d2e3f4a5b") // unknown, expired or revoked
	switch {
	case errors.Is(err, client.ErrUnauthenticated):
		fmt.Println("sign in again")
	case errors.Is(err, client.ErrUnavailable):
		fmt.Println("cannot tell now: answer 503, keep the cookie")
	}
	// Output:
	// auth0|42 alice [admin]
	// sign in again
}

func ExampleClient_ValidateWith() {
	gw := exampleGateway()
	defer gw.Close()
	c, _ := client.New(gw.URL)

	_, err := c.ValidateWith(context.Background(), aliceToken, client.Requirements{Roles: []string{"billing"}})
	var e *client.Error
	if errors.Is(err, client.ErrForbidden) && errors.As(err, &e) {
		fmt.Println(e.Status, e.Reason)
	}
	// Output: 403 missing_role
}

func ExampleClient_Middleware() {
	gw := exampleGateway()
	defer gw.Close()
	c, _ := client.New(gw.URL)

	account := func(w http.ResponseWriter, r *http.Request) {
		id, _ := client.IdentityFrom(r.Context())
		fmt.Fprintf(w, "hello %s", id.Username)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /account", c.Middleware(http.HandlerFunc(account)))
	mux.Handle("GET /admin", c.Middleware(http.HandlerFunc(account), client.Require(client.Requirements{Roles: []string{"admin"}})))

	for _, cookie := range []string{aliceToken, ""} {
		req := httptest.NewRequest(http.MethodGet, "/account", nil)
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: "session_id", Value: cookie})
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	// Output:
	// 200 hello alice
	// 401 {"error":{"code":"missing_token","message":"no session token"}}
}

func ExampleClient_Login() {
	gw := exampleGateway()
	defer gw.Close()
	c, _ := client.New(gw.URL, client.WithAdminToken(exampleAdminToken))

	login := func(w http.ResponseWriter, r *http.Request) {
		// Check the password (or the OIDC answer) yourself first; then:
		if _, err := c.Login(w, r, "auth0|42", client.LoginOptions{RememberMe: true, AMR: []string{"pwd"}}); err != nil {
			client.WriteError(w, err)
			return
		}
		http.Redirect(w, r, "/account", http.StatusSeeOther)
	}
	rec := httptest.NewRecorder()
	login(rec, httptest.NewRequest(http.MethodPost, "/login", nil))
	cookie := rec.Result().Cookies()[0]
	fmt.Println(rec.Code, cookie.HttpOnly, cookie.Secure, cookie.SameSite == http.SameSiteLaxMode)

	// Logout ends the session at the gateway and clears the cookie.
	req := httptest.NewRequest(http.MethodPost, "/logout", nil)
	req.AddCookie(cookie)
	rec = httptest.NewRecorder()
	if err := c.Logout(rec, req); err != nil {
		log.Fatal(err)
	}
	_, err := c.Validate(context.Background(), cookie.Value)
	fmt.Println(rec.Result().Cookies()[0].MaxAge < 0, errors.Is(err, client.ErrUnauthenticated))
	// Output:
	// 303 true true true
	// true true
}

func ExampleWithNearCache() {
	// Validations of a session this process has seen are answered in the
	// process; a logout, revoke, rotation, eviction or deactivation removes
	// it here before it returns anywhere. The gateway must set
	// SESSIONGW_NEAR_CACHE_TOKEN to the same value.
	c, err := client.New("http://127.0.0.1:8080",
		client.WithNearCache(client.NearCache{Token: "the-near-cache-token-from-your-secrets", TTL: 30 * time.Second}))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	http.Handle("/", c.Middleware(http.FileServer(http.Dir("public"))))
}

// exampleGateway is a stand-in for a gateway with one user and one
// session: just enough of /v1/auth, POST /v1/admin/sessions and
// DELETE /v1/session for the examples.
func exampleGateway() *httptest.Server {
	var mu sync.Mutex
	live := map[string]bool{aliceToken: true}
	next := []string{"8c3e1a2b-4d5f-4a6b-9c7d-1e2f3a4b5c6d"}
	token := func(r *http.Request) string {
		if ck, err := r.Cookie("session_id"); err == nil {
			return ck.Value
		}
		return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	fail := func(w http.ResponseWriter, status int, code string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":{"code":%q,"message":%q}}`, code, code)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/auth", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ok := live[token(r)]
		mu.Unlock()
		if !ok {
			w.Header().Set("X-Auth-Reason", "invalid_session")
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if roles := r.URL.Query().Get("roles"); roles != "" && roles != "admin" {
			w.Header().Set("X-Auth-Reason", "missing_role")
			w.WriteHeader(http.StatusForbidden)
			return
		}
		h := w.Header()
		h.Set("X-Auth-User-Id", "auth0|42")
		h.Set("X-Auth-Username", "alice")
		h.Set("X-Auth-Email", "alice@example.com")
		h.Set("X-Auth-Roles", "admin")
		h.Set("X-Auth-Session-Id", "305a3c16-043e-46cc-8f0a-69f4ec4d1904")
		h.Set("X-Auth-Authenticated-At", "2026-12-03T06:00:00Z")
	})
	mux.HandleFunc("POST /v1/admin/sessions", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+exampleAdminToken {
			fail(w, http.StatusUnauthorized, "unauthorized")
			return
		}
		mu.Lock()
		tok := next[0]
		live[tok] = true
		mu.Unlock()
		now := time.Now().UTC()
		json.NewEncoder(w).Encode(map[string]any{
			"token": tok, "evicted": []string{},
			"set_cookie": "session_id=" + tok + "; Path=/; Max-Age=2592000; HttpOnly; Secure; SameSite=Lax",
			"session": map[string]any{"id": "9d2f6a4e-1b3c-4d5e-8f7a-2b3c4d5e6f7a", "user_id": "auth0|42",
				"created_at": now, "expires_at": now.Add(30 * 24 * time.Hour), "last_activity_at": now,
				"authenticated_at": now, "amr": []string{"pwd"}, "remember_me": true},
		})
	})
	mux.HandleFunc("DELETE /v1/session", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		delete(live, token(r))
		mu.Unlock()
		w.Header().Set("Set-Cookie", "session_id=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax")
		w.WriteHeader(http.StatusNoContent)
	})
	return httptest.NewServer(mux)
}

const (
	aliceToken        = "2a7c9e1f-5b3d-4f8a-9c2e-6d4b8a0f1e3c"
	exampleAdminToken = "example-admin-token-0123456789"
)
