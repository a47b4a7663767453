package loadgen

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// benchResult is a minute at 10,000 requests/s with latencies spread over
// four decades, as a long run leaves it for its report.
func benchResult() *Result {
	const rate, secs = 10000, 60
	rng := rand.New(rand.NewPCG(1, 2))
	res := &Result{Start: epoch, Rate: rate, Duration: secs * time.Second, Records: make([]Record, rate*secs)}
	for i := range res.Records {
		res.Records[i] = Record{
			Seq:      uint64(i),
			ID:       strconv.Itoa(i),
			Intended: time.Duration(i) * time.Second / rate,
			Latency:  time.Duration(100*(1+rng.ExpFloat64()*rng.ExpFloat64()*50)) * time.Microsecond,
			Status:   202,
			Kind:     Accepted,
		}
	}
	return res
}

// BenchmarkAcceptLatency builds the accept-latency histogram of a run from
// its Records. Latencies are not recorded into histograms on the send path
// (a worker stores one Duration in the Record the pacer set aside for the
// request), so this, after the run, is the only histogram work there is.
func BenchmarkAcceptLatency(b *testing.B) {
	res := benchResult()
	b.ReportAllocs()
	for b.Loop() {
		if h := res.AcceptLatency(); h.TotalCount() != int64(len(res.Records)) {
			b.Fatalf("histogram has %d values, want %d", h.TotalCount(), len(res.Records))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(res.Records)), "ns/record")
}

// BenchmarkComplete joins the same run with a terminal state for every
// order, as a report does for the end-to-end latency.
func BenchmarkComplete(b *testing.B) {
	res := benchResult()
	done := make(map[string]Completion, len(res.Records))
	for _, rec := range res.Records {
		done[rec.ID] = Completion{At: res.Start.Add(rec.Intended + 3*rec.Latency), State: "shipped"}
	}
	b.ReportAllocs()
	for b.Loop() {
		if c := res.Complete(done, time.Second); c.Completed != int64(len(res.Records)) {
			b.Fatalf("completed %d, want %d", c.Completed, len(res.Records))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(res.Records)), "ns/record")
}
