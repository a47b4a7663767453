package telemetry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func TestPprofOnlyWhenAsked(t *testing.T) {
	app := http.NewServeMux()
	app.HandleFunc("GET /orders", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	for _, on := range []bool{false, true} {
		tel, err := New(context.Background(), Config{Arch: "eda", Pprof: on}, "order-api", io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		h := tel.Handler("order-api", app)
		for path, want := range map[string]int{
			"/orders":                  http.StatusTeapot,
			"/debug/pprof/":            map[bool]int{false: http.StatusNotFound, true: http.StatusOK}[on],
			"/debug/pprof/goroutine":   map[bool]int{false: http.StatusNotFound, true: http.StatusOK}[on],
			"/debug/pprof/no-such-one": http.StatusNotFound,
		} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if rec.Code != want {
				t.Errorf("pprof %v: GET %s = %d, want %d", on, path, rec.Code, want)
			}
		}
		if err := tel.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHandlerTracesRequestsByRoute(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tel := &Telemetry{Provider: tp, Tracer: tp.Tracer("test"), Propagator: propagation.TraceContext{}, arch: "eda", shutdown: tp.Shutdown}
	app := http.NewServeMux()
	app.HandleFunc("POST /orders", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) })
	app.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
	app.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := tel.Handler("order-api", app)

	const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	post := httptest.NewRequest(http.MethodPost, "/orders", nil)
	post.Header.Set("traceparent", parent)
	for _, r := range []*http.Request{post, httptest.NewRequest(http.MethodGet, "/orders/o-1", nil), httptest.NewRequest(http.MethodGet, "/healthz", nil), httptest.NewRequest(http.MethodGet, "/nowhere", nil)} {
		h.ServeHTTP(httptest.NewRecorder(), r)
	}

	spans := rec.Ended()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3 (health checks are not traced)", len(spans))
	}
	type want struct {
		name, route string
		code        int64
		status      codes.Code
	}
	for i, w := range []want{
		{"POST /orders", "/orders", http.StatusAccepted, codes.Unset},
		{"GET /orders/{id}", "/orders/{id}", http.StatusServiceUnavailable, codes.Error},
		{"order-api", "", http.StatusNotFound, codes.Unset},
	} {
		s := spans[i]
		attrs := map[attribute.Key]attribute.Value{}
		for _, kv := range s.Attributes() {
			attrs[kv.Key] = kv.Value
		}
		if s.Name() != w.name || s.SpanKind() != trace.SpanKindServer || attrs["http.route"].AsString() != w.route ||
			attrs["http.response.status_code"].AsInt64() != w.code || s.Status().Code != w.status || attrs[KeyArch].AsString() != "eda" {
			t.Errorf("span %d = %s (%s), attributes %v, status %v; want %+v", i, s.Name(), s.SpanKind(), attrs, s.Status(), w)
		}
	}
	if got := spans[0].Parent().TraceID().String(); got != "0af7651916cd43dd8448eb211c80319c" {
		t.Errorf("POST /orders continues trace %s, want the caller's", got)
	}
}
