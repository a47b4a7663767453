// Package component holds what every process of every architecture does the
// same way: serve HTTP until told to stop, answer health checks, expose its
// own Prometheus registry.
package component

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check reports whether a dependency the component needs is usable.
type Check func(ctx context.Context) error

// Mux returns a mux with GET /healthz (200 when every check passes, 503
// with the failing check's error otherwise) and GET /metrics for reg.
func Mux(reg *prometheus.Registry, checks map[string]Check) *http.ServeMux {
	reg.MustRegister(runtimeCollectors()...)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		problems := map[string]string{}
		for name, check := range checks {
			if err := check(ctx); err != nil {
				problems[name] = err.Error()
			}
		}
		if len(problems) > 0 {
			WriteJSON(w, http.StatusServiceUnavailable, problems)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// Serve serves h on addr until ctx ends, then shuts down gracefully.
func Serve(ctx context.Context, log *slog.Logger, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("serving", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", addr, err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shut down %s: %w", addr, err)
	}
	return nil
}

// WriteJSON answers with v as JSON.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func runtimeCollectors() []prometheus.Collector {
	return []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})}
}

// HTTPMetrics counts and times requests by route and status code.
type HTTPMetrics struct{ duration *prometheus.HistogramVec }

func httpHistogram() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by route and status code.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	}, []string{"route", "code"})
}

// NewHTTPMetrics registers the request histogram on reg.
func NewHTTPMetrics(reg *prometheus.Registry) *HTTPMetrics {
	h := httpHistogram()
	reg.MustRegister(h)
	return &HTTPMetrics{duration: h}
}

// Metrics returns fresh copies of what every component registers (Go and
// process collectors, the HTTP histogram), for tools that check dashboards.
func Metrics() []prometheus.Collector { return append(runtimeCollectors(), httpHistogram()) }

// MetricNames lists the fully qualified names of what cs describe.
func MetricNames(cs ...prometheus.Collector) []string {
	ch := make(chan *prometheus.Desc)
	go func() {
		for _, c := range cs {
			c.Describe(ch)
		}
		close(ch)
	}()
	var names []string
	for d := range ch {
		// Desc has no accessor for its name; its String form is stable:
		// Desc{fqName: "name", help: ...}.
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			names = append(names, m[1])
		}
	}
	return names
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// Wrap instruments h under route.
func (m *HTTPMetrics) Wrap(route string, h http.HandlerFunc) http.HandlerFunc {
	byCode := m.duration.MustCurryWith(prometheus.Labels{"route": route})
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h(sw, r)
		byCode.WithLabelValues(strconv.Itoa(sw.code)).Observe(time.Since(start).Seconds())
	}
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}
