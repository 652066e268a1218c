// Package tracing is OpenTelemetry tracing for the gateway: off unless the
// standard OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT variables are set, then spans
// for every HTTP request, Postgres query and Redis command, exported over
// OTLP/HTTP, with W3C trace context taken from incoming requests.
package tracing

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
)

// Enabled reports whether the environment asks for traces: an OTLP
// endpoint is set and neither OTEL_SDK_DISABLED=true nor
// OTEL_TRACES_EXPORTER=none turns them off.
func Enabled(getenv func(string) string) bool {
	if getenv("OTEL_SDK_DISABLED") == "true" || getenv("OTEL_TRACES_EXPORTER") == "none" {
		return false
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Tracing owns a tracer provider.
type Tracing struct {
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
}

// NewOTLP exports over OTLP/HTTP, configured by the standard OTEL_
// variables (endpoint, headers, timeout, compression).
func NewOTLP(ctx context.Context, version string) (*Tracing, error) {
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, err
	}
	return New(exp, false, version), nil
}

// New traces into exp: batched, or synchronously (tests).
func New(exp sdktrace.SpanExporter, sync bool, version string) *Tracing {
	res, _ := resource.Merge(resource.Default(), resource.NewSchemaless(
		semconv.ServiceName("sessiongw"), semconv.ServiceVersion(version)))
	// resource.Default reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES;
	// ours come second and would win, so put the environment back on top.
	if env, err := resource.New(context.Background(), resource.WithFromEnv()); err == nil {
		res, _ = resource.Merge(res, env)
	}
	opt := sdktrace.WithBatcher(exp)
	if sync {
		opt = sdktrace.WithSyncer(exp)
	}
	tp := sdktrace.NewTracerProvider(opt, sdktrace.WithResource(res))
	return &Tracing{tp: tp, tracer: tp.Tracer("github.com/sessiongw/sessiongw"), prop: propagation.TraceContext{}}
}

// Shutdown flushes pending spans.
func (t *Tracing) Shutdown(ctx context.Context) error { return t.tp.Shutdown(ctx) }

// Tracer returns the tracer.
func (t *Tracing) Tracer() trace.Tracer { return t.tracer }

// Propagator returns the propagator of incoming trace context (W3C).
func (t *Tracing) Propagator() propagation.TextMapPropagator { return t.prop }

// PGTracer returns a pgx tracer making one span per query (its SQL, never
// its arguments).
func (t *Tracing) PGTracer() pgx.QueryTracer { return pgSpans{t.tracer} }

type pgSpans struct{ tracer trace.Tracer }

func (p pgSpans) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	ctx, _ = p.tracer.Start(ctx, "postgres", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(semconv.DBSystemNamePostgreSQL, semconv.DBQueryText(d.SQL)))
	return ctx
}

func (p pgSpans) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	span := trace.SpanFromContext(ctx)
	if d.Err != nil && d.Err != pgx.ErrNoRows {
		span.RecordError(d.Err)
		span.SetStatus(codes.Error, "query failed")
	}
	span.End()
}

// RedisHook returns a go-redis hook making one span per command (its name,
// never its keys or values).
func (t *Tracing) RedisHook() goredis.Hook { return redisSpans{t.tracer} }

type redisSpans struct{ tracer trace.Tracer }

func (r redisSpans) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (r redisSpans) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		ctx, span := r.tracer.Start(ctx, "redis "+cmd.Name(), trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(semconv.DBSystemNameRedis, attribute.String("db.operation.name", cmd.Name())))
		err := next(ctx, cmd)
		end(span, err)
		return err
	}
}

func (r redisSpans) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		ctx, span := r.tracer.Start(ctx, "redis pipeline", trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(semconv.DBSystemNameRedis, attribute.Int("db.operation.batch.size", len(cmds))))
		err := next(ctx, cmds)
		end(span, err)
		return err
	}
}

func end(span trace.Span, err error) {
	if err != nil && err != goredis.Nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "command failed")
	}
	span.End()
}

// LogHandler adds trace_id and span_id to every record logged with a
// context that carries a span.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

func (l logHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return l.Handler.Handle(ctx, r)
}

func (l logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return logHandler{l.Handler.WithAttrs(as)}
}
func (l logHandler) WithGroup(name string) slog.Handler { return logHandler{l.Handler.WithGroup(name)} }

// Timeout bounds the flush at shutdown.
const Timeout = 5 * time.Second
