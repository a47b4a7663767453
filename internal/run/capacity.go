package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/edatestbed/testbed/internal/loadgen"
	"github.com/edatestbed/testbed/internal/report"
	"github.com/edatestbed/testbed/internal/runtime/local"
	"github.com/edatestbed/testbed/scenarios"
	"github.com/edatestbed/testbed/system/domain"
	"github.com/edatestbed/testbed/system/eda"
)

// Parameters of the capacity search.
const (
	// capacityResolution stops the bisection once the bracket is this
	// narrow, relative to its upper end.
	capacityResolution = 0.05
	// capacityBisections bounds the bisection.
	capacityBisections = 6
	// capacityMinOrders is the fewest measured orders a step may hold;
	// below that one slow order decides the verdict.
	capacityMinOrders = 10
	// capacityStock is every product's stock during the search, so that
	// no order is cheaply cancelled for want of stock.
	capacityStock = 1_000_000_000
)

// CapacityOptions configure FindCapacity.
type CapacityOptions struct {
	// Scenario gives the SLO, the request timeout, the in-flight cap, the
	// catalog's shape, the payment provider and the architectures; its
	// load.rate is the first rate tried. Its faults are ignored.
	Scenario *scenarios.Scenario
	// Binary is the testbed binary the components run from.
	Binary string
	// Step is how long each rate is held and measured, after a warm-up of
	// a fifth of it.
	Step time.Duration
	// AcceptP99 bounds the accept latency p99 of a passing step; 0 for
	// none.
	AcceptP99    time.Duration
	ReadyTimeout time.Duration
	// Progress gets a line per step; nil for none.
	Progress io.Writer
	Version  string
	Commit   string
}

// FindCapacity searches, for each architecture of the scenario in turn,
// the highest rate it sustains with the scenario's SLO met: a step passes
// when, over its measured part, the share of offered orders accepted and
// the share completed within the completion deadline both reach
// slo.success_ratio, and the accept p99 stays within AcceptP99. Each
// architecture is started once on the local runtime and attacked step after
// step with fresh order ids; the rate doubles from load.rate until a step
// fails, then bisects. Between steps the backlog a step left is given up to
// load.drain to clear, so that it does not count against the next.
//
// On an error, a cancelled ctx included, it returns the search so far.
func FindCapacity(ctx context.Context, opt CapacityOptions) (*report.CapacitySearch, error) {
	if opt.Step <= 0 {
		return nil, fmt.Errorf("find capacity: step %v: want > 0", opt.Step)
	}
	sc := *opt.Scenario
	sc.Faults = nil
	sc.Catalog.StockMin, sc.Catalog.StockMax = capacityStock, capacityStock
	started := time.Now()
	out := &report.CapacitySearch{
		SchemaVersion: report.CapacitySchemaVersion,
		ID:            started.UTC().Format("20060102-150405") + "-" + sc.Name + "-capacity",
		Scenario:      sc.Name,
		ScenarioFile:  sc.Path,
		ScenarioSHA:   sha(sc.Raw),
		Started:       started.UTC(),
		Step:          opt.Step,
		SLO:           report.SLO{SuccessRatio: sc.SLO.SuccessRatio, CompletionDeadline: sc.SLO.CompletionDeadline.D()},
		AcceptP99:     opt.AcceptP99,
		Provenance:    provenance(Options{Version: opt.Version, Commit: opt.Commit}),
		Notes: []string{
			"Every product's stock was raised so that it never runs out: every order takes the full path, none is cheaply cancelled.",
			"Each architecture ran alone, with the machine to itself, one after the other; the scenario's faults were not injected.",
			fmt.Sprintf("Each step: %s of warm-up, then %s measured; a step passes when accepted / offered and completed within %s / offered both reach %s%%%s.",
				opt.Step/5, opt.Step, sc.SLO.CompletionDeadline.D(), formatRatio(sc.SLO.SuccessRatio), p99Clause(opt.AcceptP99)),
		},
	}
	progress := opt.Progress
	if progress == nil {
		progress = io.Discard
	}
	dir, err := os.MkdirTemp("", "testbed-capacity-")
	if err != nil {
		return nil, fmt.Errorf("capacity dir: %w", err)
	}
	defer os.RemoveAll(dir)
	cat, err := domain.NewCatalog(sc.CatalogConfig())
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, name := range sc.Architectures {
		one := sc
		one.Architectures = []string{name}
		a, err := capacityOf(ctx, opt, &one, dir, cat, progress)
		if err != nil {
			a.Error = err.Error()
			errs = append(errs, fmt.Errorf("capacity of %s: %w", name, err))
		}
		out.Architectures = append(out.Architectures, a)
		if ctx.Err() != nil {
			break
		}
	}
	out.Ended = time.Now().UTC()
	return out, errors.Join(errs...)
}

func p99Clause(bound time.Duration) string {
	if bound <= 0 {
		return ""
	}
	return fmt.Sprintf(", and the accept p99 is at most %s", bound)
}

// formatRatio prints a ratio as a percentage without float noise.
func formatRatio(r float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.4f", 100*r), "0"), ".")
}

// capacityOf starts one architecture and searches its capacity.
func capacityOf(ctx context.Context, opt CapacityOptions, sc *scenarios.Scenario, dir string, cat *domain.Catalog, progress io.Writer) (report.CapacityArch, error) {
	out := report.CapacityArch{Name: sc.Architectures[0]}
	rt := localProcs{local.New(opt.Binary, opt.ReadyTimeout, nil)}
	defer rt.Close(ctx)
	archs, err := start(ctx, rt, sc, dir, "", progress)
	defer func() {
		for _, a := range archs {
			a.plan.close()
		}
	}()
	if err != nil {
		return out, err
	}
	a := archs[0]

	watchCtx, stopWatch := context.WithCancel(context.Background())
	var watcher sync.WaitGroup
	watchErr := make(chan error, 1)
	if !a.plan.synchronous {
		watcher.Add(1)
		go func() {
			defer watcher.Done()
			if err := eda.Watch(watchCtx, a.plan.brokers, a.plan.brokerRoutes, a.complete); err != nil {
				watchErr <- err
			}
		}()
	}
	defer func() {
		stopWatch()
		watcher.Wait()
	}()

	steps := 0
	probe := func(rate float64) (bool, error) {
		select {
		case err := <-watchErr:
			return false, fmt.Errorf("watch terminal events: %w", err)
		default:
		}
		steps++
		st, err := a.capacityStep(ctx, sc, cat, dir, fmt.Sprintf("cap%02d-", steps), rate, opt)
		if err != nil {
			return false, err
		}
		out.Steps = append(out.Steps, st)
		verdict := "pass"
		if !st.Passed {
			verdict = "FAIL: " + st.Why
		}
		fmt.Fprintf(progress, "capacity %s: %7.1f orders/s for %s: accepted %5.1f%%, in deadline %5.1f%%, accept p99 %.1f ms: %s\n",
			a.plan.arch, rate, opt.Step, st.AcceptedPct, st.CompletedPct, st.AcceptP99, verdict)
		// A backlog the step left behind would slow the next one down.
		a.waitFinished(ctx, sc.Load.Drain.D())
		return st.Passed, nil
	}
	floor := capacityMinOrders / opt.Step.Seconds()
	out.PerSec, err = searchRate(sc.Load.Rate, floor, scenarios.MaxRate, probe)
	return out, err
}

// capacityStep holds rate for one step and judges it. Its records and
// terminal events go through the files a run writes, in dir, and are read
// back as a run's report reads them.
func (a *archRun) capacityStep(ctx context.Context, sc *scenarios.Scenario, cat *domain.Catalog, dir, prefix string, rate float64, opt CapacityOptions) (report.CapacityStep, error) {
	st := report.CapacityStep{Rate: rate}
	var answered func(loadgen.Record) // what waitFinished waits for
	if !a.plan.synchronous {
		answered = a.answered
	}
	err := a.begin(filepath.Join(dir, a.plan.arch), false, orderSeq(prefix), loadgen.Config{
		URL: a.plan.orderURL, Rate: rate, Warmup: opt.Step / 5, Duration: opt.Step,
		Timeout: sc.Load.Timeout.D(), MaxInFlight: sc.Load.MaxInFlight,
		Next: func(seq uint64) loadgen.Request {
			o := cat.Order(prefix, seq)
			b, _ := json.Marshal(o) // plain structs of strings and ints cannot fail to encode
			return loadgen.Request{ID: o.ID, Body: b}
		},
		Classify: classify(a.plan.synchronous),
		Observe:  answered,
	})
	if err != nil {
		return st, fmt.Errorf("configure step at %.1f/s: %w", rate, err)
	}
	res, err := a.attacker.Run(ctx)
	if err != nil {
		return st, errors.Join(fmt.Errorf("step at %.1f/s: %w", rate, err), a.endLoad())
	}
	a.result = res
	deadline := sc.SLO.CompletionDeadline.D()
	// The last orders of the step have until their deadline to finish.
	a.waitFinished(ctx, time.Until(res.Start.Add(res.Duration+deadline)))
	if err := a.endLoad(); err != nil {
		return st, fmt.Errorf("step at %.1f/s: %w", rate, err)
	}
	done, err := a.readCompletions()
	tally := res.Tally(done, deadline)
	if err == nil {
		err = a.eachRecord(func(rec *loadgen.Record) error {
			tally.Add(rec)
			return nil
		})
	}
	if err != nil {
		return st, fmt.Errorf("step at %.1f/s: %w", rate, err)
	}
	for _, b := range tally.Seconds() {
		st.Offered += b.Offered
		st.Accepted += b.Accepted
	}
	st.CompletedInDeadline = tally.Completions().InDeadline
	if st.Offered > 0 {
		st.AcceptedPct = 100 * float64(st.Accepted) / float64(st.Offered)
		st.CompletedPct = 100 * float64(st.CompletedInDeadline) / float64(st.Offered)
	}
	p99 := time.Duration(0)
	if h := tally.AcceptLatency(); h.TotalCount() > 0 {
		p99 = time.Duration(h.ValueAtQuantile(99)) * time.Microsecond
		st.AcceptP99 = float64(p99) / float64(time.Millisecond)
	}
	st.Passed, st.Why = judgeStep(st, sc.SLO.SuccessRatio, p99, opt.AcceptP99)
	return st, ctx.Err()
}

// judgeStep says whether a step met the SLO and, if not, what it missed.
func judgeStep(st report.CapacityStep, ratio float64, p99, bound time.Duration) (bool, string) {
	var why []string
	if st.Offered == 0 {
		return false, "nothing was offered"
	}
	if float64(st.Accepted) < ratio*float64(st.Offered) {
		why = append(why, fmt.Sprintf("accepted %.1f%% < %s%%", st.AcceptedPct, formatRatio(ratio)))
	}
	if float64(st.CompletedInDeadline) < ratio*float64(st.Offered) {
		why = append(why, fmt.Sprintf("completed in deadline %.1f%% < %s%%", st.CompletedPct, formatRatio(ratio)))
	}
	if bound > 0 && p99 > bound {
		why = append(why, fmt.Sprintf("accept p99 %s > %s", p99.Round(time.Millisecond), bound))
	}
	return len(why) == 0, strings.Join(why, "; ")
}

// waitFinished waits, at most d, until every order accepted in the current
// step, warm-up included, has reached a terminal state.
func (a *archRun) waitFinished(ctx context.Context, d time.Duration) {
	deadline := time.NewTimer(max(d, 0))
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for a.unfinished() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-tick.C:
		}
	}
}

// searchRate finds the highest rate at which pass holds. It doubles the
// rate from start until a step fails, or halves it down to floor while
// steps fail, then bisects between the highest pass and the lowest failure
// until they are within capacityResolution of each other. It returns 0
// when no rate passed, and the highest passing rate so far on an error.
func searchRate(start, floor, ceiling float64, pass func(float64) (bool, error)) (float64, error) {
	if !(start > 0) {
		return 0, fmt.Errorf("search rate: start %v: want > 0", start)
	}
	lo, hi := 0.0, 0.0
	ok, err := pass(start)
	if err != nil {
		return 0, err
	}
	if ok {
		lo = start
		for hi == 0 {
			rate := lo * 2
			if rate > ceiling {
				return lo, nil
			}
			if ok, err = pass(rate); err != nil {
				return lo, err
			}
			if ok {
				lo = rate
			} else {
				hi = rate
			}
		}
	} else {
		hi = start
		for lo == 0 {
			rate := hi / 2
			if rate < floor {
				return 0, nil
			}
			if ok, err = pass(rate); err != nil {
				return 0, err
			}
			if ok {
				lo = rate
			} else {
				hi = rate
			}
		}
	}
	for i := 0; i < capacityBisections && hi-lo > capacityResolution*hi; i++ {
		mid := (lo + hi) / 2
		if ok, err = pass(mid); err != nil {
			return lo, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, nil
}
