package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edatestbed/testbed/internal/report"
)

func TestSuiteAndCapacityUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"suite"}, "name exactly one suite"},
		{[]string{"suite", "paper", "extra"}, "name exactly one suite"},
		{[]string{"suite", "nope"}, `unknown suite "nope"; allowed: paper`},
		{[]string{"suite", "paper", "--repeats", "0"}, "--repeats 0: want at least 1"},
		{[]string{"suite", "--duration", "1500ms", "paper"}, "--duration 1.5s: want a whole number of seconds"},
		{[]string{"suite", "paper", "--observability", "loud"}, `--observability "loud"; allowed: auto, off`},
		{[]string{"suite", "paper", "--capacity", "measure", "--capacity-step", "10ms"}, "--capacity-step 10ms: want at least 1s"},
		{[]string{"suite", "paper", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"capacity", "baseline", "service-crash"}, "name at most one scenario"},
		{[]string{"capacity", "--step", "100ms"}, "--step 100ms: want at least 1s"},
		{[]string{"capacity", "baseline", "--slo-p99", "-1s"}, "--slo-p99 -1s: want >= 0"},
	}
	for _, tt := range tests {
		code, _, stderr := runCLI(t, tt.args...)
		if code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("testbed %q: exit %d, stderr %q; want exit 2 mentioning %q", tt.args, code, stderr, tt.want)
		}
	}
}

func TestSuiteFlagsAfterTheName(t *testing.T) {
	// 'make paper' puts its flags after the suite's name; they must be
	// read, not taken for more names: a bad one is then reported as such.
	code, _, stderr := runCLI(t, "suite", "paper", "--repeats", "-1")
	if code != 2 || !strings.Contains(stderr, "--repeats -1") {
		t.Fatalf("flags after the name were not parsed: exit %d, %s", code, stderr)
	}
}

func TestCapacityReadsItsScenario(t *testing.T) {
	code, _, stderr := runCLI(t, "capacity", filepath.Join(t.TempDir(), "missing.yaml"))
	if code != 1 || !strings.Contains(stderr, "missing.yaml") {
		t.Fatalf("capacity of a missing scenario: exit %d, %s", code, stderr)
	}
}

func TestSuiteRejectsABadCapacityFile(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "capacity.json")
	if err := os.WriteFile(bad, []byte(`{"schema_version": 7}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "suite", "paper", "--capacity", bad)
	if code != 1 || !strings.Contains(stderr, "schema_version") {
		t.Fatalf("suite with a capacity.json of another version: exit %d, %s", code, stderr)
	}
}

func TestReportRegeneratesASuite(t *testing.T) {
	dir := t.TempDir()
	s := &report.Suite{
		SchemaVersion: report.SuiteSchemaVersion, SuiteID: "20261123-120000-suite-paper", Name: "paper",
		Started: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), Repeats: 1,
	}
	if err := report.WriteSuite(dir, s); err != nil {
		t.Fatal(err)
	}
	md := filepath.Join(dir, report.MarkdownFile)
	want, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(md); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "report", dir)
	if code != 0 || !strings.Contains(stdout, "report.md") {
		t.Fatalf("report of a suite: exit %d\n%s\n%s", code, stdout, stderr)
	}
	got, err := os.ReadFile(md)
	if err != nil || string(got) != string(want) {
		t.Errorf("the suite's report.md was not regenerated as written (%v)", err)
	}
}
