package device_test

import (
	"testing"

	"github.com/sessiongw/sessiongw/internal/device"
)

func TestDescribe(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ua   string
		want device.Description
	}{
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
			device.Description{Name: "Chrome on Windows", Type: "desktop"}},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
			device.Description{Name: "Safari on iOS", Type: "mobile"}},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
			device.Description{Name: "Firefox on Linux", Type: "desktop"}},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
			device.Description{Name: "Safari on macOS", Type: "desktop"}},
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
			device.Description{Name: "Chrome on Android", Type: "mobile"}},
		{"", device.Description{Name: "Unknown device"}},
		{"curl/8.5.0", device.Description{Name: "Automated client", Type: "bot"}},
		{"something-unheard-of", device.Description{Name: "Unknown device"}},
	} {
		if got := device.Describe(tc.ua); got != tc.want {
			t.Errorf("Describe(%q) = %+v; want %+v", tc.ua, got, tc.want)
		}
	}
}
