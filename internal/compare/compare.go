// Package compare measures the testbed's load generator against vegeta,
// the field's reference open-model load generator, on the same target in
// the same run, so the testbed's ceiling is a figure with a yardstick.
package compare

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/edatestbed/testbed/internal/loadgen"
)

// Result is both generators on one target.
type Result struct {
	Ours, Vegeta float64 // highest sustained rate, requests/s
	Rate         float64 // the common rate the latencies were taken at
	// OursP99 is our generator's p99 at Rate, from the intended send time.
	// VegetaP99 is vegeta's own p99 figure, from the moment a worker took
	// the pacer's tick, so it leaves out any delay before that.
	// VegetaP99Sched is vegeta's p99 from its schedule (the tick's place
	// in the constant-rate schedule), measured as ours is: the
	// like-for-like figure. Each is the median of p99Rounds rounds.
	OursP99, VegetaP99, VegetaP99Sched time.Duration
	// VegetaHeld counts vegeta's search probes that failed only because
	// vegeta held ticks back while loadgen.ProbeInFlight requests were
	// outstanding, where ours drops requests (see vegetaProbe): without
	// that rule they would have passed. 0 means the rule did not decide
	// vegeta's figure.
	VegetaHeld int
}

const (
	// sustainShare is the share of a probe's requests that must be
	// answered with success within the step: the same rule for both
	// generators.
	sustainShare = 0.99
	// p99Rounds is how many times each generator's p99 is taken at the
	// common rate, the two taking turns; the median counts. One round's
	// p99 is mostly the machine's: eight rounds of each at 8,000 req/s
	// on a 2-core machine gave ours 4.2-15.3 ms and once 191 ms, vegeta
	// 7.8-20.8 ms, and with three rounds the verdict flipped between runs
	// (+8 %, +12 %, where eight rounds put ours 15 % below vegeta).
	p99Rounds = 7
)

// Run starts a trivial local target (204 at once) and measures both
// generators against it: the highest rate each sustains (same search, same
// rule: no error, no request due while loadgen.ProbeInFlight were
// outstanding, 99 % of the requests answered within the step), then the
// p99 of each at half the lower of the two. The generators take turns probe
// by probe, and round by round for the p99, so that load from other
// processes on the machine falls on both rather than on whichever was
// measuring then. Each probe and each round prints a line to progress
// (nil for none).
func Run(ctx context.Context, step time.Duration, progress io.Writer) (Result, error) {
	if progress == nil {
		progress = io.Discard
	}
	url, stop, err := serveTarget()
	if err != nil {
		return Result{}, err
	}
	defer stop()

	ours := loadgen.NewProber(loadgen.Target{URL: url, Probed: func(rate float64, res *loadgen.Result, ok bool) {
		fmt.Fprintf(progress, "  loadgen %.0f req/s: %s\n", rate, loadgen.Verdict(res, ok))
	}}, step)
	defer ours.Close()
	// Like ours, vegeta keeps one client, so every probe starts on warm
	// connections and no probe leaves its idle ones behind.
	hc := &http.Client{Timeout: step, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: loadgen.ProbeInFlight}}
	defer hc.CloseIdleConnections()

	var res Result
	var errOurs, errVegeta error
	t := newTurns()
	var wg sync.WaitGroup
	wg.Go(func() {
		defer t.finish(0)
		res.Ours, errOurs = loadgen.Search(1000, step, func(rate float64) (bool, error) {
			return t.take(0, func() (bool, error) { return ours.Probe(ctx, rate) })
		})
	})
	wg.Go(func() {
		defer t.finish(1)
		res.Vegeta, errVegeta = loadgen.Search(1000, step, func(rate float64) (bool, error) {
			return t.take(1, func() (bool, error) {
				p, err := vegetaProbe(ctx, hc, url, rate, step)
				if p.held > 0 && p.metRate {
					res.VegetaHeld++
				}
				if err == nil {
					fmt.Fprintf(progress, "  vegeta  %.0f req/s: %s\n", rate, p.verdict())
				}
				return p.ok, err
			})
		})
	})
	wg.Wait()
	if errOurs == nil && res.Ours == 0 {
		errOurs = fmt.Errorf("%s: no rate sustained", url)
	}
	if errVegeta == nil && res.Vegeta == 0 {
		errVegeta = fmt.Errorf("%s: no rate sustained", url)
	}
	if errOurs != nil {
		return res, fmt.Errorf("our load generator: %w", errOurs)
	}
	if errVegeta != nil {
		return res, fmt.Errorf("vegeta: %w", errVegeta)
	}

	res.Rate = min(res.Ours, res.Vegeta) / 2
	// Both attack on the connections their searches left open, so that
	// neither has to dial its way out of a stall of the machine while the
	// other reuses warm connections.
	var o, v, vs []time.Duration
	for round := range p99Rounds {
		r, err := ours.Attack(ctx, res.Rate)
		if err != nil {
			return res, fmt.Errorf("our load generator: %w", err)
		}
		d := time.Duration(r.AcceptLatency().ValueAtQuantile(99)) * time.Microsecond
		p, err := vegetaProbe(ctx, hc, url, res.Rate, step)
		if err != nil {
			return res, err
		}
		o, v, vs = append(o, d), append(v, p.p99), append(vs, p.p99Sched)
		fmt.Fprintf(progress, "  p99 round %d of %d at %.0f req/s: loadgen %v, vegeta %v from its schedule\n",
			round+1, p99Rounds, res.Rate, d.Round(10*time.Microsecond), p.p99Sched.Round(10*time.Microsecond))
	}
	res.OursP99, res.VegetaP99, res.VegetaP99Sched = median(o), median(v), median(vs)
	return res, nil
}

// turns lets two searches probe one at a time, taking turns; when one
// search has finished, the other goes on alone.
type turns struct {
	mu   sync.Mutex
	cond *sync.Cond
	next int // whose probe may run
	done [2]bool
}

func newTurns() *turns {
	t := &turns{}
	t.cond = sync.NewCond(&t.mu)
	return t
}

// take waits for search i's turn, runs probe and hands the turn over.
func (t *turns) take(i int, probe func() (bool, error)) (bool, error) {
	t.mu.Lock()
	for t.next != i && !t.done[1-i] {
		t.cond.Wait()
	}
	t.mu.Unlock()
	ok, err := probe()
	t.mu.Lock()
	t.next = 1 - i
	t.cond.Broadcast()
	t.mu.Unlock()
	return ok, err
}

// finish marks search i as finished, so the other one need not wait.
func (t *turns) finish(i int) {
	t.mu.Lock()
	t.done[i] = true
	t.cond.Broadcast()
	t.mu.Unlock()
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// serveTarget starts the trivial target, which answers 204 at once, and
// returns its URL and how to stop it.
func serveTarget() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/", func() { _ = srv.Close() }, nil
}

// probe is what one vegeta attack showed.
type probe struct {
	ok bool // sustained by the rule of loadgen.MaxRate
	// metRate is the rule without the held ticks: no error, and enough
	// answers within the step.
	metRate bool
	// held counts the ticks that fell due while loadgen.ProbeInFlight
	// requests were outstanding: ours would have dropped them.
	held int
	// p99 is vegeta's own figure; p99Sched is taken from the schedule.
	p99, p99Sched time.Duration
}

// vegetaProbe attacks url at rate for step and judges it by the rule of
// loadgen.MaxRate, counting answers by arrival within the step. That rule
// fails a probe in which a request fell due while loadgen.ProbeInFlight
// were outstanding, because ours drops such a request. Vegeta, with as many
// workers, holds the tick back until a worker is free instead, so the probe
// goes on as a closed loop; the rule is applied to vegeta by counting, from
// its results, the requests outstanding when each tick fell due.
func vegetaProbe(ctx context.Context, hc *http.Client, url string, rate float64, step time.Duration) (probe, error) {
	if err := ctx.Err(); err != nil {
		return probe{}, err
	}
	a := vegeta.NewAttacker(vegeta.Client(hc), vegeta.MaxWorkers(loadgen.ProbeInFlight))
	tr := vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodPost, URL: url, Body: []byte("{}"),
		Header: http.Header{"Content-Type": {"application/json"}}})
	pacer := vegeta.ConstantPacer{Freq: int(rate), Per: time.Second}
	interval := time.Second / time.Duration(pacer.Freq) // as the pacer computes it
	sched := hdrhistogram.New(1, int64(5*time.Minute/time.Microsecond), 3)
	var starts, ends []time.Duration
	start := time.Now()
	var m vegeta.Metrics
	inTime, failed := 0, false
	for r := range a.Attack(tr, pacer, step, "probe-"+strconv.Itoa(int(rate))) {
		m.Add(r)
		if r.Code/100 != 2 || r.Error != "" {
			failed = true
		}
		done := r.Timestamp.Add(r.Latency)
		if done.Sub(start) < step {
			inTime++
		}
		// Seq numbers the ticks in the order workers took them, and tick n
		// is due n+1 intervals after the attack began, which is start
		// give or take the microseconds Attack takes to note it.
		due := start.Add(time.Duration(r.Seq+1) * interval)
		_ = sched.RecordValue(min(max(done.Sub(due).Microseconds(), 1), sched.HighestTrackableValue()))
		starts, ends = append(starts, r.Timestamp.Sub(start)), append(ends, done.Sub(start))
	}
	m.Close()
	held := heldTicks(starts, ends, interval, loadgen.ProbeInFlight)
	met := !failed && float64(inTime) >= sustainShare*rate*step.Seconds()-1
	return probe{
		ok:       met && held == 0,
		metRate:  met,
		held:     held,
		p99:      m.Latencies.P99,
		p99Sched: time.Duration(sched.ValueAtQuantile(99)) * time.Microsecond,
	}, nil
}

// verdict says how the probe went, for its progress line.
func (p probe) verdict() string {
	switch {
	case p.ok:
		return "held"
	case p.metRate:
		return fmt.Sprintf("not held: %d ticks fell due with every worker busy", p.held)
	default:
		return "not held: errors, or too few answers in time"
	}
}

// heldTicks counts the ticks of a constant schedule (tick n due at
// (n+1)×interval) that fell due while at least limit requests were
// outstanding, given when each request started and ended. It sorts both.
func heldTicks(starts, ends []time.Duration, interval time.Duration, limit int) int {
	slices.Sort(starts)
	slices.Sort(ends)
	held, started, ended := 0, 0, 0
	for n := range starts {
		due := time.Duration(n+1) * interval
		// A request that starts at the very moment is the tick's own.
		for started < len(starts) && starts[started] < due {
			started++
		}
		for ended < len(ends) && ends[ended] <= due {
			ended++
		}
		if started-ended >= limit {
			held++
		}
	}
	return held
}
