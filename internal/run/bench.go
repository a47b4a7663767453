package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/edatestbed/testbed/internal/loadgen"
	"github.com/edatestbed/testbed/internal/report"
	"github.com/edatestbed/testbed/internal/runtime/local"
	"github.com/edatestbed/testbed/scenarios"
	"github.com/edatestbed/testbed/system/domain"
)

// benchScenario shapes the systems for capacity probes: stock that never
// runs out, so every order takes the full path and none is cheaply
// cancelled.
const benchScenario = `
name: bench
architectures: [eda, monolith]
load: {rate: 1, duration: 1s, timeout: 2s}
catalog: {skus: 1000, stock_min: 1000000000, stock_max: 1000000000}
slo: {success_ratio: 0.99, completion_deadline: 5s}
`

// Capacity is the highest rate an architecture's order endpoint sustained.
type Capacity struct {
	Arch string
	// Setup says what ran: the whole architecture, or of the EDA only its
	// accept path (AcceptOnly).
	Setup string
	Path  string // what an answer means on this architecture
	Rate  float64
	// P99 is the accept latency's 99th percentile (from each request's
	// intended send time) in the probe that sustained Rate: a POST's 202
	// on the EDA, the whole order's answer on the monolith.
	P99 time.Duration
	// AcceptOnly: only the broker and order-api ran, the saga's services
	// were not started.
	AcceptOnly bool
	// Hold: Rate was asked for and held for one probe, not searched for;
	// Held says whether it passed, Shortfall why not.
	Hold, Held bool
	Shortfall  string
}

// How a bench lays the architectures out, and what it asks of them.
type benchLayout struct {
	bare       bool    // no link proxies, no tracing
	acceptOnly bool    // of the EDA, only the broker and order-api
	hold       float64 // > 0: probe this rate once instead of searching
}

// BenchSystems starts each architecture in turn on the local runtime and
// searches for the highest order rate its POST /orders sustains: for the
// EDA the accept path (order and outbox row written, 202), once with only
// the broker and order-api running and once with the whole saga behind it
// competing for the CPUs; for the monolith the whole synchronous order.
//
// With hold > 0 each of them holds that rate for one probe instead, and its
// Capacity says whether it did: a figure from BENCHMARKS.md checked again,
// or a rate held for longer than the search's steps.
func BenchSystems(ctx context.Context, bin string, step time.Duration, hold float64, progress io.Writer) ([]Capacity, error) {
	alone, err := benchSystems(ctx, bin, step, benchLayout{acceptOnly: true, hold: hold}, []string{scenarios.ArchitectureEDA}, progress)
	if err != nil {
		return alone, err
	}
	whole, err := benchSystems(ctx, bin, step, benchLayout{hold: hold}, nil, progress)
	return append(alone, whole...), err
}

// BenchOverhead measures each architecture's accept path twice, with link
// proxies and tracing (as every run has them) and without, so the
// harness's cost is a figure: the first result of each pair is full, the
// second bare. The EDA runs its accept path alone (broker and order-api):
// with the saga beside it the ratio says more about how the two cores are
// shared than about the harness (104 % in one such run: the saga, slower
// with proxies, left order-api more CPU).
func BenchOverhead(ctx context.Context, bin string, step time.Duration, progress io.Writer) ([][2]Capacity, error) {
	full, err := benchSystems(ctx, bin, step, benchLayout{acceptOnly: true}, nil, progress)
	if err != nil {
		return nil, err
	}
	bare, err := benchSystems(ctx, bin, step, benchLayout{bare: true, acceptOnly: true}, nil, progress)
	if err != nil {
		return nil, err
	}
	out := make([][2]Capacity, len(full))
	for i := range full {
		out[i] = [2]Capacity{full[i], bare[i]}
	}
	return out, nil
}

// benchSystems measures the architectures named (nil: the bench
// scenario's) one after the other, laid out as layout says.
func benchSystems(ctx context.Context, bin string, step time.Duration, layout benchLayout, names []string, progress io.Writer) ([]Capacity, error) {
	sc, err := scenarios.Parse("bench", []byte(benchScenario))
	if err != nil {
		return nil, fmt.Errorf("bench scenario: %w", err)
	}
	if names == nil {
		names = sc.Architectures
	}
	dir, err := os.MkdirTemp("", "testbed-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench dir: %w", err)
	}
	defer os.RemoveAll(dir)
	cat, err := domain.NewCatalog(sc.CatalogConfig())
	if err != nil {
		return nil, err
	}
	var out []Capacity
	for _, name := range names {
		one := *sc
		one.Architectures = []string{name}
		c, err := benchOne(ctx, bin, &one, dir, cat, step, layout, progress)
		if err != nil {
			return out, err
		}
		out = append(out, c)
	}
	return out, nil
}

func benchOne(ctx context.Context, bin string, sc *scenarios.Scenario, dir string, cat *domain.Catalog, step time.Duration, layout benchLayout, progress io.Writer) (Capacity, error) {
	rt := localProcs{local.New(bin, 30*time.Second, nil)}
	defer rt.Close(ctx)
	archs, err := startWith(ctx, rt, sc, dir, planner{bare: layout.bare, acceptOnly: layout.acceptOnly}, progress)
	defer func() {
		for _, a := range archs {
			a.plan.close()
		}
	}()
	if err != nil {
		return Capacity{}, err
	}
	a := archs[0]
	next := orders(cat)
	c := Capacity{Arch: a.plan.arch, Setup: "every component", Path: "202 Accepted: order and its event durable in order-api's outbox"}
	switch {
	case a.plan.synchronous:
		c.Path = "200 with the terminal state: reserved, charged and shipped synchronously"
	case layout.acceptOnly:
		c.Setup, c.AcceptOnly = "broker and order-api only", true
	default:
		c.Setup = "every component, the saga competing for the CPUs"
	}
	t := loadgen.Target{URL: a.plan.orderURL, Next: next, Classify: classify(a.plan.synchronous)}
	if !a.plan.synchronous {
		t.KeptUp = relayKeptUp(strings.TrimSuffix(a.plan.orderURL, "/orders")+"/metrics", progress)
	}
	// The latest probe of each rate: for the rate a search settles on, the
	// one that passed (a rate is probed again only right after it failed,
	// and never once a higher or lower one has been).
	p99 := map[float64]time.Duration{}
	var verdict string // of the latest probe
	t.Probed = func(rate float64, res *loadgen.Result, ok bool) {
		d := time.Duration(res.AcceptLatency().ValueAtQuantile(99)) * time.Microsecond
		p99[rate], verdict = d, loadgen.Verdict(res, ok)
		if progress != nil {
			fmt.Fprintf(progress, "  %s %.0f orders/s: %s, accept p99 %v\n", a.plan.arch, rate, verdict, d.Round(10*time.Microsecond))
		}
	}
	if layout.hold > 0 {
		p := loadgen.NewProber(t, step)
		defer p.Close()
		held, err := p.Probe(ctx, layout.hold)
		if err != nil {
			return c, fmt.Errorf("bench %s: hold %.0f orders/s: %w", a.plan.arch, layout.hold, err)
		}
		c.Rate, c.Hold, c.Held, c.P99 = layout.hold, true, held, p99[layout.hold]
		if !held {
			c.Shortfall = verdict
		}
		return c, nil
	}
	c.Rate, err = loadgen.MaxRate(ctx, t, 100, step)
	c.P99 = p99[c.Rate]
	if err != nil {
		return c, fmt.Errorf("bench %s: %w", a.plan.arch, err)
	}
	return c, nil
}

// relayKeptUp judges an EDA probe by order-api's outbox as well: an
// accept path whose relay falls behind takes orders faster than it can
// ever publish them, so a probe passes only when the backlog of events
// not yet acknowledged by the broker is at most a second's worth of the
// rate at its end. metricsURL is order-api's /metrics.
func relayKeptUp(metricsURL string, progress io.Writer) func(context.Context, float64) (bool, error) {
	return func(ctx context.Context, rate float64) (bool, error) {
		backlog, err := gauge(ctx, metricsURL, "outbox_backlog")
		if err != nil {
			return false, err
		}
		ok := backlog <= rate
		if !ok && progress != nil {
			fmt.Fprintf(progress, "  %.0f orders/s answered, but the outbox relay fell behind: %.0f events unpublished at the end (more than a second's worth)\n", rate, backlog)
		}
		// The next probe starts once the relay has caught up, so that it
		// is not judged on this one's backlog.
		for wait := time.Now().Add(time.Minute); backlog > 0; {
			if time.Now().After(wait) {
				return false, fmt.Errorf("outbox relay still %.0f events behind a minute after the probe", backlog)
			}
			if !waitUntil(ctx, time.Now().Add(100*time.Millisecond)) { // polling interval
				return false, ctx.Err()
			}
			if backlog, err = gauge(ctx, metricsURL, "outbox_backlog"); err != nil {
				return false, err
			}
		}
		return ok, nil
	}
}

// gauge reads the value of an unlabelled gauge from a /metrics page.
func gauge(ctx context.Context, url, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", name, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("read %s: GET %s: %s", name, url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("read %s from %s: %w", name, url, err)
	}
	f, ok := families[name]
	if !ok || len(f.GetMetric()) == 0 || f.GetMetric()[0].GetGauge() == nil {
		return 0, fmt.Errorf("read %s: %s has no such gauge", name, url)
	}
	return f.GetMetric()[0].GetGauge().GetValue(), nil
}

// The memory target of BenchMemory: a two-architecture run stays under
// MemoryLimit of resident memory, every process together (the sum of
// their PSS: pages they share count once), and the testbed's own is flat
// over the measured period (FlatRule).
const (
	MemoryLimit = 1 << 30
	flatShare   = 0.10
	flatFloor   = 16 << 20
)

// FlatRule says in words when BenchMemory calls the testbed's memory flat.
// It compares peaks of halves rather than two samples: the climb to the
// steady state (connections, the collector's heap goal) in the first
// seconds, and the collector's sawtooth within a half, are not growth,
// while memory that grows with the run's length shows as the second half's
// peak above the first's. The floor keeps a small testbed from failing on
// that sawtooth.
const FlatRule = "its peak in the second half of the measured period is at most 10 % or 16 MiB, whichever is larger, above its peak in the first half"

// memoryScenario is BenchMemory's run: both architectures, steady load,
// no faults, stock that never runs out so that every order takes the full
// path however long the run.
const memoryScenario = `name: bench-memory
description: testbed bench memory - two architectures under steady load, no faults.
architectures: [eda, monolith]
load: {rate: %g, warmup: 10s, duration: %s, drain: 30s, timeout: 5s}
catalog: {skus: 1000, stock_min: 1000000000, stock_max: 1000000000}
slo: {success_ratio: 0.99, completion_deadline: 5s}
`

// Files of BenchMemory's samples in the run's bundle.
const (
	MemoryFile          = "memory.csv"           // one line a sample: the testbed, its children, the total
	MemoryProcessesFile = "memory-processes.csv" // one line a child process a sample
)

// MemoryOptions configure BenchMemory.
type MemoryOptions struct {
	Binary     string
	ReportsDir string
	Rate       float64       // orders per second per architecture
	Duration   time.Duration // the measured period
	Every      time.Duration // between samples
	Progress   io.Writer     // the run's progress lines; nil for none
	// Profile saves the run's profiles (Options.Profile): every process's
	// heap at the end of the measured period shows what holds the memory.
	Profile bool
	Version string
	Commit  string
}

// MemorySample is the resident memory of the testbed and of each of its
// child processes at one moment of the run.
type MemorySample struct {
	At       time.Duration // from the start of the measured period
	Testbed  Resident
	Children []ProcessMemory
}

// ProcessMemory is the resident memory of one child process.
type ProcessMemory struct {
	PID  int
	Name string // a component as its unit (eda/order-api), else its command
	Resident
}

// ChildrenMemory is the resident memory of every child process together.
func (s MemorySample) ChildrenMemory() Resident { return sumResident(s.Children) }

// Total is the resident memory of every process of the run together. Its
// PSS is the memory the run holds, each page once; its RSS counts a page
// shared by n processes n times.
func (s MemorySample) Total() Resident { return s.Testbed.plus(s.ChildrenMemory()) }

// MemoryBench is what BenchMemory measured.
type MemoryBench struct {
	Dir     string // the run's bundle, which holds MemoryFile
	Summary *report.Summary
	Samples []MemorySample
	// Peak is the sample with the most resident memory in all (PSS), from
	// the start of the components to the end of the report.
	Peak MemorySample
	// Start and End are the first and the last sample taken within the
	// measured period.
	Start, End MemorySample
	// First and Second are the testbed's peak resident memory (RSS) in
	// the first and in the second half of the measured period, which
	// FlatRule compares.
	First, Second int64
}

// Flat reports whether the testbed's own memory stayed flat over the
// measured period, by FlatRule.
func (m *MemoryBench) Flat() bool { return flat(m.First, m.Second) }

func flat(first, second int64) bool {
	return second-first <= max(int64(flatShare*float64(first)), flatFloor)
}

// BenchMemory runs the EDA and the monolith side by side on the local
// runtime at opt.Rate for opt.Duration, without faults and without Jaeger
// and Prometheus, and samples every opt.Every the resident memory of this
// process and of every process it started. The run writes its bundle as
// any run does, and the samples go into it (MemoryFile,
// MemoryProcessesFile).
func BenchMemory(ctx context.Context, opt MemoryOptions) (*MemoryBench, error) {
	if opt.Every <= 0 {
		return nil, fmt.Errorf("bench memory: sample interval %v: want > 0", opt.Every)
	}
	sc, err := scenarios.Parse("bench-memory", fmt.Appendf(nil, memoryScenario, opt.Rate, opt.Duration))
	if err != nil {
		return nil, fmt.Errorf("bench memory: %w", err)
	}
	type sample struct {
		at time.Time
		rss
	}
	var (
		samples   []sample
		sampleErr error
	)
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		tick := time.NewTicker(opt.Every)
		defer tick.Stop()
		for {
			r, err := sampleRSS("/proc", os.Getpid())
			if err != nil {
				sampleErr = err
				return
			}
			samples = append(samples, sample{time.Now(), r})
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	res, err := Run(ctx, Options{
		Scenario: sc, ReportsDir: opt.ReportsDir, Binary: opt.Binary, Progress: opt.Progress, Every: 10 * time.Second,
		Version: opt.Version, Commit: opt.Commit, ReadyTimeout: 30 * time.Second, Observability: "off", Profile: opt.Profile,
	})
	close(stop)
	sampler.Wait()
	if res == nil {
		return nil, errors.Join(err, sampleErr)
	}
	m := &MemoryBench{Dir: res.Dir, Summary: res.Summary}
	period := sc.Load.Duration.D()
	inPeriod := 0
	for _, s := range samples {
		ms := MemorySample{At: s.at.Sub(res.Summary.MeasuredStart), Testbed: s.Self, Children: s.Children}
		m.Samples = append(m.Samples, ms)
		if ms.Total().PSS > m.Peak.Total().PSS {
			m.Peak = ms
		}
		if ms.At < 0 || ms.At > period {
			continue
		}
		if inPeriod == 0 {
			m.Start = ms
		}
		m.End = ms
		inPeriod++
		if ms.At < period/2 {
			m.First = max(m.First, ms.Testbed.RSS)
		} else {
			m.Second = max(m.Second, ms.Testbed.RSS)
		}
	}
	if (m.First == 0 || m.Second == 0) && sampleErr == nil {
		sampleErr = fmt.Errorf("%d samples within the measured period of %v, not one in each half: sample more often than every %v", inPeriod, period, opt.Every)
	}
	if sampleErr != nil {
		sampleErr = fmt.Errorf("bench memory: %w", sampleErr)
	}
	return m, errors.Join(err, sampleErr, writeMemory(res.Dir, m.Samples))
}

// writeMemory writes the samples into the bundle at dir. A failed row
// sticks in its file, and closing it returns the failure.
func writeMemory(dir string, samples []MemorySample) error {
	kib := func(b int64) string { return strconv.FormatInt(b>>10, 10) }
	at := func(s MemorySample) string { return strconv.FormatFloat(s.At.Seconds(), 'f', 1, 64) }
	sums, err := createLog(filepath.Join(dir, MemoryFile), []string{"at_s", "testbed_rss_kib", "testbed_pss_kib", "children_rss_kib", "children_pss_kib", "total_rss_kib", "total_pss_kib", "children"})
	if err != nil {
		return err
	}
	for _, s := range samples {
		c, t := s.ChildrenMemory(), s.Total()
		_ = sums.writeRow([]string{at(s), kib(s.Testbed.RSS), kib(s.Testbed.PSS), kib(c.RSS), kib(c.PSS), kib(t.RSS), kib(t.PSS), strconv.Itoa(len(s.Children))})
	}
	procs, err := createLog(filepath.Join(dir, MemoryProcessesFile), []string{"at_s", "pid", "process", "rss_kib", "pss_kib"})
	if err != nil {
		return errors.Join(err, sums.close())
	}
	for _, s := range samples {
		for _, c := range s.Children {
			_ = procs.writeRow([]string{at(s), strconv.Itoa(c.PID), c.Name, kib(c.RSS), kib(c.PSS)})
		}
	}
	return closeLogs(sums, procs)
}
