package run

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edatestbed/testbed/internal/loadgen"
	"github.com/edatestbed/testbed/system/domain"
	"github.com/edatestbed/testbed/system/eda"
)

// The live completion histogram pairs an order's send time with its
// terminal event whichever arrives first, counts each order once, and
// leaves the answers that were not acceptances out; the live counts say
// how many orders finished and how many accepted ones still wait.
func TestLiveLatencies(t *testing.T) {
	live := newLatencies()
	start := time.Now()
	a := &archRun{plan: plan{arch: "eda"}, completions: live.completion.WithLabelValues("eda"), measuredStart: start,
		seqOf: orderSeq("o-"), intended: func(seq uint64) time.Duration { return time.Duration(seq) * time.Second }}
	observe := live.observer(a)

	observe(loadgen.Record{Seq: 1, ID: "o-1", Kind: loadgen.Accepted, Intended: time.Second, Latency: 10 * time.Millisecond})
	a.complete(eda.Terminal{OrderID: "o-1", At: start.Add(1500 * time.Millisecond)})
	// The terminal event of o-2 comes before the answer that accepted it.
	a.complete(eda.Terminal{OrderID: "o-2", At: start.Add(4 * time.Second)})
	observe(loadgen.Record{Seq: 2, ID: "o-2", Kind: loadgen.Accepted, Intended: 2 * time.Second, Latency: 30 * time.Millisecond})
	// A duplicate terminal event and a refused order add nothing.
	a.complete(eda.Terminal{OrderID: "o-1", At: start.Add(9 * time.Second)})
	observe(loadgen.Record{Seq: 3, ID: "o-3", Kind: loadgen.Rejected, Latency: time.Millisecond})
	// An order whose request timed out finished, but has no latency.
	a.complete(eda.Terminal{OrderID: "o-4", At: start.Add(5 * time.Second)})
	observe(loadgen.Record{Seq: 4, ID: "o-4", Kind: loadgen.Timeout, Intended: 4 * time.Second, Latency: 2 * time.Second})
	// An accepted order still on its way, and an event of no order of
	// this load.
	observe(loadgen.Record{Seq: 5, ID: "o-5", Kind: loadgen.Accepted, Intended: 5 * time.Second, Latency: time.Millisecond})
	a.complete(eda.Terminal{OrderID: "cap01-00000001", At: start.Add(6 * time.Second)})

	count, sum := histogram(t, live.accept)
	if count != 3 || sum < 0.040 || sum > 0.042 {
		t.Errorf("accept: %d observations summing to %.3f s, want 3 summing to 0.041", count, sum)
	}
	count, sum = histogram(t, live.completion)
	if count != 2 || sum < 2.499 || sum > 2.501 {
		t.Errorf("completion: %d observations summing to %.3f s, want 2 summing to 2.5 (0.5 + 2)", count, sum)
	}
	if a.completed() != 3 || a.unfinished() != 1 || len(a.early) != 0 {
		t.Errorf("%d orders finished, %d waiting, %d early events kept; want 3 (o-1, o-2, o-4), 1 (o-5) and none", a.completed(), a.unfinished(), len(a.early))
	}
}

// orderSeq inverts the ids the load gives its orders.
func TestOrderSeq(t *testing.T) {
	cat, err := domain.NewCatalog(domain.CatalogConfig{Seed: 1, SKUs: 10, StockMin: 1, StockMax: 1, ItemsMax: 1, QuantityMax: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{0, 7, 99_999_999, 100_000_000, 1 << 40} {
		id := orders(cat)(seq).ID
		if got, ok := orderSeq(orderPrefix)(id); !ok || got != seq {
			t.Errorf("orderSeq(%q) = %d, %v; want %d", id, got, ok, seq)
		}
		if _, ok := orderSeq("cap01-")(id); ok {
			t.Errorf("orderSeq of another prefix took %q", id)
		}
	}
	for _, id := range []string{"", "o-", "o-x1", "o--1", "p-1"} {
		if seq, ok := orderSeq(orderPrefix)(id); ok {
			t.Errorf("orderSeq(%q) = %d, want no order of the load", id, seq)
		}
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
