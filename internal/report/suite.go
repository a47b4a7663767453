package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// SuiteSchemaVersion is bumped whenever a field of Suite changes meaning
// or is removed, so tools reading suite.json can refuse what they do not
// know.
const SuiteSchemaVersion = 1

// Files of a suite report, besides report.md, index.html, table1.csv,
// table2.csv and the charts, which it names as a run bundle does.
const (
	SuiteFile      = "suite.json"
	SuiteStatsFile = "stats.csv"
)

// Statuses of a run of a suite.
const (
	// RunOK: the run finished and wrote its bundle.
	RunOK = "ok"
	// RunError: the run finished and wrote its bundle but reported an
	// error (a fault that failed to heal, say); its figures count, and
	// the error is shown beside them.
	RunError = "error"
	// RunInterrupted: the run was stopped early; its bundle holds what was
	// measured, which the statistics leave out.
	RunInterrupted = "interrupted"
	// RunFailed: the run wrote no bundle.
	RunFailed = "failed"
)

// Suite is a set of runs repeated with different seeds and the statistics
// of their figures. It is written to suite.json and read back by
// `testbed report`, so that the suite report can be rendered again without
// running anything.
type Suite struct {
	SchemaVersion int       `json:"schema_version"`
	SuiteID       string    `json:"suite_id"`
	Name          string    `json:"name"`
	Description   string    `json:"description,omitempty"`
	Started       time.Time `json:"started"`
	Ended         time.Time `json:"ended"`
	// Repeats is how many runs of each scenario were asked for.
	Repeats int `json:"repeats"`
	// Interrupted marks a suite stopped before its last run.
	Interrupted bool `json:"interrupted,omitempty"`
	// Overrides says, one sentence each, what the suite changed in the
	// scenario files and in how runs were made.
	Overrides  []string   `json:"overrides,omitempty"`
	Provenance Provenance `json:"provenance"`
	// Capacity is the capacity search whose figures the suite's runs
	// carry, when there was one.
	Capacity *SuiteCapacity `json:"capacity,omitempty"`
	// Runs lists every run the suite started, in the order it ran them.
	Runs []SuiteRun `json:"runs"`
	// Scenarios holds the statistics, in the order the suite names its
	// scenarios.
	Scenarios []SuiteScenario `json:"scenarios"`
	// Limits are the known limits of the runs counted; those not shared by
	// every run name theirs.
	Limits []string `json:"limits,omitempty"`
}

// SuiteCapacity is the capacity search attached to a suite.
type SuiteCapacity struct {
	ID string `json:"id"`
	// Source is the capacity.json it came from, relative to the suite
	// report, with /.
	Source string        `json:"source"`
	Step   time.Duration `json:"step_ns"`
	// Figures are the capacities found, by architecture, in orders per
	// second; an architecture without one is absent.
	Figures []CapacityFigure `json:"figures"`
}

// CapacityFigure is one architecture's capacity.
type CapacityFigure struct {
	Arch   string  `json:"arch"`
	PerSec float64 `json:"capacity_per_sec"`
}

// SuiteRun is one run of a suite.
type SuiteRun struct {
	Scenario string `json:"scenario"`
	// Repeat counts from 1.
	Repeat int    `json:"repeat"`
	Seed   int64  `json:"seed"`
	RunID  string `json:"run_id,omitempty"`
	// Bundle is the run's directory relative to the suite report, with /.
	Bundle      string `json:"bundle,omitempty"`
	ScenarioSHA string `json:"scenario_sha256,omitempty"`
	Status      string `json:"status"`
	Error       string `json:"error,omitempty"`
}

// counted reports whether the run's figures enter the statistics.
func (r SuiteRun) counted() bool { return r.Status == RunOK || r.Status == RunError }

// SuiteScenario is the statistics of one scenario over its runs.
type SuiteScenario struct {
	Name        string `json:"name"`
	ComparesTo  string `json:"compares_to,omitempty"`
	Description string `json:"description,omitempty"`
	// Duration is the measured period of its runs.
	Duration time.Duration `json:"duration_ns"`
	// Faults describe the fault timeline, one sentence per fault.
	Faults        []string    `json:"faults,omitempty"`
	Architectures []SuiteArch `json:"architectures"`
}

// SuiteArch is one architecture's figures in one scenario.
type SuiteArch struct {
	Name    string        `json:"name"`
	Figures []SuiteFigure `json:"figures"`
}

// SuiteFigure is the statistics of one figure: Key is the figure's name in
// table1.csv and stats.csv (accept_downtime_pct, accept_latency_p99_ms…).
type SuiteFigure struct {
	Key string `json:"key"`
	Stat
}

// Figure returns the statistics of the figure named key.
func (a SuiteArch) Figure(key string) (Stat, bool) {
	for _, f := range a.Figures {
		if f.Key == key {
			return f.Stat, true
		}
	}
	return Stat{}, false
}

// suiteFigures lists the figures a suite summarises: downtime, then the
// rows of the Table 1 analogue of a run report.
func suiteFigures() []metric {
	return append([]metric{
		{"accept_downtime_pct", "Accept downtime (%)", nil, func(a Arch) (float64, bool) { return a.AcceptDowntimePct, true }, pct},
		{"completion_downtime_pct", "Completion downtime (%)", nil, func(a Arch) (float64, bool) { return a.CompletionDowntimePct, true }, pct},
	}, table1(SeedPaper().Table1)...)
}

// SummarizeSuite fills s.Scenarios and s.Limits from the summaries of its
// counted runs, keyed by run id. Scenarios come in the order of their first
// run, architectures in the order of the first summary that has them;
// values in the order of the runs.
func SummarizeSuite(s *Suite, summaries map[string]*Summary) {
	type group struct {
		sc    *SuiteScenario
		archs []string
		// vals and ids hold, per architecture and figure, the values and
		// the runs they came from.
		vals map[string]map[string][]float64
		ids  map[string]map[string][]string
	}
	var order []string
	groups := map[string]*group{}
	var counted []*Summary
	for _, r := range s.Runs {
		sum := summaries[r.RunID]
		if !r.counted() || sum == nil {
			continue
		}
		counted = append(counted, sum)
		g := groups[r.Scenario]
		if g == nil {
			g = &group{
				sc: &SuiteScenario{Name: r.Scenario, ComparesTo: sum.ComparesTo, Description: sum.Description,
					Duration: sum.Load.Duration, Faults: faultSentences(sum.Faults)},
				vals: map[string]map[string][]float64{},
				ids:  map[string]map[string][]string{},
			}
			groups[r.Scenario] = g
			order = append(order, r.Scenario)
		}
		for _, a := range sum.Architectures {
			if g.vals[a.Name] == nil {
				g.archs = append(g.archs, a.Name)
				g.vals[a.Name] = map[string][]float64{}
				g.ids[a.Name] = map[string][]string{}
			}
			for _, m := range suiteFigures() {
				if v, ok := m.value(a); ok {
					g.vals[a.Name][m.key] = append(g.vals[a.Name][m.key], v)
					g.ids[a.Name][m.key] = append(g.ids[a.Name][m.key], r.RunID)
				}
			}
		}
	}
	s.Scenarios = nil
	for _, name := range order {
		g := groups[name]
		for _, arch := range g.archs {
			sa := SuiteArch{Name: arch}
			for _, m := range suiteFigures() {
				sa.Figures = append(sa.Figures, SuiteFigure{Key: m.key, Stat: NewStat(g.ids[arch][m.key], g.vals[arch][m.key])})
			}
			g.sc.Architectures = append(g.sc.Architectures, sa)
		}
		s.Scenarios = append(s.Scenarios, *g.sc)
	}
	s.Limits = suiteLimits(counted)
}

// faultSentences describes a run's fault timeline.
func faultSentences(faults []Fault) []string {
	var out []string
	for _, f := range faults {
		out = append(out, fmt.Sprintf("%s on %s at %s for %s", f.Type, f.Target, secs(f.At), secs(f.Duration)))
	}
	return out
}

// suiteLimits lists the limits every run states once, then those only some
// runs state, each with its run.
func suiteLimits(runs []*Summary) []string {
	var common, rest []string
	for i, s := range runs {
		for _, l := range s.Limits {
			everywhere := true
			for _, o := range runs {
				everywhere = everywhere && slices.Contains(o.Limits, l)
			}
			switch {
			case everywhere && !slices.Contains(common, l):
				common = append(common, l)
			case !everywhere:
				rest = append(rest, runs[i].RunID+": "+l)
			}
		}
	}
	return append(common, rest...)
}

// WriteSuite writes the suite report of s into dir, creating it if needed:
// suite.json, report.md, index.html, table1.csv, table2.csv, stats.csv and
// the charts under charts/.
func WriteSuite(dir string, s *Suite) error {
	if s.SchemaVersion != SuiteSchemaVersion {
		return fmt.Errorf("write suite report: schema_version %d, want %d", s.SchemaVersion, SuiteSchemaVersion)
	}
	js, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode suite: %w", err)
	}
	files, err := suiteFiles(s)
	if err != nil {
		return fmt.Errorf("write suite report: %w", err)
	}
	files = append([]bundleFile{{SuiteFile, append(js, '\n')}}, files...)
	if err := writeFiles(dir, files); err != nil {
		return fmt.Errorf("write suite report: %w", err)
	}
	return nil
}

// RegenerateSuite rewrites every file of the suite report in dir that is
// derived from its suite.json, byte for byte what WriteSuite wrote.
func RegenerateSuite(dir string) error {
	s, err := ReadSuite(filepath.Join(dir, SuiteFile))
	if err != nil {
		return err
	}
	files, err := suiteFiles(s)
	if err != nil {
		return fmt.Errorf("regenerate %s: %w", dir, err)
	}
	if err := writeFiles(dir, files); err != nil {
		return fmt.Errorf("regenerate %s: %w", dir, err)
	}
	return nil
}

// IsSuite reports whether dir holds a suite report rather than a run
// bundle.
func IsSuite(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, SuiteFile))
	return err == nil
}

// ReadSuite reads a suite.json, refusing a schema_version other than
// SuiteSchemaVersion.
func ReadSuite(path string) (*Suite, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read suite: %w", err)
	}
	var v struct {
		SchemaVersion *int `json:"schema_version"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("read suite %s: %w", path, err)
	}
	if v.SchemaVersion == nil || *v.SchemaVersion != SuiteSchemaVersion {
		return nil, fmt.Errorf("read suite %s: schema_version is not %d; this testbed reads schema_version %d", path, SuiteSchemaVersion, SuiteSchemaVersion)
	}
	var s Suite
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("read suite %s: %w", path, err)
	}
	return &s, nil
}

// suiteFiles renders every file of the suite report but suite.json.
func suiteFiles(s *Suite) ([]bundleFile, error) {
	charts, err := drawSuiteCharts(s)
	if err != nil {
		return nil, err
	}
	doc := buildSuite(s, charts)
	page, err := doc.html(nil, charts)
	if err != nil {
		return nil, err
	}
	files := []bundleFile{
		{MarkdownFile, doc.markdown()},
		{HTMLFile, page},
	}
	for _, f := range []struct {
		name   string
		render func(*Suite) ([]byte, error)
	}{
		{Table1File, suiteTable1CSV},
		{Table2File, suiteTable2CSV},
		{SuiteStatsFile, suiteStatsCSV},
	} {
		b, err := f.render(s)
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", f.name, err)
		}
		files = append(files, bundleFile{f.name, b})
	}
	for _, c := range charts {
		files = append(files, bundleFile{c.path(), c.svg})
	}
	return files, nil
}
