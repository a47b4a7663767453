// Package telemetry gives every component of every architecture the same
// tracing and logging: OpenTelemetry spans exported over OTLP/HTTP (Jaeger
// v2 takes it natively), W3C trace context across HTTP and Kafka, and JSON
// logs that carry the trace and span ids of the work they describe. Nothing
// here is global: each process builds one Telemetry and passes it down.
package telemetry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Config is what the runtime hands every component about telemetry.
type Config struct {
	// OTLPEndpoint is host:port of an OTLP/HTTP receiver (Jaeger's 4318).
	// Empty: spans are still made, so logs carry trace ids, but not exported.
	OTLPEndpoint string `json:"otlp_endpoint,omitempty"`
	// SampleRatio of new traces kept; 0 means all of them.
	SampleRatio float64 `json:"sample_ratio,omitempty"`
	// Arch names the architecture the component belongs to.
	Arch string `json:"arch"`
	// LogLevel is debug, info, warn or error; empty means info.
	LogLevel string `json:"log_level,omitempty"`
	// Off makes no spans and logs warnings and errors only: the baseline
	// the cost of telemetry is measured against.
	Off bool `json:"off,omitempty"`
	// Pprof serves Go's profiles (net/http/pprof) under /debug/pprof/ on
	// the component's listener, untraced: for profiling a run, never on
	// by default.
	Pprof bool `json:"pprof,omitempty"`
}

// Attribute keys every span and log line of the testbed uses.
const (
	KeyArch    = "testbed.arch"
	KeyOrder   = "order.id"
	KeyEvent   = "event.type"
	KeyEventID = "event.id"
)

// Telemetry is one process's tracer, propagator and logger.
type Telemetry struct {
	Provider   trace.TracerProvider
	Tracer     trace.Tracer
	Propagator propagation.TextMapPropagator
	Log        *slog.Logger
	arch       string
	pprof      bool
	shutdown   func(context.Context) error
}

// New builds the telemetry of component, logging JSON to w.
func New(ctx context.Context, cfg Config, component string, w io.Writer) (*Telemetry, error) {
	level := slog.LevelInfo
	if cfg.Off {
		log := slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn})).With("component", component, "arch", cfg.Arch)
		t := Nop(log)
		t.pprof = cfg.Pprof
		return t, nil
	}
	if cfg.LogLevel != "" {
		if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
			return nil, fmt.Errorf("telemetry: log level %q: want debug, info, warn or error", cfg.LogLevel)
		}
	}
	res := resource.NewSchemaless(
		attribute.String("service.name", component),
		attribute.String("service.namespace", "testbed-"+cfg.Arch),
		attribute.String(KeyArch, cfg.Arch),
	)
	ratio := cfg.SampleRatio
	if ratio <= 0 || ratio > 1 {
		ratio = 1
	}
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
	}
	if cfg.OTLPEndpoint != "" {
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(cfg.OTLPEndpoint), otlptracehttp.WithInsecure())
		if err != nil {
			return nil, fmt.Errorf("telemetry: OTLP exporter to %s: %w", cfg.OTLPEndpoint, err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(500*time.Millisecond)))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	log := slog.New(traceHandler{slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})}).
		With("component", component, "arch", cfg.Arch)
	return &Telemetry{
		Provider:   tp,
		Tracer:     tp.Tracer("github.com/edatestbed/testbed"),
		Propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		Log:        log,
		arch:       cfg.Arch,
		pprof:      cfg.Pprof,
		shutdown:   tp.Shutdown,
	}, nil
}

// Nop is telemetry that records nothing and logs to log, for tests.
func Nop(log *slog.Logger) *Telemetry {
	tp := noop.NewTracerProvider()
	return &Telemetry{Provider: tp, Tracer: tp.Tracer(""), Propagator: propagation.TraceContext{}, Log: log, shutdown: func(context.Context) error { return nil }}
}

// Shutdown flushes spans not yet exported.
func (t *Telemetry) Shutdown(ctx context.Context) error { return t.shutdown(ctx) }

// Handler traces every request to h except health checks and scrapes,
// continuing the caller's trace when the request carries one. With Pprof
// set it also serves the profiles, beside h and untraced.
func (t *Telemetry) Handler(name string, h http.Handler) http.Handler {
	traced := t.traced(name, h)
	if !t.pprof {
		return traced
	}
	mux := http.NewServeMux()
	mux.Handle("/", traced)
	HandlePprof(mux)
	return mux
}

// HandlePprof serves Go's profiles under /debug/pprof/ on mux, for a
// process that profiles without the rest of Telemetry (the broker).
func HandlePprof(mux *http.ServeMux) {
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}

// traced continues the caller's trace, or starts one, with a server span
// per request, named after the route that matched ("POST /orders"), which
// ends when h returns and records the status code (an error status from
// 500 on, as HTTP semantic conventions have it). Health checks and scrapes
// are not traced. It records what otelhttp's handler did that anyone here
// reads, without what made that cost as much per request as placing an
// order (semconv attribute sets, metrics instruments, body and writer
// wrappers); name names the span of a request no route matched.
func (t *Telemetry) traced(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/metrics" {
			h.ServeHTTP(w, r)
			return
		}
		ctx := t.Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := t.Tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("url.path", r.URL.Path),
			attribute.String("client.address", r.RemoteAddr),
			attribute.String(KeyArch, t.arch),
		))
		defer span.End()
		sw := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		r = r.WithContext(ctx)
		h.ServeHTTP(sw, r) // a mux sets r.Pattern
		if r.Pattern != "" {
			// A pattern may name its method ("POST /orders") or not.
			route := r.Pattern
			if i := strings.IndexByte(route, ' '); i >= 0 {
				route = route[i+1:]
			}
			span.SetName(r.Method + " " + route)
			span.SetAttributes(attribute.String("http.route", route))
		}
		span.SetAttributes(attribute.Int("http.response.status_code", sw.code))
		if sw.code >= http.StatusInternalServerError {
			span.SetStatus(codes.Error, http.StatusText(sw.code))
		}
	})
}

// statusRecorder remembers the status code written through it. Unwrap
// lets http.ResponseController reach the writer's Flush and Hijack.
type statusRecorder struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote && code >= 200 {
		s.code, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Client returns an HTTP client whose requests carry the caller's trace,
// each in a client span.
func (t *Telemetry) Client() *http.Client {
	return &http.Client{Transport: tracedTransport{t: t, base: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 256}}}
}

// tracedTransport does for a client what traced does for a server, and
// for the same reason: of otelhttp's Transport it keeps what anyone here
// reads (a client span per request named "HTTP <method>", the trace
// context in the request's headers, the status code, an error status from
// 400 on or for a failed request), without its metric attribute sets and
// body wrapper, 2.5 % of the monolith's CPU at 1,500 orders/s and a share
// of its 18 % for tracing (CPU profile of the run). The span ends with the
// answer's headers rather than with its body's last byte.
type tracedTransport struct {
	t    *Telemetry
	base *http.Transport
}

func (tt tracedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, span := tt.t.Tracer.Start(r.Context(), "HTTP "+r.Method, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("http.request.method", r.Method),
		attribute.String("url.full", r.URL.String()),
		attribute.String("server.address", r.URL.Host),
		attribute.String(KeyArch, tt.t.arch),
	))
	defer span.End()
	r = r.Clone(ctx) // a RoundTripper must leave the caller's request alone
	tt.t.Propagator.Inject(ctx, propagation.HeaderCarrier(r.Header))
	resp, err := tt.base.RoundTrip(r)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return nil, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode >= http.StatusBadRequest {
		span.SetStatus(codes.Error, http.StatusText(resp.StatusCode))
	}
	return resp, nil
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// connections underneath.
func (tt tracedTransport) CloseIdleConnections() { tt.base.CloseIdleConnections() }

// Start begins a span of this component, tagged with its architecture.
func (t *Telemetry) Start(ctx context.Context, name string, kind trace.SpanKind, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return t.Tracer.Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(append(attrs, attribute.String(KeyArch, t.arch))...))
}

// Inject writes ctx's trace context into carrier.
func (t *Telemetry) Inject(ctx context.Context, carrier propagation.TextMapCarrier) {
	t.Propagator.Inject(ctx, carrier)
}

// Extract reads a trace context from carrier into ctx.
func (t *Telemetry) Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	return t.Propagator.Extract(ctx, carrier)
}

// traceHandler adds the trace and span ids of the record's context to
// every log line, so a log line leads to its trace and back.
type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(attrs)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}
