package loadgen

import (
	"cmp"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The constant-rate schedule as it was before spikes. Without spikes the
// schedule must reproduce it bit for bit, so that no earlier result moves.
func constantOffset(rate float64, seq uint64) time.Duration {
	return time.Duration(math.Round(float64(seq) * 1e9 / rate))
}

func constantCount(rate float64, d time.Duration) uint64 {
	x := rate * float64(d) / 1e9
	if r := math.Round(x); math.Abs(x-r) < 1e-6 {
		return uint64(r)
	}
	return uint64(math.Ceil(x))
}

func TestScheduleWithoutSpikesIsConstantRate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, rate := range []float64{0.5, 1, 3, 7.5, 100, 333.333, 1000, 10000.0 / 3, 20000, 123456.789, 1e6} {
		s := newSchedule(rate, time.Second, nil)
		seqs := []uint64{maxRecords - 1, maxRecords}
		for i := range uint64(5000) {
			seqs = append(seqs, i, rng.Uint64N(maxRecords))
		}
		for _, seq := range seqs {
			if got, want := s.offset(seq), constantOffset(rate, seq); got != want {
				t.Fatalf("rate %v: offset(%d) = %v, want %v", rate, seq, got, want)
			}
		}
		durs := []time.Duration{0, time.Hour}
		for i := range time.Duration(5000) {
			durs = append(durs, i*time.Millisecond, time.Duration(rng.Int64N(int64(time.Hour))))
		}
		for _, d := range durs {
			if got, want := s.count(d), constantCount(rate, d); got != want {
				t.Fatalf("rate %v: count(%v) = %d, want %d", rate, d, got, want)
			}
		}
	}
}

// newAttacker is New for a config that only matters for its schedule.
func newAttacker(t *testing.T, cfg Config) *Attacker {
	t.Helper()
	cfg.URL = "http://127.0.0.1:1/orders"
	cfg.Timeout = time.Second
	cfg.MaxInFlight = 1
	cfg.Next = orderRequest
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestScheduleSpikes(t *testing.T) {
	tests := []struct {
		name         string
		cfg          Config
		warmN, total uint64
		// offsets of chosen requests from the start of the warm-up, worked
		// out by hand around every change of rate
		offsets map[uint64]time.Duration
	}{
		{"spike", Config{Rate: 100, Warmup: time.Second, Duration: 2 * time.Second,
			Spikes: []Spike{{From: 500 * ms, To: 1500 * ms, Factor: 3}}},
			100, 500, map[uint64]time.Duration{
				0: 0, 99: 990 * ms, 100: time.Second, 149: 1490 * ms,
				150: 1500 * ms, 151: 1503333333, 449: 2496666667,
				450: 2500 * ms, 451: 2510 * ms, 499: 2990 * ms, 500: 3 * time.Second,
			}},
		{"lull", Config{Rate: 100, Warmup: time.Second, Duration: 2 * time.Second,
			Spikes: []Spike{{From: 500 * ms, To: 1500 * ms, Factor: 0.5}}},
			100, 250, map[uint64]time.Duration{
				149: 1490 * ms, 150: 1500 * ms, 151: 1520 * ms, 199: 2480 * ms,
				200: 2500 * ms, 201: 2510 * ms, 250: 3 * time.Second,
			}},
		{"change within a request gap", Config{Rate: 3, Duration: time.Second,
			Spikes: []Spike{{From: 500 * ms, To: time.Second, Factor: 2}}},
			0, 5, map[uint64]time.Duration{
				// 1.5 arrivals before the spike, 3 in it, then 3/s again
				1: 333333333, 2: 583333333, 3: 750 * ms, 4: 916666667, 5: 1166666667,
			}},
		{"spike at the start without warm-up", Config{Rate: 100, Duration: time.Second,
			Spikes: []Spike{{From: 0, To: 500 * ms, Factor: 2}}},
			0, 150, map[uint64]time.Duration{0: 0, 1: 5 * ms, 100: 500 * ms, 101: 510 * ms}},
		{"adjacent spikes", Config{Rate: 100, Duration: time.Second,
			Spikes: []Spike{{From: 500 * ms, To: time.Second, Factor: 4}, {From: 0, To: 500 * ms, Factor: 2}}},
			0, 300, map[uint64]time.Duration{99: 495 * ms, 100: 500 * ms, 101: 502500 * time.Microsecond, 300: time.Second}},
		{"spike to the end", Config{Rate: 100, Warmup: time.Second, Duration: time.Second,
			Spikes: []Spike{{From: 500 * ms, To: time.Second, Factor: 3}}},
			100, 300, map[uint64]time.Duration{150: 1500 * ms, 299: 1996666667, 300: 2 * time.Second, 301: 2010 * ms}},
		{"unsorted", Config{Rate: 100, Duration: 2 * time.Second,
			Spikes: []Spike{{From: 1200 * ms, To: 1500 * ms, Factor: 2}, {From: 100 * ms, To: 200 * ms, Factor: 10}}},
			0, 320, map[uint64]time.Duration{10: 100 * ms, 110: 200 * ms, 200: 1100 * ms, 210: 1200 * ms, 270: 1500 * ms}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			given := slices.Clone(tt.cfg.Spikes)
			a := newAttacker(t, tt.cfg)
			tt.cfg.Spikes[0].Factor = 99 // New keeps its own copy
			sorted := slices.SortedFunc(slices.Values(given), func(a, b Spike) int { return cmp.Compare(a.From, b.From) })
			if !slices.Equal(a.cfg.Spikes, sorted) {
				t.Errorf("spikes %v, want %v sorted by From", a.cfg.Spikes, sorted)
			}
			if a.warmupN != tt.warmN || a.total != tt.total {
				t.Errorf("warm-up %d of %d requests, want %d of %d", a.warmupN, a.total, tt.warmN, tt.total)
			}
			for seq, want := range tt.offsets {
				if got := a.sched.offset(seq); got != want {
					t.Errorf("offset(%d) = %v, want %v", seq, got, want)
				}
			}
			// One past the last is the end of the covered period in Run.
			prev := time.Duration(-1)
			for seq := range a.total + 1 {
				off := a.sched.offset(seq)
				if off <= prev {
					t.Fatalf("offset(%d) = %v after %v: want increasing", seq, off, prev)
				}
				if n := a.sched.count(off); n != seq {
					t.Fatalf("count(offset(%d) = %v) = %d, want %d requests before it", seq, off, n, seq)
				}
				prev = off
			}
		})
	}
}

// plan is the Result of an attack in which every request was accepted,
// built from the schedule as fire builds it, without sending anything.
func plan(t *testing.T, cfg Config) *Result {
	t.Helper()
	a := newAttacker(t, cfg)
	res := &Result{Rate: cfg.Rate, Spikes: a.cfg.Spikes, Warmup: cfg.Warmup, Duration: cfg.Duration}
	for seq := range a.total {
		res.Records = append(res.Records, Record{Seq: seq, Intended: a.sched.offset(seq) - cfg.Warmup,
			Warmup: seq < a.warmupN, Kind: Accepted})
	}
	return res
}

func TestSecondsFollowSpikes(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		offered []int64
	}{
		{"spike and lull on whole seconds", Config{Rate: 100, Warmup: time.Second, Duration: 4 * time.Second,
			Spikes: []Spike{{From: time.Second, To: 2 * time.Second, Factor: 3}, {From: 3 * time.Second, To: 4 * time.Second, Factor: 0.5}}},
			[]int64{100, 300, 100, 50}},
		{"spike across seconds", Config{Rate: 100, Warmup: time.Second, Duration: 2 * time.Second,
			Spikes: []Spike{{From: 500 * ms, To: 1500 * ms, Factor: 3}}},
			[]int64{200, 200}},
		{"spike in a partial second", Config{Rate: 10, Duration: 1500 * ms,
			Spikes: []Spike{{From: time.Second, To: 1500 * ms, Factor: 4}}},
			[]int64{10, 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []int64
			for _, b := range plan(t, tt.cfg).Seconds() {
				got = append(got, b.Offered)
			}
			if !slices.Equal(got, tt.offered) {
				t.Errorf("offered per second %v, want %v", got, tt.offered)
			}
		})
	}
}

func TestNewValidatesSpikes(t *testing.T) {
	good := Config{URL: "http://127.0.0.1:1/orders", Rate: 10, Duration: 2 * time.Second, Timeout: time.Second,
		MaxInFlight: 1, Next: orderRequest}
	spikes := func(s ...Spike) func(*Config) { return func(c *Config) { c.Spikes = s } }
	valid := []struct {
		name   string
		change func(*Config)
	}{
		{"whole period", spikes(Spike{0, 2 * time.Second, 5})},
		{"adjacent", spikes(Spike{time.Second, 2 * time.Second, 0.5}, Spike{0, time.Second, 2})},
		{"tiny lull", spikes(Spike{0, time.Second, 1e-9})},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.change(&cfg)
			if _, err := New(cfg); err != nil {
				t.Errorf("New: %v", err)
			}
		})
	}
	invalid := []struct {
		name   string
		change func(*Config)
		want   []string
	}{
		{"zero factor", spikes(Spike{0, time.Second, 1}, Spike{time.Second, 2 * time.Second, 0}),
			[]string{"spike 1: factor 0: want a finite number > 0"}},
		{"negative factor", spikes(Spike{0, time.Second, -2}), []string{"spike 0: factor -2"}},
		{"NaN factor", spikes(Spike{0, time.Second, math.NaN()}), []string{"spike 0: factor NaN"}},
		{"infinite factor", spikes(Spike{0, time.Second, math.Inf(1)}), []string{"spike 0: factor +Inf"}},
		{"empty window", spikes(Spike{time.Second, time.Second, 2}), []string{"spike 0 [1s, 1s): want To > From"}},
		{"reversed window", spikes(Spike{time.Second, 500 * ms, 2}), []string{"spike 0 [1s, 500ms): want To > From"}},
		{"before the period", spikes(Spike{-time.Second, time.Second, 2}),
			[]string{"spike 0 [-1s, 1s): want a window within the measured period [0s, 2s]"}},
		{"after the period", spikes(Spike{time.Second, 3 * time.Second, 2}),
			[]string{"spike 0 [1s, 3s): want a window within the measured period [0s, 2s]"}},
		{"overlap", spikes(Spike{0, time.Second, 2}, Spike{500 * ms, 1500 * ms, 2}),
			[]string{"spike 1 [500ms, 1.5s) overlaps spike 0 [0s, 1s): want disjoint windows"}},
		{"one window over two", spikes(Spike{time.Second, 1200 * ms, 2}, Spike{0, 2 * time.Second, 2}, Spike{1500 * ms, 1700 * ms, 2}),
			[]string{"spike 0 [1s, 1.2s) overlaps spike 1", "spike 2 [1.5s, 1.7s) overlaps spike 1"}},
		{"with other problems", func(c *Config) { c.Timeout = 0; c.Spikes = []Spike{{0, time.Second, 0}} },
			[]string{"timeout", "spike 0: factor 0"}},
		{"too many", spikes(Spike{0, time.Second, 1e300}), []string{"rate 10 with spikes over 2s: more than"}},
		{"lull empties the period", func(c *Config) {
			c.Rate, c.Warmup, c.Duration = 1, 1500*ms, time.Second
			c.Spikes = []Spike{{0, time.Second, 0.4}}
		}, []string{"rate 1 with spikes over duration 1s: no request falls in the measured period"}},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.change(&cfg)
			_, err := New(cfg)
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestRunSpikes(t *testing.T) {
	tests := []struct {
		name   string
		spikes []Spike
		// measured requests per window, and all requests
		windows []int
		total   int64
	}{
		// 40 in the warm-up, then 20 + 120 + 20 + 20 at 200, 600, 200
		// and 100/s; the spikes come unsorted and the Result has them
		// sorted.
		{"spike and lull", []Spike{{From: 400 * ms, To: 600 * ms, Factor: 0.5}, {From: 100 * ms, To: 300 * ms, Factor: 3}},
			[]int{120, 20}, 220},
		// Up to the end, so the covered period must follow the lull too.
		{"lull to the end", []Spike{{From: 0, To: 600 * ms, Factor: 0.5}}, []int{60}, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { got.Add(1) }))
			defer srv.Close()

			cfg := Config{URL: srv.URL, Rate: 200, Warmup: 200 * ms, Duration: 600 * ms, Spikes: tt.spikes,
				Timeout: 10 * time.Second, MaxInFlight: int(tt.total), Next: orderRequest}
			a, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			res, err := a.Run(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if n := got.Load(); n != tt.total {
				t.Errorf("server got %d requests, want %d", n, tt.total)
			}
			if len(res.Records) != int(tt.total) {
				t.Fatalf("got %d records, want %d", len(res.Records), tt.total)
			}
			if res.Duration != cfg.Duration || len(res.Spikes) != len(tt.spikes) {
				t.Errorf("duration %v spikes %v, want %v and the configured spikes", res.Duration, res.Spikes, cfg.Duration)
			}
			inWindow := make([]int, len(res.Spikes))
			for i, rec := range res.Records {
				want := a.sched.offset(uint64(i)) - cfg.Warmup
				if rec.Kind != Accepted || rec.Intended != want || rec.Warmup != (want < 0) {
					t.Fatalf("record %d = %+v, want accepted at %v", i, rec, want)
				}
				for w, sp := range res.Spikes {
					if rec.Intended >= sp.From && rec.Intended < sp.To {
						inWindow[w]++
					}
				}
			}
			if !slices.Equal(inWindow, tt.windows) {
				t.Errorf("requests per window %v, want %v", inWindow, tt.windows)
			}
		})
	}
}
