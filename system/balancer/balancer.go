// Package balancer is the load balancer in front of the replicated
// monolith (monolith-ha): net/http/httputil's ReverseProxy, round-robin over
// the replicas that pass their health checks, and retry on another replica
// of a request that failed. Retrying POST /orders is safe because the order
// id is the idempotency key: a replica that sees an id again answers with
// the stored order instead of placing it twice.
package balancer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edatestbed/testbed/system/component"
	"github.com/edatestbed/testbed/system/telemetry"
)

// Backend is one replica.
type Backend struct {
	Name string `json:"name"`
	Addr string `json:"addr"` // host:port, through its link when there is one
}

// Config is what the runtime hands the balancer process.
type Config struct {
	Listen   string    `json:"listen"`
	Backends []Backend `json:"backends"`
	// HealthInterval is how often each replica's /healthz is asked;
	// HealthTimeout bounds one answer. A replica is out after one failed
	// check or one failed request, and back after one passed check.
	HealthInterval time.Duration `json:"health_interval"`
	HealthTimeout  time.Duration `json:"health_timeout"`
	// TryTimeout bounds one try of a request that can still be retried on
	// another replica, so a replica that hangs (its database link
	// swallowing bytes) costs one try, not the client's whole timeout.
	TryTimeout time.Duration    `json:"try_timeout"`
	Telemetry  telemetry.Config `json:"telemetry"`
}

// Balancer is the reverse proxy with its view of the replicas' health.
type Balancer struct {
	log      *slog.Logger
	backends []*backend
	base     http.RoundTripper
	health   *http.Client
	cfg      Config
	next     atomic.Uint64
	proxy    *httputil.ReverseProxy

	retries prometheus.Counter
	up      *prometheus.GaugeVec
	// active counts requests in flight; retrying, those on a second try
	// or later.
	active, retrying atomic.Int64
}

type backend struct {
	Backend
	healthy atomic.Bool
}

// errNoBackend is the answer when no replica is configured.
var errNoBackend = errors.New("no replica to send the request to")

// New returns a balancer over cfg.Backends that reaches them through
// transport; every replica starts healthy until a check says otherwise.
func New(cfg Config, transport http.RoundTripper, log *slog.Logger) (*Balancer, error) {
	if len(cfg.Backends) == 0 {
		return nil, fmt.Errorf("balancer config: %w", errNoBackend)
	}
	b := &Balancer{
		log: log, base: transport, cfg: cfg,
		health: &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: cfg.HealthTimeout},
	}
	b.retries, b.up = collectors()
	for _, c := range cfg.Backends {
		be := &backend{Backend: c}
		be.healthy.Store(true)
		b.up.WithLabelValues(c.Name).Set(1)
		b.backends = append(b.backends, be)
	}
	b.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.SetXForwarded()
		},
		Transport: b,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			b.log.WarnContext(r.Context(), "no replica answered", "method", r.Method, "path", r.URL.Path, "err", err)
			http.Error(w, "no replica answered: "+err.Error(), http.StatusBadGateway)
		},
	}
	return b, nil
}

// Collectors are the balancer's own metrics.
func (b *Balancer) Collectors() []prometheus.Collector {
	return []prometheus.Collector{b.retries, b.up}
}

func collectors() (prometheus.Counter, *prometheus.GaugeVec) {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: "lb_retries_total", Help: "Requests sent again to another replica after a failed try."}),
		prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lb_backend_up", Help: "1 when the balancer sends requests to the replica."}, []string{"backend"})
}

// Metrics returns fresh copies of the collectors the balancer registers
// besides component.Metrics, for tools that check dashboards and rules.
func Metrics() []prometheus.Collector {
	retries, up := collectors()
	return []prometheus.Collector{retries, up}
}

type retryKey struct{}

// ServeHTTP proxies r to a replica. GET requests and POST /orders may be
// retried, so their body is read first to be sent again.
func (b *Balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	retry := r.Method == http.MethodGet || (r.Method == http.MethodPost && r.URL.Path == "/orders")
	if retry && r.Body != nil && r.Body != http.NoBody {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read request: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		r.ContentLength = int64(len(body))
	}
	b.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), retryKey{}, retry)))
}

// The retry budget, as Envoy's: retries in flight may be at most this
// share of the requests in flight, or this many. When every replica is
// slow, retrying each slow request would add load to replicas already
// behind, and the retried orders' replays poll for the first try's
// outcome: retries must not grow with the trouble they answer.
const (
	retryShare = 0.2
	minRetries = 3
)

// mayRetry reports whether the budget admits one more retry.
func (b *Balancer) mayRetry() bool {
	return b.retrying.Load() < max(minRetries, int64(retryShare*float64(b.active.Load())))
}

// RoundTrip sends the proxied request to the next healthy replica and, for
// a retryable request that failed (no answer, or 502, 503, 504), to the
// next one, each replica at most once, while the retry budget allows.
func (b *Balancer) RoundTrip(req *http.Request) (*http.Response, error) {
	b.active.Add(1)
	defer b.active.Add(-1)
	retry, _ := req.Context().Value(retryKey{}).(bool)
	order := b.pick()
	tries := 1
	if retry {
		tries = len(order)
	}
	retried := false
	defer func() {
		if retried {
			b.retrying.Add(-1)
		}
	}()
	var lastErr error
	for i, be := range order[:tries] {
		if i == 1 {
			retried = true
			b.retrying.Add(1)
		}
		out := req.Clone(req.Context())
		if i > 0 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, fmt.Errorf("resend request body: %w", err)
			}
			out.Body = body
		}
		out.URL.Host, out.Host = be.Addr, be.Addr
		last := i == tries-1 || !b.mayRetry()
		cancel := context.CancelFunc(func() {})
		// The last try has nothing to fall back on: it may take all the
		// time the client gives it.
		if !last && b.cfg.TryTimeout > 0 {
			var ctx context.Context
			ctx, cancel = context.WithTimeout(req.Context(), b.cfg.TryTimeout)
			out = out.WithContext(ctx)
		}
		resp, err := b.base.RoundTrip(out)
		if err == nil && (last || !retry || !retryable(resp.StatusCode)) {
			resp.Body = cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
			return resp, nil
		}
		if err != nil {
			lastErr = fmt.Errorf("%s: %w", be.Name, err)
			// A refused or dropped connection says the replica is gone; a
			// slow answer only that this try took too long, and the client
			// giving up nothing at all: health checks judge those.
			if req.Context().Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
				b.setHealthy(be, false, err.Error())
			}
		} else {
			lastErr = fmt.Errorf("%s answered %s", be.Name, resp.Status)
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
		}
		cancel()
		if last || req.Context().Err() != nil {
			break
		}
		b.retries.Inc()
		b.log.InfoContext(req.Context(), "retrying on another replica", "method", req.Method, "path", req.URL.Path, "failed", lastErr)
	}
	return nil, lastErr
}

func retryable(code int) bool {
	return code == http.StatusBadGateway || code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout
}

// pick returns the replicas to try in order: the healthy ones, round-robin
// from the next in turn; every replica when none is healthy, since a check
// may lag behind a replica that just came back.
func (b *Balancer) pick() []*backend {
	n := len(b.backends)
	start := int(b.next.Add(1)-1) % n
	var healthy, all []*backend
	for i := range n {
		be := b.backends[(start+i)%n]
		all = append(all, be)
		if be.healthy.Load() {
			healthy = append(healthy, be)
		}
	}
	if len(healthy) == 0 {
		return all
	}
	return healthy
}

func (b *Balancer) setHealthy(be *backend, ok bool, why string) {
	if be.healthy.Swap(ok) == ok {
		return
	}
	v := 0.0
	if ok {
		v = 1
	}
	b.up.WithLabelValues(be.Name).Set(v)
	if ok {
		b.log.Info("replica back in rotation", "backend", be.Name)
	} else {
		b.log.Warn("replica out of rotation", "backend", be.Name, "why", why)
	}
}

// Check asks every replica's /healthz once, all at the same time, and
// updates the rotation.
func (b *Balancer) Check(ctx context.Context) {
	done := make(chan struct{}, len(b.backends))
	for _, be := range b.backends {
		go func() {
			defer func() { done <- struct{}{} }()
			err := b.probe(ctx, be)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				b.setHealthy(be, false, err.Error())
				return
			}
			b.setHealthy(be, true, "")
		}()
	}
	for range b.backends {
		<-done
	}
}

func (b *Balancer) probe(ctx context.Context, be *backend) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+be.Addr+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := b.health.Do(req)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("health check answered %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return nil
}

// Watch checks the replicas every HealthInterval until ctx ends.
func (b *Balancer) Watch(ctx context.Context) {
	t := time.NewTicker(b.cfg.HealthInterval)
	defer t.Stop()
	for {
		b.Check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Healthy reports whether at least one replica is in rotation.
func (b *Balancer) Healthy(context.Context) error {
	for _, be := range b.backends {
		if be.healthy.Load() {
			return nil
		}
	}
	return errors.New("no replica passes its health check")
}

// cancelOnClose ends a try's context once the proxy has copied the answer.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// Run checks the replicas once, then balances requests until ctx ends.
func Run(ctx context.Context, tel *telemetry.Telemetry, cfg Config) error {
	b, err := New(cfg, tel.Client().Transport, tel.Log)
	if err != nil {
		return err
	}
	b.Check(ctx)
	reg := prometheus.NewRegistry()
	reg.MustRegister(b.Collectors()...)
	mux := component.Mux(reg, map[string]component.Check{"replicas": b.Healthy})
	m := component.NewHTTPMetrics(reg)
	mux.Handle("/", m.Wrap("/", b.ServeHTTP))
	wctx, stop := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		b.Watch(wctx)
	}()
	err = component.Serve(ctx, tel.Log, cfg.Listen, tel.Handler("monolith-lb", mux))
	stop()
	<-watched
	return err
}
