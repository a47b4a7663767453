package run

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/edatestbed/testbed/internal/loadgen"
	"github.com/edatestbed/testbed/internal/report"
	"github.com/edatestbed/testbed/scenarios"
)

// limits of the local runtime, stated in every report it produces.
var localLimits = []string{
	"Broker: kfake keeps one copy of each partition inside the broker process; its three nodes are listeners and leaders over shared state, so there is no replica lag, ISR shrink or unclean election. The docker runtime with real Kafka is the high-fidelity mode.",
	"All processes share one machine and its CPUs with the load generator; absolute latencies and throughput are this machine's, the comparison between architectures is what carries over.",
	"EDA completion is observed by the testbed's own Kafka consumer; the time includes the last event's trip to that consumer.",
}

func summarize(sc *scenarios.Scenario, id string, started time.Time, archs []*archRun, tl *timeline, opt Options) *report.Summary {
	s := &report.Summary{
		SchemaVersion: report.SchemaVersion,
		RunID:         id,
		Scenario:      sc.Name,
		Description:   sc.Description,
		ScenarioFile:  sc.Path,
		ScenarioSHA:   sha(sc.Raw),
		ComparesTo:    sc.ComparesTo,
		Seed:          sc.Seed,
		Started:       started.UTC(),
		Ended:         time.Now().UTC(),
		Provenance:    provenance(opt),
		Load: report.Load{
			Rate: sc.Load.Rate, Warmup: sc.Load.Warmup.D(), Duration: sc.Load.Duration.D(), Drain: sc.Load.Drain.D(),
			Timeout: sc.Load.Timeout.D(), MaxInFlight: sc.Load.MaxInFlight,
		},
		SLO:    report.SLO{SuccessRatio: sc.SLO.SuccessRatio, CompletionDeadline: sc.SLO.CompletionDeadline.D()},
		Faults: tl.report(),
		Limits: append([]string(nil), localLimits...),
	}
	// The databases the architectures of this run kept their state in.
	var dbs []string
	for _, a := range archs {
		if a.plan.database != "" && !slices.Contains(dbs, a.plan.database) {
			dbs = append(dbs, a.plan.database)
		}
	}
	if len(dbs) > 0 {
		s.Provenance.Database = strings.Join(dbs, "; ")
	}
	for _, a := range archs {
		if a.result == nil {
			continue
		}
		s.MeasuredStart = a.result.Start.UTC()
		arch, err := a.summarize(tl, s.SLO)
		if err != nil {
			s.Limits = append(s.Limits, fmt.Sprintf("RECORD INCOMPLETE: %v; the figures of %s cover what could be read.", err, a.plan.arch))
		}
		s.Architectures = append(s.Architectures, arch)
	}
	for i := range s.Faults {
		for j := range s.Faults[i].Mapping {
			h := &s.Faults[i].Mapping[j]
			for _, a := range s.Architectures {
				if a.Name == h.Arch {
					h.Recovery = recoveryAfter(a, s.SLO, h.Healed, s.MeasuredStart)
				}
			}
		}
	}
	return s
}

// recoveryRun is how many windows in a row must meet the SLO for a system
// to count as recovered: one good second can be luck.
const recoveryRun = 3

// recoveryAfter is the time from healed to the start of the first window
// that begins a run of recoveryRun windows meeting the SLO for accept and
// completion; -1 when none does before the measured period ends.
func recoveryAfter(a report.Arch, slo report.SLO, healed, measuredStart time.Time) time.Duration {
	if healed.IsZero() {
		return 0
	}
	// Windows are judged by the orders sent in them, so the first window
	// that can show recovery is the one the heal falls in.
	first := max(0, int(healed.Sub(measuredStart)/time.Second))
	streak := 0
	for i := first; i < len(a.Seconds); i++ {
		if !a.Seconds[i].Up(slo) {
			streak = 0
			continue
		}
		streak++
		if streak == recoveryRun {
			start := measuredStart.Add(time.Duration(i-recoveryRun+1) * time.Second)
			return max(0, start.Sub(healed))
		}
	}
	return -1
}

// summarize reads the architecture's record back, in one pass over the
// records of its requests, and turns it into its part of the report. The
// spools are removed once read; on an error they stay, and the figures
// cover what was read.
func (a *archRun) summarize(tl *timeline, slo report.SLO) (report.Arch, error) {
	r := a.result
	// The watchers have stopped: the terminal events are all in.
	done, err := a.readCompletions()
	a.done = done
	tally := r.Tally(done, slo.CompletionDeadline)
	n := len(tally.Seconds())
	type quantiles struct{ acceptP50, acceptP99, completionP50, completionP99 float64 }
	perSec := make([]quantiles, n)
	win := &windows{r: r, n: n, done: func(w int, accept, completion []time.Duration) {
		perSec[w] = quantiles{quantileMs(accept, 0.50), quantileMs(accept, 0.99), quantileMs(completion, 0.50), quantileMs(completion, 0.99)}
	}}
	bl := &backlog{r: r}
	pick := &picker{r: r}
	if err == nil {
		err = a.eachRecord(func(rec *loadgen.Record) error {
			tally.Add(rec)
			win.add(rec, done)
			bl.add(rec, done)
			pick.add(rec, done)
			return nil
		})
	}
	win.close()
	if err == nil {
		err = a.removeSpools()
	}
	a.picked = pick.picked()

	comp := tally.Completions()
	a.latency = map[string]*hdrhistogram.Histogram{"accept": tally.AcceptLatency(), "completion": comp.Latency}
	out := report.Arch{
		Name:                a.plan.arch,
		About:               a.plan.about,
		Completed:           comp.Completed,
		CompletedInDeadline: comp.InDeadline,
		Unfinished:          comp.Unfinished,
		Abandoned:           comp.Failed,
		Shipped:             comp.States["shipped"],
		Cancelled:           comp.States["cancelled"],
		AcceptLatency:       latency(a.latency["accept"]),
		CompletionLatency:   latency(a.latency["completion"]),
	}
	end := r.Start.Add(r.Duration)
	if comp.Last.After(end) {
		out.LastCompletion = comp.Last.Sub(end)
	}
	out.Backlog = bl.points(comp.Last)
	out.AcceptPercentiles = percentiles(a.latency["accept"])
	out.CompletionPercentiles = percentiles(a.latency["completion"])
	for i, b := range tally.Seconds() {
		out.Offered += b.Offered
		out.Accepted += b.Accepted
		out.Failed += b.Failed
		out.Dropped += b.Dropped
		q := perSec[i]
		out.Seconds = append(out.Seconds, report.Second{
			T: int(b.T / time.Second), Offered: b.Offered, Accepted: b.Accepted, Failed: b.Failed,
			FaultActive:         tl.windowActive(a.plan.arch, r.Start.Add(b.T), r.Start.Add(b.T+time.Second)),
			Completed:           comp.Seconds[i].Completed,
			CompletedInDeadline: comp.Seconds[i].CompletedInDeadline,
			AcceptP50:           q.acceptP50,
			AcceptP99:           q.acceptP99,
			CompletionP50:       q.completionP50,
			CompletionP99:       q.completionP99,
		})
	}
	report.Derive(&out, slo, r.Duration)
	return out, err
}

// latency reads a microsecond histogram into milliseconds.
func latency(h *hdrhistogram.Histogram) report.Latency {
	if h == nil || h.TotalCount() == 0 {
		return report.Latency{}
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return report.Latency{
		Count: h.TotalCount(),
		Mean:  h.Mean() / 1000,
		P50:   ms(h.ValueAtQuantile(50)),
		P95:   ms(h.ValueAtQuantile(95)),
		P99:   ms(h.ValueAtQuantile(99)),
		Max:   ms(h.Max()),
	}
}

// writeHistograms saves each architecture's latency distributions in
// HdrHistogram's percentile format (<arch>/<kind>-latency.hgrm, values in
// milliseconds), which HdrHistogram's plotter and most tooling read.
func writeHistograms(dir string, archs []*archRun) error {
	for _, a := range archs {
		for kind, h := range a.latency {
			if h == nil {
				continue
			}
			path := filepath.Join(dir, a.plan.arch, kind+"-latency.hgrm")
			f, err := os.Create(path)
			if err != nil {
				return fmt.Errorf("write histogram: %w", err)
			}
			_, err = h.PercentilesPrint(f, 5, 1000)
			if err = errors.Join(err, f.Close()); err != nil {
				return fmt.Errorf("write %s: %w", path, err)
			}
		}
	}
	return nil
}

// windows groups the accepted requests of the measured period by the 1 s
// window of their intended send time: their accept latency, and their
// completion latency when they completed. Records come in Seq order, so in
// order of intended time, and each window goes to done once the records
// have moved past it: one window's latencies are held at a time.
type windows struct {
	r    *loadgen.Result
	n    int // windows of the measured period
	done func(w int, accept, completion []time.Duration)

	cur                int // the window being filled
	accept, completion []time.Duration
}

func (ws *windows) add(rec *loadgen.Record, done map[string]loadgen.Completion) {
	w := int(rec.Intended / time.Second)
	if rec.Warmup || rec.Kind != loadgen.Accepted || w < 0 || w >= ws.n {
		return
	}
	for ; ws.cur < w; ws.cur++ {
		ws.pass()
	}
	ws.accept = append(ws.accept, rec.Latency)
	switch c, ok := done[rec.ID]; {
	case rec.Terminal != "":
		ws.completion = append(ws.completion, rec.Latency)
	case ok:
		ws.completion = append(ws.completion, c.At.Sub(ws.r.Start.Add(rec.Intended)))
	}
}

// close hands on the windows not passed on yet.
func (ws *windows) close() {
	for ; ws.cur < ws.n; ws.cur++ {
		ws.pass()
	}
}

func (ws *windows) pass() {
	ws.done(ws.cur, ws.accept, ws.completion)
	ws.accept, ws.completion = ws.accept[:0], ws.completion[:0]
}

// quantileMs is the q-quantile of d in milliseconds (nearest rank), 0 for
// no samples. It sorts d.
func quantileMs(d []time.Duration, q float64) float64 {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := int(math.Ceil(q*float64(len(d)))) - 1
	return float64(d[max(i, 0)]) / float64(time.Millisecond)
}

// percentiles reads a microsecond histogram's percentile distribution.
func percentiles(h *hdrhistogram.Histogram) []report.Percentile {
	if h == nil || h.TotalCount() == 0 {
		return nil
	}
	var out []report.Percentile
	for _, b := range h.CumulativeDistributionWithTicks(5) {
		out = append(out, report.Percentile{Percentile: b.Quantile, Ms: float64(b.ValueAt) / 1000, Count: b.Count})
	}
	return out
}

// backlog samples, every second from the start of the measured period until
// the last completion, how many accepted orders (warm-up included) had been
// answered but had not yet reached a terminal state. Each such order adds
// one from its answer until its completion: a difference array over the
// samples, grown as records come, keeps this linear in records and in
// seconds.
type backlog struct {
	r    *loadgen.Result
	diff []int64
}

// sample is the first sample at or after t.
func (b *backlog) sample(t time.Time) int {
	return max(0, int((t.Sub(b.r.Start)+time.Second-1)/time.Second))
}

func (b *backlog) add(rec *loadgen.Record, done map[string]loadgen.Completion) {
	if rec.Kind != loadgen.Accepted || rec.Terminal != "" {
		return
	}
	from := b.sample(b.r.Start.Add(rec.Intended + rec.Latency))
	to := -1 // never done
	if c, ok := done[rec.ID]; ok {
		if to = b.sample(c.At); to <= from {
			return
		}
	}
	b.grow(max(from, to) + 1)
	b.diff[from]++
	if to >= 0 {
		b.diff[to]--
	}
}

func (b *backlog) grow(n int) {
	if n > len(b.diff) {
		b.diff = append(b.diff, make([]int64, n-len(b.diff))...)
	}
}

// points are the samples until the end of the measured period or last,
// whichever is later.
func (b *backlog) points(last time.Time) []report.BacklogPoint {
	end := b.r.Start.Add(b.r.Duration)
	if last.After(end) {
		end = last
	}
	n := int(end.Sub(b.r.Start)/time.Second) + 1
	b.grow(n)
	out := make([]report.BacklogPoint, n)
	var cur int64
	for i := range out {
		cur += b.diff[i]
		out[i] = report.BacklogPoint{T: i, Orders: cur}
	}
	return out
}
