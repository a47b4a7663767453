package run

import (
	"testing"
	"time"

	"github.com/edatestbed/testbed/internal/loadgen"
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
	accept, completion := windowLatencies(r, done)
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
