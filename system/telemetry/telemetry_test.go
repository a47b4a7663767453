package telemetry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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
		attrs := attributes(s)
		if s.Name() != w.name || s.SpanKind() != trace.SpanKindServer || attrs["http.route"].AsString() != w.route ||
			attrs["http.response.status_code"].AsInt64() != w.code || s.Status().Code != w.status || attrs[KeyArch].AsString() != "eda" {
			t.Errorf("span %d = %s (%s), attributes %v, status %v; want %+v", i, s.Name(), s.SpanKind(), attrs, s.Status(), w)
		}
	}
	if got := spans[0].Parent().TraceID().String(); got != "0af7651916cd43dd8448eb211c80319c" {
		t.Errorf("POST /orders continues trace %s, want the caller's", got)
	}
}

// TestClientTracesRequests: every request of Client gets a client span,
// a child of the caller's, whose context the server receives; an error
// answer or a failed request marks the span an error.
func TestClientTracesRequests(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tel := &Telemetry{Provider: tp, Tracer: tp.Tracer("test"), Propagator: propagation.TraceContext{}, arch: "monolith", shutdown: tp.Shutdown}
	var mu sync.Mutex
	var got []string // traceparent headers the server saw
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, r.Header.Get("traceparent"))
		if r.URL.Path == "/down" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	c := tel.Client()
	defer c.CloseIdleConnections()
	ctx, parent := tp.Tracer("test").Start(context.Background(), "place order")
	for _, url := range []string{srv.URL + "/charges", srv.URL + "/down", closed.URL + "/charges"} {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		if (err != nil) != (url == closed.URL+"/charges") {
			t.Errorf("POST %s: err %v", url, err)
		}
		if req.Header.Get("traceparent") != "" {
			t.Errorf("POST %s: the caller's request got a traceparent header", url)
		}
	}
	parent.End()
	mu.Lock()
	defer mu.Unlock()

	spans := rec.Ended()
	if len(spans) != 4 {
		t.Fatalf("%d spans, want 3 client spans and the parent", len(spans))
	}
	for i, w := range []struct {
		code   int64
		status codes.Code
	}{{http.StatusOK, codes.Unset}, {http.StatusServiceUnavailable, codes.Error}, {0, codes.Error}} {
		s := spans[i]
		attrs := attributes(s)
		if s.Name() != "HTTP POST" || s.SpanKind() != trace.SpanKindClient || s.Parent().SpanID() != parent.SpanContext().SpanID() ||
			attrs["http.response.status_code"].AsInt64() != w.code || s.Status().Code != w.status || attrs[KeyArch].AsString() != "monolith" {
			t.Errorf("span %d = %s (%s), parent %v, attributes %v, status %v; want a client span of the caller with %+v", i, s.Name(), s.SpanKind(), s.Parent().SpanID(), attrs, s.Status(), w)
		}
		if i < len(got) && !strings.Contains(got[i], s.SpanContext().SpanID().String()) {
			t.Errorf("request %d carried traceparent %q, want the client span %s", i, got[i], s.SpanContext().SpanID())
		}
	}
	if len(got) != 2 {
		t.Errorf("the server saw %d requests, want 2", len(got))
	}
}

// attributes is a span's attributes by key.
func attributes(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	attrs := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		attrs[kv.Key] = kv.Value
	}
	return attrs
}
