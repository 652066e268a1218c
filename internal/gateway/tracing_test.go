package gateway_test

import (
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/sessiongw/sessiongw/internal/gateway"
	"github.com/sessiongw/sessiongw/internal/testenv"
	"github.com/sessiongw/sessiongw/internal/tracing"
)

func TestTracing(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	cfg := testenv.Config(t)
	o := gateway.Options{}
	o.TraceExporter = exp
	rep := testenv.Start(t, cfg, o)
	user(t, rep.URL, 1, "alice")
	tok, _ := testenv.NewSession(t, rep.URL, 1, false, "")
	exp.Reset()

	// A cold validation from a caller with a trace: the request's span
	// continues it, and the Redis and Postgres calls are its children.
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	r := testenv.Do(t, http.MethodGet, rep.URL+"/v1/auth", nil, append(testenv.Bearer(tok),
		"Traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")...)
	wantStatus(t, "auth", r, http.StatusOK)
	names := map[string]bool{}
	var server bool
	for _, s := range exp.GetSpans() {
		if s.SpanContext.TraceID().String() != traceID {
			continue
		}
		names[s.Name] = true
		if s.Name == "GET /v1/auth" && s.Parent.SpanID().String() == "00f067aa0ba902b7" {
			server = true
		}
		for _, a := range s.Attributes {
			if strings.Contains(a.Value.Emit(), tok) {
				t.Errorf("span %q carries the session token in %s", s.Name, a.Key)
			}
		}
	}
	if !rep.Logs.Contains(`"trace_id":"` + traceID + `"`) {
		t.Errorf("no log line carries the trace id")
	}
	if !server || !names["postgres"] || !names["redis get"] {
		t.Errorf("spans in the caller's trace: %v (request span continuing the caller's: %v); want the request, a Postgres query and a Redis GET", names, server)
	}
}

func TestTracingEnabledByTheStandardVariables(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		env  map[string]string
		want bool
	}{
		{nil, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_TRACES_EXPORTER": "none"}, false},
	} {
		if got := tracing.Enabled(func(k string) string { return tt.env[k] }); got != tt.want {
			t.Errorf("Enabled(%v) = %v; want %v", tt.env, got, tt.want)
		}
	}
}
