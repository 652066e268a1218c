package ui

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestEveryLanguageHasEveryMessage: no word falls back to English.
func TestEveryLanguageHasEveryMessage(t *testing.T) {
	keys := func(m map[string]string) string {
		var ks []string
		for k, v := range m {
			if strings.TrimSpace(v) == "" {
				t.Errorf("message %q is empty", k)
			}
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return strings.Join(ks, " ")
	}
	want := keys(messages["en"])
	for _, tag := range Languages {
		m, ok := messages[tag.String()]
		if !ok {
			t.Fatalf("no messages for %s", tag)
		}
		if got := keys(m); got != want {
			t.Errorf("%s's keys differ from English's:\n%s\n%s", tag, got, want)
		}
		// Placeholders survive translation.
		for k, v := range messages["en"] {
			for _, ph := range regexp.MustCompile(`\{[a-z]+\}`).FindAllString(v, -1) {
				if !strings.Contains(m[k], ph) {
					t.Errorf("%s %s lacks %s: %q", tag, k, ph, m[k])
				}
			}
		}
	}
}

func TestPageIsRenderedPerLanguage(t *testing.T) {
	p, err := New(Config{AppName: "Acme", ReturnURL: "/app"})
	if err != nil {
		t.Fatal(err)
	}
	for accept, want := range map[string][2]string{"de": {"Ihre Geräte", "Zurück zu Acme"}, "fr-FR,fr;q=0.8": {"Vos appareils", "Retour à Acme"},
		"es": {"Tus dispositivos", "Volver a Acme"}, "": {"Your devices", "Back to Acme"}, "xx": {"Your devices", "Back to Acme"}} {
		req := httptest.NewRequest(http.MethodGet, "/ui/sessions", nil)
		req.Header.Set("Accept-Language", accept)
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, req)
		body := rec.Body.String()
		if rec.Code != http.StatusOK || !strings.Contains(body, "<h1 id=\"title\" tabindex=\"-1\">"+want[0]+"</h1>") || !strings.Contains(body, ">"+want[1]+"</a>") {
			t.Errorf("Accept-Language %q: %d, want the title %q and the link %q:\n%s", accept, rec.Code, want[0], want[1], body)
		}
	}
}
