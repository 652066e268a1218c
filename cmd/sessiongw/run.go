package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sessiongw/sessiongw/internal/config"
	"github.com/sessiongw/sessiongw/internal/gateway"
	"github.com/sessiongw/sessiongw/internal/postgres"
	"github.com/sessiongw/sessiongw/internal/redis"
	"github.com/sessiongw/sessiongw/internal/session"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

const usage = `usage: sessiongw <command> [flags]

commands:
  serve     run the HTTP server (applies pending migrations first unless --no-migrate)
  migrate   apply pending migrations and exit
  cleanup   delete expired sessions once and print how many
  audit verify [--expect-head SEQ:HASH]
            walk the audit chain; print "OK n records" or the first broken
            link (exit status 1); --expect-head also proves that the chain
            up to an anchored head was not rewritten
  audit head  print the latest record's SEQ:HASH, to anchor elsewhere
  config check
            validate the configuration (file, environment, flags) and print
            every effective value and where it came from, secrets redacted
  version   print the version
  healthcheck  exit 0 if this host's gateway answers /healthz (for container HEALTHCHECK)
  help      print this text and every setting

Run "sessiongw <command> -h" for the flags; every flag has an environment
variable, and flags win.
`

// run is the whole program; main only supplies the process's environment.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "version", "--version":
		fmt.Fprintln(stdout, "sessiongw", buildVersion())
		return nil
	case "help", "-h", "--help":
		printHelp(stdout)
		return nil
	case "serve", "migrate", "cleanup", "healthcheck":
	case "config":
		if len(rest) == 0 || rest[0] != "check" {
			fmt.Fprint(stderr, usage)
			return errors.New(`config: say "config check"`)
		}
		cmd, rest = "config check", rest[1:]
	case "audit":
		if len(rest) == 0 || (rest[0] != "verify" && rest[0] != "head") {
			fmt.Fprint(stderr, usage)
			return errors.New(`audit: say "audit verify" or "audit head"`)
		}
		cmd, rest = "audit "+rest[0], rest[1:]
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
	var expectHead string
	if cmd == "audit verify" {
		rest, expectHead = takeFlag(rest, "expect-head")
	}
	cfg, sources, extra, err := config.ParseWithSources("sessiongw "+cmd, rest, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(extra) > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(extra, " "))
	}
	switch cmd {
	case "healthcheck":
		return healthcheck(ctx, cfg.HTTPAddr, stdout)
	case "config check":
		return printSources(sources, stdout)
	}
	log := newLogger(cfg, stderr)
	// go-redis reports failovers and reconnects through a global logger.
	redis.UseLogger(log)

	switch cmd {
	case "migrate":
		pool, err := postgres.Connect(ctx, cfg.DatabaseURL)
		if err != nil {
			return err
		}
		defer pool.Close()
		n, err := postgres.Migrate(ctx, pool)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "applied %d migration(s)\n", n)
		return nil
	case "audit verify", "audit head":
		return audit(ctx, cfg.DatabaseURL, cmd == "audit head", expectHead, stdout)
	case "cleanup":
		cfg.AutoMigrate = false
		g, err := gateway.New(ctx, cfg, log, gateway.Options{})
		if err != nil {
			return err
		}
		defer g.Close()
		n, err := g.Cleanup(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "deleted %d expired session(s)\n", n)
		return nil
	}

	g, err := gateway.New(ctx, cfg, log, gateway.Options{})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		g.Close()
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	return g.Serve(ctx, ln)
}

// audit verifies the audit chain or prints its head.
func audit(ctx context.Context, databaseURL string, headOnly bool, expectHead string, stdout io.Writer) error {
	var expect *session.AuditHead
	if expectHead != "" {
		h, err := session.ParseAuditHead(expectHead)
		if err != nil {
			return err
		}
		expect = &h
	}
	pool, err := postgres.Connect(ctx, databaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := postgres.NewStore(pool)
	svc := session.NewService(session.Options{Store: store, Audit: store})
	if headOnly {
		h, err := svc.AuditHead(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, h)
		return nil
	}
	v, err := svc.VerifyAudit(ctx, expect)
	if err != nil {
		return err
	}
	if !v.OK {
		fmt.Fprintf(stdout, "BROKEN at record %d: %s\n", v.BrokenAt, v.Reason)
		return fmt.Errorf("the audit chain is broken at record %d", v.BrokenAt)
	}
	fmt.Fprintf(stdout, "OK %d records (head %s)\n", v.Records, v.Head)
	return nil
}

// printSources prints every effective setting and where it came from.
func printSources(sources []config.Source, stdout io.Writer) error {
	fmt.Fprintln(stdout, "configuration is valid; effective values:")
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, s := range sources {
		fmt.Fprintf(tw, "%s=%s\t(%s)\n", s.Env, s.Value, s.From)
	}
	return tw.Flush()
}

// takeFlag removes --name VALUE / --name=VALUE (or one dash) from args.
func takeFlag(args []string, name string) (rest []string, value string) {
	for i := 0; i < len(args); i++ {
		a := strings.TrimLeft(args[i], "-")
		switch {
		case a == name && i+1 < len(args) && strings.HasPrefix(args[i], "-"):
			value = args[i+1]
			i++
		case strings.HasPrefix(a, name+"=") && strings.HasPrefix(args[i], "-"):
			value = strings.TrimPrefix(a, name+"=")
		default:
			rest = append(rest, args[i])
		}
	}
	return rest, value
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

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
	}
	return "dev"
}

func printHelp(w io.Writer) {
	fmt.Fprint(w, usage, "\nsettings:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range config.Settings() {
		fmt.Fprintf(tw, "  %s\t%s\t%q\t%s\n", s[0], s[1], s[2], s[3])
	}
	tw.Flush()
}
