package suite

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/edatestbed/testbed/internal/report"
	"github.com/edatestbed/testbed/internal/run"
	"github.com/edatestbed/testbed/scenarios"
)

// TestSuiteEndToEnd runs a real suite: two repeats of a scenario of a few
// seconds, both architectures, a crash, on the local runtime.
func TestSuiteEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end suite; skipped with -short")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the local runtime's faults need Linux signals")
	}
	bin := filepath.Join(t.TempDir(), "testbed")
	build := exec.Command("go", "build", "-o", bin, "github.com/edatestbed/testbed/cmd/testbed")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("build testbed: %v", err)
	}
	reports := t.TempDir()
	var progress bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Run(ctx, Options{
		Suite:       Definition{Name: "tiny", Scenarios: []string{"tiny"}},
		ScenarioDir: "testdata/scenarios",
		Repeats:     2,
		ReportsDir:  reports,
		Progress:    &progress,
		Run: func(ctx context.Context, sc *scenarios.Scenario) (*run.Result, error) {
			return run.Run(ctx, run.Options{Scenario: sc, ReportsDir: reports, Binary: bin, ReadyTimeout: 30 * time.Second, Observability: "off"})
		},
	})
	if err != nil {
		t.Fatalf("suite: %v\n%s", err, progress.String())
	}
	s, err := report.ReadSuite(filepath.Join(res.Dir, report.SuiteFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Runs) != 2 || len(s.Scenarios) != 1 {
		t.Fatalf("suite of %d runs over %d scenarios, want 2 over 1:\n%s", len(s.Runs), len(s.Scenarios), progress.String())
	}
	for i, r := range s.Runs {
		sc, err := scenarios.Load(filepath.Join(res.Dir, filepath.FromSlash(r.Bundle), "scenario.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != report.RunOK || sc.Seed != int64(1+i) || r.Seed != sc.Seed {
			t.Errorf("run %d: status %s, seed %d in the record and %d in its bundle; want ok and %d in both", i+1, r.Status, r.Seed, sc.Seed, 1+i)
		}
	}
	for _, a := range s.Scenarios[0].Architectures {
		st, ok := a.Figure("accept_downtime_pct")
		if !ok || st.N != 2 || st.SD == nil {
			t.Errorf("%s accept downtime: %+v, want the statistics of 2 runs", a.Name, st)
		}
	}
	for _, f := range []string{report.MarkdownFile, report.HTMLFile, report.SuiteStatsFile, "charts/figure7-accept-downtime.svg"} {
		if _, err := os.Stat(filepath.Join(res.Dir, f)); err != nil {
			t.Errorf("suite report lacks %s: %v", f, err)
		}
	}
}
