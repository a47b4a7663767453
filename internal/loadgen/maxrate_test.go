package loadgen

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMaxRate(t *testing.T) {
	// One request at a time, each taking at least 5 ms: 200/s at most,
	// whatever the machine.
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}))
	defer srv.Close()

	// A low start and a long step give the first probe 40 ms of slack, so
	// a busy machine does not fail it.
	const step = 400 * time.Millisecond
	passed := map[float64]bool{}
	probes := 0
	probed := func(rate float64, res *Result, ok bool) {
		probes++
		if res.Rate != rate || len(res.Records) == 0 {
			t.Errorf("probe of %.1f/s told of a result at %.1f/s with %d records", rate, res.Rate, len(res.Records))
		}
		passed[rate] = passed[rate] || ok
	}
	rate, err := MaxRate(t.Context(), Target{URL: srv.URL, Probed: probed}, 25, step)
	if err != nil {
		t.Fatal(err)
	}
	// A probe passes with 0.99×rate×0.4 - 1 answers in its 400 ms, and the
	// server gives at most 81: no rate above 207/s passes.
	t.Logf("max rate %.1f/s after %d probes", rate, probes)
	if rate < 25 || rate > 207 {
		t.Errorf("max rate %.1f/s, want in [25, 207]", rate)
	}
	// Doubling from 25/s reaches 400/s, which fails: at least five probes,
	// the rate found among those that passed, none above 207/s passing.
	if probes < 5 || !passed[rate] {
		t.Errorf("Probed heard of %d probes, %.1f/s passed: %v; want at least 5, the rate found among them", probes, rate, passed[rate])
	}
	for r, ok := range passed {
		if ok && r > 207 {
			t.Errorf("Probed says %.1f/s passed; the server cannot answer that", r)
		}
	}
}

func TestMaxRateFails(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	closed := srv.URL
	srv.Close()

	tests := []struct {
		name  string
		url   string
		start float64
		step  time.Duration
		want  string
	}{
		{"refused", closed, 100, 100 * time.Millisecond, "no rate sustained"},
		{"bad url", "not a url", 100, 100 * time.Millisecond, "url"},
		{"zero start", closed, 0, time.Second, "start"},
		{"zero step", closed, 100, 0, "step"},
		{"start beyond ceiling", closed, 1e9, time.Second, "start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rate, err := MaxRate(t.Context(), Target{URL: tt.url}, tt.start, tt.step)
			if err == nil || !strings.Contains(err.Error(), tt.want) || rate != 0 {
				t.Errorf("MaxRate = %v, %v; want 0 and an error about %q", rate, err, tt.want)
			}
		})
	}
}

// TestMaxRateAsksKeptUp has a target that answers anything at once but
// falls behind them above 100/s: the search must stop there, and an error
// of the question ends it.
func TestMaxRateAsksKeptUp(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	behindAbove := func(limit float64) func(context.Context, float64) (bool, error) {
		return func(_ context.Context, rate float64) (bool, error) { return rate <= limit, nil }
	}
	// Probed hears KeptUp's verdict, not the answers' alone.
	var failedAbove int
	probed := func(rate float64, _ *Result, ok bool) {
		if rate > 100 && ok {
			t.Errorf("Probed says %.1f/s passed; KeptUp said no", rate)
		}
		if rate > 100 && !ok {
			failedAbove++
		}
	}
	rate, err := MaxRate(t.Context(), Target{URL: srv.URL, KeptUp: behindAbove(100), Probed: probed}, 25, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if rate < 25 || rate > 100 {
		t.Errorf("max rate %.1f/s, want in [25, 100]: the target fell behind above 100/s", rate)
	}
	if failedAbove == 0 {
		t.Error("Probed heard of no failed probe above 100/s")
	}
	broken := func(context.Context, float64) (bool, error) { return false, errors.New("metrics unreachable") }
	if _, err := MaxRate(t.Context(), Target{URL: srv.URL, KeptUp: broken}, 25, 200*time.Millisecond); err == nil || !strings.Contains(err.Error(), "metrics unreachable") {
		t.Errorf("MaxRate with a failing KeptUp: err %v, want it passed on", err)
	}
}

// TestSearchRetriesAFailedRate gives Search a target that sustains up to
// 1,000/s but whose first probe of 400/s fails by chance: the search must
// try 400/s again rather than stop below it, and a rate that fails twice
// is a failure.
func TestSearchRetriesAFailedRate(t *testing.T) {
	probes := map[float64]int{}
	probe := func(rate float64) (bool, error) {
		probes[rate]++
		if rate == 400 && probes[rate] == 1 {
			return false, nil
		}
		return rate <= 1000, nil
	}
	rate, err := Search(100, time.Second, probe)
	if err != nil {
		t.Fatal(err)
	}
	if rate < 980 || rate > 1000 {
		t.Errorf("Search = %v, want within 2 %% below 1000 despite the one failed probe at 400", rate)
	}
	if probes[1600] != 2 {
		t.Errorf("1600/s probed %d times, want 2: a rate fails when two probes in a row fail", probes[1600])
	}
}

// TestShortfall: a probe fails MaxRate's rule for answers that come too
// few or too late, or for any failure; Shortfall says which. Ten a second
// for a second need 0.99*10-1 = 8.9 answers in time.
func TestShortfall(t *testing.T) {
	probe := func(late, timedOut int) *Result {
		res := &Result{Rate: 10, Duration: time.Second}
		for i := range 10 {
			r := Record{Kind: Accepted, Intended: time.Duration(i) * 100 * time.Millisecond, Latency: 10 * time.Millisecond}
			switch {
			case i < late:
				r.Latency = time.Second // answered after the period
			case i < late+timedOut:
				r.Kind = Timeout
			}
			res.Records = append(res.Records, r)
		}
		return res
	}
	tests := []struct {
		name           string
		late, timedOut int
		want           string
	}{
		{"every answer in time", 0, 0, ""},
		{"one late answer is within the slack", 1, 0, ""},
		{"two late answers", 2, 0, "80.0 % of the rate answered in time"},
		{"one timed out", 0, 1, "90.0 % of the rate answered in time, 1 timeout"},
		{"late and timed out", 2, 1, "70.0 % of the rate answered in time, 1 timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := probe(tt.late, tt.timedOut)
			if got := res.Shortfall(); got != tt.want {
				t.Errorf("Shortfall() = %q, want %q", got, tt.want)
			}
			if sustained(res) != (tt.want == "") {
				t.Errorf("sustained() = %v, want %v", sustained(res), tt.want == "")
			}
		})
	}
}

// TestVerdict: held, the answers' shortfall, or a probe KeptUp refused
// though its answers passed.
func TestVerdict(t *testing.T) {
	full := &Result{Rate: 1, Duration: time.Second, Records: []Record{{Kind: Accepted, Latency: time.Millisecond}}}
	late := &Result{Rate: 10, Duration: time.Second}
	for _, tt := range []struct {
		res  *Result
		ok   bool
		want string
	}{
		{full, true, "held"},
		{full, false, "answered, not kept up with"},
		{late, false, "not held: 0.0 % of the rate answered in time"},
	} {
		if got := Verdict(tt.res, tt.ok); got != tt.want {
			t.Errorf("Verdict(%d records at %.0f/s, %v) = %q, want %q", len(tt.res.Records), tt.res.Rate, tt.ok, got, tt.want)
		}
	}
}
