package psp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
)

// Guarded is a Client behind a circuit breaker: after repeated failures to
// reach the provider it stops calling for a while and fails at once, so a
// dead provider costs callers microseconds instead of timeouts, and the
// provider is not hammered while it recovers.
//
// What callers do with an open breaker is their fallback: the monolith
// cancels the order at once (the customer is told payment is unavailable);
// the EDA's payment service leaves the event unconsumed and retries it with
// backoff, so the order waits in Kafka until the provider is back.
type Guarded struct {
	c     *Client
	cb    *gobreaker.CircuitBreaker[Charge]
	state prometheus.Gauge
}

// Breaker settings: trip after 5 failures in a row, or half of at least 10
// calls within 10 s; probe with one call after 2 s open.
const (
	breakerConsecutive = 5
	breakerMinCalls    = 10
	breakerWindow      = 10 * time.Second
	breakerOpenFor     = 2 * time.Second
)

// NewGuarded wraps c in a breaker named name.
func NewGuarded(c *Client, name string) *Guarded {
	g := &Guarded{c: c, state: breakerGauge(name)}
	g.cb = gobreaker.NewCircuitBreaker[Charge](gobreaker.Settings{
		Name:        name,
		MaxRequests: 1,
		Interval:    breakerWindow,
		Timeout:     breakerOpenFor,
		ReadyToTrip: func(n gobreaker.Counts) bool {
			return n.ConsecutiveFailures >= breakerConsecutive ||
				(n.Requests >= breakerMinCalls && n.TotalFailures*2 >= n.Requests)
		},
		// A decline or a refund of nothing is the provider answering:
		// only an unknown outcome counts against it.
		IsSuccessful:  func(err error) bool { return !errors.Is(err, ErrUnavailable) },
		OnStateChange: func(_ string, _, to gobreaker.State) { g.state.Set(float64(to)) },
	})
	return g
}

func breakerGauge(name string) prometheus.Gauge {
	return prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "circuit_breaker_state",
		Help:        "State of a circuit breaker: 0 closed, 1 half-open, 2 open.",
		ConstLabels: prometheus.Labels{"breaker": name},
	})
}

// Collector exports the breaker's state.
func (g *Guarded) Collector() prometheus.Collector { return g.state }

// BreakerMetrics returns a fresh copy of the breaker's collector, for tools
// that check dashboards and rules.
func BreakerMetrics() []prometheus.Collector { return []prometheus.Collector{breakerGauge("psp")} }

// Charge pays an order through the breaker. An open breaker answers with an
// error wrapping ErrUnavailable and ErrBreakerOpen.
func (g *Guarded) Charge(ctx context.Context, orderID string, amount int64) (Charge, error) {
	return g.do(func() (Charge, error) { return g.c.Charge(ctx, orderID, amount) })
}

// Refund refunds an order through the breaker.
func (g *Guarded) Refund(ctx context.Context, orderID string) (Charge, error) {
	return g.do(func() (Charge, error) { return g.c.Refund(ctx, orderID) })
}

// ErrBreakerOpen is wrapped when the breaker refused the call.
var ErrBreakerOpen = errors.New("circuit breaker open")

func (g *Guarded) do(call func() (Charge, error)) (Charge, error) {
	ch, err := g.cb.Execute(call)
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return ch, fmt.Errorf("%w: %w", ErrUnavailable, ErrBreakerOpen)
	}
	return ch, err
}

// State is the breaker's state, for tests and logs.
func (g *Guarded) State() string { return g.cb.State().String() }
