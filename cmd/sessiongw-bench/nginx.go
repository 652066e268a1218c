package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// startNginx runs nginx with the shipped deploy/nginx/sessiongw.conf, its
// addresses pointed at authAddr (sessiongw, or the ceiling handler for the
// baseline) and appAddr. It returns the base URL and a stop function.
func (b *bench) startNginx(authAddr, appAddr string) (string, func(), error) {
	if _, err := exec.LookPath("nginx"); err != nil {
		return "", nil, fmt.Errorf("nginx is not installed (make bench installs it): %w", err)
	}
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
	if err := os.Chmod(dir, 0o777); err != nil {
		return "", nil, err
	}
	conf := strings.NewReplacer("127.0.0.1:8080", authAddr, "127.0.0.1:3000", appAddr, "127.0.0.1:8000", listen).Replace(string(site))
	if err := os.WriteFile(filepath.Join(dir, "site.conf"), []byte(conf), 0o644); err != nil {
		return "", nil, err
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	main := fmt.Sprintf(`%s
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    include %[2]s/site.conf;
}
`, user, dir)
	mainPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(mainPath, []byte(main), 0o644); err != nil {
		return "", nil, err
	}
	cmd := exec.Command("nginx", "-p", dir, "-c", mainPath, "-g", "daemon off;")
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", listen, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return "http://" + listen, stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			return "", nil, fmt.Errorf("nginx did not start: %v\n%s", err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// throughNginx measures /v1/auth behind nginx auth_request: first nginx in
// front of the ceiling handler (auth and app), then the same configuration
// with sessiongw answering the auth subrequests.
func (b *bench) throughNginx(ctx context.Context, gw *gatewayUnderTest, tokens string) ([]row, error) {
	var appHits atomic.Int64
	ceiling := ceilingHandler()
	appURL, stopApp, err := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		appHits.Add(1)
		ceiling.ServeHTTP(w, r)
	}))
	if err != nil {
		return nil, err
	}
	defer stopApp()
	appAddr := strings.TrimPrefix(appURL, "http://")

	base, stopBase, err := b.startNginx(appAddr, appAddr)
	if err != nil {
		return nil, err
	}
	baseRes, err := b.load(ctx, base, tokens, b.o.connections, b.o.duration)
	stopBase()
	if err != nil {
		return nil, err
	}
	url, stop, err := b.startNginx(strings.TrimPrefix(gw.url, "http://"), appAddr)
	if err != nil {
		return nil, err
	}
	defer stop()
	hits0 := appHits.Load()
	res, err := b.measureAt(ctx, gw, url, tokens, b.o.connections, b.o.duration)
	if err != nil {
		return nil, err
	}
	res.appHits = appHits.Load() - hits0
	return []row{
		{name: "nginx auth_request (deploy/nginx/sessiongw.conf) in front of the ceiling handler", isBaseline: true, res: baseRes},
		{name: "the same nginx with sessiongw answering auth_request, warm cache", res: res},
	}, nil
}
