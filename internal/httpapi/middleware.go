package httpapi

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/labstack/echo/v4"
)

// observe records route, method, status and latency of every request, and
// logs one line per request at debug level only (never headers or bodies,
// which carry tokens).
func observe(rec RequestRecorder, log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			if err := next(c); err != nil {
				c.Error(err)
			}
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			d := time.Since(start)
			if rec != nil {
				rec.ObserveRequest(route, c.Request().Method, c.Response().Status, d)
			}
			if log.Enabled(c.Request().Context(), slog.LevelDebug) {
				log.LogAttrs(c.Request().Context(), slog.LevelDebug, "request",
					slog.String("method", c.Request().Method), slog.String("route", route),
					slog.Int("status", c.Response().Status), slog.Duration("duration", d),
					slog.String("client", c.RealIP()))
			}
			return nil
		}
	}
}

// recoverPanics turns a panic into a logged 500 instead of a dropped
// connection.
func recoverPanics(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			defer func() {
				if p := recover(); p != nil {
					log.Error("panic in handler", "route", c.Path(), "panic", fmt.Sprint(p))
					err = fmt.Errorf("panic: %v", p)
				}
			}()
			return next(c)
		}
	}
}

// closeWhenDraining asks clients to close their connection after this
// answer once shutdown has begun, so no client sends a request on a
// keep-alive connection the server is about to close.
func closeWhenDraining(draining func() bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if draining() {
				c.Response().Header().Set("Connection", "close")
			}
			return next(c)
		}
	}
}
