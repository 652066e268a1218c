package httpapi

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/labstack/echo/v4"
)

const requestIDHeader = "X-Request-Id"

// requestID is the request's ID for log lines: the caller's X-Request-Id
// (from a proxy or load balancer) when it is sane, else one generated the
// first time a line about this request is logged — so a request that logs
// nothing costs nothing.
func requestID(c echo.Context) string {
	if v := c.Request().Header[requestIDHeader]; len(v) > 0 && saneRequestID(v[0]) {
		return v[0]
	}
	if v, ok := c.Get(requestIDKey).(string); ok {
		return v
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	c.Set(requestIDKey, id)
	return id
}

const requestIDKey = "sessiongw.request_id"

// echoRequestID returns the caller's X-Request-Id on the answer (sharing
// the request's header value: no allocation).
func echoRequestID(c echo.Context) {
	if v := c.Request().Header[requestIDHeader]; len(v) > 0 && saneRequestID(v[0]) {
		c.Response().Header()[requestIDHeader] = v[:1:1]
	}
}

// saneRequestID accepts 1-128 visible ASCII characters (no spaces), so a
// request ID cannot forge log structure or header lines.
func saneRequestID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
