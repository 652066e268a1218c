package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sessiongw/sessiongw/internal/nginxrun"
)

// startNginx runs nginx with the shipped deploy/nginx/sessiongw.conf, its
// addresses pointed at authAddr (sessiongw, or the ceiling handler for the
// baseline) and appAddr. It returns the base URL and a stop function.
func (b *bench) startNginx(authAddr, appAddr string) (string, func(), error) {
	return b.startNginxAuth(authAddr, "/v1/auth", appAddr)
}

// startNginxAuth is startNginx with the auth subrequests sent to authPath
// (a peer's endpoint) instead of /v1/auth; nothing else changes.
func (b *bench) startNginxAuth(authAddr, authPath, appAddr string) (string, func(), error) {
	site, err := os.ReadFile(b.o.nginxConf)
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	listen := ln.Addr().String()
	ln.Close()
	dir, err := os.MkdirTemp(b.tokenDir, "nginx-")
	if err != nil {
		return "", nil, err
	}
	conf := strings.NewReplacer("127.0.0.1:8080", authAddr, "127.0.0.1:3000", appAddr, "127.0.0.1:8000", listen,
		"http://sessiongw/v1/auth", "http://sessiongw"+authPath).Replace(string(site))
	stop, err := nginxrun.Start(dir, conf, listen)
	if err != nil {
		return "", nil, err
	}
	return "http://" + listen, stop, nil
}

// countingApp serves the ceiling handler as the app behind nginx and
// counts the requests that reach it (each one nginx authorised).
func countingApp() (addr string, hits *atomic.Int64, stop func(), err error) {
	hits = new(atomic.Int64)
	ceiling := ceilingHandler()
	url, stop, err := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		ceiling.ServeHTTP(w, r)
	}))
	return strings.TrimPrefix(url, "http://"), hits, stop, err
}

// throughNginx measures /v1/auth behind nginx auth_request: first nginx in
// front of the ceiling handler (auth and app), then the same configuration
// with sessiongw answering the auth subrequests.
func (b *bench) throughNginx(ctx context.Context, gw *gatewayUnderTest, tokens string) ([]row, error) {
	appAddr, appHits, stopApp, err := countingApp()
	if err != nil {
		return nil, err
	}
	defer stopApp()

	base, stopBase, err := b.startNginx(appAddr, appAddr)
	if err != nil {
		return nil, err
	}
	defer stopBase()
	url, stop, err := b.startNginx(strings.TrimPrefix(gw.url, "http://"), appAddr)
	if err != nil {
		return nil, err
	}
	defer stop()
	baseRes, res, err := b.alternate("nginx",
		func(d time.Duration) (result, error) { return b.checked(ctx, base, tokens, d) },
		func(d time.Duration) (result, error) {
			hits0 := appHits.Load()
			r, err := b.measureAt(ctx, gw, url, tokens, b.o.connections, d)
			r.appHits = appHits.Load() - hits0
			return r, err
		})
	if err != nil {
		return nil, err
	}
	return []row{
		{name: "nginx auth_request (deploy/nginx/sessiongw.conf) in front of the ceiling handler", isBaseline: true, res: baseRes},
		{name: "the same nginx with sessiongw answering auth_request, warm cache", res: res},
	}, nil
}
