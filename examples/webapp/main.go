// Command webapp is a small web app that signs users in with a password
// and keeps their sessions in sessiongw, through the Go client: Login after
// the password check, Middleware on the private pages, Logout.
//
// Run a gateway (make run), then:
//
//	SESSIONGW_ADMIN_TOKEN=... go run ./examples/webapp
//
// and open http://127.0.0.1:3000 (alice / wonderland, or bob / builder).
// The demo users live in memory here; the app tells the gateway about them
// at start (PUT /v1/admin/users/{id}).
package main

import (
	"context"
	"errors"
	"html/template"
	"log"
	"net/http"
	"os"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/sessiongw/sessiongw/client"
)

func main() {
	gateway := env("SESSIONGW_URL", "http://127.0.0.1:8080")
	addr := env("WEBAPP_ADDR", "127.0.0.1:3000")
	c, err := client.New(gateway, client.WithAdminToken(os.Getenv("SESSIONGW_ADMIN_TOKEN")),
		client.WithCookieName(env("SESSIONGW_COOKIE_NAME", "session_id")))
	if err != nil {
		log.Fatal(err)
	}
	users := demoUsers()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := provision(ctx, c, users); err != nil {
		log.Fatalf("webapp: telling the gateway at %s about the demo users: %v", gateway, err)
	}
	log.Printf("webapp: http://%s (gateway %s)", addr, gateway)
	srv := &http.Server{Addr: addr, Handler: newApp(c, users), ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// user is a demo account: the app owns passwords, the gateway sessions.
type user struct {
	ID, Name, Email string
	Roles           []string
	hash            []byte // bcrypt
}

func demoUsers() map[string]user {
	mk := func(id, name, password string, roles ...string) user {
		h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
		if err != nil {
			panic(err)
		}
		return user{ID: id, Name: name, Email: name + "@example.com", Roles: roles, hash: h}
	}
	return map[string]user{
		"alice": mk("1", "alice", "wonderland", "admin"),
		"bob":   mk("2", "bob", "builder"),
	}
}

// provision creates or updates the users at the gateway.
func provision(ctx context.Context, c *client.Client, users map[string]user) error {
	for _, u := range users {
		roles := u.Roles
		if roles == nil {
			roles = []string{}
		}
		if _, err := c.PutUser(ctx, client.User{ID: u.ID, Username: u.Name, Email: u.Email, IsActive: true, Roles: roles}); err != nil {
			return err
		}
	}
	return nil
}

var pages = template.Must(template.New("").Parse(`
{{define "login"}}<!doctype html><title>Sign in</title>
<h1>Sign in</h1>{{if .}}<p role="alert">{{.}}</p>{{end}}
<form method="post" action="/login">
<label>User <input name="username" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<label><input type="checkbox" name="remember" value="1"> Remember me</label>
<button>Sign in</button></form>{{end}}
{{define "account"}}<!doctype html><title>Account</title>
<h1>Hello {{.Username}}</h1><p>Signed in as user {{.UserID}} ({{.Email}}).</p>
<form method="post" action="/logout"><button>Sign out</button></form>{{end}}
`))

// newApp is the app: / (the form), POST /login, /account (private),
// POST /logout.
func newApp(c *client.Client, users map[string]user) http.Handler {
	toLogin := client.OnError(func(w http.ResponseWriter, r *http.Request, err error) {
		if errors.Is(err, client.ErrUnauthenticated) {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		client.WriteError(w, err) // 403, or 503: the gateway could not tell
	})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		render(w, http.StatusOK, "login", "")
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		u := users[r.PostFormValue("username")] // the zero user if unknown
		if !checkPassword(u, r.PostFormValue("password")) {
			render(w, http.StatusUnauthorized, "login", "Wrong user name or password.")
			return
		}
		if _, err := c.Login(w, r, u.ID, client.LoginOptions{RememberMe: r.PostFormValue("remember") == "1", AMR: []string{"pwd"}}); err != nil {
			client.WriteError(w, err)
			return
		}
		http.Redirect(w, r, "/account", http.StatusSeeOther)
	})
	mux.Handle("GET /account", c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := client.IdentityFrom(r.Context())
		render(w, http.StatusOK, "account", id)
	}), toLogin))
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := c.Logout(w, r); err != nil {
			client.WriteError(w, err) // the session was not ended: say so
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	// The forms post with the session cookie: refuse cross-site posts.
	return http.NewCrossOriginProtection().Handler(mux)
}

// dummyHash is compared against when the user does not exist, so a wrong
// user name takes as long as a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("dummy"), bcrypt.DefaultCost)

func checkPassword(u user, password string) bool {
	if u.hash == nil {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword(u.hash, []byte(password)) == nil
}

func render(w http.ResponseWriter, status int, page string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, page, data); err != nil {
		log.Printf("webapp: render %s: %v", page, err)
	}
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
