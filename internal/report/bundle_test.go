package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBundleRoundTrip(t *testing.T) {
	want := fixture(t)
	dir := t.TempDir()
	if err := WriteBundle(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSummary(filepath.Join(dir, SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("summary changed on the way through WriteBundle and ReadSummary:\ngot  %+v\nwant %+v", got, want)
	}
	// The fixture was written the way WriteBundle writes, so the bytes
	// match too: field order is the struct's and stays put.
	written, err := os.ReadFile(filepath.Join(dir, SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(filepath.Join("testdata", SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(written, orig) {
		t.Errorf("summary.json is not byte-identical to the fixture it was read from:\n%s", written)
	}
}

func TestReadSummarySchemaVersion(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		wantErr []string
	}{
		{"newer", `{"schema_version": 2, "architectures": "a shape this version does not know"}`, []string{"schema_version 2", "reads schema_version 1"}},
		{"older", `{"schema_version": 0}`, []string{"schema_version 0", "reads schema_version 1"}},
		{"missing", `{"run_id": "x"}`, []string{"no schema_version", "reads schema_version 1"}},
		{"not json", `schema_version: 1`, []string{"read summary"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), SummaryFile)
			if err := os.WriteFile(path, []byte(tt.json), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := ReadSummary(path)
			if err == nil {
				t.Fatalf("ReadSummary accepted %s: %+v", tt.json, s)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

func TestReadSummaryMissingFile(t *testing.T) {
	if _, err := ReadSummary(filepath.Join(t.TempDir(), "absent.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadSummary of a missing file = %v, want a not-exist error", err)
	}
}

func TestWriteBundleRefuses(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Summary)
		wantErr string
	}{
		{"unknown schema version", func(s *Summary) { s.SchemaVersion = 7 }, "schema_version 7, want 1"},
		{"empty name", func(s *Summary) { s.Architectures[0].Name = "" }, `name "" is not usable`},
		{"parent dir", func(s *Summary) { s.Architectures[0].Name = ".." }, `name ".." is not usable`},
		{"current dir", func(s *Summary) { s.Architectures[0].Name = "." }, `name "." is not usable`},
		{"path", func(s *Summary) { s.Architectures[0].Name = "a/b" }, `name "a/b" is not usable`},
		{"duplicate", func(s *Summary) { s.Architectures[1].Name = s.Architectures[0].Name }, `"eda" appears twice`},
		{"charts dir", func(s *Summary) { s.Architectures[0].Name = ChartsDir }, `"charts" is the name of a file of the bundle`},
		{"bundle file", func(s *Summary) { s.Architectures[1].Name = HTMLFile }, `"index.html" is the name of a file of the bundle`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fixture(t)
			tt.edit(s)
			dir := filepath.Join(t.TempDir(), "bundle")
			err := WriteBundle(dir, s)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("WriteBundle = %v, want an error saying %q", err, tt.wantErr)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("a refused bundle left %s behind", dir)
			}
		})
	}
}

// derivedPaths lists the files WriteBundle derives from s, as the golden
// and regeneration tests expect them.
func derivedPaths(s *Summary) []string {
	paths := []string{MarkdownFile, HTMLFile, Table1File, Table2File}
	for _, c := range chartList() {
		paths = append(paths, c.path())
	}
	for _, a := range s.Architectures {
		for _, f := range []string{SecondsFile, BacklogFile, PercentilesFile} {
			paths = append(paths, path.Join(a.Name, f))
		}
	}
	return paths
}

// TestBundleGolden pins every text file of the bundle of the recorded run.
// The charts are pinned through index.html, which holds each of them
// inline; TestChartFilesMatchHTML ties the chart files to those.
func TestBundleGolden(t *testing.T) {
	s := fixture(t)
	dir := t.TempDir()
	if err := WriteBundle(dir, s); err != nil {
		t.Fatal(err)
	}
	for _, p := range derivedPaths(s) {
		if strings.HasPrefix(p, ChartsDir+"/") {
			continue
		}
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			t.Fatal(err)
		}
		golden(t, filepath.FromSlash(p)+".golden", got)
	}
}

// files reads every file under dir, by slash-separated path.
func files(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRegenerate: a bundle regenerated from its summary.json alone is the
// bundle WriteBundle wrote, byte for byte, and regenerating a complete
// bundle changes nothing.
func TestRegenerate(t *testing.T) {
	s := fixture(t)
	written := t.TempDir()
	if err := WriteBundle(written, s); err != nil {
		t.Fatal(err)
	}
	want := files(t, written)
	wantPaths := append([]string{SummaryFile}, derivedPaths(s)...)
	if got := slices.Sorted(maps.Keys(want)); !slices.Equal(got, slices.Sorted(slices.Values(wantPaths))) {
		t.Fatalf("WriteBundle wrote %q, want %q", got, wantPaths)
	}

	fresh := t.TempDir()
	if err := os.WriteFile(filepath.Join(fresh, SummaryFile), want[SummaryFile], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Regenerate(fresh); err != nil {
		t.Fatal(err)
	}
	if err := Regenerate(written); err != nil {
		t.Fatal(err)
	}
	for name, dir := range map[string]string{"from summary.json alone": fresh, "over itself": written} {
		got := files(t, dir)
		for _, p := range slices.Sorted(maps.Keys(want)) {
			if !bytes.Equal(got[p], want[p]) {
				t.Errorf("regenerated %s: %s differs from what WriteBundle wrote", name, p)
			}
		}
		if len(got) != len(want) {
			t.Errorf("regenerated %s: %d files, WriteBundle wrote %d", name, len(got), len(want))
		}
	}
}

func TestRegenerateRefuses(t *testing.T) {
	t.Run("no summary", func(t *testing.T) {
		if err := Regenerate(t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Regenerate of a dir without summary.json = %v, want a not-exist error", err)
		}
	})
	t.Run("other schema", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, SummaryFile), []byte(`{"schema_version": 2}`), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := Regenerate(dir); err == nil || !strings.Contains(err.Error(), "schema_version 2") {
			t.Errorf("Regenerate = %v, want a schema_version error", err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("a refused regeneration wrote %d files", len(entries)-1)
		}
	})
	t.Run("unusable name", func(t *testing.T) {
		s := fixture(t)
		s.Architectures[0].Name = "../x"
		js, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, SummaryFile), js, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := Regenerate(dir); err == nil || !strings.Contains(err.Error(), "not usable") {
			t.Errorf("Regenerate = %v, want an architecture name error", err)
		}
	})
}

// TestBundleShapes: bundles of every shape of run render without error and
// their charts say "no data" where there is none, instead of failing.
func TestBundleShapes(t *testing.T) {
	base := fixture(t)
	eda, mono := base.Architectures[0], base.Architectures[1]
	other := mono
	other.Name = "microservices-sync"
	empty := Arch{Name: "eda"}

	tests := []struct {
		name   string
		edit   func(*Summary)
		noData []string // charts that must say "no data"
	}{
		{"one architecture", func(s *Summary) { s.Architectures = []Arch{mono} }, nil},
		{"three architectures", func(s *Summary) { s.Architectures = []Arch{eda, mono, other} }, nil},
		{"no architecture", func(s *Summary) { s.Architectures = nil },
			[]string{successChart, latencyChart, percentileChart, backlogChart, downtimeChart}},
		{"zero-length run", func(s *Summary) {
			s.Load.Duration = 0
			s.Faults = nil
			s.Architectures = []Arch{empty, {Name: "monolith"}}
		}, []string{successChart, latencyChart, percentileChart, backlogChart}},
		// The monolith panels of the charts drawn from latencies and the
		// backlog say "no data"; eda's still draw.
		{"nothing accepted", func(s *Summary) {
			a := &s.Architectures[1]
			a.AcceptLatency, a.CompletionLatency = Latency{}, Latency{}
			a.AcceptPercentiles, a.CompletionPercentiles, a.Backlog = nil, nil, nil
			for i := range a.Seconds {
				w := &a.Seconds[i]
				w.Accepted, w.Completed, w.CompletedInDeadline = 0, 0, 0
				w.AcceptP50, w.AcceptP99, w.CompletionP50, w.CompletionP99 = 0, 0, 0, 0
			}
		}, []string{latencyChart, percentileChart, backlogChart}},
		{"baseline", func(s *Summary) { s.ComparesTo = "baseline" }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fixture(t)
			tt.edit(s)
			dir := t.TempDir()
			if err := WriteBundle(dir, s); err != nil {
				t.Fatal(err)
			}
			got := files(t, dir)
			balanced(t, got[HTMLFile])
			for _, c := range chartList() {
				svg, ok := got[c.path()]
				if !ok {
					t.Fatalf("no %s", c.path())
				}
				if says := bytes.Contains(svg, []byte(">no data</text>")); says != slices.Contains(tt.noData, c.name) {
					t.Errorf("%s says no data: %v", c.path(), says)
				}
				if windows(s) == 0 && c.name != downtimeChart {
					continue // a figure without any data has no panels to name
				}
				for _, a := range s.Architectures {
					if !bytes.Contains(svg, []byte(">"+a.Name+"</text>")) {
						t.Errorf("%s does not name %s", c.path(), a.Name)
					}
				}
			}
			for _, a := range s.Architectures {
				if _, ok := got[a.Name+"/"+SecondsFile]; !ok {
					t.Errorf("no %s/%s", a.Name, SecondsFile)
				}
			}
		})
	}
}

// TestDowntimeChartPaperBars: the paper's bars stand beside the
// architectures the paper has a counterpart of, for a scenario that has a
// row in its Table 2, and nowhere else.
func TestDowntimeChartPaperBars(t *testing.T) {
	tests := []struct {
		comparesTo string
		archs      []string
		want       []string // paper bar labels
	}{
		{"single-service-failure", []string{"eda", "monolith"}, []string{"12%", "30%"}},
		{"network-partition", []string{"eda", "microservices-sync"}, []string{"8%"}},
		{"baseline", []string{"eda", "monolith"}, nil},
		{"", []string{"eda", "monolith"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.comparesTo, func(t *testing.T) {
			s := fixture(t)
			s.ComparesTo = tt.comparesTo
			for i, name := range tt.archs {
				s.Architectures[i].Name = name
			}
			_, _, svg, err := downtimeBars(s)
			if err != nil {
				t.Fatal(err)
			}
			hasPaper := bytes.Contains(svg, []byte("paper (not measured)"))
			if hasPaper != (tt.want != nil) {
				t.Errorf("legend has paper bars: %v, want %v", hasPaper, tt.want != nil)
			}
			for _, w := range tt.want {
				if !bytes.Contains(svg, []byte(">"+w+"</text>")) {
					t.Errorf("no paper bar labelled %s", w)
				}
			}
		})
	}
}

// TestCSVUnmeasured: a figure nothing was measured for is an empty cell,
// not a 0 that would read as a measurement.
func TestCSVUnmeasured(t *testing.T) {
	s := fixture(t)
	a := &s.Architectures[1]
	a.CompletionLatency = Latency{}
	a.Seconds[3].AcceptP50 = 0
	t1, err := table1CSV(s)
	if err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, t1)
	if got := rows[0]; !slices.Equal(got, []string{"metric", "eda", "monolith", "paper_traditional_system", "paper_event_driven_system"}) {
		t.Errorf("table1.csv header %q", got)
	}
	for _, r := range rows[1:] {
		if strings.HasPrefix(r[0], "completion_latency_") && r[2] != "" {
			t.Errorf("%s of monolith = %q, want empty: nothing was measured", r[0], r[2])
		}
		if strings.HasPrefix(r[0], "completion_") && (r[3] != "" || r[4] != "") {
			t.Errorf("%s has paper figures %q, %q; the paper has none about completion", r[0], r[3], r[4])
		}
	}
	sec, err := secondsCSV(*a)
	if err != nil {
		t.Fatal(err)
	}
	if got := readCSV(t, sec)[4][7]; got != "" {
		t.Errorf("accept_p50_ms of a window without samples = %q, want empty", got)
	}

	s.ComparesTo = "baseline"
	t2, err := table2CSV(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range readCSV(t, t2)[1:] {
		if r[6] != "" || r[7] != "" || r[8] != "" {
			t.Errorf("baseline row of %s has paper cells %q", r[0], r[6:])
		}
	}
}

func readCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// long stretches the fixture to a run of n seconds by repeating its
// windows and backlog, for benchmarks at a realistic size.
func long(t testing.TB, n int) *Summary {
	s, err := ReadSummary(filepath.Join("testdata", SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	for i := range s.Architectures {
		a := &s.Architectures[i]
		seconds, backlog := a.Seconds, a.Backlog
		a.Seconds, a.Backlog = nil, nil
		for t := range n {
			w := seconds[t%len(seconds)]
			w.T = t
			a.Seconds = append(a.Seconds, w)
		}
		for t := range n + 30 {
			b := backlog[t%len(backlog)]
			b.T = t
			a.Backlog = append(a.Backlog, b)
		}
	}
	s.Load.Duration = time.Duration(n) * time.Second
	return s
}

// BenchmarkWriteBundle writes the bundle of a 60 s run of two
// architectures: every file, charts included.
func BenchmarkWriteBundle(b *testing.B) {
	s := long(b, 60)
	dir := b.TempDir()
	for b.Loop() {
		if err := WriteBundle(dir, s); err != nil {
			b.Fatal(err)
		}
	}
}
