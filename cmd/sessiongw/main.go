// Command sessiongw is the session gateway and its tools: serve, migrate,
// cleanup, audit, config check, healthcheck (see `sessiongw help`).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "sessiongw:", err)
		os.Exit(1)
	}
}
