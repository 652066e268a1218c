package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// connectionClose is shared by every draining answer (never modified).
var connectionClose = []string{"close"}

// around is the one middleware of every route. Echo v4 wraps the handler
// in each middleware on every request (one closure allocation per
// middleware), so these jobs share one:
//   - while draining, ask the client to close its connection after this
//     answer, so no client sends a request on a keep-alive connection the
//     server is about to close;
//   - turn a panic into a logged 500 instead of a dropped connection;
//   - record route, method, status and latency of every request, and log
//     one line per request at debug level only (never headers or bodies,
//     which carry tokens).
//   - return the caller's X-Request-Id (log lines carry it too);
//   - with a tracer, make a span of the request (off by default: no cost).
func around(rec RequestRecorder, log *slog.Logger, draining func() bool, tracer trace.Tracer) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			if draining() {
				c.Response().Header()["Connection"] = connectionClose
			}
			echoRequestID(c)
			if tracer != nil {
				defer startSpan(c, tracer)()
			}
			if err := recoverPanic(c, next, log); err != nil {
				c.Error(err)
			}
			route, method := routeLabel(c), methodLabel(c.Request().Method)
			d := time.Since(start)
			if rec != nil {
				rec.ObserveRequest(route, method, c.Response().Status, d)
			}
			if log.Enabled(c.Request().Context(), slog.LevelDebug) {
				log.LogAttrs(c.Request().Context(), slog.LevelDebug, "request",
					slog.String("method", method), slog.String("route", route),
					slog.Int("status", c.Response().Status), slog.Duration("duration", d),
					slog.String("client", c.RealIP()), slog.String("request_id", requestID(c)))
			}
			return nil
		}
	}
}

// routeLabel is the matched route's template ("/v1/session/all/:id", or a
// group's "/v1/admin/*" on a 404 or 405 under it), or "unmatched": Echo
// reports only registered templates, never the raw path, so metrics, spans
// and log lines have a closed set of routes whatever paths clients make up.
func routeLabel(c echo.Context) string {
	if route := c.Path(); route != "" {
		return route
	}
	return "unmatched"
}

// methodLabel keeps the request method when it is one of HTTP's own, and
// says "other" for anything a client made up (a label per made-up method
// would grow the metrics without bound).
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

var traceContext = propagation.TraceContext{}

// startSpan starts the request's span (a child of the caller's trace when
// the request carries one) and returns the function that ends it.
func startSpan(c echo.Context, tracer trace.Tracer) func() {
	r := c.Request()
	route, method := routeLabel(c), methodLabel(r.Method)
	ctx := traceContext.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := tracer.Start(ctx, method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", method), attribute.String("http.route", route)))
	c.SetRequest(r.WithContext(ctx))
	return func() {
		status := c.Response().Status
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if status >= 500 {
			span.SetStatus(codes.Error, "")
		}
		span.End()
	}
}

func recoverPanic(c echo.Context, next echo.HandlerFunc, log *slog.Logger) (err error) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("panic in handler", "route", c.Path(), "panic", fmt.Sprint(p), "request_id", requestID(c))
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return next(c)
}
