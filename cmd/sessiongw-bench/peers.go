package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// make bench-peers: oauth2-proxy, the peer users compare us with most,
// beside sessiongw in the same run. oauth2-proxy runs as users run it with
// a shared session store (Redis, the one the harness uses), signed in
// through a local mock OpenID Connect provider (tools/mockidp); each of
// peerSessions logins gives it a session cookie, and sessiongw gets the same
// number of sessions. Both are measured direct and behind the same nginx
// (the shipped deploy/nginx/sessiongw.conf, whose auth subrequests go to
// /oauth2/auth for the peer).

const peerSessions = 100

// peer is a running oauth2-proxy and its mock provider.
type peer struct {
	url     string // oauth2-proxy's base URL
	version string // its module version, read from the binary
	goVer   string // the Go it was built with
	pid     int
	stop    func()
}

// procCPU is the CPU time process pid has used (user and system), from
// /proc/pid/stat.
func procCPU(pid int) time.Duration { return statCPU(pid, false) }

// statCPU is procCPU, plus, with reaped set, the CPU time of the children
// pid has waited for (Postgres's postmaster: the backends and workers
// that have exited).
func statCPU(pid int, reaped bool) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from the 3rd on
	if len(f) < 15 {
		return 0
	}
	fields := f[11:13] // utime, stime (fields 14 and 15)
	if reaped {
		fields = f[11:15] // and cutime, cstime (16 and 17)
	}
	var ticks int64
	for _, v := range fields {
		n, _ := strconv.ParseInt(v, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

// moduleVersion reads the main module's version and Go version from a Go
// binary (what go install put there).
func moduleVersion(bin string) (version, goVersion string, err error) {
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return "", "", err
	}
	return info.Main.Version, info.GoVersion, nil
}

// startProcess runs bin with args in its own process group, killed with
// the harness, with its output appended to logPath.
func startProcess(ctx context.Context, logPath, bin string, args ...string) (*exec.Cmd, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() { _ = cmd.Wait(); logf.Close() }()
	return cmd, nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startPeer starts the mock provider and oauth2-proxy from b.o.tools.
func (b *bench) startPeer(ctx context.Context) (*peer, error) {
	o2p, idpBin := filepath.Join(b.o.tools, "oauth2-proxy"), filepath.Join(b.o.tools, "mockidp")
	version, goVer, err := moduleVersion(o2p)
	if err != nil {
		return nil, fmt.Errorf("oauth2-proxy in %s (run make bench-peers, which installs it): %w", b.o.tools, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	var stops []func()
	stop := func() {
		cancel()
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	ok := false
	defer func() {
		if !ok {
			stop()
		}
	}()

	// The provider prints its issuer and client, and runs while its
	// standard input is open.
	idp := exec.CommandContext(ctx, idpBin)
	idp.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	stdin, err := idp.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := idp.StdoutPipe()
	if err != nil {
		return nil, err
	}
	idp.Stderr = os.Stderr
	if err := idp.Start(); err != nil {
		return nil, fmt.Errorf("mockidp in %s (run make bench-peers, which builds it): %w", b.o.tools, err)
	}
	stops = append(stops, func() { stdin.Close(); _ = idp.Wait() })
	var client struct {
		Issuer       string `json:"issuer"`
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("mockidp: %w", err)
	}
	if err := json.Unmarshal(line, &client); err != nil {
		return nil, fmt.Errorf("mockidp printed %q: %w", line, err)
	}

	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	cmd, err := startProcess(ctx, filepath.Join(b.tokenDir, "oauth2-proxy.log"), o2p,
		"--http-address="+addr,
		"--provider=oidc", "--oidc-issuer-url="+client.Issuer,
		"--client-id="+client.ClientID, "--client-secret="+client.ClientSecret,
		"--code-challenge-method=S256",
		"--redirect-url=http://"+addr+"/oauth2/callback",
		"--cookie-secret="+hex.EncodeToString(secret), // 32 bytes
		"--cookie-secure=false",                       // plain HTTP on loopback
		"--email-domain=*",
		"--upstream=static://200",
		"--skip-provider-button=true",
		"--session-store-type=redis", "--redis-connection-url="+b.o.redisURL,
		"--request-logging=false", "--auth-logging=false")
	if err != nil {
		return nil, err
	}
	stops = append(stops, func() { _ = cmd.Process.Signal(syscall.SIGTERM) })
	p := &peer{url: "http://" + addr, version: version, goVer: goVer, pid: cmd.Process.Pid}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(p.url + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(b.tokenDir, "oauth2-proxy.log"))
			return nil, fmt.Errorf("oauth2-proxy did not come up on %s:\n%s", addr, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.stop = stop
	ok = true
	return p, nil
}

// withCPU runs a load and adds the peer process's CPU time meanwhile to
// its result (which counts this process's, where the app and the gateway
// run), so the CPU column covers the peer too.
func (p *peer) withCPU(load func() (result, error)) (result, error) {
	c0 := procCPU(p.pid)
	r, err := load()
	r.cpu += procCPU(p.pid) - c0
	return r, err
}

// login signs in through the provider as a browser would and returns the
// session cookie ("name=value").
func (p *peer) login(ctx context.Context) (string, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/oauth2/start?rd=%2F", nil)
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("oauth2-proxy login ended with %d at %s", resp.StatusCode, resp.Request.URL)
	}
	u, _ := url.Parse(p.url)
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "_oauth2_proxy" {
			return ck.Name + "=" + ck.Value, nil
		}
	}
	return "", errors.New("oauth2-proxy login set no _oauth2_proxy cookie")
}

// peerRows measures oauth2-proxy's /oauth2/auth (the baseline rows) and
// sessiongw's /v1/auth, direct and through nginx.
func (b *bench) peerRows(ctx context.Context) ([]row, error) {
	p, err := b.startPeer(ctx)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	fmt.Fprintf(os.Stderr, "peers: oauth2-proxy %s, %d logins\n", p.version, peerSessions)
	cookies := make([]string, peerSessions)
	for i := range cookies {
		if cookies[i], err = p.login(ctx); err != nil {
			return nil, err
		}
	}
	// Both sides answer what they should before anything is measured.
	if st := statusOf(ctx, http.DefaultClient, p.url+"/oauth2/auth", "Cookie", cookies[0]); st != http.StatusAccepted {
		return nil, fmt.Errorf("oauth2-proxy /oauth2/auth with a session cookie: %d, want 202", st)
	}
	if st := statusOf(ctx, http.DefaultClient, p.url+"/oauth2/auth", "", ""); st != http.StatusUnauthorized {
		return nil, fmt.Errorf("oauth2-proxy /oauth2/auth without a cookie: %d, want 401", st)
	}
	cookieFile := filepath.Join(b.tokenDir, "peer-cookies.txt")
	if err := os.WriteFile(cookieFile, []byte(strings.Join(cookies, "\n")+"\n"), 0o600); err != nil {
		return nil, err
	}
	cookie := wrkReq{"/oauth2/auth", "Cookie", ""}

	gw, err := b.startGateway(ctx, DefaultLocalTTL, false)
	if err != nil {
		return nil, err
	}
	defer gw.stop()
	if err := b.warm(ctx, gw, b.tokens[:peerSessions]); err != nil {
		return nil, err
	}
	tokens, err := b.tokenFile(peerSessions)
	if err != nil {
		return nil, err
	}

	fmt.Fprintln(os.Stderr, "peers: direct")
	base, res, err := b.alternate("peers-direct",
		func(d time.Duration) (result, error) {
			return p.withCPU(func() (result, error) { return b.loadReq(ctx, p.url, cookieFile, cookie, b.o.connections, d) })
		},
		func(d time.Duration) (result, error) { return b.measure(ctx, gw, tokens, b.o.connections, d) })
	if err != nil {
		return nil, err
	}

	fmt.Fprintln(os.Stderr, "peers: nginx")
	appAddr, appHits, stopApp, err := countingApp()
	if err != nil {
		return nil, err
	}
	defer stopApp()
	peerNginx, stopPeerNginx, err := b.startNginxAuth(strings.TrimPrefix(p.url, "http://"), "/oauth2/auth", appAddr)
	if err != nil {
		return nil, err
	}
	defer stopPeerNginx()
	gwNginx, stopGwNginx, err := b.startNginx(strings.TrimPrefix(gw.url, "http://"), appAddr)
	if err != nil {
		return nil, err
	}
	defer stopGwNginx()
	throughCookie := wrkReq{"/v1/auth", "Cookie", ""} // an app path behind auth_request, as in the nginx row
	var peerHits, gwHits int64
	nBase, nRes, err := b.alternate("peers-nginx",
		func(d time.Duration) (result, error) {
			h := appHits.Load()
			r, err := p.withCPU(func() (result, error) {
				return b.loadReq(ctx, peerNginx, cookieFile, throughCookie, b.o.connections, d)
			})
			peerHits += appHits.Load() - h
			return r, err
		},
		func(d time.Duration) (result, error) {
			h := appHits.Load()
			r, err := b.measureAt(ctx, gw, gwNginx, tokens, b.o.connections, d)
			gwHits += appHits.Load() - h
			return r, err
		})
	if err != nil {
		return nil, err
	}
	// For scale: what a handler that does nothing reaches against the same
	// peer on this machine (wrk shares the cores), direct and behind nginx.
	fmt.Fprintln(os.Stderr, "peers: the ceiling, for scale")
	ceilURL, stopCeil, err := serve(ceilingHandler())
	if err != nil {
		return nil, err
	}
	defer stopCeil()
	ceilNginx, stopCeilNginx, err := b.startNginx(strings.TrimPrefix(ceilURL, "http://"), appAddr)
	if err != nil {
		return nil, err
	}
	defer stopCeilNginx()
	cBase, cRes, err := b.alternate("peers-ceiling",
		func(d time.Duration) (result, error) {
			return b.loadReq(ctx, p.url, cookieFile, cookie, b.o.connections, d)
		},
		func(d time.Duration) (result, error) { return b.checked(ctx, ceilURL, tokens, d) })
	if err != nil {
		return nil, err
	}
	cnBase, cnRes, err := b.alternate("peers-ceiling-nginx",
		func(d time.Duration) (result, error) {
			return b.loadReq(ctx, peerNginx, cookieFile, throughCookie, b.o.connections, d)
		},
		func(d time.Duration) (result, error) { return b.checked(ctx, ceilNginx, tokens, d) })
	if err != nil {
		return nil, err
	}
	b.extra = append(b.extra, fmt.Sprintf("For scale, in the same run: the bare Echo ceiling handler (the same five headers, no session at all) "+
		"answers %.2f x oauth2-proxy's requests per second direct, and nginx in front of it %.2f x nginx in front of oauth2-proxy: "+
		"the most any auth server could show against this peer on this machine, where wrk, nginx and the servers share two cores.",
		cRes.rps()/cBase.rps(), cnRes.rps()/cnBase.rps()))

	for _, r := range []result{base, nBase, cBase, cnBase} {
		if r.non2xx > 0 || r.socketErrors > 0 {
			return nil, fmt.Errorf("oauth2-proxy: %d non-2xx answers and %d socket errors: the measurement is not valid", r.non2xx, r.socketErrors)
		}
	}
	if peerHits < nBase.requests || gwHits < nRes.requests {
		return nil, fmt.Errorf("through nginx, the app saw %d and %d requests for %d and %d answers: some were not authorised", peerHits, gwHits, nBase.requests, nRes.requests)
	}
	b.extra = append(b.extra, fmt.Sprintf("Peer: oauth2-proxy %s (built with %s by `make bench-peers`: `go install github.com/oauth2-proxy/oauth2-proxy/v7@%s`), "+
		"OIDC provider, session store Redis (%s), %d sessions from %d logins through a local mock provider (tools/mockidp: github.com/oauth2-proxy/mockoidc); "+
		"sessiongw: default settings, %d sessions, warm. Every request of every row was authorised (2xx; through nginx, each reached the app). "+
		"The CPU column counts this process (the gateway and the app) and, in the peer's rows, oauth2-proxy's; not nginx's or wrk's.",
		p.version, p.goVer, p.version, redactURL(b.o.redisURL), peerSessions, peerSessions, peerSessions))
	return []row{
		{name: fmt.Sprintf("oauth2-proxy %s GET /oauth2/auth with a session cookie (Redis session store)", p.version), isBaseline: true, res: base},
		{name: "sessiongw GET /v1/auth, warm in-process cache, default settings", res: res},
		{name: "nginx auth_request (deploy/nginx/sessiongw.conf) with oauth2-proxy's /oauth2/auth answering", isBaseline: true, res: nBase},
		{name: "the same nginx with sessiongw answering", res: nRes},
	}, nil
}

// redactURL drops a password from a Redis URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "redis"
	}
	return u.Redacted()
}
