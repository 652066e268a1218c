package webhook_test

import (
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/webhook"
)

// Vectors computed by the specification's own TypeScript library
// (npm standardwebhooks 1.1.1, Webhook.sign); the first is also the
// example of its documentation.
func TestSignMatchesTheReferenceLibrary(t *testing.T) {
	for _, v := range []struct {
		secret, id string
		ts         int64
		body, want string
	}{
		{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, `{"test": 2432232314}`, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
		{"whsec_c2Vzc2lvbmd3LXRlc3Qtc2VjcmV0LTAxMjM0NTY3", "evt_1", 1764744000, `{"type":"session.created"}`, "v1,PFvolZ9LKbf0DTwxyZXodlR2utmo6S+7BXv51Ua0B88="},
	} {
		key, err := webhook.ParseSecret(v.secret)
		if err != nil {
			t.Fatal(err)
		}
		if got := webhook.Sign(key, v.id, time.Unix(v.ts, 0), []byte(v.body)); got != v.want {
			t.Errorf("Sign(%s) = %s; want %s", v.id, got, v.want)
		}
	}
}

func TestVerifyRefusesForgeries(t *testing.T) {
	key, _ := webhook.ParseSecret("whsec_c2Vzc2lvbmd3LXRlc3Qtc2VjcmV0LTAxMjM0NTY3")
	other, _ := webhook.ParseSecret("whsec_b3RoZXItc2VjcmV0LW9mLWF0LWxlYXN0LTI0LWJ5dGVz")
	now := time.Unix(1764744000, 0)
	body := []byte(`{"type":"session.revoked","data":{"session_id":"x"}}`)
	sig := webhook.Sign(key, "evt_1", now, body)
	ts := "1764744000"
	if err := webhook.Verify(key, "evt_1", ts, sig, body, now, 5*time.Minute); err != nil {
		t.Fatalf("a genuine delivery: %v", err)
	}
	if err := webhook.Verify(key, "evt_1", ts, "v1,bogus "+sig, body, now, 5*time.Minute); err != nil {
		t.Errorf("a genuine signature among others: %v", err)
	}
	for name, c := range map[string]struct {
		key       []byte
		id, ts, s string
		body      []byte
		err       error
	}{
		"another body":    {key, "evt_1", ts, sig, []byte(`{"type":"session.revoked","data":{"session_id":"y"}}`), webhook.ErrBadSignature},
		"another id":      {key, "evt_2", ts, sig, body, webhook.ErrBadSignature},
		"another time":    {key, "evt_1", "1764744001", sig, body, webhook.ErrBadSignature},
		"another key":     {other, "evt_1", ts, sig, body, webhook.ErrBadSignature},
		"no signature":    {key, "evt_1", ts, "", body, webhook.ErrBadSignature},
		"another version": {key, "evt_1", ts, "v1a," + sig[3:], body, webhook.ErrBadSignature},
		"too old":         {key, "evt_1", "1764743600", webhook.Sign(key, "evt_1", time.Unix(1764743600, 0), body), body, webhook.ErrStale},
		"from the future": {key, "evt_1", "1764744400", webhook.Sign(key, "evt_1", time.Unix(1764744400, 0), body), body, webhook.ErrStale},
		"not a timestamp": {key, "evt_1", "soon", sig, body, webhook.ErrBadSignature},
	} {
		if err := webhook.Verify(c.key, c.id, c.ts, c.s, c.body, now, 5*time.Minute); err != c.err {
			t.Errorf("%s: %v; want %v", name, err, c.err)
		}
	}
}

func TestParseSecret(t *testing.T) {
	for s, ok := range map[string]bool{
		"whsec_c2Vzc2lvbmd3LXRlc3Qtc2VjcmV0LTAxMjM0NTY3": true,
		"c2Vzc2lvbmd3LXRlc3Qtc2VjcmV0LTAxMjM0NTY3":       false, // no prefix
		"whsec_c2hvcnQ=":    false, // 5 bytes
		"whsec_not base64!": false,
		"":                  false,
	} {
		if _, err := webhook.ParseSecret(s); (err == nil) != ok {
			t.Errorf("ParseSecret(%q) = %v; want ok %v", s, err, ok)
		}
	}
}
