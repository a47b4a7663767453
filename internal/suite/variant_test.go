package suite

import (
	"strings"
	"testing"
	"time"

	"github.com/edatestbed/testbed/scenarios"
)

func load(t *testing.T, name string) *scenarios.Scenario {
	t.Helper()
	sc, err := scenarios.Load("testdata/scenarios/" + name + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestVariantUnchanged(t *testing.T) {
	sc := load(t, "alpha")
	for _, d := range []time.Duration{0, 60 * time.Second} {
		v, err := Variant(sc, sc.Seed, d)
		if err != nil || v != sc {
			t.Errorf("Variant(seed %d, duration %s) = %p, %v; want the scenario itself, untouched", sc.Seed, d, v, err)
		}
	}
}

func TestVariantSeed(t *testing.T) {
	sc := load(t, "alpha")
	v, err := Variant(sc, 7, 0)
	if err != nil {
		t.Fatal(err)
	}
	if v.Seed != 7 || sc.Seed != 5 {
		t.Fatalf("seed %d (original now %d), want 7 and the original left at 5", v.Seed, sc.Seed)
	}
	raw := string(v.Raw)
	for _, want := range []string{
		"seed: 7 # the suite counts up from here", // in place, its comment kept
		"#   seed 7 (file: 5)",                    // what changed, said on top
		"derived from testdata/scenarios/alpha.yaml (sha256 " + shaOf(sc.Raw) + ")",
		"# A fault scenario in the shape of the paper's", // the file's own header
	} {
		if !strings.Contains(raw, want) {
			t.Errorf("raw lacks %q:\n%s", want, raw)
		}
	}
	if v.Load != sc.Load || v.Faults[0].At != sc.Faults[0].At {
		t.Errorf("a seed change changed the load or the faults: %+v %+v", v.Load, v.Faults)
	}
}

func TestVariantDuration(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		seed     int64
		duration time.Duration
		warmup   time.Duration
		drain    time.Duration
		at, for_ time.Duration
	}{
		// ×2/3: warm-up 6 → 4, drain 12 → 8, fault 20+15 → 13+10 (to
		// whole seconds).
		{"two thirds", "alpha", 5, 40 * time.Second, 4 * time.Second, 8 * time.Second, 13 * time.Second, 10 * time.Second},
		// ×1/6: the drain would be 2 s, under the 5 s deadline, so it
		// stays at the deadline.
		{"drain floor", "alpha", 5, 10 * time.Second, time.Second, 5 * time.Second, 3 * time.Second, 3 * time.Second},
		{"longer", "alpha", 6, 120 * time.Second, 12 * time.Second, 24 * time.Second, 40 * time.Second, 30 * time.Second},
		// Missing keys are written in: the default warm-up (5 s) scaled
		// ×1/3, the default drain (15 s) scaled.
		{"defaults written in", "beta", 2, 10 * time.Second, 2 * time.Second, 5 * time.Second, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Variant(load(t, tt.file), tt.seed, tt.duration)
			if err != nil {
				t.Fatal(err)
			}
			l := v.Load
			if v.Seed != tt.seed || l.Duration.D() != tt.duration || l.Warmup.D() != tt.warmup || l.Drain.D() != tt.drain {
				t.Errorf("seed %d duration %s warmup %s drain %s; want %d %s %s %s", v.Seed, l.Duration, l.Warmup, l.Drain, tt.seed, tt.duration, tt.warmup, tt.drain)
			}
			if len(v.Faults) > 0 && (v.Faults[0].At.D() != tt.at || v.Faults[0].Duration.D() != tt.for_) {
				t.Errorf("fault at %s for %s, want %s for %s", v.Faults[0].At, v.Faults[0].Duration, tt.at, tt.for_)
			}
			if v.Load.Timeout != load(t, tt.file).Load.Timeout || v.SLO != load(t, tt.file).SLO {
				t.Error("the timeout or the SLO changed; they define what counts as served and must not")
			}
			if !strings.Contains(string(v.Raw), "durations scaled") {
				t.Errorf("raw does not say the durations were scaled:\n%s", v.Raw)
			}
		})
	}
}

func TestVariantRejects(t *testing.T) {
	sc := load(t, "alpha")
	tests := []struct {
		duration time.Duration
		want     string
	}{
		{1500 * time.Millisecond, "whole number of seconds"},
		{-time.Second, "whole number of seconds"},
		// 15 s of 60 s scaled to 2 s is 0.5 s: less than a window.
		{2 * time.Second, "less than one 1 s window; use at least 4s"},
	}
	for _, tt := range tests {
		if _, err := Variant(sc, 6, tt.duration); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Variant(duration %s) = %v, want an error mentioning %q", tt.duration, err, tt.want)
		}
	}
}
