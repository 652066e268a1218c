package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/sessiongw/sessiongw/internal/session"
)

// maxBodyBytes caps every JSON body.
const maxBodyBytes = 64 << 10

// tokenFrom reads the session token. The first source present wins: the
// cookie, then "Authorization: Bearer", then X-Session-Token; a malformed
// value there is an error, with no fall-through to the next source. The
// cookie sent more than once with different values is refused: a sibling
// subdomain (or a script on one) can plant a cookie of the same name ahead
// of yours, and taking either one would let it choose the session.
func tokenFrom(r *http.Request, cookieName string) (session.Token, error) {
	t, _, err := tokenAndSource(r, cookieName)
	return t, err
}

// tokenAndSource is tokenFrom, also saying where the token came from.
func tokenAndSource(r *http.Request, cookieName string) (session.Token, session.Source, error) {
	if cs := r.CookiesNamed(cookieName); len(cs) > 0 {
		for _, c := range cs[1:] {
			if c.Value != cs[0].Value {
				return "", session.FromCookie, errAmbiguousCookie
			}
		}
		t, err := session.ParseToken(cs[0].Value)
		return t, session.FromCookie, err
	}
	if v := r.Header.Get("Authorization"); v != "" {
		if len(v) >= 6 && strings.EqualFold(v[:6], "bearer") && (len(v) == 6 || v[6] == ' ') {
			t, err := session.ParseToken(strings.TrimSpace(v[6:]))
			return t, session.FromBearer, err
		}
		// Another scheme (Basic, say) is not a session credential.
	}
	if vs := r.Header.Values("X-Session-Token"); len(vs) > 0 {
		t, err := session.ParseToken(strings.TrimSpace(vs[0]))
		return t, session.FromHeader, err
	}
	return "", session.FromCookie, session.ErrNoToken
}

// decodeJSON decodes a JSON object strictly: a size cap, no unknown fields,
// no trailing data. With optional set, an empty body leaves v as it is.
func decodeJSON(c echo.Context, v any, optional bool) error {
	body := http.MaxBytesReader(c.Response(), c.Request().Body, maxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) && optional {
			return nil
		}
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errBodyTooLarge
		}
		return fmt.Errorf("%w: %s", errBadJSON, "unexpected data after the JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var invalid *session.InvalidError
	if errors.As(err, &invalid) { // from a field's own UnmarshalJSON
		return invalid
	}
	var (
		mbe  *http.MaxBytesError
		syn  *json.SyntaxError
		typ  *json.UnmarshalTypeError
		desc string
	)
	switch {
	case errors.As(err, &mbe):
		return errBodyTooLarge
	case errors.Is(err, io.EOF):
		desc = "a JSON body is required"
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		desc = "malformed JSON"
	case errors.As(err, &typ):
		if typ.Field != "" {
			desc = fmt.Sprintf("field %q must be %s", typ.Field, typ.Type.String())
		} else {
			desc = "the body must be a JSON object"
		}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		desc = "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	default:
		desc = "malformed JSON"
	}
	return fmt.Errorf("%w: %s", errBadJSON, desc)
}

// userIDParam parses the :user_id path parameter (percent-encoded or not:
// "auth0%7C5f7c" is "auth0|5f7c").
func userIDParam(c echo.Context) (string, error) {
	raw, err := url.PathUnescape(c.Param("user_id"))
	if err != nil {
		return "", session.Invalid("user_id", "is not a valid path segment")
	}
	return session.ParseUserID(raw)
}

// userIDJSON is a user id in a JSON body: a string, or, for callers from
// when ids were integers, a JSON integer, taken as its decimal text
// (42 is "42").
type userIDJSON string

// UnmarshalJSON implements json.Unmarshaler.
func (u *userIDJSON) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*u = userIDJSON(s)
		return nil
	}
	digits := bytes.TrimPrefix(b, []byte("-"))
	if len(digits) == 0 || len(b) > session.MaxUserIDLen || bytes.ContainsFunc(digits, func(r rune) bool { return r < '0' || r > '9' }) {
		return session.Invalid("user_id", "must be a string or an integer")
	}
	*u = userIDJSON(b)
	return nil
}

// sessionIDParam parses the :id path parameter (a public session id).
func sessionIDParam(c echo.Context) (string, error) {
	return session.ParseSessionID(c.Param("id"))
}
