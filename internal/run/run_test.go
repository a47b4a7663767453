package run

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edatestbed/testbed/internal/report"
	"github.com/edatestbed/testbed/scenarios"
)

// binary is the testbed built once for the end-to-end tests: components
// run as child processes of it.
var binary string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "testbed-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		binary = filepath.Join(dir, "testbed")
		cmd := exec.Command("go", "build", "-o", binary, "github.com/edatestbed/testbed/cmd/testbed")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build testbed for end-to-end tests:", err)
			return 1
		}
		return m.Run()
	}())
}

func endToEnd(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end run; skipped with -short")
	}
	if runtime.GOOS != "linux" {
		t.Skip("checks for leftover processes through /proc")
	}
}

// leftovers lists processes whose command line mentions dir: every
// component of a run gets its config from under the run's directory.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if cmd := string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})); strings.Contains(cmd, dir) {
			out = append(out, e.Name()+": "+cmd)
		}
	}
	return out
}

func TestServiceCrashEndToEnd(t *testing.T) {
	endToEnd(t)
	sc, err := scenarios.Load("testdata/crash-short.yaml")
	if err != nil {
		t.Fatal(err)
	}
	reports := t.TempDir()
	var progress bytes.Buffer
	res, err := Run(context.Background(), Options{
		Scenario: sc, ReportsDir: reports, Binary: binary, Progress: &progress,
		Every: time.Second, Version: "test", ReadyTimeout: 30 * time.Second,
	})
	t.Log(progress.String())
	if err != nil {
		t.Fatal(err)
	}
	if left := leftovers(t, reports); len(left) > 0 {
		t.Fatalf("processes left after the run:\n%s", strings.Join(left, "\n"))
	}

	s, err := report.ReadSummary(filepath.Join(res.Dir, report.SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	archs := map[string]report.Arch{}
	for _, a := range s.Architectures {
		archs[a.Name] = a
	}
	e, m := archs["eda"], archs["monolith"]
	if e.Offered == 0 || m.Offered != e.Offered {
		t.Fatalf("offered eda %d, monolith %d: want the same non-zero load", e.Offered, m.Offered)
	}

	// Every order the EDA accepted reaches a terminal state by the end of
	// the drain: the backlog built while inventory was down is processed.
	if e.Unfinished != 0 || e.Completed < e.Accepted {
		t.Errorf("eda: accepted %d, completed %d, unfinished %d; want every accepted order finished", e.Accepted, e.Completed, e.Unfinished)
	}
	if e.Shipped == 0 {
		t.Errorf("eda shipped nothing")
	}

	// While the fault is active the monolith refuses orders and order-api
	// keeps taking them.
	acceptedUnderFault := func(a report.Arch) float64 {
		var off, acc int64
		for _, sec := range a.Seconds {
			if sec.FaultActive {
				off += sec.Offered
				acc += sec.Accepted
			}
		}
		if off == 0 {
			t.Fatalf("%s: no window marked as under fault", a.Name)
		}
		return float64(acc) / float64(off)
	}
	if r := acceptedUnderFault(e); r < 0.95 {
		t.Errorf("eda accepted %.0f%% of orders while inventory was down; want >= 95%%", 100*r)
	}
	if r := acceptedUnderFault(m); r > 0.5 {
		t.Errorf("monolith accepted %.0f%% of orders while it was crashed; want < 50%%", 100*r)
	}
	if m.AcceptDownWindows == 0 {
		t.Errorf("monolith has no accept-down window during a crash")
	}

	// The report says exactly which process was killed where.
	if len(s.Faults) != 1 {
		t.Fatalf("faults in summary = %d, want 1", len(s.Faults))
	}
	hit := map[string]report.Hit{}
	for _, h := range s.Faults[0].Mapping {
		hit[h.Arch] = h
	}
	for arch, comp := range map[string]string{"eda": "inventory", "monolith": "monolith"} {
		h := hit[arch]
		if h.Component != comp || h.PID == 0 || h.Injected.IsZero() || h.Healed.IsZero() || !h.Healed.After(h.Injected) {
			t.Errorf("%s fault mapping = %+v; want %s killed and healed", arch, h, comp)
		}
	}
	for _, f := range []string{"report.md", "scenario.yaml", "eda/seconds.csv", "monolith/seconds.csv", "eda/logs/inventory.log", "eda/completion-latency.hgrm", "monolith/accept-latency.hgrm"} {
		if _, err := os.Stat(filepath.Join(res.Dir, f)); err != nil {
			t.Errorf("bundle lacks %s: %v", f, err)
		}
	}
}

func TestInterruptLeavesNothingBehind(t *testing.T) {
	endToEnd(t)
	reports := t.TempDir()
	cmd := exec.Command(binary, "run", "--reports", reports, "--progress", "1s", "testdata/crash-short.yaml")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt while the crash fault is active: the worst moment to stop.
	sc := bufio.NewScanner(stderr)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.HasPrefix(sc.Text(), "fault service-crash") {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	err = cmd.Wait()
	t.Log(strings.Join(lines, "\n"))
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 {
		t.Fatalf("testbed run after SIGINT: %v; want exit status 130", err)
	}
	if left := leftovers(t, reports); len(left) > 0 {
		t.Fatalf("processes left after SIGINT:\n%s", strings.Join(left, "\n"))
	}
	bundles, _ := filepath.Glob(filepath.Join(reports, "*", report.SummaryFile))
	if len(bundles) != 1 {
		t.Fatalf("want one bundle with a summary after an interrupted run, found %v", bundles)
	}
	s, err := report.ReadSummary(bundles[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Limits) == 0 || !strings.HasPrefix(s.Limits[0], "INTERRUPTED") {
		t.Fatalf("summary of an interrupted run does not say so: %q", s.Limits)
	}
}
