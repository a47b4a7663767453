package run

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/edatestbed/testbed/internal/report"
)

func TestSearchRate(t *testing.T) {
	broken := errors.New("broker gone")
	tests := []struct {
		name      string
		start     float64
		threshold float64 // the system passes every rate up to this
		failAt    int     // the failAt-th probe errs; 0: none
		want      func(got float64) bool
		wantErr   error
	}{
		{name: "doubles, then bisects to within 5%", start: 100, threshold: 387,
			want: func(got float64) bool { return got <= 387 && got >= 387*0.95 }},
		{name: "start too high: halves, then bisects", start: 100, threshold: 30,
			want: func(got float64) bool { return got <= 30 && got >= 30*0.95 }},
		{name: "nothing passes: 0, down to the floor only", start: 100, threshold: 0,
			want: func(got float64) bool { return got == 0 }},
		{name: "never saturates: stops at the ceiling", start: 100, threshold: 1e9,
			want: func(got float64) bool { return got == 6400 }},
		{name: "an error keeps the highest pass so far", start: 100, threshold: 1000, failAt: 3, wantErr: broken,
			want: func(got float64) bool { return got == 200 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var probes []float64
			got, err := searchRate(tt.start, 2, 10000, func(rate float64) (bool, error) {
				probes = append(probes, rate)
				if len(probes) == tt.failAt {
					return false, broken
				}
				return rate <= tt.threshold, nil
			})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if !tt.want(got) {
				t.Errorf("found %v after probing %v", got, probes)
			}
			for _, p := range probes {
				if p < 2 || p > 10000 {
					t.Errorf("probed %v, outside floor 2 and ceiling 10000", p)
				}
			}
			if len(probes) > 20 {
				t.Errorf("%d probes: the search does not converge", len(probes))
			}
		})
	}
}

func TestJudgeStep(t *testing.T) {
	step := func(offered, accepted, done int64) report.CapacityStep {
		return report.CapacityStep{Offered: offered, Accepted: accepted, CompletedInDeadline: done,
			AcceptedPct: 100 * float64(accepted) / float64(max(offered, 1)), CompletedPct: 100 * float64(done) / float64(max(offered, 1))}
	}
	tests := []struct {
		name   string
		st     report.CapacityStep
		p99    time.Duration
		bound  time.Duration
		passed bool
		why    string
	}{
		{"exactly at the SLO", step(100, 95, 95), 10 * time.Millisecond, 500 * time.Millisecond, true, ""},
		{"accept below", step(100, 94, 94), 0, 0, false, "accepted 94.0% < 95%"},
		{"completion below", step(100, 100, 90), 0, 0, false, "completed in deadline 90.0% < 95%"},
		{"p99 above the bound", step(100, 100, 100), 600 * time.Millisecond, 500 * time.Millisecond, false, "accept p99 600ms > 500ms"},
		{"no bound", step(100, 100, 100), time.Minute, 0, true, ""},
		{"nothing offered", step(0, 0, 0), 0, 0, false, "nothing was offered"},
	}
	for _, tt := range tests {
		passed, why := judgeStep(tt.st, 0.95, tt.p99, tt.bound)
		if passed != tt.passed || !strings.Contains(why, tt.why) || (tt.passed && why != "") {
			t.Errorf("%s: passed %v (%q), want %v (%q)", tt.name, passed, why, tt.passed, tt.why)
		}
	}
}
