package report

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/edatestbed/testbed/internal/report/chart"
)

// Charts of a suite report, the analogue of the paper's Figure 7 once for
// each kind of downtime.
const (
	figure7AcceptChart     = "figure7-accept-downtime"
	figure7CompletionChart = "figure7-completion-downtime"
)

// detailFigures are the figures the per-scenario statistics show; the rest
// of suite.json's figures appear in the Table 1 analogue and stats.csv.
var detailFigures = []string{
	"accept_downtime_pct", "completion_downtime_pct",
	"accept_latency_p50_ms", "accept_latency_p99_ms", "completion_latency_p99_ms",
	"throughput_accepted_per_sec", "throughput_completed_per_sec",
}

// buildSuite lays out the suite report: what ran, the analogues of the
// paper's Tables 1 and 2 and Figure 7 with confidence intervals, the
// statistics of every scenario with the runs they came from, the method,
// the runs with links to their bundles, provenance and known limits.
func buildSuite(s *Suite, charts []drawnChart) document {
	r := suiteBuilder{builder: builder{paper: SeedPaper()}, s: s, charts: charts}
	r.intro()
	r.table1()
	r.table2()
	r.scenarios()
	r.method()
	r.runs()
	r.provenance()
	r.limits()
	return document{kicker: "suite report", blocks: r.blocks}
}

type suiteBuilder struct {
	builder
	s      *Suite
	charts []drawnChart
}

func (r *suiteBuilder) intro() {
	s := r.s
	r.heading(1, "Suite %s — %s", s.Name, s.SuiteID)
	if s.Description != "" {
		r.para("%s", s.Description)
	}
	var names []string
	for _, sc := range s.Scenarios {
		names = append(names, sc.Name)
	}
	counted := 0
	for _, run := range s.Runs {
		if run.counted() {
			counted++
		}
	}
	r.para("%d runs (%d counted): %s, %d %s each with a different seed (repeat k runs with the scenario's seed + k − 1). "+
		"Every run drives the same open-model load through every architecture side by side and injects the same faults into all of them, so each figure below is a mean over the runs of one scenario, with its 95 %% confidence interval (±, Student's t) and coefficient of variation. "+
		"Started %s, ended %s (%s).",
		len(s.Runs), counted, orDash(strings.Join(names, ", ")), s.Repeats, plural(s.Repeats, "repeat", "repeats"),
		stamp(s.Started), stamp(s.Ended), secs(s.Ended.Sub(s.Started).Round(time.Second)))
	if s.Interrupted {
		r.para("**INTERRUPTED**: the suite was stopped before its last run; the figures cover the runs that finished. A run stopped midway is listed under Runs and left out of the statistics.")
	}
	if len(s.Overrides) > 0 {
		r.para("**Overridden for this suite**, against the scenario files and a plain `testbed run`:")
		r.add(block{kind: listBlock, items: s.Overrides})
	}
	files := []link{{HTMLFile, HTMLFile}, {MarkdownFile, MarkdownFile}, {SuiteFile, SuiteFile},
		{Table1File, Table1File}, {Table2File, Table2File}, {SuiteStatsFile, SuiteStatsFile}}
	for _, c := range r.charts {
		files = append(files, link{c.path(), c.path()})
	}
	r.para("Files of this report (every figure in them is in `%s` with the runs it came from; each run's per-second series are in its bundle, linked under Runs):", SuiteStatsFile)
	r.add(block{kind: linksBlock, links: files})
}

// baseline is the scenario the Table 1 analogue is read from.
func (r *suiteBuilder) baseline() (SuiteScenario, bool) {
	for _, sc := range r.s.Scenarios {
		if sc.ComparesTo == "baseline" {
			return sc, true
		}
	}
	return SuiteScenario{}, false
}

func (r *suiteBuilder) table1() {
	p := r.paper.Table1
	r.heading(2, "Performance (analogue of the paper's Table 1)")
	base, ok := r.baseline()
	if !ok {
		r.para("No scenario of this suite is a baseline (compares_to: baseline), and the paper's Table 1 describes its systems without faults, so there is no analogue to show.")
		return
	}
	t := table{head: []string{"Metric"}, paper: 2}
	for _, a := range base.Architectures {
		t.head = append(t.head, fmt.Sprintf("%s (measured, mean ± 95%% CI, n = %d)", a.Name, runsOf(a)))
	}
	t.head = append(t.head,
		"Paper: "+TraditionalSystem+" (Table 1, not measured here)",
		"Paper: "+EventDrivenSystem+" (Table 1, not measured here)")
	for _, m := range table1(p) {
		cells := []string{m.label}
		for _, a := range base.Architectures {
			st, _ := a.Figure(m.key)
			cells = append(cells, meanCI(st, m.format))
		}
		cells = append(cells, paperCells(m.paper)...)
		t.rows = append(t.rows, cells)
	}
	if c := r.s.Capacity; c != nil && len(c.Figures) > 0 {
		m := capacityMetric(p)
		cells := []string{m.label}
		for _, a := range base.Architectures {
			cell := "—"
			for _, f := range c.Figures {
				if f.Arch == a.Name {
					cell = rate(f.PerSec) + " (one search)"
				}
			}
			cells = append(cells, cell)
		}
		t.rows = append(t.rows, append(cells, paperCells(m.paper)...))
	}
	r.add(block{kind: tableBlock, table: t})
	r.para("Read from the %d counted runs of %s (no fault), listed under its statistics below. Paper columns are copied from seed %s (%s); they are not results of this suite. %s",
		runsOf(base.Architectures[0]), base.Name, p.Source, r.paper.Title, r.archMapping(base.Architectures))
	capacity := " No capacity search is attached to this suite (`testbed capacity`, or `testbed suite --capacity`), so the only throughput here is the offered load served."
	if c := r.s.Capacity; c != nil {
		capacity = fmt.Sprintf(" The capacity row is the nearest analogue of the paper's throughput: the highest offered rate at which the architecture met the SLO over a whole %s step of the rate search %s (`%s`), made once, apart from the runs.", secs(c.Step), c.ID, c.Source)
	}
	r.para("How this differs from the paper: latency is a percentile timed from each request's intended send time, averaged over runs; availability is 100 − downtime %% over each run's measured period; throughput is the part of the offered load that was served, which cannot exceed the offered rate.%s", capacity)
}

func paperCells(p *PaperPair) []string {
	if p == nil {
		return []string{"—", "—"}
	}
	return []string{num(p.Traditional), num(p.EventDriven)}
}

// archMapping is mappingLine for the architectures of a scenario.
func (r *suiteBuilder) archMapping(archs []SuiteArch) string {
	b := builder{s: &Summary{}}
	for _, a := range archs {
		b.s.Architectures = append(b.s.Architectures, Arch{Name: a.Name})
	}
	return b.mappingLine()
}

func (r *suiteBuilder) table2() {
	p := r.paper.Table2
	r.heading(2, "Downtime per scenario (analogue of the paper's Table 2 and Figure 7)")
	t := table{head: []string{"Scenario", "Architecture", "n", "Accept downtime (%), mean ± 95% CI", "Completion downtime (%), mean ± 95% CI",
		"Paper: downtime (%) (Table 2, not measured here)"}, paper: 1}
	for _, sc := range r.s.Scenarios {
		row, hasRow := p.Row(sc.ComparesTo)
		for _, a := range sc.Architectures {
			accept, _ := a.Figure("accept_downtime_pct")
			completion, _ := a.Figure("completion_downtime_pct")
			paper := "—"
			if sys, ok := PaperSystem(a.Name); ok && hasRow {
				v, _ := row.For(a.Name)
				paper = fmt.Sprintf("%s (%s, %s)", num(v), sys, row.Label)
			}
			t.rows = append(t.rows, []string{sc.Name, a.Name, strconv.Itoa(accept.N), meanCI(accept, pct), meanCI(completion, pct), paper})
		}
	}
	r.add(block{kind: tableBlock, table: t})
	r.para("Paper column copied from seed %s; it is not a result of this suite. The paper has no fault-free row, so the baseline has no paper figure. "+
		"How this differs from the paper: the paper does not define downtime or say how long its faults lasted. Here downtime %% is the share of the 1 s windows of a run's measured period that fell below the scenario's SLO (accept: accepted / offered; completion: completed within the deadline / offered); "+
		"it grows with how long the fault lasted against the measured period (see each scenario below), so it compares the architectures with each other, not directly with the paper's figure.", p.Source)
	for _, c := range r.charts {
		r.chart(c.name)
	}
	r.para("Sources of the bars: %s.", r.sources())
}

// sources lists, per scenario, the runs its bars were computed from.
func (r *suiteBuilder) sources() string {
	var parts []string
	for _, sc := range r.s.Scenarios {
		if len(sc.Architectures) == 0 {
			continue
		}
		st, _ := sc.Architectures[0].Figure("accept_downtime_pct")
		parts = append(parts, sc.Name+": "+orDash(strings.Join(st.Runs, ", ")))
	}
	if len(parts) == 0 {
		return "no run was counted"
	}
	return strings.Join(parts, "; ")
}

func (r *suiteBuilder) scenarios() {
	r.heading(2, "Statistics per scenario")
	if len(r.s.Scenarios) == 0 {
		r.para("No run was counted, so there are no statistics.")
		return
	}
	byKey := map[string]metric{}
	for _, m := range suiteFigures() {
		byKey[m.key] = m
	}
	repeat := map[string]string{}
	for _, run := range r.s.Runs {
		repeat[run.RunID] = "r" + strconv.Itoa(run.Repeat)
	}
	for _, sc := range r.s.Scenarios {
		r.heading(3, "%s", sc.Name)
		faults := "no fault"
		if len(sc.Faults) > 0 {
			faults = strings.Join(sc.Faults, "; ")
		}
		r.para("Measured period %s; %s. Runs, as r<repeat> = run id (seed): %s.", secs(sc.Duration), faults, r.runList(sc.Name))
		t := table{head: []string{"Figure", "Architecture", "n", "Mean", "SD", "95% CI", "CV (%)", "Values by run"}}
		for _, key := range detailFigures {
			m := byKey[key]
			for _, a := range sc.Architectures {
				st, _ := a.Figure(key)
				var vals []string
				for i, v := range st.Values {
					vals = append(vals, repeat[st.Runs[i]]+" "+m.format(v))
				}
				t.rows = append(t.rows, []string{m.label, a.Name, strconv.Itoa(st.N), meanOf(st, m.format), optional(st.SD, m.format),
					ciOf(st, m.format), optional(st.CVPct, pct), orDash(strings.Join(vals, ", "))})
			}
		}
		r.add(block{kind: tableBlock, table: t})
	}
}

// runList names the counted runs of a scenario with their repeat and seed.
func (r *suiteBuilder) runList(scenario string) string {
	var out []string
	for _, run := range r.s.Runs {
		if run.Scenario == scenario && run.counted() {
			out = append(out, fmt.Sprintf("r%d = %s (seed %d)", run.Repeat, run.RunID, run.Seed))
		}
	}
	return orDash(strings.Join(out, ", "))
}

func (r *suiteBuilder) method() {
	r.heading(2, "Method")
	r.add(block{kind: listBlock, items: []string{
		"**Runs**: each scenario ran once per repeat; repeat k used the scenario's seed + k − 1, which changes the orders (items, quantities, customers), the catalog's stock and prices and the payment provider's declines. Runs went one after another on one machine, repeats interleaved (every scenario once, then again), so a slow drift of the machine spreads over all scenarios.",
		"**Counted runs**: a run counts when it finished and wrote its bundle, also when it reported an error (shown under Runs). An interrupted run is listed and left out.",
		"**Mean**: arithmetic mean over the counted runs of the scenario. **SD**: sample standard deviation, divided by n − 1.",
		"**95% CI**: mean ± t(0.975, n − 1) · SD / √n, Student's t with n − 1 degrees of freedom (t = 12.71 for n = 2, 4.30 for n = 3). With n = 1 there is no spread to measure and no interval; the report says so instead of inventing one. Few runs give wide intervals: that width is the honest answer.",
		"**Reading an interval**: the interval of a figure that cannot be negative (a latency, a downtime) may reach below 0 when the runs disagree much and are few; it means the runs do not pin the figure down, not that it could be negative.",
		"**CV**: coefficient of variation, 100 · SD / |mean|, how much a figure moves from run to run relative to its size; none for a mean of 0 (a baseline without downtime).",
		"**Downtime, latency, throughput** are each run's own figures, defined in each run's report; every run's per-second series (`<architecture>/seconds.csv` in its bundle) is what its downtime was counted from.",
	}})
}

func (r *suiteBuilder) runs() {
	s := r.s
	r.heading(2, "Runs")
	if len(s.Runs) == 0 {
		r.para("No run was started.")
		return
	}
	t := table{head: []string{"#", "Scenario", "Repeat", "Seed", "Run", "Status", "Scenario sha256"}}
	var links []link
	for i, run := range s.Runs {
		status := run.Status
		if run.Error != "" {
			// The first line says what failed; suite.json has the rest.
			first, _, _ := strings.Cut(run.Error, "\n")
			status += ": " + first
		}
		t.rows = append(t.rows, []string{strconv.Itoa(i + 1), run.Scenario, strconv.Itoa(run.Repeat), strconv.FormatInt(run.Seed, 10),
			orDash(run.RunID), status, orDash(shortSHA(run.ScenarioSHA))})
		if run.Bundle != "" {
			links = append(links, link{run.Bundle + "/" + HTMLFile, fmt.Sprintf("%s (%s, repeat %d)", run.RunID, run.Scenario, run.Repeat)})
		}
	}
	r.add(block{kind: tableBlock, table: t})
	if len(links) > 0 {
		r.para("Each run's bundle: its report, summary.json, per-second series and the exact scenario it ran (`scenario.yaml`, whose sha256 is above).")
		r.add(block{kind: linksBlock, links: links})
	}
}

func shortSHA(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

func (r *suiteBuilder) provenance() {
	s, p := r.s, r.s.Provenance
	r.heading(2, "Provenance")
	t := table{head: []string{"Item", "Value"}}
	add := func(k, v string) { t.rows = append(t.rows, []string{k, v}) }
	add("Suite", s.SuiteID)
	t.rows = append(t.rows, p.rows()...)
	add("Started", stamp(s.Started))
	add("Ended", stamp(s.Ended))
	if c := s.Capacity; c != nil {
		add("Capacity search", c.ID+" ("+c.Source+")")
	}
	r.add(block{kind: tableBlock, table: t})
	r.para("Paper figures: %s, %s (seed file %s).", r.paper.Title, r.paper.Author, r.paper.File)
}

func (r *suiteBuilder) limits() {
	r.heading(2, "Known limits")
	if len(r.s.Limits) == 0 {
		r.para("None recorded for the runs of this suite.")
		return
	}
	r.add(block{kind: listBlock, items: r.s.Limits})
}

// runsOf is how many runs a figure of a came from: those of its downtime,
// which every counted run has.
func runsOf(a SuiteArch) int {
	st, _ := a.Figure("accept_downtime_pct")
	return st.N
}

// meanCI formats a figure as mean ± half-width of its 95 % CI.
func meanCI(st Stat, format func(float64) string) string {
	switch half, ok := st.HalfWidth(); {
	case st.N == 0:
		return "—"
	case !ok:
		return format(st.Mean) + " (n = 1, no CI)"
	default:
		return format(st.Mean) + " ± " + format(half)
	}
}

func meanOf(st Stat, format func(float64) string) string {
	if st.N == 0 {
		return "—"
	}
	return format(st.Mean)
}

func ciOf(st Stat, format func(float64) string) string {
	switch {
	case st.N == 0:
		return "—"
	case st.CILow == nil:
		return "none (n = 1)"
	}
	return "[" + format(*st.CILow) + ", " + format(*st.CIHigh) + "]"
}

func optional(v *float64, format func(float64) string) string {
	if v == nil {
		return "—"
	}
	return format(*v)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// drawSuiteCharts draws the Figure 7 analogues.
func drawSuiteCharts(s *Suite) ([]drawnChart, error) {
	var out []drawnChart
	for _, c := range []struct {
		ref  chartRef
		key  string
		kind string
	}{
		{chartRef{figure7AcceptChart, "accept downtime per scenario"}, "accept_downtime_pct", "accept"},
		{chartRef{figure7CompletionChart, "completion downtime per scenario"}, "completion_downtime_pct", "completion"},
	} {
		title, caption, svg, err := figure7(s, c.key, c.kind)
		if err != nil {
			return nil, fmt.Errorf("draw chart %s: %w", c.ref.name, err)
		}
		out = append(out, drawnChart{chartRef: c.ref, title: title, caption: caption, svg: svg})
	}
	return out, nil
}

// archTone gives each architecture one colour in both Figure 7 charts,
// its measured bars filled and its paper counterpart's outlined.
func archTone(arch string) chart.Tone {
	switch arch {
	case "eda":
		return chart.Green
	case "monolith":
		return chart.Orange
	}
	return chart.Blue
}

func figure7(s *Suite, key, kind string) (title, caption string, svg []byte, err error) {
	paper := SeedPaper().Table2
	title = fmt.Sprintf("%s downtime per scenario, mean ± 95%% CI over its runs — suite %s", strings.ToUpper(kind[:1])+kind[1:], s.Name)
	caption = fmt.Sprintf("Analogue of the paper's Figure 7: %s downtime (share of 1 s windows below the SLO) per scenario. Filled bars: measured, the mean over the counted runs, with the 95%% confidence interval as error bars (none where n = 1; cut at 0 and 100%%, where downtime ends). Dashed outlines in the same colour: the paper's Table 2 figure for the system the architecture stands for, quoted, not measured; the paper does not define downtime, so read them as reference points.", kind)
	b := chart.Bars{Title: title, YLabel: kind + " downtime (% of windows)", Unit: "%", Limit: 100}
	var archs []string
	for _, sc := range s.Scenarios {
		label := sc.Name
		if row, ok := paper.Row(sc.ComparesTo); ok {
			label = row.Label
		}
		b.Groups = append(b.Groups, label)
		for _, a := range sc.Architectures {
			if !slices.Contains(archs, a.Name) {
				archs = append(archs, a.Name)
			}
		}
	}
	for _, arch := range archs {
		measured := chart.BarSet{Name: arch + " (measured, mean ± 95% CI)", Tone: archTone(arch)}
		sys, mapped := PaperSystem(arch)
		quoted := chart.BarSet{Name: "paper: " + sys + " (not measured)", Tone: archTone(arch), Hollow: true, Toned: true}
		for _, sc := range s.Scenarios {
			v, e := math.NaN(), math.NaN()
			for _, a := range sc.Architectures {
				if st, ok := a.Figure(key); a.Name == arch && ok && st.N > 0 {
					v = st.Mean
					if h, ok := st.HalfWidth(); ok {
						e = h
					}
				}
			}
			measured.Values = append(measured.Values, v)
			measured.Err = append(measured.Err, e)
			pv := math.NaN()
			if row, ok := paper.Row(sc.ComparesTo); ok && mapped {
				pv, _ = row.For(arch)
			}
			quoted.Values = append(quoted.Values, pv)
		}
		b.Sets = append(b.Sets, measured)
		if mapped {
			b.Sets = append(b.Sets, quoted)
		}
	}
	svg, err = b.SVG()
	return title, caption, svg, err
}

// suiteTable1CSV is the Table 1 analogue of the baseline scenario: per
// metric and architecture the mean, the CI bounds and n, then the paper's
// two columns.
func suiteTable1CSV(s *Suite) ([]byte, error) {
	r := suiteBuilder{s: s}
	base, _ := r.baseline()
	head := []string{"metric"}
	for _, a := range base.Architectures {
		head = append(head, a.Name+"_mean", a.Name+"_ci95_low", a.Name+"_ci95_high", a.Name+"_n")
	}
	head = append(head, "paper_traditional_system", "paper_event_driven_system")
	records := [][]string{head}
	p := SeedPaper().Table1
	for _, m := range table1(p) {
		row := []string{m.key}
		for _, a := range base.Architectures {
			st, _ := a.Figure(m.key)
			row = append(row, statCells(st)...)
		}
		if m.paper != nil {
			row = append(row, float(m.paper.Traditional), float(m.paper.EventDriven))
		} else {
			row = append(row, "", "")
		}
		records = append(records, row)
	}
	if c := s.Capacity; c != nil && len(c.Figures) > 0 {
		row := []string{"capacity_per_sec"}
		for _, a := range base.Architectures {
			cell := ""
			for _, f := range c.Figures {
				if f.Arch == a.Name {
					cell = float(f.PerSec)
				}
			}
			row = append(row, cell, "", "", "")
		}
		records = append(records, append(row, float(p.ThroughputRPS.Traditional), float(p.ThroughputRPS.EventDriven)))
	}
	return writeCSV(records)
}

// statCells is mean, CI bounds and n, empty where not computable.
func statCells(st Stat) []string {
	if st.N == 0 {
		return []string{"", "", "", "0"}
	}
	return []string{float(st.Mean), optFloat(st.CILow), optFloat(st.CIHigh), strconv.Itoa(st.N)}
}

func optFloat(v *float64) string {
	if v == nil {
		return ""
	}
	return float(*v)
}

// suiteTable2CSV is the Table 2 analogue: one row per scenario and
// architecture.
func suiteTable2CSV(s *Suite) ([]byte, error) {
	paper := SeedPaper().Table2
	records := [][]string{{"scenario", "architecture", "n",
		"accept_downtime_mean_pct", "accept_downtime_ci95_low", "accept_downtime_ci95_high",
		"completion_downtime_mean_pct", "completion_downtime_ci95_low", "completion_downtime_ci95_high",
		"paper_row", "paper_system", "paper_downtime_pct", "runs"}}
	for _, sc := range s.Scenarios {
		row, hasRow := paper.Row(sc.ComparesTo)
		for _, a := range sc.Architectures {
			accept, _ := a.Figure("accept_downtime_pct")
			completion, _ := a.Figure("completion_downtime_pct")
			rec := []string{sc.Name, a.Name, strconv.Itoa(accept.N)}
			rec = append(rec, statCells(accept)[:3]...)
			rec = append(rec, statCells(completion)[:3]...)
			if sys, ok := PaperSystem(a.Name); ok && hasRow {
				v, _ := row.For(a.Name)
				rec = append(rec, row.Label, sys, float(v))
			} else {
				rec = append(rec, "", "", "")
			}
			records = append(records, append(rec, strings.Join(accept.Runs, " ")))
		}
	}
	return writeCSV(records)
}

// suiteStatsCSV is every figure of suite.json: one row per scenario,
// architecture and figure, with the runs and values it came from.
func suiteStatsCSV(s *Suite) ([]byte, error) {
	records := [][]string{{"scenario", "compares_to", "architecture", "figure", "n", "mean", "sd", "ci95_low", "ci95_high", "cv_pct", "runs", "values"}}
	for _, sc := range s.Scenarios {
		for _, a := range sc.Architectures {
			for _, f := range a.Figures {
				vals := make([]string, len(f.Values))
				for i, v := range f.Values {
					vals[i] = float(v)
				}
				mean := ""
				if f.N > 0 {
					mean = float(f.Mean)
				}
				records = append(records, []string{sc.Name, sc.ComparesTo, a.Name, f.Key, strconv.Itoa(f.N), mean,
					optFloat(f.SD), optFloat(f.CILow), optFloat(f.CIHigh), optFloat(f.CVPct),
					strings.Join(f.Runs, " "), strings.Join(vals, " ")})
			}
		}
	}
	return writeCSV(records)
}
