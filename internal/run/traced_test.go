package run

import (
	"fmt"
	"testing"
	"time"

	"github.com/edatestbed/testbed/internal/loadgen"
)

// The picker keeps the five slowest completed orders, slowest first, and
// the first five that failed or never finished, from records read one at a
// time.
func TestPicker(t *testing.T) {
	start := time.Unix(1000, 0)
	r := &loadgen.Result{Start: start, Duration: time.Minute}
	done := map[string]loadgen.Completion{}
	var recs []loadgen.Record
	add := func(rec loadgen.Record) {
		rec.Seq = uint64(len(recs))
		recs = append(recs, rec)
	}
	ms := time.Millisecond
	add(loadgen.Record{ID: "warm", Warmup: true, Kind: loadgen.Accepted, Terminal: "shipped", Latency: time.Hour})
	for i, d := range []time.Duration{5, 9, 1, 9, 7, 3, 8, 2} {
		id := fmt.Sprintf("s%d", i)
		if i%2 == 0 { // completed by a terminal event
			add(loadgen.Record{ID: id, Intended: time.Duration(i) * ms, Kind: loadgen.Accepted})
			done[id] = loadgen.Completion{At: start.Add(time.Duration(i)*ms + d*ms)}
		} else { // by its answer
			add(loadgen.Record{ID: id, Kind: loadgen.Accepted, Terminal: "shipped", Latency: d * ms})
		}
	}
	add(loadgen.Record{ID: "f0", Kind: loadgen.Timeout})
	add(loadgen.Record{ID: "dropped", Kind: loadgen.Dropped})
	add(loadgen.Record{ID: "f1", Kind: loadgen.Accepted}) // never finished
	for i := 2; i < 8; i++ {
		add(loadgen.Record{ID: fmt.Sprintf("f%d", i), Kind: loadgen.Error})
	}
	p := &picker{r: r}
	for i := range recs {
		p.add(&recs[i], done)
	}
	want := []tracedCand{
		{"s1", "slowest", 9 * ms}, {"s3", "slowest", 9 * ms}, {"s6", "slowest", 8 * ms}, {"s4", "slowest", 7 * ms}, {"s0", "slowest", 5 * ms},
		{"f0", "failed: timeout", 0}, {"f1", "unfinished", 0}, {"f2", "failed: error", 0}, {"f3", "failed: error", 0}, {"f4", "failed: error", 0},
	}
	got := p.picked()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("picked %v\nwant   %v", got, want)
	}
}
