// Package ui serves the "Your devices" page (/ui/sessions): plain HTML, CSS
// and a little JavaScript embedded in the binary, calling the session
// holder's own API on the same origin with the session cookie.
package ui

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
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

type file struct {
	body        []byte
	contentType string
}

// Pages serves the page and its two assets; the router sends it GET and
// HEAD requests for Paths.
type Pages struct {
	files    map[string]file
	modified time.Time
}

// New renders the page once. loginURL, when set, is where the signed-out
// state links.
func New(loginURL string) (*Pages, error) {
	var buf bytes.Buffer
	if err := page.Execute(&buf, struct{ LoginURL string }{loginURL}); err != nil {
		return nil, err
	}
	p := &Pages{files: map[string]file{"/ui/sessions": {buf.Bytes(), "text/html; charset=utf-8"}}, modified: time.Now()}
	for name, ct := range map[string]string{"sessions.css": "text/css; charset=utf-8", "sessions.js": "text/javascript; charset=utf-8"} {
		b, err := assets.ReadFile("assets/" + name)
		if err != nil {
			return nil, err
		}
		p.files["/ui/assets/"+name] = file{b, ct}
	}
	return p, nil
}

// Paths lists what Pages serves.
func (p *Pages) Paths() []string {
	paths := make([]string, 0, len(p.files))
	for path := range p.files {
		paths = append(paths, path)
	}
	return paths
}

// ServeHTTP answers one of Paths with the page's security headers.
func (p *Pages) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, ok := p.files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	http.ServeContent(w, r, "", p.modified, bytes.NewReader(f.body))
}
