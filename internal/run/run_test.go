package run

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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
		// Static, as make build: the docker runtime runs it FROM scratch.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
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

// listeners lists the sockets this test process still has listening on
// the addresses runs give their architectures (archAddr): the
// link proxies live in this process and must all be closed after a run
// (the components are child processes, checked by leftovers). Sockets of
// other processes on the machine are not ours to judge.
func listeners(t *testing.T) []string {
	t.Helper()
	own := map[string]bool{}
	fds, _ := os.ReadDir("/proc/self/fd")
	for _, fd := range fds {
		if l, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(l, "socket:[") {
			own[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n")[1:] {
		fields := strings.Fields(line)
		// local_address is hex little-endian: 0200007F is 127.0.0.2; 0A is
		// LISTEN; the tenth field is the socket's inode.
		if len(fields) > 9 && fields[3] == "0A" && own[fields[9]] && archAddr(fields[1]) {
			out = append(out, fields[1])
		}
	}
	return out
}

// archAddr reports whether a /proc/net/tcp local address (hex,
// little-endian: 0200007F:port is 127.0.0.2) is one runs give an
// architecture's link proxies: 127.0.0.2 to 127.0.0.9 on the local
// runtime, the host's address on a Docker network (neither loopback nor
// the wildcard) on the docker runtime.
func archAddr(hex string) bool {
	if len(hex) < 9 || hex[8] != ':' {
		return false
	}
	if first := hex[6:8]; first != "7F" && first != "00" {
		return true
	}
	return hex[0] == '0' && hex[1] >= '2' && hex[1] <= '9' && strings.HasPrefix(hex[2:], "00007F:")
}

// TestFaultsEndToEnd runs the short fault scenarios, whose accept timeout
// is 3 s: the race-built testbed and other test packages share two cores
// with every component, and the CPU burst of restarted services catching
// up once held answers of both architectures past a 1 s timeout for a
// second (CI, node-loss-short). A dead or cut-off component is refused or
// fails on its own, so the fault still shows; only starvation is forgiven.
func TestFaultsEndToEnd(t *testing.T) {
	endToEnd(t)
	tests := []struct {
		file string
		// hit is the component or node each architecture's mapping names.
		hit map[string]string
	}{
		{"testdata/crash-short.yaml", map[string]string{"eda": "inventory", "monolith": "monolith"}},
		{"testdata/partition-short.yaml", map[string]string{"eda": "payment | broker-1, broker-2, broker-3, psp", "monolith": "monolith | psp"}},
		{"testdata/node-loss-short.yaml", map[string]string{"eda": "node-2 (broker-2, inventory, payment)", "monolith": "node-1 (monolith)"}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			s, dir := runScenario(t, tt.file)
			checkFaultRun(t, tt.file, tt.hit, s, dir)
		})
	}
}

// checkFaultRun holds a run of one of the short fault scenarios to what
// the fault must do in each architecture; hit is the component or node
// each architecture's mapping names.
func checkFaultRun(t *testing.T, file string, hit map[string]string, s *report.Summary, dir string) {
	t.Helper()
	archs := map[string]report.Arch{}
	for _, a := range s.Architectures {
		archs[a.Name] = a
	}
	e, m := archs["eda"], archs["monolith"]
	if e.Offered == 0 || m.Offered != e.Offered {
		t.Fatalf("offered eda %d, monolith %d: want the same non-zero load", e.Offered, m.Offered)
	}

	// Every order the EDA accepted reaches a terminal state by the
	// end of the drain: the backlog built during the fault is
	// processed after it heals.
	if e.Unfinished != 0 || e.Completed+e.Abandoned < e.Accepted {
		t.Errorf("eda: accepted %d, completed %d, abandoned %d, unfinished %d; want every accepted order finished",
			e.Accepted, e.Completed, e.Abandoned, e.Unfinished)
	}
	if e.Shipped == 0 {
		t.Errorf("eda shipped nothing")
	}
	if l := e.ReadModelLag; l == nil || l.Count < e.Completed/2 {
		t.Errorf("eda read model lag measured over %v orders of %d completed", l, e.Completed)
	}

	// While the fault is active the monolith refuses orders and
	// order-api keeps taking them.
	if r := acceptedUnderFault(t, e); r < 0.95 {
		t.Errorf("eda accepted %.0f%% of orders under the fault; want >= 95%%\n%s", 100*r, sideBySide(e, m))
	}
	if r := acceptedUnderFault(t, m); r > 0.5 {
		t.Errorf("monolith accepted %.0f%% of orders under the fault; want < 50%%", 100*r)
	}
	// The fault took effect in the EDA too: orders placed during it
	// finished late.
	if e.CompletionDownWindows == 0 {
		t.Errorf("eda has no completion-down window: the fault did not take effect")
	}

	// The report says exactly what was hit where, and when.
	if len(s.Faults) != 1 {
		t.Fatalf("faults in summary = %d, want 1", len(s.Faults))
	}
	for _, h := range s.Faults[0].Mapping {
		if h.Component != hit[h.Arch] || h.Injected.IsZero() || !h.Healed.After(h.Injected) {
			t.Errorf("%s fault mapping = %+v; want %q injected and healed", h.Arch, h, hit[h.Arch])
		}
	}
	if strings.HasPrefix(filepath.Base(file), "crash") {
		sameTracePerOrder(t, filepath.Join(dir, "eda", "logs"))
	}
	for _, f := range []string{"report.md", "scenario.yaml", "eda/seconds.csv", "monolith/seconds.csv", "eda/logs/inventory.log", "eda/completion-latency.hgrm", "monolith/accept-latency.hgrm"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("bundle lacks %s: %v", f, err)
		}
	}
}

// sameTracePerOrder checks that the log lines of each order, across every
// EDA service, carry one trace id: one order is one trace, through HTTP,
// the outbox and Kafka.
func sameTracePerOrder(t *testing.T, logs string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(logs, "*.log"))
	traces := map[string]map[string]bool{}     // order -> trace ids
	components := map[string]map[string]bool{} // order -> components that logged it
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			var l struct {
				Order, Component string
				TraceID          string `json:"trace_id"`
			}
			if json.Unmarshal([]byte(line), &l) != nil || l.Order == "" {
				continue
			}
			if traces[l.Order] == nil {
				traces[l.Order], components[l.Order] = map[string]bool{}, map[string]bool{}
			}
			traces[l.Order][l.TraceID] = true
			components[l.Order][l.Component] = true
		}
	}
	full := 0
	for order, ids := range traces {
		if len(ids) != 1 || ids[""] {
			t.Fatalf("order %s logged under trace ids %v; want exactly one", order, ids)
		}
		if len(components[order]) >= 5 {
			full++
		}
	}
	if full == 0 {
		t.Fatalf("no order was logged by all five services (of %d orders logged)", len(traces))
	}
}

// runScenario runs a scenario file and checks that nothing outlived it.
func runScenario(t *testing.T, file string) (*report.Summary, string) {
	t.Helper()
	return runScenarioOn(t, file, RuntimeLocal)
}

// runScenarioOn runs the scenario in file on the runtime and checks that
// no process or proxy of it is left.
func runScenarioOn(t *testing.T, file, runtime string) (*report.Summary, string) {
	t.Helper()
	sc, err := scenarios.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	reports := t.TempDir()
	var progress bytes.Buffer
	res, err := Run(context.Background(), Options{
		Scenario: sc, ReportsDir: reports, Binary: binary, Progress: &progress,
		Every: time.Second, Version: "test", ReadyTimeout: 30 * time.Second, Runtime: runtime,
	})
	t.Log(progress.String())
	if err != nil {
		t.Fatal(err)
	}
	if left := leftovers(t, reports); len(left) > 0 {
		t.Fatalf("processes left after the run:\n%s", strings.Join(left, "\n"))
	}
	if ls := listeners(t); len(ls) > 0 {
		t.Fatalf("ports still listening on the architectures' addresses after the run: %v", ls)
	}
	s, err := report.ReadSummary(filepath.Join(res.Dir, report.SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	return s, res.Dir
}

// acceptedUnderFault is the share of orders offered in windows with a fault
// active that were accepted.
func acceptedUnderFault(t *testing.T, a report.Arch) float64 {
	t.Helper()
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

// sideBySide prints the per-second windows of both architectures side by
// side: a stall both show at once is the machine's or the harness's, one
// only the EDA shows is order-api's.
func sideBySide(e, m report.Arch) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%4s %5s | %-30s | %-30s\n", "t", "fault", "eda offered/accepted/failed p99", "monolith offered/accepted/failed p99")
	for i, se := range e.Seconds {
		var sm report.Second
		if i < len(m.Seconds) {
			sm = m.Seconds[i]
		}
		fmt.Fprintf(&b, "%4d %5v | %4d %4d %4d %8.1f ms | %4d %4d %4d %8.1f ms\n", se.T, se.FaultActive,
			se.Offered, se.Accepted, se.Failed, se.AcceptP99, sm.Offered, sm.Accepted, sm.Failed, sm.AcceptP99)
	}
	return b.String()
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
	sawFault := false
	for !sawFault && sc.Scan() {
		lines = append(lines, sc.Text())
		sawFault = strings.HasPrefix(sc.Text(), "fault service-crash")
	}
	if !sawFault {
		err := cmd.Wait()
		t.Fatalf("run ended (%v, scanner: %v) before its fault:\n%s", err, sc.Err(), strings.Join(lines, "\n"))
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
