package run

import (
	"context"
	"log/slog"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/edatestbed/testbed/internal/loadgen"
	"github.com/edatestbed/testbed/system/component"
)

// testbedCollector exports the testbed's own view of the run, for the
// dashboards: what was offered to each architecture, what it accepted and
// finished, and which faults are active.
type testbedCollector struct {
	archs []*archRun
	tl    *timeline
	lat   *latencies

	offered, accepted, failed, dropped, inflight, completed, fault *prometheus.Desc
}

func newTestbedCollector(archs []*archRun, tl *timeline, lat *latencies) *testbedCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &testbedCollector{
		archs: archs, tl: tl, lat: lat,
		offered:   d("testbed_offered_total", "Orders the load generator scheduled, warm-up included.", "arch"),
		accepted:  d("testbed_accepted_total", "Orders the architecture accepted.", "arch"),
		failed:    d("testbed_failed_total", "Orders refused, timed out, failed or dropped.", "arch"),
		dropped:   d("testbed_dropped_total", "Orders not sent because max_in_flight was reached.", "arch"),
		inflight:  d("testbed_in_flight", "Requests sent and not yet answered.", "arch"),
		completed: d("testbed_completed_total", "Orders the testbed saw reach a terminal state.", "arch"),
		fault:     d("testbed_fault_active", "1 while a fault is injected into an architecture.", "fault", "target", "arch"),
	}
}

func (c *testbedCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.offered, c.accepted, c.failed, c.dropped, c.inflight, c.completed, c.fault} {
		ch <- d
	}
	c.lat.accept.Describe(ch)
	c.lat.completion.Describe(ch)
}

func (c *testbedCollector) Collect(ch chan<- prometheus.Metric) {
	c.lat.accept.Collect(ch)
	c.lat.completion.Collect(ch)
	for _, a := range c.archs {
		if a.attacker == nil {
			continue
		}
		s := a.attacker.Snapshot()
		arch := a.plan.arch
		ch <- prometheus.MustNewConstMetric(c.offered, prometheus.CounterValue, float64(s.Offered), arch)
		ch <- prometheus.MustNewConstMetric(c.accepted, prometheus.CounterValue, float64(s.Accepted), arch)
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.CounterValue, float64(s.Failed), arch)
		ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(s.Dropped), arch)
		ch <- prometheus.MustNewConstMetric(c.inflight, prometheus.GaugeValue, float64(s.InFlight), arch)
		completed := float64(a.completed())
		if a.plan.synchronous {
			completed = float64(s.Accepted)
		}
		ch <- prometheus.MustNewConstMetric(c.completed, prometheus.CounterValue, completed, arch)
	}
	for _, e := range c.tl.entries {
		for _, h := range e.hits {
			if h.fault == nil {
				continue
			}
			h.mu.Lock()
			on := !h.injected.IsZero() && h.healed.IsZero()
			h.mu.Unlock()
			v := 0.0
			if on {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.fault, prometheus.GaugeValue, v, e.fault.Type, e.fault.Target, h.arch)
		}
	}
}

// Metrics returns the testbed's own collector, with nothing to report,
// for tools that check dashboards and rules against its series.
func Metrics() prometheus.Collector { return newTestbedCollector(nil, &timeline{}, newLatencies()) }

// latencies are the testbed's live view of each order's latency, counted
// from the moment the load generator was due to send it, as the report
// counts: histograms per architecture that Prometheus scrapes during the
// run. The report's own figures come from the full record, not from these
// buckets.
type latencies struct {
	accept, completion *prometheus.HistogramVec
}

func newLatencies() *latencies {
	// 1 ms to 65 s: an accept on an idle system to an order that waited out
	// a fault in a backlog.
	buckets := prometheus.ExponentialBuckets(0.001, 2, 17)
	return &latencies{
		accept: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "testbed_accept_latency_seconds", Buckets: buckets,
			Help: "From an order's scheduled send time to its accepting answer, as the load generator saw it (warm-up included).",
		}, []string{"arch"}),
		completion: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "testbed_completion_latency_seconds", Buckets: buckets,
			Help: "From an order's scheduled send time to its terminal state: the answer of a synchronous architecture, the terminal event of an event-driven one.",
		}, []string{"arch"}),
	}
}

// observer is the load generator's Observe hook for a: accepted orders
// go into the accept histogram and, once their terminal state is known,
// into a.completions; an event-driven architecture's live view notes every
// record (answered).
func (l *latencies) observer(a *archRun) func(loadgen.Record) {
	accept := l.accept.WithLabelValues(a.plan.arch)
	return func(r loadgen.Record) {
		if r.Kind == loadgen.Accepted {
			accept.Observe(r.Latency.Seconds())
			if a.plan.synchronous {
				a.completions.Observe(r.Latency.Seconds())
			}
		}
		if !a.plan.synchronous {
			a.answered(r)
		}
	}
}

// serveMetrics serves the testbed's registry on a free loopback port until
// ctx ends and returns its address.
func serveMetrics(ctx context.Context, log *slog.Logger, c prometheus.Collector) (string, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	ln.Close()
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	go func() { _ = component.Serve(ctx, log, addr, mux) }()
	return addr, nil
}
