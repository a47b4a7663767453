package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// suiteFixture is a synthetic suite made from the recorded summary of
// testdata/summary.json with figures set per run: baseline three times,
// service-crash three times with the third interrupted (n = 2), and
// node-loss once with a failed attempt before it (n = 1).
func suiteFixture(t *testing.T) (*Suite, map[string]*Summary) {
	t.Helper()
	base := fixture(t)
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	s := &Suite{
		SchemaVersion: SuiteSchemaVersion,
		SuiteID:       "20261123-120000-suite-paper",
		Name:          "paper",
		Description:   "Synthetic suite for the golden files.",
		Started:       t0,
		Ended:         t0.Add(14*time.Minute + 30*time.Second),
		Repeats:       3,
		Overrides:     []string{"Measured period set to 40s in every scenario (`--duration 40s`)."},
		Provenance:    base.Provenance,
		Capacity: &SuiteCapacity{ID: "20261123-115000-baseline-capacity", Source: "../20261123-115000-baseline-capacity/capacity.json", Step: 5 * time.Second,
			Figures: []CapacityFigure{{Arch: "eda", PerSec: 350}, {Arch: "monolith", PerSec: 525}}},
	}
	summaries := map[string]*Summary{}
	n := 0
	add := func(scenario, comparesTo string, repeat int, status string, down [2][2]float64, p99 [2]float64) {
		n++
		id := fmt.Sprintf("20261123-12%02d00-%s", n, scenario)
		r := SuiteRun{Scenario: scenario, Repeat: repeat, Seed: int64(repeat), Status: status, ScenarioSHA: fmt.Sprintf("%064d", n)}
		if status == RunFailed {
			r.Error = "start eda/inventory: exited before it was ready (exit status 1)\nlast lines of inventory.log: bind: address already in use"
			s.Runs = append(s.Runs, r)
			return
		}
		r.RunID, r.Bundle = id, "../"+id
		sum := *base
		sum.RunID, sum.Scenario, sum.ComparesTo, sum.Seed = id, scenario, comparesTo, int64(repeat)
		if comparesTo == "baseline" {
			sum.Faults = nil
		}
		sum.Architectures = append([]Arch(nil), base.Architectures...)
		for i := range sum.Architectures {
			a := &sum.Architectures[i]
			a.AcceptDowntimePct, a.CompletionDowntimePct = down[i][0], down[i][1]
			a.AcceptLatency.P99 = p99[i]
			a.AcceptedPerSec = 100 - down[i][0]
		}
		if repeat == 2 {
			sum.Limits = append(append([]string(nil), base.Limits...), "UNPLANNED EXIT: eda/payment exited on its own.")
		}
		summaries[id] = &sum
		s.Runs = append(s.Runs, r)
	}
	for k := 1; k <= 3; k++ {
		add("baseline", "baseline", k, RunOK, [2][2]float64{{0, 0}, {0, 0}}, [2]float64{10 + float64(k), 20 + 2*float64(k)})
		status := RunOK
		if k == 3 {
			status = RunInterrupted
		}
		add("service-crash", "single-service-failure", k, status, [2][2]float64{{0, 20 + float64(k)}, {25 + 5*float64(k), 25 + 5*float64(k)}}, [2]float64{12, 900})
		if k == 1 {
			add("node-loss", "hardware-failure", k, RunFailed, [2][2]float64{}, [2]float64{})
			add("node-loss", "hardware-failure", k, RunError, [2][2]float64{{0, 22.5}, {25, 25}}, [2]float64{15, 31})
		}
	}
	SummarizeSuite(s, summaries)
	return s, summaries
}

func TestSuiteGolden(t *testing.T) {
	s, _ := suiteFixture(t)
	dir := t.TempDir()
	if err := WriteSuite(dir, s); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{SuiteFile, MarkdownFile, Table1File, Table2File, SuiteStatsFile} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		golden(t, filepath.Join("suite", name+".golden"), b)
	}
}

func TestSuiteStatistics(t *testing.T) {
	s, _ := suiteFixture(t)
	byName := map[string]SuiteScenario{}
	var order []string
	for _, sc := range s.Scenarios {
		byName[sc.Name] = sc
		order = append(order, sc.Name)
	}
	if got := strings.Join(order, ","); got != "baseline,service-crash,node-loss" {
		t.Fatalf("scenarios in order %s, want the order of their first run", got)
	}
	tests := []struct {
		scenario, arch, key string
		n                   int
		mean                float64
		runs                string
	}{
		// The interrupted third repeat is left out: 30 and 35 remain.
		{"service-crash", "monolith", "accept_downtime_pct", 2, 32.5, "20261123-120200-service-crash 20261123-120600-service-crash"},
		// The failed attempt counts for nothing, the run that errored
		// counts.
		{"node-loss", "eda", "completion_downtime_pct", 1, 22.5, "20261123-120400-node-loss"},
		{"baseline", "eda", "accept_latency_p99_ms", 3, 12, "20261123-120100-baseline 20261123-120500-baseline 20261123-120700-baseline"},
		{"baseline", "monolith", "availability_accept_pct", 3, 100, "20261123-120100-baseline 20261123-120500-baseline 20261123-120700-baseline"},
	}
	for _, tt := range tests {
		var st Stat
		var ok bool
		for _, a := range byName[tt.scenario].Architectures {
			if a.Name == tt.arch {
				st, ok = a.Figure(tt.key)
			}
		}
		if !ok {
			t.Errorf("%s/%s has no %s", tt.scenario, tt.arch, tt.key)
			continue
		}
		if st.N != tt.n || st.Mean != tt.mean || strings.Join(st.Runs, " ") != tt.runs {
			t.Errorf("%s/%s %s: n %d mean %v runs %v; want %d %v %s", tt.scenario, tt.arch, tt.key, st.N, st.Mean, st.Runs, tt.n, tt.mean, tt.runs)
		}
	}
	// The limit only run 2 states is listed once per run with its run id,
	// the shared ones once.
	var unplanned, shared int
	for _, l := range s.Limits {
		if strings.Contains(l, "UNPLANNED EXIT") {
			unplanned++
			if !strings.HasPrefix(l, "20261123-") {
				t.Errorf("a limit of some runs does not name its run: %q", l)
			}
		}
		if strings.HasPrefix(l, "Broker: kfake") {
			shared++
		}
	}
	if unplanned != 2 || shared != 1 {
		t.Errorf("limits: %d unplanned exits (want 2: the two counted repeat-2 runs), shared limit listed %d times (want 1):\n%s", unplanned, shared, strings.Join(s.Limits, "\n"))
	}
}

func TestSuiteHTML(t *testing.T) {
	s, _ := suiteFixture(t)
	dir := t.TempDir()
	if err := WriteSuite(dir, s); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	balanced(t, page)
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, fig := range find(doc, element(atom.Figure)) {
		ids = append(ids, attr(fig, "id"))
		if len(find(fig, element(atom.Svg))) != 1 {
			t.Errorf("figure %s holds no inline svg", attr(fig, "id"))
		}
	}
	if got, want := strings.Join(ids, " "), "chart-"+figure7AcceptChart+" chart-"+figure7CompletionChart; got != want {
		t.Errorf("figures %q, want %q", got, want)
	}
	hrefs := map[string]bool{}
	for _, a := range find(doc, element(atom.A)) {
		hrefs[attr(a, "href")] = true
	}
	for _, r := range s.Runs {
		if r.Bundle != "" && !hrefs[r.Bundle+"/index.html"] {
			t.Errorf("no link to the bundle of run %s", r.RunID)
		}
	}
	for _, th := range find(doc, element(atom.Th)) {
		isPaper := attr(th, "class") == "paper"
		says := strings.HasPrefix(text(th), "Paper: ") && strings.Contains(text(th), "not measured here")
		if isPaper != says {
			t.Errorf("header %q: class paper %v, but its text says paper-and-not-measured %v", text(th), isPaper, says)
		}
	}
	if !strings.Contains(string(page), "EDA testbed · suite report") {
		t.Error("index.html does not say it is a suite report")
	}
	// The paper's bars are drawn as dashed outlines, the CI as error bars.
	for _, c := range []string{figure7AcceptChart, figure7CompletionChart} {
		svg, err := os.ReadFile(filepath.Join(dir, ChartsDir, c+".svg"))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"paper: Traditional System (not measured)", "eda (measured, mean ± 95% CI)", "Single Service Failure", "stroke-dasharray"} {
			if !strings.Contains(string(svg), want) {
				t.Errorf("%s lacks %q", c, want)
			}
		}
	}
}

func TestRegenerateSuiteIsByteForByte(t *testing.T) {
	s, _ := suiteFixture(t)
	dir := t.TempDir()
	if err := WriteSuite(dir, s); err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		want[p] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range want {
		if filepath.Base(p) != SuiteFile {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !IsSuite(dir) {
		t.Fatal("IsSuite does not recognise a suite report")
	}
	if err := RegenerateSuite(dir); err != nil {
		t.Fatal(err)
	}
	for p, b := range want {
		got, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("not regenerated: %v", err)
			continue
		}
		if !bytes.Equal(got, b) {
			t.Errorf("%s differs after regeneration", p)
		}
	}
}

func TestReadSuiteRefusesOtherVersions(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"none.json":  `{"suite_id": "x"}`,
		"other.json": `{"schema_version": 99}`,
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadSuite(p); err == nil || !strings.Contains(err.Error(), "schema_version") {
			t.Errorf("ReadSuite(%s) = %v, want a schema_version error", name, err)
		}
	}
	if err := WriteSuite(dir, &Suite{SchemaVersion: 2}); err == nil {
		t.Error("WriteSuite wrote a suite of another schema version")
	}
	if IsSuite(dir) {
		t.Error("IsSuite on a directory without suite.json")
	}
}

func TestSuiteJSONNullsWhatCannotBeComputed(t *testing.T) {
	s, _ := suiteFixture(t)
	var node SuiteScenario
	for _, sc := range s.Scenarios {
		if sc.Name == "node-loss" {
			node = sc
		}
	}
	st, _ := node.Architectures[0].Figure("accept_downtime_pct")
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"n":1`, `"sd":null`, `"ci95_low":null`, `"ci95_high":null`, `"cv_pct":null`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("a one-run figure encodes as %s, want %s in it", b, want)
		}
	}
}

func TestCapacityRow(t *testing.T) {
	for _, capacity := range []float64{0, 512.5} {
		s := fixture(t)
		s.Architectures[0].Capacity = capacity
		var md bytes.Buffer
		if err := Markdown(&md, s); err != nil {
			t.Fatal(err)
		}
		csv, err := table1CSV(s)
		if err != nil {
			t.Fatal(err)
		}
		hasRow := strings.Contains(md.String(), "| Capacity, SLO met (orders/s)")
		hasCSV := strings.Contains(string(csv), "capacity_per_sec,512.5,,1000,2000")
		if known := capacity > 0; hasRow != known || hasCSV != known {
			t.Errorf("capacity %v: Table 1 row %v, table1.csv row %v; want both %v", capacity, hasRow, hasCSV, known)
		}
	}
}
