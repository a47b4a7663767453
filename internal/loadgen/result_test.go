package loadgen

import (
	"maps"
	"slices"
	"testing"
	"time"
)

var epoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

const ms = time.Millisecond

func TestSeconds(t *testing.T) {
	res := &Result{Start: epoch, Rate: 10, Duration: 1500 * ms, Records: []Record{
		{Intended: -100 * ms, Kind: Rejected, Warmup: true},
		{Intended: 0, Kind: Accepted},
		{Intended: 100 * ms, Kind: Rejected},
		{Intended: 200 * ms, Kind: Timeout},
		{Intended: 999 * ms, Kind: Accepted},
		{Intended: 1000 * ms, Kind: Error},
		{Intended: 1100 * ms, Kind: Dropped},
		{Intended: 1400 * ms, Kind: Accepted},
	}}
	want := []Bucket{
		{T: 0, Offered: 4, Accepted: 2, Failed: 2, Rejected: 1, Timeout: 1},
		{T: time.Second, Offered: 3, Accepted: 1, Failed: 2, Error: 1, Dropped: 1},
	}
	if got := res.Seconds(); !slices.Equal(got, want) {
		t.Errorf("seconds =\n%+v\nwant\n%+v", got, want)
	}
}

func TestAcceptLatency(t *testing.T) {
	res := &Result{Start: epoch, Rate: 10, Duration: time.Second, Records: []Record{
		{Intended: -100 * ms, Latency: time.Second, Kind: Accepted, Warmup: true},
		{Intended: 0, Latency: 2 * ms, Kind: Accepted},
		{Intended: 100 * ms, Latency: 4 * ms, Kind: Accepted},
		{Intended: 200 * ms, Latency: 10 * time.Minute, Kind: Accepted}, // beyond range: clamped
		{Intended: 300 * ms, Latency: 3 * time.Second, Kind: Rejected},
		{Intended: 400 * ms, Latency: 0, Kind: Accepted}, // below range: clamped
	}}
	h := res.AcceptLatency()
	if h.TotalCount() != 4 {
		t.Errorf("count %d, want 4: warm-up and rejected left out", h.TotalCount())
	}
	if !h.ValuesAreEquivalent(h.Max(), histMax) || h.Min() != histMin {
		t.Errorf("min %d max %d µs, want clamped to %d and %d", h.Min(), h.Max(), histMin, histMax)
	}
	if p := h.ValueAtQuantile(50); !h.ValuesAreEquivalent(p, 2000) {
		t.Errorf("median %d µs, want 2000", p)
	}
}

func TestComplete(t *testing.T) {
	res := &Result{Start: epoch, Rate: 10, Duration: 2 * time.Second, Records: []Record{
		{ID: "warm", Intended: -500 * ms, Kind: Accepted, Warmup: true},
		{ID: "a", Intended: 0, Kind: Accepted},
		{ID: "b", Intended: 200 * ms, Kind: Accepted},
		{ID: "c", Intended: 900 * ms, Kind: Accepted},
		{ID: "d", Intended: 1100 * ms, Latency: 40 * ms, Kind: Accepted, Terminal: "shipped"},
		{ID: "e", Intended: 1500 * ms, Latency: 5 * time.Second, Kind: Timeout},
		{ID: "f", Intended: 1600 * ms, Kind: Dropped},
		{ID: "g", Intended: 1700 * ms, Kind: Rejected},
	}}
	at := func(d time.Duration, state string) Completion { return Completion{At: epoch.Add(d), State: state} }
	done := map[string]Completion{
		"warm":    at(0, "shipped"),           // warm-up: left out
		"a":       at(300*ms, "shipped"),      // within the deadline
		"b":       at(3200*ms, "cancelled"),   // 3 s after it was due: late
		"d":       at(time.Hour, "cancelled"), // the answer already said shipped
		"e":       at(3500*ms, "shipped"),     // timed out on the client, completed anyway
		"f":       at(1700*ms, "shipped"),     // never sent: left out
		"unknown": at(1800*ms, "shipped"),     // no such request: ignored
	}

	tests := []struct {
		name       string
		deadline   time.Duration
		inDeadline int64
		seconds    []CompletionBucket
	}{
		{"1s deadline", time.Second, 2, []CompletionBucket{
			{T: 0, Completed: 2, CompletedInDeadline: 1},
			{T: time.Second, Completed: 2, CompletedInDeadline: 1},
		}},
		{"no deadline", 0, 4, []CompletionBucket{
			{T: 0, Completed: 2, CompletedInDeadline: 2},
			{T: time.Second, Completed: 2, CompletedInDeadline: 2},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := res.Complete(done, tt.deadline)
			if c.Completed != 4 || c.InDeadline != tt.inDeadline || c.Unfinished != 1 {
				t.Errorf("completed %d in deadline %d unfinished %d, want 4 %d 1", c.Completed, c.InDeadline, c.Unfinished, tt.inDeadline)
			}
			if want := map[string]int64{"shipped": 3, "cancelled": 1}; !maps.Equal(c.States, want) {
				t.Errorf("states %v, want %v", c.States, want)
			}
			if !slices.Equal(c.Seconds, tt.seconds) {
				t.Errorf("seconds %+v, want %+v", c.Seconds, tt.seconds)
			}
			if want := epoch.Add(3500 * ms); !c.Last.Equal(want) {
				t.Errorf("last %v, want %v", c.Last, want)
			}
			h := c.Latency
			if h.TotalCount() != 4 || !h.ValuesAreEquivalent(h.Max(), 3_000_000) || !h.ValuesAreEquivalent(h.Min(), 40_000) {
				t.Errorf("latency count %d min %d max %d µs, want 4 values from 40000 to 3000000", h.TotalCount(), h.Min(), h.Max())
			}
		})
	}
}

func TestCompleteEmpty(t *testing.T) {
	res := &Result{Start: epoch, Rate: 10, Duration: time.Second, Records: []Record{{ID: "a", Kind: Accepted}}}
	c := res.Complete(nil, time.Second)
	if c.Completed != 0 || c.Unfinished != 1 || !c.Last.IsZero() || len(c.Seconds) != 1 || c.Latency.TotalCount() != 0 {
		t.Errorf("completions %+v, want one unfinished order and nothing else", c)
	}
}

func TestCompleteFailed(t *testing.T) {
	start := time.Unix(100, 0)
	r := &Result{Start: start, Duration: time.Second, Records: []Record{
		{ID: "ok", Intended: 0, Kind: Accepted},
		{ID: "bad", Intended: 0, Kind: Accepted},
	}}
	c := r.Complete(map[string]Completion{
		"ok":  {At: start.Add(time.Millisecond), State: "shipped"},
		"bad": {At: start.Add(2 * time.Millisecond), State: "cancelled", Failed: true},
	}, time.Second)
	if c.Completed != 1 || c.InDeadline != 1 || c.Failed != 1 || c.Unfinished != 0 {
		t.Fatalf("completed %d, in deadline %d, failed %d, unfinished %d; want 1, 1, 1, 0", c.Completed, c.InDeadline, c.Failed, c.Unfinished)
	}
	if c.Seconds[0].CompletedInDeadline != 1 || c.Latency.TotalCount() != 1 || c.States["cancelled"] != 1 {
		t.Fatalf("a failed completion counted as a success: %+v", c)
	}
	if !c.Last.Equal(start.Add(2 * time.Millisecond)) {
		t.Fatalf("Last = %v, want the failed end too", c.Last)
	}
}
