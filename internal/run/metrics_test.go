package run

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edatestbed/testbed/internal/loadgen"
	"github.com/edatestbed/testbed/system/eda"
)

// The live completion histogram pairs an order's send time with its
// terminal event whichever arrives first, counts each order once, and
// leaves the answers that were not acceptances out.
func TestLiveLatencies(t *testing.T) {
	live := newLatencies()
	start := time.Now()
	a := &archRun{plan: plan{arch: "eda"}, done: map[string]loadgen.Completion{}, completions: live.completion.WithLabelValues("eda"), measuredStart: start}
	observe := live.observer(a)

	observe(loadgen.Record{ID: "o-1", Kind: loadgen.Accepted, Intended: time.Second, Latency: 10 * time.Millisecond})
	a.complete(eda.Terminal{OrderID: "o-1", At: start.Add(1500 * time.Millisecond)})
	// The terminal event of o-2 comes before the answer that accepted it.
	a.complete(eda.Terminal{OrderID: "o-2", At: start.Add(4 * time.Second)})
	observe(loadgen.Record{ID: "o-2", Kind: loadgen.Accepted, Intended: 2 * time.Second, Latency: 30 * time.Millisecond})
	// A duplicate terminal event and a refused order add nothing.
	a.complete(eda.Terminal{OrderID: "o-1", At: start.Add(9 * time.Second)})
	observe(loadgen.Record{ID: "o-3", Kind: loadgen.Rejected, Latency: time.Millisecond})

	count, sum := histogram(t, live.accept)
	if count != 2 || sum < 0.039 || sum > 0.041 {
		t.Errorf("accept: %d observations summing to %.3f s, want 2 summing to 0.040", count, sum)
	}
	count, sum = histogram(t, live.completion)
	if count != 2 || sum < 2.499 || sum > 2.501 {
		t.Errorf("completion: %d observations summing to %.3f s, want 2 summing to 2.5 (0.5 + 2)", count, sum)
	}
	if len(a.sentAt) != 0 || len(a.endedAt) != 0 {
		t.Errorf("%d send times and %d terminal times left unpaired, want none", len(a.sentAt), len(a.endedAt))
	}
}

func histogram(t *testing.T, h *prometheus.HistogramVec) (uint64, float64) {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(h)
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || len(mfs[0].Metric) != 1 {
		t.Fatalf("gather: %v, %d families", err, len(mfs))
	}
	m := mfs[0].Metric[0].Histogram
	return m.GetSampleCount(), m.GetSampleSum()
}
