package eda

import (
	"testing"

	gometrics "github.com/rcrowley/go-metrics"
)

func TestDiscardMetrics(t *testing.T) {
	r := SaramaConfig("test", nil).MetricRegistry
	// The calls sarama makes for its meters, counters and histograms.
	if m := gometrics.GetOrRegisterMeter("request-rate", r); m != (gometrics.NilMeter{}) {
		t.Errorf("meter: got %T, want a no-op meter", m)
	}
	if c := gometrics.GetOrRegisterCounter("requests-in-flight", r); c != (gometrics.NilCounter{}) {
		t.Errorf("counter: got %T, want a no-op counter", c)
	}
	h := r.GetOrRegister("request-latency-in-ms", func() gometrics.Histogram {
		return gometrics.NewHistogram(gometrics.NewUniformSample(10))
	})
	if _, ok := h.(gometrics.NilHistogram); !ok {
		t.Errorf("histogram: got %T, want a no-op histogram", h)
	}
	// A kind sarama does not use today is still built, so a type
	// assertion on it holds.
	if g, ok := r.GetOrRegister("gauge", gometrics.NewGauge).(gometrics.Gauge); !ok || g == nil {
		t.Errorf("gauge: got %T, want a gauge", g)
	}
	if r.Get("request-rate") != nil {
		t.Error("the registry kept a metric")
	}
}
