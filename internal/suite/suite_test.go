package suite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edatestbed/testbed/internal/report"
	"github.com/edatestbed/testbed/internal/run"
	"github.com/edatestbed/testbed/scenarios"
)

// fake stands in for run.Run: it writes a small bundle for each scenario
// and remembers what it was given. A run's downtime is its seed, so the
// statistics can be checked by hand.
type fake struct {
	dir string
	mu  sync.Mutex
	got []*scenarios.Scenario
	// fail decides, per call (from 1), how the call ends: nil for a
	// finished run.
	fail func(ctx context.Context, call int) (bundle bool, err error)
}

func (f *fake) run(ctx context.Context, sc *scenarios.Scenario) (*run.Result, error) {
	f.mu.Lock()
	f.got = append(f.got, sc)
	call := len(f.got)
	f.mu.Unlock()
	bundle, err := true, error(nil)
	if f.fail != nil {
		bundle, err = f.fail(ctx, call)
	}
	if !bundle {
		return nil, err
	}
	id := fmt.Sprintf("20261123-1200%02d-%s", call, sc.Name)
	s := &report.Summary{
		SchemaVersion: report.SchemaVersion, RunID: id, Scenario: sc.Name, ComparesTo: sc.ComparesTo, Seed: sc.Seed,
		Load: report.Load{Duration: sc.Load.Duration.D()},
		Architectures: []report.Arch{
			{Name: "eda", AcceptDowntimePct: float64(sc.Seed)},
			{Name: "monolith", AcceptDowntimePct: 10 * float64(sc.Seed)},
		},
		Limits: []string{"a limit every run states"},
	}
	dir := filepath.Join(f.dir, id)
	if werr := report.WriteBundle(dir, s); werr != nil {
		return nil, werr
	}
	return &run.Result{Dir: dir, Summary: s}, err
}

func options(t *testing.T, f *fake, repeats int) Options {
	t.Helper()
	f.dir = t.TempDir()
	return Options{
		Suite:       Definition{Name: "test", Scenarios: []string{"alpha", "beta"}},
		ScenarioDir: "testdata/scenarios",
		Repeats:     repeats,
		ReportsDir:  f.dir,
		Run:         f.run,
	}
}

func TestRunRepeatsWithSeeds(t *testing.T) {
	f := &fake{}
	opt := options(t, f, 3)
	var progress bytes.Buffer
	opt.Progress = &progress
	res, err := Run(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	// Repeat by repeat, seeds counting up from each file's (alpha 5, beta
	// the default 1).
	var got []string
	for _, sc := range f.got {
		got = append(got, fmt.Sprintf("%s/%d", sc.Name, sc.Seed))
	}
	if want := "alpha/5 beta/1 alpha/6 beta/2 alpha/7 beta/3"; strings.Join(got, " ") != want {
		t.Errorf("ran %s, want %s", strings.Join(got, " "), want)
	}
	for _, line := range []string{"run 1 of 6: alpha, repeat 1 of 3, seed 5; ETA", "run 6 of 6: beta, repeat 3 of 3, seed 3; ETA"} {
		if !strings.Contains(progress.String(), line) {
			t.Errorf("progress lacks %q:\n%s", line, progress.String())
		}
	}
	s, err := report.ReadSuite(filepath.Join(res.Dir, report.SuiteFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Runs) != 6 || s.Interrupted {
		t.Fatalf("suite.json lists %d runs (interrupted %v), want 6 finished", len(s.Runs), s.Interrupted)
	}
	for _, r := range s.Runs {
		if r.Status != report.RunOK || r.Bundle != "../"+r.RunID || r.ScenarioSHA == "" {
			t.Errorf("run %+v: want ok, bundle ../<run id> and the scenario's sha256", r)
		}
	}
	// alpha's eda downtime is its seed: 5, 6, 7.
	st, _ := s.Scenarios[0].Architectures[0].Figure("accept_downtime_pct")
	if s.Scenarios[0].Name != "alpha" || st.N != 3 || st.Mean != 6 || st.SD == nil || *st.SD != 1 {
		t.Errorf("alpha/eda accept downtime: %+v, want n 3 mean 6 sd 1", st)
	}
	if _, err := os.Stat(filepath.Join(res.Dir, report.MarkdownFile)); err != nil {
		t.Errorf("no suite report.md: %v", err)
	}
}

func TestRunSeedIsInTheScenarioItRan(t *testing.T) {
	f := &fake{}
	opt := options(t, f, 2)
	opt.Duration = 20 * time.Second
	res, err := Run(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range f.got[2:] { // repeat 2
		if !bytes.Contains(sc.Raw, fmt.Appendf(nil, "seed: %d", sc.Seed)) || sc.Load.Duration.D() != 20*time.Second {
			t.Errorf("%s ran with seed %d and duration %s; its raw file says:\n%s", sc.Name, sc.Seed, sc.Load.Duration, sc.Raw)
		}
	}
	if len(res.Suite.Overrides) == 0 || !strings.Contains(res.Suite.Overrides[0], "--duration 20s") {
		t.Errorf("the report does not say the duration was overridden: %q", res.Suite.Overrides)
	}
}

func TestRunInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &fake{fail: func(ctx context.Context, call int) (bool, error) {
		if call == 2 {
			// Ctrl-C in the middle of the second run: it still writes
			// what it measured.
			cancel()
			return true, ctx.Err()
		}
		return true, nil
	}}
	res, err := Run(ctx, options(t, f, 3))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	if res == nil {
		t.Fatal("no suite report after Ctrl-C")
	}
	if len(f.got) != 2 {
		t.Errorf("%d runs started, want none after the interrupted one", len(f.got))
	}
	s, err := report.ReadSuite(filepath.Join(res.Dir, report.SuiteFile))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Interrupted || len(s.Runs) != 2 || s.Runs[1].Status != report.RunInterrupted {
		t.Fatalf("suite: interrupted %v, runs %+v; want interrupted with the second run marked so", s.Interrupted, s.Runs)
	}
	// Only the finished alpha run counts; beta's interrupted run does not.
	if len(s.Scenarios) != 1 || s.Scenarios[0].Name != "alpha" {
		t.Errorf("statistics over %+v, want alpha's finished run only", s.Scenarios)
	}
}

func TestRunRetriesARunThatDidNotStart(t *testing.T) {
	start := errors.New("start eda/inventory: exited before it was ready")
	f := &fake{fail: func(_ context.Context, call int) (bool, error) {
		switch call {
		case 1: // alpha repeat 1: fails once, then starts
			return false, start
		case 3, 4: // beta repeat 1: fails twice
			return false, start
		}
		return true, nil
	}}
	res, err := Run(context.Background(), options(t, f, 1))
	if !errors.Is(err, start) || !strings.Contains(err.Error(), "run 2 (beta, repeat 1)") {
		t.Errorf("error %v, want beta's failure and only it", err)
	}
	var statuses []string
	for _, r := range res.Suite.Runs {
		statuses = append(statuses, r.Scenario+":"+r.Status)
	}
	if want := "alpha:failed alpha:ok beta:failed beta:failed"; strings.Join(statuses, " ") != want {
		t.Errorf("runs %s, want %s", strings.Join(statuses, " "), want)
	}
}

func TestRunAttachesCapacity(t *testing.T) {
	f := &fake{}
	opt := options(t, f, 1)
	opt.Capacity = &report.CapacitySearch{
		SchemaVersion: report.CapacitySchemaVersion, ID: "cap", Step: 5 * time.Second,
		Architectures: []report.CapacityArch{{Name: "eda", PerSec: 300}, {Name: "monolith"}},
	}
	opt.CapacitySource = filepath.Join(opt.ReportsDir, "cap", report.CapacityFile)
	res, err := Run(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	s, err := report.ReadSummary(filepath.Join(opt.ReportsDir, res.Suite.Runs[0].RunID, report.SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	if s.Architectures[0].Capacity != 300 || s.Architectures[1].Capacity != 0 {
		t.Errorf("run summary capacities %v and %v, want 300 for eda and none for monolith", s.Architectures[0].Capacity, s.Architectures[1].Capacity)
	}
	c := res.Suite.Capacity
	if c == nil || c.Source != "../cap/capacity.json" || len(c.Figures) != 1 || c.Figures[0] != (report.CapacityFigure{Arch: "eda", PerSec: 300}) {
		t.Errorf("suite capacity %+v, want eda's 300 from ../cap/capacity.json", c)
	}
}

func TestRunChecksEverythingFirst(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"no repeats", func(o *Options) { o.Repeats = 0 }, "repeats 0"},
		{"missing scenario", func(o *Options) { o.Suite.Scenarios = append(o.Suite.Scenarios, "gamma") }, "gamma.yaml"},
		{"duration too short for a fault", func(o *Options) { o.Duration = 2 * time.Second }, "less than one 1 s window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fake{}
			opt := options(t, f, 2)
			tt.edit(&opt)
			if _, err := Run(context.Background(), opt); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one mentioning %q", err, tt.want)
			}
			if len(f.got) != 0 {
				t.Errorf("%d runs started before the mistake was found", len(f.got))
			}
		})
	}
}

func TestLookup(t *testing.T) {
	d, err := Lookup("paper")
	if err != nil || strings.Join(d.Scenarios, ",") != "baseline,service-crash,network-partition,node-loss" {
		t.Errorf("paper suite %+v, %v; want the paper's four scenarios", d, err)
	}
	for _, name := range d.Scenarios {
		if _, err := scenarios.Load(filepath.Join("..", "..", "scenarios", name+".yaml")); err != nil {
			t.Errorf("the paper suite names %s: %v", name, err)
		}
	}
	// What `make paper` asks for must plan.
	jobs, err := plan(Options{Suite: d, ScenarioDir: filepath.Join("..", "..", "scenarios"), Repeats: 3, Duration: 40 * time.Second, Run: (&fake{}).run})
	if err != nil || len(jobs) != 12 {
		t.Errorf("plan of the paper suite with --duration 40s: %d runs, %v; want 12", len(jobs), err)
	}
	if _, err := Lookup("nope"); err == nil || !strings.Contains(err.Error(), "allowed: paper") {
		t.Errorf("Lookup(nope) = %v, want the allowed names", err)
	}
}
