package httpapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/sessiongw/sessiongw/internal/session"
)

func FuzzTokenFrom(f *testing.F) {
	f.Add("session_id=3f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3c", "", "")
	f.Add("", "Bearer 3f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3c", "")
	f.Add("", "Basic abc", "3F1C2A9E-5B7D-4C1E-9A2B-8D7E6F5A4B3C")
	f.Add("a=b; session_id=", "bearer", " x ")
	f.Add("session_id=\"3f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3c\"", "Bearer  ", "")
	f.Fuzz(func(t *testing.T, cookie, authz, header string) {
		r := httptest.NewRequest(http.MethodGet, "/v1/auth", nil)
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		if header != "" {
			r.Header.Set("X-Session-Token", header)
		}
		tok, err := tokenFrom(r, "session_id")
		switch {
		case err == nil:
			if _, perr := session.ParseToken(tok.Reveal()); perr != nil {
				t.Fatalf("tokenFrom returned an unparseable token %q", tok.Reveal())
			}
		case errors.Is(err, session.ErrNoToken), errors.Is(err, session.ErrMalformedToken):
		default:
			t.Fatalf("tokenFrom error %v is neither ErrNoToken nor ErrMalformedToken", err)
		}
	})
}

// FuzzDecodeJSON: every body type decodes to a value or to a 400/413,
// never to anything else.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"username":"a","roles":["x"]}`, `{"user_id":1,"remember_me":true}`,
		`{"ip_address":"1.2.3.4"}`, `{"except_token":"x"}`, `[]`, `null`, `{"a":1}`, `{"user_id":1e400}`,
		`{"user_id":"1"}`, `{} {}`, `{`, "\xff", strings.Repeat("[", 10000)} {
		f.Add([]byte(s))
	}
	e := echo.New()
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, target := range []func() any{
			func() any { return &userRequest{} }, func() any { return &createSessionRequest{} },
			func() any { return &activityRequest{} }, func() any { return &revokeRequest{} },
		} {
			for _, optional := range []bool{false, true} {
				req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
				c := e.NewContext(req, httptest.NewRecorder())
				err := decodeJSON(c, target(), optional)
				if err == nil {
					continue
				}
				if s := describe(err).Status; s != http.StatusBadRequest && s != http.StatusRequestEntityTooLarge {
					t.Fatalf("decodeJSON(%q) = %v (status %d); want 400 or 413", body, err, s)
				}
			}
		}
	})
}
