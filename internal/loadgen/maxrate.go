package loadgen

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Search parameters of MaxRate.
const (
	// sustainShare is the share of the requested rate that must be answered.
	sustainShare = 0.99
	// resolution stops the bisection once the bracket is this narrow,
	// relative to its upper end.
	resolution = 0.02
	// maxBisections bounds the search when no rate is sustained at all.
	maxBisections = 8
	// minProbe is the fewest measured requests a probe may schedule;
	// below that one late answer decides the verdict.
	minProbe = 10
	// rateCeiling ends the doubling against a target nothing saturates.
	rateCeiling = 1e7
)

// ProbeInFlight is the MaxInFlight of each probe of MaxRate: it caps the
// probe's concurrency and connections, and a request due while it is
// reached is dropped, which fails the probe.
const ProbeInFlight = 1024

// Target is what MaxRate drives: where to send, what, and what counts as
// served.
type Target struct {
	URL string
	// Next builds the n-th request of the whole search; nil posts {}.
	// Numbering runs on across probes, so a target that deduplicates by
	// id never sees a repeat.
	Next func(n uint64) Request
	// Classify as in Config; nil means 2xx is accepted.
	Classify func(status int, body []byte) Outcome
	// KeptUp, when set, is asked after a probe that the answers passed
	// whether the target also kept up behind its answers (an EDA's outbox
	// relay publishing what order-api accepted, say); a probe it says no
	// to fails.
	KeptUp func(ctx context.Context, rate float64) (bool, error)
	// Probed, when set, is told of every probe that ran to its verdict:
	// its rate, what it measured and whether it passed (KeptUp included),
	// so that a caller can show the search's progress and keep the
	// latency of the rate it settles on.
	Probed func(rate float64, res *Result, ok bool)
}

// MaxRate searches for the highest rate at which this process can drive the
// target: it doubles the rate from start until a rate fails (see Search), then bisects.
// Each probe attacks for step after a warm-up of step/5 and passes when no
// measured request was rejected, timed out, failed or was dropped and the
// accepted answers received during the measured period reach 99% of the
// requested rate, less one request of slack. Answers are counted by arrival,
// so a pacer that falls behind or a target that queues fails the probe even
// when every request is eventually answered. On an error, including a
// cancelled ctx, MaxRate returns the highest rate sustained so far.
func MaxRate(ctx context.Context, t Target, start float64, step time.Duration) (float64, error) {
	if !(start > 0 && start <= rateCeiling) {
		return 0, fmt.Errorf("max rate: start %v: want a rate in (0, %.0f]", start, float64(rateCeiling))
	}
	if step <= 0 {
		return 0, fmt.Errorf("max rate: step %v: want > 0", step)
	}
	p := NewProber(t, step)
	defer p.Close()
	lo, err := Search(start, step, func(rate float64) (bool, error) { return p.Probe(ctx, rate) })
	if err != nil {
		return lo, err
	}
	if lo == 0 {
		return 0, fmt.Errorf("max rate: %s: no rate sustained", t.URL)
	}
	return lo, nil
}

// Prober runs MaxRate's probes one at a time, for a caller that drives the
// search itself (to interleave it with another generator's, say).
// Successive probes share one transport, so each starts on warm
// connections, and number their requests on from the previous one.
type Prober struct {
	t    Target
	step time.Duration
	tr   *http.Transport
	next func(n uint64) Request
	base uint64
}

// NewProber returns a Prober of t whose probes attack for step after a
// warm-up of step/5; step must be > 0. Close releases its connections.
func NewProber(t Target, step time.Duration) *Prober {
	next := t.Next
	if next == nil {
		body := []byte("{}")
		next = func(n uint64) Request { return Request{ID: strconv.FormatUint(n, 10), Body: body} }
	}
	return &Prober{t: t, step: step, tr: newTransport(step, ProbeInFlight), next: next}
}

// Probe attacks the target at rate and reports whether the rate was
// sustained, by MaxRate's rule.
func (p *Prober) Probe(ctx context.Context, rate float64) (bool, error) {
	res, err := p.Attack(ctx, rate)
	if err != nil {
		return false, err
	}
	ok := sustained(res)
	if ok && p.t.KeptUp != nil {
		if ok, err = p.t.KeptUp(ctx, rate); err != nil {
			return false, fmt.Errorf("after the probe: %w", err)
		}
	}
	if p.t.Probed != nil {
		p.t.Probed(rate, res, ok)
	}
	return ok, nil
}

// Attack runs one probe at rate and returns what it measured.
func (p *Prober) Attack(ctx context.Context, rate float64) (*Result, error) {
	base := p.base
	a, err := newAttackerOn(Config{
		URL:         p.t.URL,
		Rate:        rate,
		Warmup:      p.step / 5,
		Duration:    p.step,
		Timeout:     p.step,
		MaxInFlight: ProbeInFlight,
		Next:        func(seq uint64) Request { return p.next(base + seq) },
		Classify:    p.t.Classify,
	}, p.tr)
	if err != nil {
		return nil, err
	}
	res, err := a.Run(ctx)
	if err != nil {
		return nil, err
	}
	p.base += uint64(len(res.Records))
	return res, nil
}

// Close closes the idle connections of the probes.
func (p *Prober) Close() { p.tr.CloseIdleConnections() }

// Search finds the highest rate probe passes: it doubles from start until a
// probe fails, then bisects until the bracket is within 2 % or a probe of
// step would schedule too few requests to judge. It is MaxRate's search,
// exported so other load generators can be measured the same way.
//
// A rate fails only when two probes of it in a row fail: on two shared
// cores one probe in a few fails at a rate far below the ceiling (a
// collection, a checkpoint, another process's burst), and a failure early
// in the doubling would cap the figure at half that rate (2,750 and 8,700
// orders/s in two runs of the same bench).
func Search(start float64, step time.Duration, probe func(rate float64) (bool, error)) (float64, error) {
	probe = twice(probe)
	lo, hi := 0.0, 0.0
	for rate := start; hi == 0; rate *= 2 {
		if rate > rateCeiling {
			return lo, nil
		}
		ok, err := probe(rate)
		if err != nil {
			return lo, fmt.Errorf("max rate: probe %.1f/s: %w", rate, err)
		}
		if ok {
			lo = rate
		} else {
			hi = rate
		}
	}
	for i := 0; i < maxBisections && hi-lo > resolution*hi; i++ {
		mid := (lo + hi) / 2
		if mid*step.Seconds() < minProbe {
			break
		}
		ok, err := probe(mid)
		if err != nil {
			return lo, fmt.Errorf("max rate: probe %.1f/s: %w", mid, err)
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// twice is probe that says no only when it said so twice in a row.
func twice(probe func(rate float64) (bool, error)) func(rate float64) (bool, error) {
	return func(rate float64) (bool, error) {
		ok, err := probe(rate)
		if ok || err != nil {
			return ok, err
		}
		return probe(rate)
	}
}

// sustained reports whether a probe kept up with its rate; see MaxRate.
func sustained(res *Result) bool {
	_, _, ok := res.judge()
	return ok
}

// judge counts, by MaxRate's rule, the accepted answers received during the
// measured period, as a rate, and the measured requests that failed, by
// Kind, and says whether the probe sustained its rate.
func (r *Result) judge() (answered float64, failed [Dropped + 1]int, ok bool) {
	var n int
	for i := range r.Records {
		rec := &r.Records[i]
		switch {
		case rec.Kind == Accepted:
			if at := rec.Intended + rec.Latency; at >= 0 && at < r.Duration {
				n++
			}
		case !rec.Warmup && rec.Kind <= Dropped:
			failed[rec.Kind]++
		case !rec.Warmup:
			failed[0]++ // never finished: cannot happen, and must not pass
		}
	}
	secs := r.Duration.Seconds()
	answered = float64(n) / secs
	return answered, failed, failed == [Dropped + 1]int{} && answered >= sustainShare*r.Rate-1/secs
}

// Shortfall says why a probe did not sustain its rate by MaxRate's rule:
// how much of the rate was answered during the measured period, and how
// many requests failed, by kind (a request dropped was due while
// MaxInFlight were outstanding). It is empty for a probe that did.
func (r *Result) Shortfall() string {
	answered, failed, ok := r.judge()
	if ok {
		return ""
	}
	why := fmt.Sprintf("%.1f %% of the rate answered in time", 100*answered/r.Rate)
	for k, n := range failed {
		if n > 0 {
			why += fmt.Sprintf(", %d %v", n, Kind(k))
		}
	}
	return why
}

// Verdict says how a probe went, for a progress line: held, or why not.
// ok is the probe's verdict, Target.KeptUp's included: a probe whose
// answers passed but which KeptUp refused has no Shortfall of its own.
func Verdict(res *Result, ok bool) string {
	if ok {
		return "held"
	}
	if why := res.Shortfall(); why != "" {
		return "not held: " + why
	}
	return "answered, not kept up with"
}
