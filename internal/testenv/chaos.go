package testenv

import (
	"net/url"
	"os"
	"strconv"
	"testing"

	"github.com/sessiongw/sessiongw/internal/faultproxy"
)

// Proxy starts a fault proxy to target (host:port), closed when the test ends.
func Proxy(t testing.TB, target string) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.Start(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// ProxyURL puts a fault proxy in front of the host:port of a postgres:// or
// redis:// URL and returns the URL through the proxy.
func ProxyURL(t testing.TB, raw string) (string, *faultproxy.Proxy) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	p := Proxy(t, u.Host)
	u.Host = p.Addr()
	return u.String(), p
}

// Trials scales a property test's trial count: n in `make test`, 10 n when
// SESSIONGW_CHAOS is set (`make chaos`).
func Trials(n int) int {
	if f, err := strconv.Atoi(os.Getenv("SESSIONGW_CHAOS")); err == nil && f > 0 {
		return n * f
	}
	return n
}

// Report logs one row of the chaos summary (`make chaos` collects them).
func Report(t testing.TB, property string, trials, violations int) {
	t.Helper()
	t.Logf("CHAOS|%s|%d|%d", property, trials, violations)
	if violations > 0 {
		t.Errorf("%s: %d violations in %d trials", property, violations, trials)
	}
}
