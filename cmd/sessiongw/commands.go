package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/sessiongw/sessiongw/internal/gateway"
	"github.com/sessiongw/sessiongw/internal/postgres"
	"github.com/sessiongw/sessiongw/internal/session"
)

func serve(ctx context.Context, e *cmdEnv) error {
	g, err := gateway.New(ctx, e.cfg, e.log, gateway.Options{Getenv: e.getenv})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", e.cfg.HTTPAddr)
	if err != nil {
		g.Close()
		return fmt.Errorf("listen on %s: %w", e.cfg.HTTPAddr, err)
	}
	return g.Serve(ctx, ln)
}

func migrate(ctx context.Context, e *cmdEnv) error {
	pool, err := postgres.Connect(ctx, e.cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	n, err := postgres.Migrate(ctx, pool)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "applied %d migration(s)\n", n)
	return nil
}

func cleanup(ctx context.Context, e *cmdEnv) error {
	e.cfg.AutoMigrate = false
	g, err := gateway.New(ctx, e.cfg, e.log, gateway.Options{Getenv: e.getenv})
	if err != nil {
		return err
	}
	defer g.Close()
	n, err := g.Cleanup(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "deleted %d expired session(s)\n", n)
	return nil
}

// auditService opens the store and a Service with nothing but it and the
// audit log.
func auditService(ctx context.Context, databaseURL string) (*session.Service, func(), error) {
	pool, err := postgres.Connect(ctx, databaseURL)
	if err != nil {
		return nil, nil, err
	}
	store := postgres.NewStore(pool)
	return session.NewService(session.Options{Store: store, Audit: store}), pool.Close, nil
}

func auditHead(ctx context.Context, e *cmdEnv) error {
	svc, done, err := auditService(ctx, e.cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer done()
	h, err := svc.AuditHead(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, h)
	return nil
}

func auditVerify(ctx context.Context, e *cmdEnv) error {
	var expect *session.AuditHead
	if e.flags.expectHead != "" {
		h, err := session.ParseAuditHead(e.flags.expectHead)
		if err != nil {
			return err
		}
		expect = &h
	}
	svc, done, err := auditService(ctx, e.cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer done()
	v, err := svc.VerifyAudit(ctx, expect)
	if err != nil {
		return err
	}
	if !v.OK {
		fmt.Fprintf(e.stdout, "BROKEN at record %d: %s\n", v.BrokenAt, v.Reason)
		return fmt.Errorf("the audit chain is broken at record %d", v.BrokenAt)
	}
	fmt.Fprintf(e.stdout, "OK %d records (head %s)\n", v.Records, v.Head)
	return nil
}

func auditPrune(ctx context.Context, e *cmdEnv) error {
	var before time.Time
	switch {
	case e.flags.before != "" && e.flags.olderThan != 0:
		return errors.New("audit prune: give --before or --older-than, not both")
	case e.flags.before != "":
		t, err := time.Parse(time.RFC3339, e.flags.before)
		if err != nil {
			return fmt.Errorf("audit prune: --before: %w", err)
		}
		before = t
	case e.flags.olderThan > 0:
		before = time.Now().Add(-e.flags.olderThan)
	default:
		return errors.New("audit prune: say which records: --before TIME or --older-than DURATION")
	}
	svc, done, err := auditService(ctx, e.cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer done()
	p, err := svc.PruneAudit(ctx, before)
	if err != nil {
		return err
	}
	if p.Records == 0 {
		fmt.Fprintln(e.stdout, "no audit record was old enough; nothing pruned")
		return nil
	}
	fmt.Fprintf(e.stdout, "pruned %d audit record(s) through %s; the chain now starts after it\n", p.Records, p.Through)
	return nil
}

// healthcheck asks the gateway listening on addr (a wildcard host means
// this host) for /healthz; it needs no shell or curl in the image.
func healthcheck(ctx context.Context, addr string, stdout io.Writer) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: /healthz answered %d", resp.StatusCode)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}
