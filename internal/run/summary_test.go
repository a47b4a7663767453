package run

import (
	"slices"
	"testing"
	"time"

	"github.com/edatestbed/testbed/internal/loadgen"
	"github.com/edatestbed/testbed/internal/report"
)

func TestQuantileMs(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	tests := []struct {
		in   []time.Duration
		q    float64
		want float64
	}{
		{nil, 0.5, 0},
		{ms(7), 0.99, 7},
		{ms(4, 1, 3, 2), 0.5, 2},
		{ms(4, 1, 3, 2), 0.99, 4},
		{ms(10, 20, 30, 40, 50, 60, 70, 80, 90, 100), 0.9, 90},
	}
	for _, tt := range tests {
		if got := quantileMs(tt.in, tt.q); got != tt.want {
			t.Errorf("quantileMs(%v, %v) = %v, want %v", tt.in, tt.q, got, tt.want)
		}
	}
}

func TestWindowLatencies(t *testing.T) {
	start := time.Unix(1000, 0)
	r := &loadgen.Result{Start: start, Duration: 2 * time.Second, Records: []loadgen.Record{
		{ID: "w", Intended: -time.Second, Latency: time.Millisecond, Kind: loadgen.Accepted, Warmup: true},
		{ID: "a", Intended: 100 * time.Millisecond, Latency: 2 * time.Millisecond, Kind: loadgen.Accepted},
		{ID: "b", Intended: 1100 * time.Millisecond, Latency: 3 * time.Millisecond, Kind: loadgen.Accepted},
		{ID: "c", Intended: 1200 * time.Millisecond, Latency: 4 * time.Millisecond, Kind: loadgen.Accepted, Terminal: "shipped"},
		{ID: "d", Intended: 1300 * time.Millisecond, Latency: time.Second, Kind: loadgen.Timeout},
	}}
	done := map[string]loadgen.Completion{
		"a": {At: start.Add(600 * time.Millisecond)},
		"d": {At: start.Add(2 * time.Second)},
	}
	// Records go in one by one, in Seq order, as summarize reads them back.
	var accept, completion [][]time.Duration
	ws := &windows{r: r, n: 2, done: func(w int, a, c []time.Duration) {
		if w != len(accept) {
			t.Fatalf("window %d passed on after %d windows, want in order", w, len(accept))
		}
		accept, completion = append(accept, slices.Clone(a)), append(completion, slices.Clone(c))
	}}
	for i := range r.Records {
		ws.add(&r.Records[i], done)
	}
	ws.close()
	if len(accept) != 2 || len(accept[0]) != 1 || len(accept[1]) != 2 {
		t.Fatalf("accept windows = %v; want [a] [b c], warm-up and failures left out", accept)
	}
	if len(completion[0]) != 1 || completion[0][0] != 500*time.Millisecond {
		t.Fatalf("completion of a = %v, want 500ms from its intended time", completion[0])
	}
	if len(completion[1]) != 1 || completion[1][0] != 4*time.Millisecond {
		t.Fatalf("window 1 completions = %v; want only c, by its synchronous answer", completion[1])
	}
}

func TestBacklog(t *testing.T) {
	start := time.Unix(1000, 0)
	r := &loadgen.Result{Start: start, Duration: 3 * time.Second, Records: []loadgen.Record{
		// answered at 0.1 s, done at 2.5 s: in the samples at 1 s and 2 s
		{ID: "a", Intended: 0, Latency: 100 * time.Millisecond, Kind: loadgen.Accepted},
		// answered at 1.0 s, never done: in every sample from 1 s on
		{ID: "b", Intended: time.Second, Kind: loadgen.Accepted},
		// synchronous answers and failures never wait
		{ID: "c", Intended: 0, Kind: loadgen.Accepted, Terminal: "shipped"},
		{ID: "d", Intended: 0, Kind: loadgen.Rejected},
	}}
	done := map[string]loadgen.Completion{"a": {At: start.Add(2500 * time.Millisecond)}}
	b := &backlog{r: r}
	for i := range r.Records {
		b.add(&r.Records[i], done)
	}
	got := b.points(start.Add(2500 * time.Millisecond))
	want := []int64{0, 2, 2, 1}
	if len(got) != len(want) {
		t.Fatalf("backlog = %v, want %d samples", got, len(want))
	}
	for i, p := range got {
		if p.T != i || p.Orders != want[i] {
			t.Fatalf("backlog = %v, want orders %v", got, want)
		}
	}
}

func TestRecoveryAfter(t *testing.T) {
	m := time.Unix(1000, 0)
	slo := report.SLO{SuccessRatio: 0.9}
	sec := func(ok bool) report.Second {
		if ok {
			return report.Second{Offered: 10, Accepted: 10, CompletedInDeadline: 10}
		}
		return report.Second{Offered: 10, Accepted: 10, CompletedInDeadline: 2}
	}
	// down 0-4, one lucky window at 5, down 6, up from 7 on
	var secs []report.Second
	for i := range 12 {
		secs = append(secs, sec(i == 5 || i >= 7))
	}
	a := report.Arch{Seconds: secs}
	if got := recoveryAfter(a, slo, m.Add(3500*time.Millisecond), m); got != 3500*time.Millisecond {
		t.Fatalf("recovery = %v, want 3.5s (heal at 3.5 s, three good windows from 7 s)", got)
	}
	if got := recoveryAfter(a, slo, m.Add(10*time.Second), m); got != -1 {
		t.Fatalf("recovery with too few windows left = %v, want -1", got)
	}
	if got := recoveryAfter(a, slo, m.Add(7200*time.Millisecond), m); got != 0 {
		t.Fatalf("recovery when already up = %v, want 0", got)
	}
}
