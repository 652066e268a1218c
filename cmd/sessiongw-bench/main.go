// Command sessiongw-bench measures /v1/auth against same-run baselines and
// prints one Markdown table (also written to BENCHMARKS.md with -out).
//
// It sets up its own data in a throwaway schema and Redis prefix, starts the
// gateway and the baseline servers in this process on 127.0.0.1:0, and drives
// each with wrk (fixed connections, fixed duration) over loopback. The load
// generator and the servers share the machine: compare the ratios, which
// hold on a noisy machine, not the absolute numbers.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sessiongw-bench:", err)
		os.Exit(1)
	}
}

type options struct {
	databaseURL string
	redisURL    string
	duration    time.Duration
	connections int
	sessions    int
	out         string
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("sessiongw-bench", flag.ContinueOnError)
	var o options
	fs.StringVar(&o.databaseURL, "database-url", envOr(getenv, "SESSIONGW_BENCH_DATABASE_URL",
		"postgres://sessiongw:sessiongw@127.0.0.1:5432/sessiongw_test?sslmode=disable"), "Postgres for the throwaway schema")
	fs.StringVar(&o.redisURL, "redis-url", envOr(getenv, "SESSIONGW_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"), "Redis")
	dur, err := time.ParseDuration(envOr(getenv, "BENCH_DURATION", "10s"))
	if err != nil {
		return fmt.Errorf("BENCH_DURATION: %w", err)
	}
	fs.DurationVar(&o.duration, "duration", dur, "duration of each measurement (BENCH_DURATION)")
	fs.IntVar(&o.connections, "connections", 50, "concurrent keep-alive connections")
	fs.IntVar(&o.sessions, "sessions", 100_000, "sessions in the data set (all cached in the warm scenario)")
	fs.StringVar(&o.out, "out", "", "also write the report to this file (BENCHMARKS.md)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := newBench(ctx, o)
	if err != nil {
		return err
	}
	defer b.close()
	rows, err := b.runAll(ctx)
	if err != nil {
		return err
	}
	report := b.report(rows, args)
	fmt.Fprint(stdout, report)
	if o.out != "" {
		return os.WriteFile(o.out, []byte(report), 0o644)
	}
	return nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
