// Package ui serves the "Your devices" page (/ui/sessions): plain HTML, CSS
// and a little JavaScript embedded in the binary, calling the session
// holder's own API on the same origin with the session cookie. The page is
// rendered once per language at start and chosen per request from
// Accept-Language; its words travel to the script in a data attribute.
package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"golang.org/x/text/language"
)

//go:embed assets
var assets embed.FS

// ContentSecurityPolicy allows nothing but this origin's own script,
// style, images and API calls: no inline script, no framing, no form posts
// elsewhere.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Config is what the page shows beyond the devices.
type Config struct {
	// LoginURL is where the signed-out state's "Sign in" goes, with rd set
	// to the page.
	LoginURL string
	// AppName and ReturnURL give the page a header with the app's name and
	// a "Back to …" link.
	AppName   string
	ReturnURL string
	// SecurityURL, when set, is offered after a sign-out ("Not you? Change
	// your password").
	SecurityURL string
}

type file struct {
	body         []byte
	contentType  string
	cacheControl string
}

// Pages serves the page (one per language) and its assets; the router
// sends it GET and HEAD requests for Paths.
type Pages struct {
	pages    map[language.Tag]file
	matcher  language.Matcher
	assets   map[string]file
	version  string // of the assets, in their URLs
	modified time.Time
}

// Languages are the page's languages, the first the default.
var Languages = []language.Tag{language.English, language.German, language.French, language.Spanish}

// pagePath is the page's own path.
const pagePath = "/ui/sessions"

// New renders the page once per language.
func New(cfg Config) (*Pages, error) {
	p := &Pages{pages: map[language.Tag]file{}, assets: map[string]file{}, matcher: language.NewMatcher(Languages), modified: time.Now()}
	sum := sha256.New()
	names := map[string]string{"sessions.css": "text/css; charset=utf-8", "sessions.js": "text/javascript; charset=utf-8",
		"favicon.svg": "image/svg+xml"}
	for _, name := range []string{"sessions.css", "sessions.js", "favicon.svg"} {
		b, err := assets.ReadFile("assets/" + name)
		if err != nil {
			return nil, err
		}
		sum.Write(b)
		p.assets["/ui/assets/"+name] = file{body: b, contentType: names[name]}
	}
	p.version = hex.EncodeToString(sum.Sum(nil))[:12]
	tmpl, err := template.New("sessions.html").Funcs(template.FuncMap{"t": func(string, ...string) string { return "" }}).
		ParseFS(assets, "assets/sessions.html")
	if err != nil {
		return nil, err
	}
	for _, tag := range Languages {
		m := messages[tag.String()]
		t := func(key string, args ...string) string {
			s, ok := m[key]
			if !ok {
				s = messages["en"][key]
			}
			for i := 0; i+1 < len(args); i += 2 {
				s = strings.ReplaceAll(s, "{"+args[i]+"}", args[i+1])
			}
			return s
		}
		js, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		err = template.Must(tmpl.Clone()).Funcs(template.FuncMap{"t": t}).Execute(&buf, struct {
			Config
			Lang, Messages, Version string
		}{cfg, tag.String(), string(js), p.version})
		if err != nil {
			return nil, fmt.Errorf("ui: render %s: %w", tag, err)
		}
		p.pages[tag] = file{body: buf.Bytes(), contentType: "text/html; charset=utf-8", cacheControl: "no-store"}
	}
	return p, nil
}

// Paths lists what Pages serves.
func (p *Pages) Paths() []string {
	paths := []string{pagePath}
	for path := range p.assets {
		paths = append(paths, path)
	}
	return paths
}

// Version is the assets' version, as the page's URLs carry it.
func (p *Pages) Version() string { return p.version }

// ServeHTTP answers one of Paths with the page's security headers. The
// page is never cached; an asset asked for at the current version is
// cacheable for a year (a new build changes the version in the page).
func (p *Pages) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	var f file
	switch path := r.URL.Path; {
	case path == pagePath:
		tags, _, _ := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
		_, i, _ := p.matcher.Match(tags...)
		f = p.pages[Languages[i]]
		h.Set("Vary", "Accept-Language")
		h.Set("Content-Language", Languages[i].String())
	default:
		a, ok := p.assets[path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		f = a
		f.cacheControl = "public, max-age=300"
		if r.URL.Query().Get("v") == p.version {
			f.cacheControl = "public, max-age=31536000, immutable"
		}
	}
	h.Set("Content-Type", f.contentType)
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", f.cacheControl)
	http.ServeContent(w, r, "", p.modified, bytes.NewReader(f.body))
}
