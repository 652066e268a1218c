package httpapi

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32")}
	tests := []struct {
		name    string
		trusted []netip.Prefix
		peer    string
		headers map[string]string
		want    string
	}{
		{"no proxies configured: headers ignored", nil, "10.1.1.1:5000", map[string]string{"X-Forwarded-For": "1.2.3.4"}, "10.1.1.1"},
		{"untrusted peer: headers ignored", proxies, "203.0.113.9:5000", map[string]string{"X-Forwarded-For": "1.2.3.4", "X-Real-IP": "5.6.7.8"}, "203.0.113.9"},
		{"loopback peer is not trusted by default", proxies, "127.0.0.1:5000", map[string]string{"X-Forwarded-For": "1.2.3.4"}, "127.0.0.1"},
		{"trusted peer: nearest untrusted in XFF", proxies, "10.0.0.2:5000", map[string]string{"X-Forwarded-For": "6.6.6.6, 1.2.3.4, 10.9.9.9"}, "1.2.3.4"},
		{"trusted single address", proxies, "192.0.2.7:5000", map[string]string{"X-Forwarded-For": "1.2.3.4"}, "1.2.3.4"},
		{"trusted peer: X-Real-IP without XFF", proxies, "10.0.0.2:5000", map[string]string{"X-Real-IP": "5.6.7.8"}, "5.6.7.8"},
		{"trusted peer, garbage XFF: the peer", proxies, "10.0.0.2:5000", map[string]string{"X-Forwarded-For": "not-an-ip"}, "10.0.0.2"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.peer
		for k, v := range tt.headers {
			r.Header.Set(k, v)
		}
		if got := clientIP(tt.trusted)(r); got != tt.want {
			t.Errorf("%s: clientIP = %q; want %q", tt.name, got, tt.want)
		}
	}
}
