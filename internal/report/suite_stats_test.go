package report

import (
	"math"
	"testing"
)

func TestStudentT975(t *testing.T) {
	// Two-sided 95 % critical values of Student's t, as printed in every
	// statistics table.
	for df, want := range map[int]float64{1: 12.7062, 2: 4.3027, 3: 3.1824, 4: 2.7764, 9: 2.2622, 29: 2.0452, 120: 1.9799} {
		if got := StudentT975(df); math.Abs(got-want) > 5e-4 {
			t.Errorf("t(0.975, %d) = %.5f, want %.4f", df, got, want)
		}
	}
	if !math.IsNaN(StudentT975(0)) {
		t.Error("t(0.975, 0) should be NaN: no degrees of freedom, no interval")
	}
}

func TestNewStat(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		name   string
		values []float64
		mean   float64
		sd     *float64
		half   *float64 // CI half-width
		cv     *float64
	}{
		{name: "none", values: nil},
		{name: "one run: no spread, no interval", values: []float64{25}, mean: 25},
		// sd = |30-20|/√2 = 7.0711; half = 12.7062·7.0711/√2 = 63.531;
		// cv = 7.0711/25 = 28.28 %.
		{name: "two runs", values: []float64{20, 30}, mean: 25, sd: f(7.0711), half: f(63.531), cv: f(28.284)},
		// sd = 1; half = 4.3027/√3 = 2.4842; cv = 50 %.
		{name: "three runs", values: []float64{1, 2, 3}, mean: 2, sd: f(1), half: f(2.4842), cv: f(50)},
		{name: "mean 0: no coefficient of variation", values: []float64{0, 0, 0}, mean: 0, sd: f(0), half: f(0)},
		{name: "equal values: zero spread", values: []float64{4, 4}, mean: 4, sd: f(0), half: f(0), cv: f(0)},
	}
	near := func(got, want *float64) bool {
		if got == nil || want == nil {
			return got == nil && want == nil
		}
		return math.Abs(*got-*want) < 1e-3
	}
	show := func(v *float64) any {
		if v == nil {
			return "null"
		}
		return *v
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runs := make([]string, len(tt.values))
			for i := range runs {
				runs[i] = string(rune('a' + i))
			}
			s := NewStat(runs, tt.values)
			if s.N != len(tt.values) || math.Abs(s.Mean-tt.mean) > 1e-9 {
				t.Errorf("n %d mean %v, want %d %v", s.N, s.Mean, len(tt.values), tt.mean)
			}
			if !near(s.SD, tt.sd) {
				t.Errorf("sd %v, want %v", show(s.SD), show(tt.sd))
			}
			var half *float64
			if h, ok := s.HalfWidth(); ok {
				half = &h
				if math.Abs(*s.CILow+h-s.Mean) > 1e-9 || math.Abs(*s.CIHigh-h-s.Mean) > 1e-9 {
					t.Errorf("interval [%v, %v] is not centred on the mean %v", *s.CILow, *s.CIHigh, s.Mean)
				}
			}
			if !near(half, tt.half) {
				t.Errorf("CI half-width %v, want %v", show(half), show(tt.half))
			}
			if !near(s.CVPct, tt.cv) {
				t.Errorf("cv %v, want %v", show(s.CVPct), show(tt.cv))
			}
			if len(s.Runs) != len(s.Values) {
				t.Errorf("%d runs for %d values", len(s.Runs), len(s.Values))
			}
		})
	}
}

func TestMeanCIFormats(t *testing.T) {
	for _, tt := range []struct {
		values []float64
		want   string
	}{
		{nil, "—"},
		{[]float64{12.5}, "12.50 (n = 1, no CI)"},
		{[]float64{1, 2, 3}, "2.00 ± 2.48"},
	} {
		if got := meanCI(NewStat(make([]string, len(tt.values)), tt.values), pct); got != tt.want {
			t.Errorf("meanCI(%v) = %q, want %q", tt.values, got, tt.want)
		}
	}
}
