package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sessiongw/sessiongw/internal/config"
	"github.com/sessiongw/sessiongw/internal/redis"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

// command is one subcommand: its words ("audit verify"), a line of help,
// its own flags (beside every setting's), and what it does. Commands with
// config set parse and validate the configuration first.
type command struct {
	name, args, help string
	config           bool
	flags            func(fs *flag.FlagSet, o *cmdFlags)
	run              func(ctx context.Context, e *cmdEnv) error
}

// cmdFlags holds the values of the commands' own flags.
type cmdFlags struct {
	expectHead string
	before     string
	olderThan  time.Duration
	failed     bool
	endpoint   string
	limit      int
	since      string
}

// cmdEnv is what a command runs with.
type cmdEnv struct {
	cfg            config.Config
	sources        []config.Source
	flags          cmdFlags
	log            *slog.Logger
	getenv         func(string) string
	stdout, stderr io.Writer
	commands       []command // the table, for help
}

// commands is the table of subcommands, in the order help lists them.
var commands = []command{
	{name: "serve", help: "run the HTTP server (applies pending migrations first unless --no-migrate)", config: true, run: serve},
	{name: "migrate", help: "apply pending migrations and exit", config: true, run: migrate},
	{name: "cleanup", help: "delete expired sessions once and print how many", config: true, run: cleanup},
	{name: "audit verify", args: "[--expect-head SEQ:HASH]", config: true, run: auditVerify,
		help: `walk the audit chain; print "OK n records" or the first broken link (exit status 1); --expect-head also proves that the chain up to an anchored head was not rewritten`,
		flags: func(fs *flag.FlagSet, o *cmdFlags) {
			fs.StringVar(&o.expectHead, "expect-head", "", "SEQ:HASH of a head recorded earlier (sessiongw audit head)")
		}},
	{name: "audit head", help: "print the latest record's SEQ:HASH, to anchor elsewhere", config: true, run: auditHead},
	{name: "audit prune", args: "--before TIME | --older-than DURATION", config: true, run: auditPrune,
		help: "delete audit records written before TIME (RFC 3339) or older than DURATION, after appending an audit.pruned record that names the last one removed, so the rest still verifies",
		flags: func(fs *flag.FlagSet, o *cmdFlags) {
			fs.StringVar(&o.before, "before", "", "prune records written before this time (RFC 3339, e.g. 2026-09-01T00:00:00Z)")
			fs.DurationVar(&o.olderThan, "older-than", 0, "prune records older than this (e.g. 2160h)")
		}},
	{name: "webhooks list", args: "[--failed] [--endpoint NAME] [--limit N]", config: true, run: webhooksList,
		help: "list webhook deliveries, newest first: event, type, user, state, attempts and the last error",
		flags: func(fs *flag.FlagSet, o *cmdFlags) {
			fs.BoolVar(&o.failed, "failed", false, "only deliveries given up on (after SESSIONGW_WEBHOOK_MAX_AGE)")
			fs.StringVar(&o.endpoint, "endpoint", "", "only this endpoint")
			fs.IntVar(&o.limit, "limit", 100, "at most this many")
		}},
	{name: "webhooks replay", args: "--since TIME [--endpoint NAME]", config: true, run: webhooksReplay,
		help: "deliver again every event written since TIME (RFC 3339, or a duration ago such as 2h) to the configured endpoints whose filter takes it (events are kept 7 days beyond SESSIONGW_WEBHOOK_MAX_AGE)",
		flags: func(fs *flag.FlagSet, o *cmdFlags) {
			fs.StringVar(&o.since, "since", "", "replay events written since this time (RFC 3339) or this long ago (e.g. 2h)")
			fs.StringVar(&o.endpoint, "endpoint", "", "only this endpoint")
		}},
	{name: "config check", help: "validate the configuration (file, environment, flags) and print every effective value and where it came from, secrets redacted", config: true,
		run: func(_ context.Context, e *cmdEnv) error { return printSources(e.sources, e.stdout) }},
	{name: "healthcheck", help: "exit 0 if this host's gateway answers /healthz (for container HEALTHCHECK)", config: true,
		run: func(ctx context.Context, e *cmdEnv) error { return healthcheck(ctx, e.cfg.HTTPAddr, e.stdout) }},
	{name: "version", help: "print the version",
		run: func(_ context.Context, e *cmdEnv) error {
			fmt.Fprintln(e.stdout, "sessiongw", buildVersion())
			return nil
		}},
	{name: "help", help: "print this text and every setting",
		run: func(_ context.Context, e *cmdEnv) error { printHelp(e.stdout, e.commands); return nil }},
}

// aliases are other spellings of commands.
var aliases = map[string]string{"--version": "version", "-h": "help", "--help": "help"}

// find returns the command args name (one or two words) and the rest.
func find(args []string) (*command, []string) {
	first := args[0]
	if a, ok := aliases[first]; ok {
		first = a
	}
	for i := range commands {
		c := &commands[i]
		words := strings.Fields(c.name)
		if words[0] != first {
			continue
		}
		if len(words) == 1 {
			return c, args[1:]
		}
		if len(args) > 1 && args[1] == words[1] {
			return c, args[2:]
		}
	}
	return nil, nil
}

// run is the whole program; main only supplies the process's environment.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage(commands))
		return errors.New("no command given")
	}
	cmd, rest := find(args)
	if cmd == nil {
		fmt.Fprint(stderr, usage(commands))
		if sub := subcommandsOf(args[0]); sub != "" {
			return fmt.Errorf("%s: say %s", args[0], sub)
		}
		return fmt.Errorf("unknown command %q", args[0])
	}
	e := &cmdEnv{getenv: getenv, stdout: stdout, stderr: stderr, commands: commands}
	if cmd.config {
		var extra []func(*flag.FlagSet)
		if cmd.flags != nil {
			extra = append(extra, func(fs *flag.FlagSet) { cmd.flags(fs, &e.flags) })
		}
		cfg, sources, more, err := config.ParseWithSources("sessiongw "+cmd.name, rest, getenv, stderr, extra...)
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(more) > 0 {
			return fmt.Errorf("unexpected arguments: %s", strings.Join(more, " "))
		}
		e.cfg, e.sources = cfg, sources
		e.log = newLogger(cfg, stderr)
		// go-redis reports failovers and reconnects through a global logger.
		redis.UseLogger(e.log)
	} else if len(rest) > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(rest, " "))
	}
	return cmd.run(ctx, e)
}

// subcommandsOf lists, for a first word that needs a second one ("audit"),
// the commands it starts: `"audit verify" or "audit head"`.
func subcommandsOf(first string) string {
	var names []string
	for _, c := range commands {
		if w := strings.Fields(c.name); len(w) == 2 && w[0] == first {
			names = append(names, `"`+c.name+`"`)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return strings.Join(names, " or ")
}

func usage(commands []command) string {
	var b strings.Builder
	b.WriteString("usage: sessiongw <command> [flags]\n\ncommands:\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, c := range commands {
		name := c.name
		if c.args != "" {
			name += " " + c.args
		}
		fmt.Fprintf(tw, "  %s\t%s\n", name, c.help)
	}
	tw.Flush()
	b.WriteString("\nRun \"sessiongw <command> -h\" for the flags; every flag has an environment\nvariable, and flags win.\n")
	return b.String()
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

func printHelp(w io.Writer, commands []command) {
	fmt.Fprint(w, usage(commands), "\nsettings:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range config.Settings() {
		fmt.Fprintf(tw, "  %s\t%s\t%q\t%s\n", s[0], s[1], s[2], s[3])
	}
	tw.Flush()
}
