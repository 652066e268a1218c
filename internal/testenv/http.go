package testenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// HTTP is the client tests use: no cookie jar, no redirects, a timeout.
var HTTP = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Response is a fully read HTTP response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Decode unmarshals the body into v or fails the test.
func (r Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %q: %v", r.Body, err)
	}
}

// ErrorCode returns error.code of a JSON error body ("" if none).
func (r Response) ErrorCode() string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

// Do sends a request. body may be nil, a string or []byte (sent as is), or
// any value (sent as JSON). kv are header name/value pairs.
func Do(t testing.TB, method, url string, body any, kv ...string) Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
	resp, err := HTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Admin returns the Authorization header pair for the test admin token.
func Admin() []string { return []string{"Authorization", "Bearer " + AdminToken} }

// Bearer returns the Authorization header pair for a session token.
func Bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// PutUser creates or updates a user through the admin API; id is a user
// id (a string, or an integer taken as its decimal text).
func PutUser(t testing.TB, base string, id any, body map[string]any) Response {
	t.Helper()
	return Do(t, http.MethodPut, base+"/v1/admin/users/"+url.PathEscape(fmt.Sprint(id)), body, Admin()...)
}

// NewSession creates a session for user through the admin API and returns
// its token and public id.
func NewSession(t testing.TB, base string, userID any, rememberMe bool, userAgent string) (token, id string) {
	t.Helper()
	token, id, _ = NewSessionFrom(t, base, userID, rememberMe, "192.0.2.7", userAgent)
	return token, id
}

// NewSessionFrom creates a session as if from the client at ip with
// userAgent, and also reports whether it was flagged as a new device.
func NewSessionFrom(t testing.TB, base string, userID any, rememberMe bool, ip, userAgent string) (token, id string, newDevice bool) {
	t.Helper()
	r := Do(t, http.MethodPost, base+"/v1/admin/sessions",
		map[string]any{"user_id": userID, "remember_me": rememberMe, "ip_address": ip, "user_agent": userAgent}, Admin()...)
	if r.Status != http.StatusCreated {
		t.Fatalf("create session: %d %s", r.Status, r.Body)
	}
	var out struct {
		Token   string
		Session struct {
			ID        string `json:"id"`
			NewDevice bool   `json:"new_device"`
		}
	}
	r.Decode(t, &out)
	return out.Token, out.Session.ID, out.Session.NewDevice
}
