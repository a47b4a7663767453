// Package run is the orchestrator of one scenario: start every architecture,
// warm up, drive the same load through all of them while the fault timeline
// plays, drain, then turn what was measured into the run bundle.
package run

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/edatestbed/testbed/internal/broker"
	"github.com/edatestbed/testbed/internal/check"
	"github.com/edatestbed/testbed/internal/links"
	"github.com/edatestbed/testbed/internal/loadgen"
	"github.com/edatestbed/testbed/internal/report"
	"github.com/edatestbed/testbed/internal/runtime/local"
	"github.com/edatestbed/testbed/internal/stack"
	"github.com/edatestbed/testbed/scenarios"
	"github.com/edatestbed/testbed/system/domain"
	"github.com/edatestbed/testbed/system/eda"
	"github.com/edatestbed/testbed/system/store"
)

// Options configure a run.
type Options struct {
	Scenario   *scenarios.Scenario
	ReportsDir string    // the bundle goes to ReportsDir/<run id>
	Binary     string    // testbed binary the components run from
	Progress   io.Writer // progress lines; nil for none
	Every      time.Duration
	Version    string
	Commit     string
	// ReadyTimeout bounds each component's start.
	ReadyTimeout time.Duration
	// Observability "off" runs without Jaeger and Prometheus even when
	// they are installed; anything else starts what is found.
	Observability string
	// Hold keeps everything running after the drain, for exploring Jaeger
	// and Prometheus, until ctx ends; the report is written after.
	Hold bool
	// BeforeTeardown, when set, is called after the drain with what is
	// running; tests query Jaeger and Prometheus there.
	BeforeTeardown func(Observed)
	// Elasticsearch, when set, is the URL the run's logs are shipped to
	// after the run.
	Elasticsearch string
	// Grafana, when set, is the base URL of a Grafana with the dashboards of
	// dashboards/grafana, for links in the report; the run starts none.
	Grafana string
	// Profile has every component serve Go's profiles and saves, per
	// component, a CPU profile of the measured period and a heap profile at
	// its end into <arch>/profiles/ (go tool pprof reads them), and the
	// testbed's own CPU profile into profiles/.
	Profile bool
	// Runtime is where the units run: RuntimeLocal (default) or
	// RuntimeDocker.
	Runtime string
	// Break maps EDA components to a guarantee they give up (eda.Break*):
	// only for tests that prove the checkers notice. Never set by users.
	Break map[string]string
}

// Observed is what a run has running at its end.
type Observed struct {
	Stack *stack.Stack
	// OrderURLs maps an architecture to its POST /orders endpoint.
	OrderURLs map[string]string
}

// Result is where the bundle went and what it says.
type Result struct {
	Dir     string
	Summary *report.Summary
}

// archRun is one architecture during the run.
type archRun struct {
	plan     plan
	attacker *loadgen.Attacker
	result   *loadgen.Result

	// The files the current load writes as it goes (begin), which the
	// report reads back.
	requests  *requestLog
	terminals *terminalLog // nil for a synchronous architecture

	mu        sync.Mutex
	recording bool  // terminal events go to terminals
	termErr   error // the first that could not be written

	// The live view: progress, the drain, the live histograms (nil
	// completions: none). measuredStart is set before the load; the rest,
	// for an event-driven architecture, under mu: three bits per order of
	// the load, by Seq (seqOf reads it from an order id, intended gives its
	// scheduled send time), say whether its record is final, whether it was
	// accepted and whether its terminal event came; early holds the
	// terminal events that came before their order's record was final,
	// until it is; finished counts the orders whose terminal event came,
	// waiting the accepted orders whose event has not come yet.
	measuredStart time.Time
	completions   prometheus.Observer // the architecture's live completion histogram
	seqOf         func(id string) (uint64, bool)
	intended      func(seq uint64) time.Duration
	final         bitset
	accepted      bitset
	ended         bitset
	early         map[uint64]time.Time
	finished      int64
	waiting       int64

	// Once the run is over: done maps each order to its first terminal
	// event, latency holds the accept and completion histograms, picked
	// the orders the report follows into the logs.
	done    map[string]loadgen.Completion
	latency map[string]*hdrhistogram.Histogram
	picked  []tracedCand
}

func (a *archRun) complete(t eda.Terminal) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.recording && a.termErr == nil {
		a.termErr = a.terminals.write(t)
	}
	if a.seqOf == nil {
		return // no load has begun, so no order of it has ended
	}
	seq, ok := a.seqOf(t.OrderID)
	if !ok || a.ended.has(seq) {
		return // not an order of this load, or a duplicate: the first event counts
	}
	a.ended.set(seq)
	a.finished++
	switch {
	case !a.final.has(seq):
		if a.early == nil {
			a.early = map[uint64]time.Time{}
		}
		a.early[seq] = t.At
	case a.accepted.has(seq):
		a.waiting--
		a.observe(t.At.Sub(a.measuredStart.Add(a.intended(seq))))
	}
}

// answered notes an event-driven architecture's final record: an accepted
// order waits for its terminal event unless that came first.
func (a *archRun) answered(r loadgen.Record) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.final.set(r.Seq)
	at, early := a.early[r.Seq]
	delete(a.early, r.Seq)
	switch {
	case r.Kind != loadgen.Accepted:
	case early:
		a.accepted.set(r.Seq)
		a.observe(at.Sub(a.measuredStart.Add(r.Intended)))
	default:
		a.accepted.set(r.Seq)
		a.waiting++
	}
}

// observe puts the completion latency of an accepted order into the live
// histogram. Called with mu held.
func (a *archRun) observe(d time.Duration) {
	if a.completions != nil {
		a.completions.Observe(d.Seconds())
	}
}

// completed counts the orders the testbed saw reach a terminal state.
func (a *archRun) completed() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return int(a.finished)
}

// bitset is a growable set of small numbers.
type bitset []uint64

func (b *bitset) set(i uint64) {
	for uint64(len(*b)) <= i/64 {
		*b = append(*b, 0)
	}
	(*b)[i/64] |= 1 << (i % 64)
}

func (b bitset) has(i uint64) bool { return i/64 < uint64(len(b)) && b[i/64]&(1<<(i%64)) != 0 }

// Run executes the scenario and writes its bundle. When ctx is cancelled
// mid-run it stops the load, heals the faults, tears everything down and
// still writes what was measured, marked as interrupted.
func Run(ctx context.Context, opt Options) (*Result, error) {
	sc := opt.Scenario
	started := time.Now()
	id := started.UTC().Format("20060102-150405") + "-" + sc.Name
	dir := filepath.Join(opt.ReportsDir, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create run bundle: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "scenario.yaml"), sc.Raw, 0o644); err != nil {
		return nil, fmt.Errorf("copy scenario into bundle: %w", err)
	}
	var progress io.Writer = io.Discard
	if opt.Progress != nil {
		// Faults, the progress ticker and the runtime all report from their
		// own goroutines; one lock keeps their lines whole.
		progress = &syncWriter{w: opt.Progress}
	}
	fmt.Fprintf(progress, "run %s: %s\n", id, dir)

	var exitsMu sync.Mutex
	var exits []string
	onExit := func(name string, err error) {
		msg := fmt.Sprintf("%s exited on its own at +%.1f s (%v); see %s/logs/%s.log", name, time.Since(started).Seconds(), err, filepath.Dir(name), filepath.Base(name))
		fmt.Fprintln(progress, "warning:", msg)
		exitsMu.Lock()
		exits = append(exits, msg)
		exitsMu.Unlock()
	}
	// The observability stack runs on the host whatever the runtime.
	host := local.New(opt.Binary, opt.ReadyTimeout, onExit)
	defer func() {
		if err := host.Close(5 * time.Second); err != nil {
			fmt.Fprintf(progress, "teardown: %v\n", err)
		}
	}()
	rt, err := openRuntime(ctx, opt, id, host, onExit, progress)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := rt.Close(context.WithoutCancel(ctx)); err != nil {
			fmt.Fprintf(progress, "teardown: %v\n", err)
		}
	}()

	st := &stack.Stack{}
	var jaeger, prom string
	if opt.Observability != "off" {
		var why []string
		if jaeger, why = findTool("jaeger", "run `make tools` to build it (about 5 minutes, once)", why); jaeger != "" {
			js, err := stack.Start(ctx, host, stack.Options{Dir: dir, Jaeger: jaeger})
			if err != nil {
				fmt.Fprintf(progress, "observability: %v; going on without Jaeger\n", err)
			} else {
				st = js
			}
		}
		prom, why = findTool("prometheus", "install it with `apt-get install prometheus`", why)
		for _, w := range why {
			fmt.Fprintf(progress, "observability: %s\n", w)
		}
	}

	archs, err := startWith(ctx, rt, sc, dir, planner{otlp: st.OTLP, breaks: opt.Break, profile: opt.Profile}, progress)
	defer func() {
		for _, a := range archs {
			a.plan.close()
		}
	}()
	if err != nil {
		return nil, err
	}

	cat, err := domain.NewCatalog(sc.CatalogConfig())
	if err != nil {
		return nil, err
	}
	var spikes []loadgen.Spike
	for _, f := range sc.Faults {
		if f.Type == scenarios.FaultLoadSpike {
			spikes = append(spikes, loadgen.Spike{From: f.At.D(), To: (f.At + f.Duration).D(), Factor: f.Factor})
		}
	}
	live := newLatencies()
	for _, a := range archs {
		a.completions = live.completion.WithLabelValues(a.plan.arch)
		err = a.begin(filepath.Join(dir, a.plan.arch), true, orderSeq(orderPrefix), loadgen.Config{
			URL: a.plan.orderURL, Rate: sc.Load.Rate, Warmup: sc.Load.Warmup.D(), Duration: sc.Load.Duration.D(),
			Timeout: sc.Load.Timeout.D(), MaxInFlight: sc.Load.MaxInFlight, Spikes: spikes,
			Next:     orders(cat),
			Classify: classify(a.plan.synchronous),
			Observe:  live.observer(a),
		})
		if err != nil {
			return nil, fmt.Errorf("configure load for %s: %w", a.plan.arch, err)
		}
	}

	// Terminal events of event-driven architectures are observed on Kafka
	// from before the first order until the drain ends.
	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	var watchers sync.WaitGroup
	watchErr := make(chan error, len(archs))
	for _, a := range archs {
		if a.plan.synchronous {
			continue
		}
		watchers.Add(1)
		go func() {
			defer watchers.Done()
			if err := eda.Watch(watchCtx, a.plan.brokers, a.plan.brokerRoutes, a.complete); err != nil {
				watchErr <- fmt.Errorf("%s: %w", a.plan.arch, err)
			}
		}()
	}

	loadStart := time.Now()
	measuredStart := loadStart.Add(sc.Load.Warmup.D())
	for _, a := range archs {
		a.measuredStart = measuredStart
	}
	tl := newTimeline(sc, archs, rt)
	defer func() {
		heal, cancel := context.WithTimeout(context.Background(), opt.ReadyTimeout)
		defer cancel()
		if err := tl.healAll(heal); err != nil {
			fmt.Fprintf(progress, "heal at teardown: %v\n", err)
		}
	}()
	metricsCtx, stopMetrics := context.WithCancel(context.Background())
	defer stopMetrics()
	metricsAddr, err := serveMetrics(metricsCtx, slog.New(slog.DiscardHandler), newTestbedCollector(archs, tl, live))
	if err != nil {
		return nil, fmt.Errorf("serve testbed metrics: %w", err)
	}
	if prom != "" {
		ps, err := stack.Start(ctx, host, stack.Options{Dir: dir, Prom: prom, Targets: scrapeTargets(archs, metricsAddr), Rules: ruleFiles()})
		if err != nil {
			fmt.Fprintf(progress, "observability: %v; going on without Prometheus\n", err)
		} else {
			st.PrometheusURL = ps.PrometheusURL
		}
	}
	if st.JaegerUI != "" || st.PrometheusURL != "" {
		fmt.Fprintf(progress, "watch the run: Jaeger %s  Prometheus %s\n", orNone(st.JaegerUI), orNone(st.PrometheusURL))
	}

	var prof *profiler
	if opt.Profile {
		prof = newProfiler(dir, archs)
		prof.cpu(ctx, measuredStart, sc.Load.Duration.D())
	}

	tlCtx, stopTimeline := context.WithCancel(ctx)
	tlDone := make(chan error, 1)
	go func() { tlDone <- tl.play(tlCtx, measuredStart, progress) }()

	stopProgress := reportProgress(progress, opt.Every, loadStart, sc, archs, tl)
	var load sync.WaitGroup
	loadErrs := make([]error, len(archs))
	for i, a := range archs {
		load.Add(1)
		go func() {
			defer load.Done()
			a.result, loadErrs[i] = a.attacker.Run(ctx)
		}()
	}
	load.Wait()
	interrupted := ctx.Err() != nil
	if !interrupted {
		drain(ctx, sc.Load.Drain.D(), archs, progress)
		interrupted = ctx.Err() != nil
	}
	stopProgress()
	stopTimeline()
	timelineErr := <-tlDone
	stopWatch()
	watchers.Wait()
	close(watchErr)

	if prof != nil {
		prof.heap(ctx)
		if err := prof.wait(); err != nil {
			fmt.Fprintf(progress, "warning: %v\n", err)
		}
	}
	if opt.BeforeTeardown != nil {
		urls := map[string]string{}
		for _, a := range archs {
			urls[a.plan.arch] = a.plan.orderURL
		}
		opt.BeforeTeardown(Observed{Stack: st, OrderURLs: urls})
	}
	if opt.Hold && !interrupted {
		fmt.Fprintf(progress, "holding: everything stays up (Jaeger %s, Prometheus %s); Ctrl-C to tear down and write the report\n", orNone(st.JaegerUI), orNone(st.PrometheusURL))
		<-ctx.Done()
	}

	// What the checkers need, written before teardown: the load
	// generator's record of every request and the terminal events seen.
	// The payment provider's ledger and the systems' own databases are
	// read after teardown, once every process has closed them.
	var runErrs []error
	heal, cancelHeal := context.WithTimeout(context.Background(), opt.ReadyTimeout)
	if err := tl.healAll(heal); err != nil {
		runErrs = append(runErrs, fmt.Errorf("heal faults: %w", err))
	}
	cancelHeal()
	for _, a := range archs {
		if err := a.writeRecords(ctx, dir); err != nil {
			runErrs = append(runErrs, err)
		}
	}
	if err := rt.Close(context.WithoutCancel(ctx)); err != nil {
		fmt.Fprintf(progress, "teardown: %v\n", err)
	}
	if err := host.Close(5 * time.Second); err != nil {
		fmt.Fprintf(progress, "teardown: %v\n", err)
	}
	for _, a := range archs {
		if err := a.saveLedger(ctx, dir); err != nil {
			runErrs = append(runErrs, err)
		}
	}

	for i, err := range loadErrs {
		if err != nil && !errors.Is(err, context.Canceled) {
			runErrs = append(runErrs, fmt.Errorf("load on %s: %w", archs[i].plan.arch, err))
		}
	}
	for err := range watchErr {
		runErrs = append(runErrs, fmt.Errorf("watch terminal events: %w", err))
	}
	if timelineErr != nil && !errors.Is(timelineErr, context.Canceled) {
		runErrs = append(runErrs, timelineErr)
	}

	if opt.Elasticsearch != "" {
		if err := shipLogs(ctx, opt.Elasticsearch, dir, id, sc.Name, archs, progress); err != nil {
			fmt.Fprintf(progress, "warning: %v\n", err)
		}
	}
	s := summarize(sc, id, started, archs, tl, opt)
	for _, a := range archs {
		for i := range s.Architectures {
			if s.Architectures[i].Name == a.plan.arch {
				s.Architectures[i].Traced = a.traced(dir)
				s.Architectures[i].ReadModelLag = a.readModelLag(dir)
				s.Architectures[i].Hops = a.hops(dir)
			}
		}
		// An entry per order, read by nothing after the read model's lag:
		// the checkers need the memory next.
		a.done = nil
	}
	if st.JaegerUI != "" || st.PrometheusURL != "" || opt.Grafana != "" {
		s.Observability = &report.Observability{JaegerUI: st.JaegerUI, Prometheus: st.PrometheusURL, Grafana: opt.Grafana}
	}
	// The checkers read the systems' databases, closed by the teardown.
	checks, err := check.Run(context.WithoutCancel(ctx), dir, sc)
	if err != nil {
		runErrs = append(runErrs, fmt.Errorf("check end state: %w", err))
	}
	s.Checks = checks
	for _, c := range checks {
		if !c.Passed {
			fmt.Fprintf(progress, "check %s on %s FAILED: %s\n", c.Name, c.Arch, c.Detail)
		}
	}
	exitsMu.Lock()
	for _, x := range exits {
		s.Limits = append([]string{"UNPLANNED EXIT: " + x + " — nothing restarted it, so the figures include its absence."}, s.Limits...)
	}
	exitsMu.Unlock()
	if interrupted {
		s.Limits = append([]string{"INTERRUPTED: the run was stopped before its end; the figures cover only what was measured until then."}, s.Limits...)
	}
	if err := report.WriteBundle(dir, s); err != nil {
		return nil, errors.Join(append(runErrs, err)...)
	}
	if err := writeHistograms(dir, archs); err != nil {
		runErrs = append(runErrs, err)
	}
	res := &Result{Dir: dir, Summary: s}
	if interrupted {
		return res, errors.Join(append(runErrs, ctx.Err())...)
	}
	return res, errors.Join(runErrs...)
}

// start lays out and starts every architecture of the scenario, sending
// spans to otlp when it is set. On error it returns the architectures laid
// out so far, for teardown.
func start(ctx context.Context, rt procs, sc *scenarios.Scenario, dir, otlp string, progress io.Writer) ([]*archRun, error) {
	return startWith(ctx, rt, sc, dir, planner{otlp: otlp}, progress)
}

// startWith lays out every architecture with the options of base.
func startWith(ctx context.Context, rt procs, sc *scenarios.Scenario, dir string, base planner, progress io.Writer) ([]*archRun, error) {
	var archs []*archRun
	base.ports = local.NewPorts()
	for i, name := range sc.Architectures {
		p := base
		p.dir, p.sc, p.containers = dir, sc, rt.containers()
		if p.containers && p.bare {
			return archs, errors.New("runs without link proxies need the local runtime")
		}
		host, err := rt.linkHost(ctx, name, i)
		if err != nil {
			return archs, fmt.Errorf("plan %s: %w", name, err)
		}
		p.host = host
		var otlpLink *links.Set
		if p.containers && p.otlp != "" {
			// Units in containers reach the host's Jaeger through a proxy
			// on their network, as they reach everything else.
			otlpLink = links.NewSet()
			l, err := otlpLink.Add("telemetry", "jaeger", p.host, p.otlp)
			if err != nil {
				otlpLink.Close()
				return archs, fmt.Errorf("plan %s: %w", name, err)
			}
			p.otlp = l.Listen
		}
		var pl plan
		switch name {
		case scenarios.ArchitectureEDA:
			pl, err = p.eda()
		case scenarios.ArchitectureMonolith:
			pl, err = p.monolith()
		case scenarios.ArchitectureMonolithHA:
			pl, err = p.monolithHA()
		case scenarios.ArchitectureSyncServices:
			pl, err = p.syncServices()
		default:
			err = fmt.Errorf("architecture %q is not implemented; allowed: %v", name, scenarios.ArchitectureNames())
		}
		if err != nil {
			if otlpLink != nil {
				otlpLink.Close()
			}
			return archs, fmt.Errorf("plan %s: %w", name, err)
		}
		pl.otlpLink = otlpLink
		archs = append(archs, &archRun{plan: pl})
		t0 := time.Now()
		for _, u := range pl.components {
			u.node = pl.nodeOf(u.name)
			if err := rt.Start(ctx, u); err != nil {
				return archs, err
			}
		}
		where := "on " + p.host
		if p.containers {
			where = "in containers (link proxies on " + p.host + ")"
		}
		fmt.Fprintf(progress, "%s: %d components and %d links ready %s in %v\n", name, len(pl.components), pl.links.Len(), where, time.Since(t0).Round(time.Millisecond))
	}
	return archs, nil
}

// orderPrefix starts the id of every order of a run.
const orderPrefix = "o-"

// orders builds the seq-th order of the run, identical for every
// architecture.
func orders(cat *domain.Catalog) func(uint64) loadgen.Request {
	return func(seq uint64) loadgen.Request {
		o := cat.Order(orderPrefix, seq)
		b, _ := json.Marshal(o) // plain structs of strings and ints cannot fail to encode
		return loadgen.Request{ID: o.ID, Body: b}
	}
}

// classify reads an architecture's answer: the monolith answers 200 with
// the terminal state, order-api answers 202 once the order is durable.
// The EDA's equivalent of a monolith order cancelled for a system fault is
// a Failed completion, recorded when its OrderCancelled event arrives.
func classify(synchronous bool) func(int, []byte) loadgen.Outcome {
	return func(status int, body []byte) loadgen.Outcome {
		if synchronous {
			var o struct {
				ID     string       `json:"id"`
				State  domain.State `json:"state"`
				Reason string       `json:"reason"`
			}
			// An order cancelled because a dependency was down was not
			// taken: the customer saw a failure, whatever the status code.
			if status != 200 || json.Unmarshal(body, &o) != nil || !o.State.Terminal() || domain.SystemFault(o.Reason) {
				return loadgen.Outcome{}
			}
			return loadgen.Outcome{Accepted: true, OrderID: o.ID, Terminal: string(o.State)}
		}
		return loadgen.Outcome{Accepted: status == 202}
	}
}

// drain waits, at most d, until every order the event-driven architectures
// accepted has reached a terminal state.
func drain(ctx context.Context, d time.Duration, archs []*archRun, progress io.Writer) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		pending := 0
		for _, a := range archs {
			pending += a.unfinished()
		}
		if pending == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			fmt.Fprintf(progress, "drain: %v elapsed with %d accepted orders not finished\n", d, pending)
			return
		case <-tick.C:
		}
	}
}

// unfinished counts accepted orders without a terminal state yet.
func (a *archRun) unfinished() int {
	if a.plan.synchronous {
		return 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return int(a.waiting)
}

func provenance(opt Options) report.Provenance {
	return report.Provenance{
		Version: opt.Version, Commit: opt.Commit, Runtime: runtimeName(opt.Runtime), Broker: broker.Implementation,
		Database: store.Driver, GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(),
	}
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// findTool locates an observability binary, adding why to notes when it is
// missing.
func findTool(name, hint string, notes []string) (string, []string) {
	path, why := stack.Find(name, hint)
	if why != "" {
		notes = append(notes, why)
	}
	return path, notes
}

// scrapeTargets lists every component's metrics endpoint and the testbed's.
func scrapeTargets(archs []*archRun, testbed string) []stack.Target {
	targets := []stack.Target{{Addr: testbed, Labels: map[string]string{"component": "testbed"}}}
	for _, a := range archs {
		for _, c := range a.plan.components {
			u, err := url.Parse(c.Health)
			if err != nil || strings.HasSuffix(c.Name, "/"+pspComponent) {
				continue // the provider is external; it exports no metrics
			}
			targets = append(targets, stack.Target{Addr: u.Host, Labels: map[string]string{"arch": a.plan.arch, "component": filepath.Base(c.Name)}})
		}
	}
	return targets
}

// ruleFiles are the recording and alerting rules shipped in dashboards/,
// when the run starts from the repository.
func ruleFiles() []string {
	files, _ := filepath.Glob(filepath.Join("dashboards", "prometheus", "*.rules.yml"))
	for i, f := range files {
		files[i], _ = filepath.Abs(f)
	}
	return files
}

func orNone(s string) string {
	if s == "" {
		return "(not running)"
	}
	return s
}

// syncWriter serialises writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
