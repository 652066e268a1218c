package redis

import (
	"context"
	"fmt"
	"log/slog"

	goredis "github.com/redis/go-redis/v9"
)

// UseLogger sends go-redis's own messages (Sentinel switches, cluster
// reloads, reconnects) to log instead of the standard logger. go-redis
// keeps one logger per process: call it once, from main.
func UseLogger(log *slog.Logger) { goredis.SetLogger(slogPrinter{log}) }

type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Printf(ctx context.Context, format string, v ...any) {
	p.log.InfoContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...))
}
