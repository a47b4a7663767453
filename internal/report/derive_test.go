package report

import (
	"math"
	"testing"
	"time"
)

func TestDerive(t *testing.T) {
	slo := SLO{SuccessRatio: 0.99, CompletionDeadline: 5 * time.Second}
	up := Second{Offered: 100, Accepted: 100, Completed: 100, CompletedInDeadline: 100}
	tests := []struct {
		name     string
		seconds  []Second
		accepted int64
		measured time.Duration

		wantWindows, wantAcceptDown, wantCompletionDown int
		wantAcceptPct, wantCompletionPct                float64
		wantAcceptedPerSec                              float64
	}{
		{
			name:        "all up",
			seconds:     []Second{up, up, up, up},
			wantWindows: 4,
		},
		{
			name: "exactly at the ratio is up",
			seconds: []Second{
				{Offered: 100, Accepted: 99, CompletedInDeadline: 99},
				up,
			},
			wantWindows: 2,
		},
		{
			name: "one below the ratio is down",
			seconds: []Second{
				{Offered: 100, Accepted: 98, CompletedInDeadline: 98},
				up, up, up,
			},
			wantWindows: 4, wantAcceptDown: 1, wantCompletionDown: 1,
			wantAcceptPct: 25, wantCompletionPct: 25,
		},
		{
			name: "accepted but late is completion down only",
			seconds: []Second{
				{Offered: 100, Accepted: 100, Completed: 100, CompletedInDeadline: 40},
				{Offered: 100, Accepted: 100, Completed: 100, CompletedInDeadline: 0},
				up, up, up,
			},
			wantWindows: 5, wantCompletionDown: 2, wantCompletionPct: 40,
		},
		{
			name: "nothing offered is not down",
			seconds: []Second{
				{},
				{FaultActive: true},
				up,
			},
			wantWindows: 3,
		},
		{
			name:    "no windows",
			seconds: nil,
		},
		{
			name:     "throughput over the measured period",
			seconds:  []Second{up, up},
			accepted: 150, measured: 2 * time.Second,
			wantWindows: 2, wantAcceptedPerSec: 75,
		},
		{
			name:        "no measured period gives no throughput",
			seconds:     []Second{up},
			accepted:    150,
			wantWindows: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Arch{Seconds: tt.seconds, Accepted: tt.accepted, Completed: tt.accepted}
			Derive(&a, slo, tt.measured)
			Derive(&a, slo, tt.measured) // must overwrite, not accumulate
			if a.Windows != tt.wantWindows || a.AcceptDownWindows != tt.wantAcceptDown || a.CompletionDownWindows != tt.wantCompletionDown {
				t.Errorf("windows %d, accept down %d, completion down %d; want %d, %d, %d",
					a.Windows, a.AcceptDownWindows, a.CompletionDownWindows, tt.wantWindows, tt.wantAcceptDown, tt.wantCompletionDown)
			}
			if !near(a.AcceptDowntimePct, tt.wantAcceptPct) || !near(a.CompletionDowntimePct, tt.wantCompletionPct) {
				t.Errorf("downtime %v%% accept, %v%% completion; want %v%%, %v%%",
					a.AcceptDowntimePct, a.CompletionDowntimePct, tt.wantAcceptPct, tt.wantCompletionPct)
			}
			if !near(a.AcceptedPerSec, tt.wantAcceptedPerSec) || !near(a.CompletedPerSec, tt.wantAcceptedPerSec) {
				t.Errorf("throughput %v accepted/s, %v completed/s; want %v", a.AcceptedPerSec, a.CompletedPerSec, tt.wantAcceptedPerSec)
			}
		})
	}
}

// TestFixtureIsDerived keeps the golden fixture honest: its derived fields
// are what Derive makes of its windows and counts.
func TestFixtureIsDerived(t *testing.T) {
	s := fixture(t)
	for _, stored := range s.Architectures {
		got := stored
		Derive(&got, s.SLO, s.Load.Duration)
		if got.Windows != stored.Windows || got.AcceptDownWindows != stored.AcceptDownWindows ||
			got.CompletionDownWindows != stored.CompletionDownWindows ||
			!near(got.AcceptDowntimePct, stored.AcceptDowntimePct) || !near(got.CompletionDowntimePct, stored.CompletionDowntimePct) ||
			!near(got.AcceptedPerSec, stored.AcceptedPerSec) || !near(got.CompletedPerSec, stored.CompletedPerSec) {
			t.Errorf("%s: fixture's derived fields do not match Derive", stored.Name)
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
