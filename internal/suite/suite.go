// Package suite runs a named set of scenarios several times with different
// seeds, one run after another on one machine, and writes one report of
// the statistics of their figures (mean, standard deviation, 95 %
// confidence interval, coefficient of variation) beside the seed paper's.
package suite

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/edatestbed/testbed/internal/report"
	"github.com/edatestbed/testbed/internal/run"
	"github.com/edatestbed/testbed/scenarios"
)

// Definition is a named suite: the scenarios it runs.
type Definition struct {
	Name        string
	Description string
	// Scenarios are looked up as <scenario dir>/<name>.yaml.
	Scenarios []string
}

// Definitions lists the suites the testbed knows.
func Definitions() []Definition {
	return []Definition{{
		Name:        "paper",
		Description: "The seed paper's experiments: the fault-free baseline and the three fault scenarios of its Table 2 (single service failure, network partition, hardware failure), eda and monolith side by side.",
		Scenarios:   []string{"baseline", "service-crash", "network-partition", "node-loss"},
	}}
}

// Lookup returns the suite named name.
func Lookup(name string) (Definition, error) {
	var names []string
	for _, d := range Definitions() {
		if d.Name == name {
			return d, nil
		}
		names = append(names, d.Name)
	}
	return Definition{}, fmt.Errorf("unknown suite %q; allowed: %s", name, strings.Join(names, ", "))
}

// Runner runs one scenario and writes its bundle, as run.Run does: on an
// error it may still return the result of what was measured.
type Runner func(ctx context.Context, sc *scenarios.Scenario) (*run.Result, error)

// Options configure a suite.
type Options struct {
	Suite Definition
	// ScenarioDir holds the suite's scenario files.
	ScenarioDir string
	// Repeats is how many times each scenario runs, seeds counting up
	// from the file's.
	Repeats int
	// Duration, when > 0, replaces every scenario's measured period and
	// scales its other durations with it; see Variant.
	Duration time.Duration
	// ReportsDir holds the runs' bundles and the suite report, side by
	// side.
	ReportsDir string
	Run        Runner
	// Capacity, when set, is attached to every run's summary and to the
	// suite's Table 1; CapacitySource is the file it came from.
	Capacity       *report.CapacitySearch
	CapacitySource string
	// Notes are further ways the runs differ from a plain `testbed run`,
	// stated in the report.
	Notes []string
	// Progress gets a line before each run; nil for none.
	Progress io.Writer
	Version  string
	Commit   string
}

// Result is where the suite report went and what it says.
type Result struct {
	Dir   string
	Suite *report.Suite
}

// job is one run of the suite.
type job struct {
	sc     *scenarios.Scenario
	repeat int // from 1
}

// runOverhead is a run's time beyond its scenario's warm-up, measured
// period and drain (start, checks, teardown, report), for the first ETA.
const runOverhead = 10 * time.Second

// Run runs every scenario of the suite Repeats times, repeat after repeat
// (every scenario once, then again), and writes the suite report into
// ReportsDir/<suite id>. Repeat k runs with the file's seed + k − 1. Every
// scenario and every variant is checked before the first run starts.
//
// When ctx is cancelled the run under way stops and writes what it
// measured, no further run starts, and the report of what finished is
// written, marked interrupted. A run that fails does not stop the suite;
// the errors of all runs are joined in the returned error, with the result.
func Run(ctx context.Context, opt Options) (*Result, error) {
	jobs, err := plan(opt)
	if err != nil {
		return nil, err
	}
	progress := opt.Progress
	if progress == nil {
		progress = io.Discard
	}
	started := time.Now()
	id := started.UTC().Format("20060102-150405") + "-suite-" + opt.Suite.Name
	dir := filepath.Join(opt.ReportsDir, id)
	s := &report.Suite{
		SchemaVersion: report.SuiteSchemaVersion,
		SuiteID:       id,
		Name:          opt.Suite.Name,
		Description:   opt.Suite.Description,
		Started:       started.UTC(),
		Repeats:       opt.Repeats,
		Overrides:     overrides(opt),
	}
	if c := opt.Capacity; c != nil {
		s.Capacity = &report.SuiteCapacity{ID: c.ID, Source: relSlash(dir, opt.CapacitySource), Step: c.Step}
		for _, a := range c.Architectures {
			if a.PerSec > 0 {
				s.Capacity.Figures = append(s.Capacity.Figures, report.CapacityFigure{Arch: a.Name, PerSec: a.PerSec})
			}
		}
	}
	fmt.Fprintf(progress, "suite %s: %d runs (%d scenarios × %d repeats); report in %s\n", opt.Suite.Name, len(jobs), len(opt.Suite.Scenarios), opt.Repeats, dir)

	summaries := map[string]*report.Summary{}
	var took []time.Duration
	var errs []error
	for i, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(progress, "suite %s: run %d of %d: %s, repeat %d of %d, seed %d; %s\n",
			opt.Suite.Name, i+1, len(jobs), j.sc.Name, j.repeat, opt.Repeats, j.sc.Seed, eta(jobs[:i], took, jobs[i:]))
		t0 := time.Now()
		// A run that could not even start measured nothing; one more try
		// keeps a passing hiccup (a port taken in between) from costing
		// the scenario a repeat. Both attempts are listed.
		for attempt := 1; attempt <= maxAttempts && ctx.Err() == nil; attempt++ {
			res, err := opt.Run(ctx, j.sc)
			r := record(ctx, j, res, err)
			if r.Status != report.RunFailed {
				r.Bundle = relSlash(dir, res.Dir)
				summaries[r.RunID] = res.Summary
				if err := attachCapacity(res, opt.Capacity); err != nil {
					errs = append(errs, err)
				}
			}
			s.Runs = append(s.Runs, r)
			if r.Status == report.RunFailed && attempt < maxAttempts && ctx.Err() == nil {
				fmt.Fprintf(progress, "suite %s: run %d failed to start (%v); trying once more\n", opt.Suite.Name, i+1, err)
				continue
			}
			if err != nil && r.Status != report.RunInterrupted {
				errs = append(errs, fmt.Errorf("run %d (%s, repeat %d): %w", i+1, j.sc.Name, j.repeat, err))
			}
			break
		}
		took = append(took, time.Since(t0))
	}
	s.Interrupted = ctx.Err() != nil
	s.Ended = time.Now().UTC()
	s.Provenance = provenanceOf(s.Runs, summaries, opt)
	report.SummarizeSuite(s, summaries)
	if err := report.WriteSuite(dir, s); err != nil {
		return nil, errors.Join(append(errs, err)...)
	}
	res := &Result{Dir: dir, Suite: s}
	if s.Interrupted {
		errs = append(errs, ctx.Err())
	}
	return res, errors.Join(errs...)
}

// maxAttempts is how often a run that fails to start is tried.
const maxAttempts = 2

// record describes how one attempt at a job ended.
func record(ctx context.Context, j job, res *run.Result, err error) report.SuiteRun {
	r := report.SuiteRun{Scenario: j.sc.Name, Repeat: j.repeat, Seed: j.sc.Seed, ScenarioSHA: shaOf(j.sc.Raw)}
	switch {
	case res == nil || res.Summary == nil:
		r.Status = report.RunFailed
	case ctx.Err() != nil:
		r.Status = report.RunInterrupted
	case err != nil:
		r.Status = report.RunError
	default:
		r.Status = report.RunOK
	}
	if r.Status != report.RunFailed {
		r.RunID = res.Summary.RunID
	}
	if err != nil && r.Status != report.RunInterrupted {
		r.Error = err.Error()
	}
	return r
}

// plan loads every scenario of the suite and derives the variant of every
// run, so that a mistake shows before the first run, not an hour in.
func plan(opt Options) ([]job, error) {
	if opt.Repeats < 1 {
		return nil, fmt.Errorf("suite %s: repeats %d: want at least 1", opt.Suite.Name, opt.Repeats)
	}
	if opt.Run == nil {
		return nil, fmt.Errorf("suite %s: no runner", opt.Suite.Name)
	}
	var errs []error
	files := make([]*scenarios.Scenario, 0, len(opt.Suite.Scenarios))
	for _, name := range opt.Suite.Scenarios {
		sc, err := scenarios.Load(filepath.Join(opt.ScenarioDir, name+".yaml"))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		files = append(files, sc)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("suite %s: %w", opt.Suite.Name, errors.Join(errs...))
	}
	var jobs []job
	for k := range opt.Repeats {
		for _, sc := range files {
			v, err := Variant(sc, sc.Seed+int64(k), opt.Duration)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			jobs = append(jobs, job{sc: v, repeat: k + 1})
		}
		if len(errs) > 0 {
			// Every repeat fails the same way; once is enough.
			return nil, fmt.Errorf("suite %s: %w", opt.Suite.Name, errors.Join(errs...))
		}
	}
	return jobs, nil
}

// eta estimates the time left before the remaining jobs: their scenarios'
// length plus a fixed overhead, scaled by how long the finished runs took
// against the same estimate.
func eta(done []job, took []time.Duration, remaining []job) string {
	expect := func(js []job) time.Duration {
		var d time.Duration
		for _, j := range js {
			d += j.sc.Total() + runOverhead
		}
		return d
	}
	left := expect(remaining)
	if len(done) > 0 {
		var actual time.Duration
		for _, t := range took {
			actual += t
		}
		left = time.Duration(float64(left) * float64(actual) / float64(expect(done)))
	}
	left = left.Round(time.Second)
	return fmt.Sprintf("ETA %s (about %s)", left, time.Now().Add(left).Format("15:04"))
}

// overrides states how the suite's runs differ from the files and from a
// plain `testbed run`.
func overrides(opt Options) []string {
	var out []string
	if opt.Duration > 0 {
		out = append(out, fmt.Sprintf("Measured period set to %s in every scenario (`--duration %s`); warm-up, drain and each fault's start and length scaled by the same factor, the drain kept at least the completion deadline; request timeout and SLO unchanged. Recovery after a fault is not scaled, so a shorter period weighs it more: downtime %% from a shortened suite runs a little higher than from the files' full length. Each run's `scenario.yaml` is the scenario as run.", opt.Duration, opt.Duration))
	}
	if opt.Repeats > 1 {
		out = append(out, "Seeds: repeat k ran with the file's seed + k − 1, written into the scenario.yaml of its bundle.")
	}
	if c := opt.Capacity; c != nil {
		out = append(out, fmt.Sprintf("Capacity from the search %s (`%s`) was attached to every run's summary, which was rewritten after the run.", c.ID, opt.CapacitySource))
	}
	return append(out, opt.Notes...)
}

// attachCapacity writes the capacity of each architecture into a run's
// summary and rewrites its bundle.
func attachCapacity(res *run.Result, c *report.CapacitySearch) error {
	if c == nil {
		return nil
	}
	for i := range res.Summary.Architectures {
		a := &res.Summary.Architectures[i]
		a.Capacity, _ = c.For(a.Name)
	}
	if err := report.WriteBundle(res.Dir, res.Summary); err != nil {
		return fmt.Errorf("attach capacity to %s: %w", res.Dir, err)
	}
	return nil
}

// provenanceOf is the provenance of the first run with a summary: the same
// binary ran them all. Without one, what this process knows.
func provenanceOf(runs []report.SuiteRun, summaries map[string]*report.Summary, opt Options) report.Provenance {
	for _, r := range runs {
		if s := summaries[r.RunID]; s != nil {
			return s.Provenance
		}
	}
	return report.Provenance{Version: opt.Version, Commit: opt.Commit, GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU()}
}

// relSlash is path relative to dir, with /, or path itself when it has no
// relative form.
func relSlash(dir, path string) string {
	if path == "" {
		return ""
	}
	rel, err := filepath.Rel(dir, path)
	if err != nil {
		return filepath.ToSlash(path)
	}
	return filepath.ToSlash(rel)
}

func shaOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
