package chain

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
)

// Where each service takes forward and abort calls.
var paths = map[string][2]string{
	Inventory: {"/reservations", "/reservations/abort"},
	Payment:   {"/payments", "/payments/abort"},
	Shipping:  {"/shipments", "/shipments/abort"},
}

// Call defaults: a timeout when the config gives none, the tries of a call,
// the first pause between tries (doubled each time, with jitter), and the
// breaker's trip and open times.
const (
	defaultCallTimeout = 2 * time.Second
	defaultAttempts    = 3
	firstBackoff       = 25 * time.Millisecond
	breakerTrips       = 5
	breakerOpenFor     = time.Second
)

var (
	// errUnknown: the call may have reached the next service, which may
	// have acted, but no answer came back.
	errUnknown = errors.New("outcome unknown")
	// errNotDelivered: no try reached the next service (the breaker was
	// open or the connection was refused), so it did nothing.
	errNotDelivered = errors.New("not delivered")
	// errRejected: the next service refused the request as malformed; a
	// bug, not an outage, so neither retried nor held against it.
	errRejected = errors.New("rejected")
	// errRefused: a try's connection was refused before anything was sent.
	errRefused = errors.New("connection refused")
	// errFailed: the next service answered that it could not finish; it
	// has retried what it calls itself, so retrying it would multiply the
	// calls down the chain.
	errFailed = errors.New("failed")
)

// caller calls the next service: each call bounded by a timeout, tried
// again with backoff while time is left when no answer came (a dropped
// connection, a refused one), through a circuit breaker that fails calls
// at once after repeated failures, so a dead service costs its callers
// microseconds instead of timeouts.
type caller struct {
	peer      string
	base      string
	path      string
	abortPath string
	http      *http.Client
	timeout   time.Duration
	attempts  int
	log       *slog.Logger
	cb        *gobreaker.CircuitBreaker[Outcome]
	calls     *prometheus.CounterVec
	state     prometheus.Gauge
}

func callMetrics(peer string) (*prometheus.CounterVec, prometheus.Gauge) {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chain_calls_total", Help: "Calls to the next service of the chain, by result: ok, unknown (no answer), not_delivered (breaker open or refused), rejected.",
		}, []string{"peer", "result"}),
		prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "circuit_breaker_state",
			Help:        "State of a circuit breaker: 0 closed, 1 half-open, 2 open.",
			ConstLabels: prometheus.Labels{"breaker": peer},
		})
}

func newCaller(peer, base string, hc *http.Client, timeout time.Duration, attempts int, log *slog.Logger) *caller {
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 256}}
	}
	if timeout <= 0 {
		timeout = defaultCallTimeout
	}
	if attempts <= 0 {
		attempts = defaultAttempts
	}
	c := &caller{peer: peer, base: base, path: paths[peer][0], abortPath: paths[peer][1], http: hc, timeout: timeout, attempts: attempts, log: log}
	c.calls, c.state = callMetrics(peer)
	c.cb = gobreaker.NewCircuitBreaker[Outcome](gobreaker.Settings{
		Name:        peer,
		MaxRequests: 1,
		Timeout:     breakerOpenFor,
		ReadyToTrip: func(n gobreaker.Counts) bool { return n.ConsecutiveFailures >= breakerTrips },
		// A malformed request says nothing about the callee's health.
		IsSuccessful: func(err error) bool { return err == nil || errors.Is(err, errRejected) },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			c.state.Set(float64(to))
			log.Warn("circuit breaker", "peer", peer, "from", from.String(), "to", to.String())
		},
	})
	return c
}

func (c *caller) collectors() []prometheus.Collector {
	return []prometheus.Collector{c.calls, c.state}
}

// call posts req to path and returns the next service's outcome. Its error
// wraps errNotDelivered when no try reached the service, errUnknown when
// one may have, errRejected when the service refused the request.
func (c *caller) call(ctx context.Context, path string, req Request) (Outcome, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	backoff := firstBackoff
	delivered := false
	var last error
	for attempt := 1; attempt <= c.attempts && (attempt == 1 || ctx.Err() == nil); attempt++ {
		out, err := c.cb.Execute(func() (Outcome, error) { return c.post(ctx, path, req) })
		switch {
		case err == nil:
			c.calls.WithLabelValues(c.peer, "ok").Inc()
			return out, nil
		case errors.Is(err, errRejected):
			c.calls.WithLabelValues(c.peer, "rejected").Inc()
			return Outcome{}, fmt.Errorf("%s%s: %w", c.peer, path, err)
		case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests), errors.Is(err, errRefused):
		default:
			delivered = true
		}
		last = err
		if attempt == c.attempts || errors.Is(err, errFailed) {
			break
		}
		t := time.NewTimer(backoff/2 + rand.N(backoff/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		backoff *= 2
	}
	if !delivered {
		c.calls.WithLabelValues(c.peer, "not_delivered").Inc()
		return Outcome{}, fmt.Errorf("%w: %s%s: %w", errNotDelivered, c.peer, path, last)
	}
	c.calls.WithLabelValues(c.peer, "unknown").Inc()
	return Outcome{}, fmt.Errorf("%w: %s%s: %w", errUnknown, c.peer, path, last)
}

func (c *caller) post(ctx context.Context, path string, req Request) (Outcome, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return Outcome{}, fmt.Errorf("%w: encode: %w", errRejected, err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(b))
	if err != nil {
		return Outcome{}, fmt.Errorf("%w: %w", errRejected, err)
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(hr)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return Outcome{}, fmt.Errorf("%w: %w", errRefused, err)
		}
		return Outcome{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Outcome{}, fmt.Errorf("read answer: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusBadRequest:
		return Outcome{}, fmt.Errorf("%w: %s", errRejected, bytes.TrimSpace(body))
	case resp.StatusCode != http.StatusOK:
		return Outcome{}, fmt.Errorf("%w: answered %s: %s", errFailed, resp.Status, bytes.TrimSpace(body))
	}
	var out Outcome
	if err := json.Unmarshal(body, &out); err != nil || !out.State.Terminal() || out.OrderID != req.OrderID {
		return Outcome{}, fmt.Errorf("answer %q is no outcome of order %s (%v)", bytes.TrimSpace(body), req.OrderID, err)
	}
	return out, nil
}
