package report

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fixture reads testdata/summary.json, every golden file is rendered from:
// a recorded run of a 10 s scenario in which inventory crashed for 4 s,
// eda and monolith side by side.
func fixture(t *testing.T) *Summary {
	t.Helper()
	s, err := ReadSummary(filepath.Join("testdata", SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update if the change is intended)\n--- got ---\n%s", path, got)
	}
}

func TestMarkdownArchitectureCounts(t *testing.T) {
	base := fixture(t)
	eda, mono := base.Architectures[0], base.Architectures[1]
	other := mono
	other.Name = "microservices-sync"

	tests := []struct {
		name  string
		archs []Arch
	}{
		{"one", []Arch{eda}},
		{"two reversed", []Arch{mono, eda}},
		{"three with one the paper lacks", []Arch{eda, mono, other}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := *base
			s.Architectures = tt.archs
			var b bytes.Buffer
			if err := Markdown(&b, &s); err != nil {
				t.Fatal(err)
			}
			md := b.String()
			header := lineWith(t, md, "| Metric")
			if got, want := strings.Count(header, "|")-1, 1+len(tt.archs)+2; got != want {
				t.Errorf("Table 1 has %d columns, want %d: %s", got, want, header)
			}
			last := -1
			for _, a := range tt.archs {
				i := strings.Index(header, "| "+a.Name+" (measured)")
				if i < 0 || i < last {
					t.Errorf("Table 1 header lacks or misorders %q: %s", a.Name, header)
				}
				last = i
				if !strings.Contains(md, "\n| "+a.Name+" ") {
					t.Errorf("Table 2 has no row for %q", a.Name)
				}
				if !strings.Contains(md, "### "+a.Name+": windows down or under fault") {
					t.Errorf("timeline has no section for %q", a.Name)
				}
			}
			if strings.Index(header, "(measured)") > strings.Index(header, "not measured here") {
				t.Errorf("paper columns must come after the measured ones: %s", header)
			}
		})
	}
	t.Run("unmapped architecture has no paper figure", func(t *testing.T) {
		s := *base
		s.Architectures = []Arch{other}
		var b bytes.Buffer
		if err := Markdown(&b, &s); err != nil {
			t.Fatal(err)
		}
		row := lineWith(t, b.String(), "| microservices-sync ")
		if !strings.HasSuffix(strings.TrimRight(row, " |"), "—") {
			t.Errorf("Table 2 row of an architecture the paper lacks should end in —: %s", row)
		}
		if !strings.Contains(b.String(), "The paper has no counterpart of microservices-sync.") {
			t.Error("report does not say the paper lacks microservices-sync")
		}
	})
}

func TestMarkdownPaperColumns(t *testing.T) {
	s := fixture(t)
	var b bytes.Buffer
	if err := Markdown(&b, s); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	tests := []struct {
		row       string
		wantPaper []string // Traditional, Event-Driven
	}{
		{"| Accept latency p50 (ms)", []string{"500", "300"}},
		{"| Accept latency p99 (ms)", []string{"500", "300"}},
		{"| Completion latency p50 (ms)", []string{"—", "—"}},
		{"| Availability, accept (%)", []string{"99.8", "99.99"}},
		{"| Availability, completion (%)", []string{"—", "—"}},
		{"| Throughput, accepted (orders/s)", []string{"1000", "2000"}},
		{"| Throughput, completed (orders/s)", []string{"—", "—"}},
	}
	for _, tt := range tests {
		cells := cells(lineWith(t, md, tt.row))
		if got := cells[len(cells)-2:]; got[0] != tt.wantPaper[0] || got[1] != tt.wantPaper[1] {
			t.Errorf("%s: paper cells %q, want %q", tt.row, got, tt.wantPaper)
		}
	}
	if got := cells(lineWith(t, md, "| eda ")); got[len(got)-1] != "12 (Event-Driven System)" {
		t.Errorf("Table 2 eda paper cell = %q, want 12 (Event-Driven System)", got[len(got)-1])
	}
	if got := cells(lineWith(t, md, "| monolith ")); got[len(got)-1] != "30 (Traditional System)" {
		t.Errorf("Table 2 monolith paper cell = %q, want 30 (Traditional System)", got[len(got)-1])
	}
}

func TestMarkdownComparesTo(t *testing.T) {
	tests := []struct {
		comparesTo string
		want       string
	}{
		{"baseline", "The paper's Table 2 has no baseline (fault-free) row"},
		{"", "names no row of the paper's Table 2"},
		{"disk-full", `compares_to "disk-full" is not a row of the paper's Table 2`},
		{"network-partition", `row "Network Partition"`},
	}
	for _, tt := range tests {
		t.Run(tt.comparesTo, func(t *testing.T) {
			s := fixture(t)
			s.ComparesTo = tt.comparesTo
			var b bytes.Buffer
			if err := Markdown(&b, s); err != nil {
				t.Fatal(err)
			}
			md := b.String()
			if !strings.Contains(md, tt.want) {
				t.Errorf("report lacks %q", tt.want)
			}
			eda := cells(lineWith(t, md, "| eda "))
			wantCell := "—"
			if tt.comparesTo == "network-partition" {
				wantCell = "8 (Event-Driven System)"
			}
			if got := eda[len(eda)-1]; got != wantCell {
				t.Errorf("Table 2 eda paper cell = %q, want %q", got, wantCell)
			}
		})
	}
}

func TestMarkdownNoMeasurement(t *testing.T) {
	s := fixture(t)
	s.Faults = nil
	s.Limits = nil
	a := &s.Architectures[0]
	a.Accepted, a.Failed, a.Dropped = 0, a.Offered, 17
	a.AcceptLatency = Latency{}
	var b bytes.Buffer
	if err := Markdown(&b, s); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	if got := cells(lineWith(t, md, "| Accept latency p50 (ms)"))[1]; got != "—" {
		t.Errorf("latency without samples rendered as %q, want —", got)
	}
	if got := cells(lineWith(t, md, "| Failed"))[1]; got != "500 (100.00%), of which 17 dropped" {
		t.Errorf("failed cell = %q", got)
	}
	for _, want := range []string{"No fault was injected in this run.", "None recorded for this run."} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestMarkdownTimelineCap(t *testing.T) {
	s := fixture(t)
	a := &s.Architectures[0]
	for i := len(a.Seconds); i < 45; i++ {
		a.Seconds = append(a.Seconds, Second{T: i, Offered: 50, Accepted: 50, CompletedInDeadline: 50})
	}
	for i := range a.Seconds {
		a.Seconds[i].FaultActive = true
	}
	var b bytes.Buffer
	if err := Markdown(&b, s); err != nil {
		t.Fatal(err)
	}
	want := "… and 15 more such windows; see `eda/seconds.csv`."
	if !strings.Contains(b.String(), want) {
		t.Errorf("report lacks %q", want)
	}
}

// TestMarkdownLinksBundle: report.md points at index.html, every chart
// and the table CSVs, by the paths WriteBundle writes them to.
func TestMarkdownLinksBundle(t *testing.T) {
	var b bytes.Buffer
	if err := Markdown(&b, fixture(t)); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	links := []string{HTMLFile, Table1File, Table2File}
	for _, c := range chartList() {
		links = append(links, c.path())
	}
	for _, l := range links {
		if !strings.Contains(md, "]("+l+")") {
			t.Errorf("report.md does not link %s", l)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestMarkdownWriteError(t *testing.T) {
	err := Markdown(failingWriter{}, fixture(t))
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Markdown to a failing writer = %v, want the writer's error", err)
	}
}

func TestSecs(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0 s"},
		{9 * time.Millisecond, "9 ms"},
		{262 * time.Millisecond, "262 ms"},
		{time.Second, "1 s"},
		{10412 * time.Millisecond, "10.41 s"},
		{time.Minute, "60 s"},
	}
	for _, tt := range tests {
		if got := secs(tt.d); got != tt.want {
			t.Errorf("secs(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// lineWith returns the first line of md that starts with prefix.
func lineWith(t *testing.T, md, prefix string) string {
	t.Helper()
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	t.Fatalf("no line starts with %q", prefix)
	return ""
}

// cells splits a Markdown table row into its trimmed cells.
func cells(row string) []string {
	parts := strings.Split(strings.Trim(row, "|"), "|")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return parts
}

func TestMarkdownTimelineWraps(t *testing.T) {
	s := fixture(t)
	a := &s.Architectures[0]
	for i := len(a.Seconds); i < 130; i++ {
		a.Seconds = append(a.Seconds, Second{T: i, Offered: 50, Accepted: 50, CompletedInDeadline: 50})
	}
	a.Seconds[125].CompletedInDeadline = 10
	var b bytes.Buffer
	if err := Markdown(&b, s); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	// Three blocks of at most 60 windows; the last one holds windows
	// 120..129 with window 125 completion-down, and only eda reaches it.
	if !strings.Contains(md, strings.Repeat(" ", 10)+"120\neda       .....c....\nmonolith\n") {
		t.Errorf("timeline does not wrap at 60 windows:\n%s", md)
	}
}
