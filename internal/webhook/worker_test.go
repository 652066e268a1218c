package webhook

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestBackoffSchedule: the first retry comes within 10 s, each wait
// doubles, and no two attempts are more than 15 minutes apart; so a
// receiver back after a short outage is caught up within a minute (the
// probe after it succeeds makes everything due at once).
func TestBackoffSchedule(t *testing.T) {
	w := New(Options{})
	want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second}
	for i, d := range want {
		got := w.backoff(i + 1)
		if got > d || got < d*9/10 {
			t.Errorf("wait after failure %d = %s; want %s less at most 10%% jitter", i+1, got, d)
		}
	}
	for n := 9; n < 40; n++ {
		if got := w.backoff(n); got > MaxRetryWait || got < MaxRetryWait*9/10 {
			t.Errorf("wait after failure %d = %s; want about %s", n, got, MaxRetryWait)
		}
	}
	// Attempts at 0, 5, 15, 35, 75 s: an outage that ends within the first
	// minute is noticed at most 40 s later.
	at, last := time.Duration(0), time.Duration(0)
	for n := 1; at < time.Minute; n++ {
		last, at = at, at+w.backoff(n)
	}
	if gap := at - last; gap > 45*time.Second {
		t.Errorf("the probe after the first minute comes %s after the one before", gap)
	}
}

func TestBodyHidesTheUserAgentAndNamesTheDevice(t *testing.T) {
	seq := int64(42)
	e := Event{Type: SessionRevoked, At: time.Date(2026, 12, 3, 7, 0, 0, 123456000, time.UTC), AuditSeq: &seq,
		Data: json.RawMessage(`{"session_id":"5f2b8c1e-3d4a-4e6f-8a9b-0c1d2e3f4a5b","user_id":"u1","ip_address":"192.0.2.1","user_agent":"curl/8.0","reason":"logout","expires_at":"2026-12-04T07:00:00.5+00:00"}`)}
	b, err := Body(e, func(ua string) string { return "device of " + ua })
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"session.revoked","timestamp":"2026-12-03T07:00:00.123456Z","data":{"audit_seq":42,"device":"device of curl/8.0","expires_at":"2026-12-04T07:00:00.5Z","ip_address":"192.0.2.1","reason":"logout","session_id":"5f2b8c1e-3d4a-4e6f-8a9b-0c1d2e3f4a5b","user_id":"u1"}}`
	if string(b) != want {
		t.Errorf("body\n%s\nwant\n%s", b, want)
	}
	if strings.Contains(string(b), "user_agent") {
		t.Error("the body carries the user agent")
	}
}

func TestRouteTakes(t *testing.T) {
	all, some := Route{}, Route{Types: []string{SessionRevoked}}
	if !all.Takes(AuditCheckpoint) || !some.Takes(SessionRevoked) || some.Takes(SessionCreated) {
		t.Error("routes take the wrong types")
	}
}
