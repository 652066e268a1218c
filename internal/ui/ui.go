// Package ui serves the "Your devices" page (/ui/sessions): plain HTML, CSS
// and a little JavaScript embedded in the binary, calling the session
// holder's own API on the same origin with the session cookie.
package ui

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"strings"
	"time"
)

//go:embed assets
var assets embed.FS

var page = template.Must(template.ParseFS(assets, "assets/sessions.html"))

// ContentSecurityPolicy allows nothing but this origin's own script,
// style and API calls: no inline script, no framing, no form posts
// elsewhere.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves GET/HEAD /ui/sessions and /ui/assets/{sessions.css,
// sessions.js}. loginURL, when set, is where the signed-out state links.
func Handler(loginURL string) (http.Handler, error) {
	var buf bytes.Buffer
	if err := page.Execute(&buf, struct{ LoginURL string }{loginURL}); err != nil {
		return nil, err
	}
	html := buf.Bytes()
	files := map[string]struct {
		body []byte
		ct   string
	}{"/ui/sessions": {html, "text/html; charset=utf-8"}}
	for name, ct := range map[string]string{"sessions.css": "text/css; charset=utf-8", "sessions.js": "text/javascript; charset=utf-8"} {
		b, err := assets.ReadFile("assets/" + name)
		if err != nil {
			return nil, err
		}
		files["/ui/assets/"+name] = struct {
			body []byte
			ct   string
		}{b, ct}
	}
	modified := time.Now()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := files[strings.TrimSuffix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", f.ct)
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		http.ServeContent(w, r, "", modified, bytes.NewReader(f.body))
	}), nil
}
