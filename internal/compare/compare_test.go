package compare

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestBothGeneratorsAreMeasured(t *testing.T) {
	if testing.Short() {
		t.Skip("searches two load generators' ceilings; skipped with -short")
	}
	var progress strings.Builder
	r, err := Run(context.Background(), 200*time.Millisecond, &progress)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"  loadgen 1000 req/s: ", "  vegeta  1000 req/s: ", "  p99 round 7 of 7 at "} {
		if !strings.Contains(progress.String(), want) {
			t.Errorf("progress has no line with %q:\n%s", want, progress.String())
		}
	}
	if r.Ours <= 0 || r.Vegeta <= 0 || r.Rate <= 0 || r.OursP99 <= 0 || r.VegetaP99 <= 0 || r.VegetaP99Sched <= 0 {
		t.Fatalf("incomplete measurement: %+v", r)
	}
	if r.Rate > r.Ours || r.Rate > r.Vegeta {
		t.Fatalf("common rate %.0f above a generator's ceiling: %+v", r.Rate, r)
	}
}

func TestTurnsAlternate(t *testing.T) {
	// Search 0 probes three times, search 1 five times: they alternate
	// while both run, then search 1 goes on alone.
	tu := newTurns()
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for i, n := range []int{3, 5} {
		wg.Go(func() {
			defer tu.finish(i)
			for range n {
				_, _ = tu.take(i, func() (bool, error) {
					mu.Lock()
					order = append(order, i)
					mu.Unlock()
					return true, nil
				})
			}
		})
	}
	wg.Wait()
	if want := []int{0, 1, 0, 1, 0, 1, 1, 1}; !slices.Equal(order, want) {
		t.Errorf("probes ran in order %v, want %v", order, want)
	}
}

func TestMedian(t *testing.T) {
	for _, tt := range []struct {
		in   []time.Duration
		want time.Duration
	}{
		{[]time.Duration{3, 1, 2}, 2},
		{[]time.Duration{5}, 5},
		{[]time.Duration{9, 1, 4, 7}, 7},
	} {
		t.Run(fmt.Sprint(tt.in), func(t *testing.T) {
			in := slices.Clone(tt.in)
			if got := median(in); got != tt.want {
				t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
			}
			if !slices.Equal(in, tt.in) {
				t.Errorf("median reordered its argument: %v", in)
			}
		})
	}
}

func TestHeldTicks(t *testing.T) {
	// Ticks every 10 ms, at most 2 outstanding: tick 2 (due at 30 ms)
	// finds the first two requests outstanding, and so does tick 3 (due at
	// 40 ms), the third having ended just then. Times are out of order, as
	// vegeta delivers its results.
	ms := time.Millisecond
	starts := []time.Duration{35 * ms, 10 * ms, 40 * ms, 20 * ms}
	ends := []time.Duration{40 * ms, 100 * ms, 45 * ms, 100 * ms}
	if got := heldTicks(starts, ends, 10*ms, 2); got != 2 {
		t.Errorf("held %d ticks, want 2", got)
	}
	if got := heldTicks(starts, ends, 10*ms, 3); got != 0 {
		t.Errorf("held %d ticks with room for 3, want 0", got)
	}
}
