package httpapi

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sessiongw/sessiongw/internal/push"
)

// handleNearCacheStream serves POST /v1/invalidations: the stream that
// keeps an app process's near cache (the Go client's WithNearCache) in step
// with the replicas. One full-duplex exchange: the answer is an event
// stream (hello, invalidate, pong, flush), and the request body carries the
// near cache's messages, one JSON object per line: {"ping": N} and
// {"ack": "ID"}. One connection means one replica, even behind a load
// balancer (which must not buffer the request body). The protocol and its
// guarantee are in internal/push and docs/consistency.md.
func handleNearCacheStream(hub *push.Hub, token string) echo.HandlerFunc {
	want := sha256.Sum256([]byte(token))
	return func(c echo.Context) error {
		if hub == nil || token == "" {
			return errNotFound
		}
		v := c.Request().Header.Get("Authorization")
		got := sha256.Sum256([]byte(strings.TrimSpace(v[min(7, len(v)):])))
		if len(v) < 7 || !strings.EqualFold(v[:7], "bearer ") || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			return errAdminAuth
		}
		w := c.Response()
		rc := http.NewResponseController(w)
		if err := rc.EnableFullDuplex(); err != nil {
			return fmt.Errorf("near-cache stream: full duplex: %w", err)
		}
		// The stream outlives the server's read and write timeouts.
		_ = rc.SetReadDeadline(time.Time{})
		_ = rc.SetWriteDeadline(time.Time{})
		s := hub.Open()
		defer hub.Close(s)

		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the events
		w.WriteHeader(http.StatusOK)
		if err := event(w, rc, "hello", map[string]any{"stream": s.ID, "window_ms": hub.Window().Milliseconds()}); err != nil {
			return nil
		}

		// The near cache's messages; the request ends with the stream.
		gone := make(chan struct{})
		go func() {
			defer close(gone)
			sc := bufio.NewScanner(c.Request().Body)
			sc.Buffer(make([]byte, 0, 1024), 4096)
			for sc.Scan() {
				var m struct {
					Ping *uint64 `json:"ping"`
					Ack  string  `json:"ack"`
				}
				if json.Unmarshal(sc.Bytes(), &m) != nil {
					return // not our client: end the stream
				}
				if m.Ping != nil {
					hub.Ping(s, *m.Ping)
				}
				if m.Ack != "" {
					hub.Ack(s, m.Ack)
				}
			}
		}()
		keepalive := time.NewTicker(15 * time.Second)
		defer keepalive.Stop()
		for {
			select {
			case e := <-s.Events():
				if err := event(w, rc, e.Kind, eventBody(e)); err != nil {
					return nil
				}
			case <-keepalive.C:
				if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil || rc.Flush() != nil {
					return nil
				}
			case <-s.Closed():
				return nil
			case <-gone:
				return nil
			case <-c.Request().Context().Done():
				return nil
			}
		}
	}
}

func eventBody(e push.Event) map[string]any {
	switch e.Kind {
	case "invalidate":
		hs := make([]string, len(e.Hashes))
		for i, h := range e.Hashes {
			hs[i] = h.String()
		}
		return map[string]any{"id": e.ID, "hashes": hs, "all": e.All}
	case "pong":
		return map[string]any{"seq": e.Seq}
	}
	return map[string]any{}
}

// event writes one server-sent event and flushes it.
func event(w http.ResponseWriter, rc *http.ResponseController, name string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, b); err != nil {
		return err
	}
	return rc.Flush()
}
