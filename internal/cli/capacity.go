package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/edatestbed/testbed/internal/report"
	"github.com/edatestbed/testbed/internal/run"
	"github.com/edatestbed/testbed/scenarios"
)

func capacityCmd(e env, args []string) int {
	fs := flags(e, "capacity", `
Usage: testbed capacity [flags] [scenario]

Finds the highest rate each architecture sustains with the scenario's SLO
met: throughput as the paper's Table 1 means it, the most a system
processes, not the part of a fixed load it served. <scenario> (default
baseline) gives the SLO, request timeout, catalog and payment provider; its
load.rate is the first rate tried, its faults are ignored.

Each architecture is started alone on the local runtime and attacked step
after step with fresh orders. A step holds one rate for --step after a
warm-up of a fifth of it, and passes when, over the step:
  accepted / offered                       >= slo.success_ratio
  completed within the deadline / offered  >= slo.success_ratio
  accept latency p99                       <= --slo-p99
The rate doubles until a step fails, then bisects to within 5%. Between
steps the backlog a step left gets up to load.drain to clear. Stock is
raised so that no order is cancelled for want of it.

Output: a table on stdout, a line per step on stderr, and the whole search
in reports/<id>/capacity.json. 'testbed suite paper --capacity <that file>'
puts the figures into the suite's and its runs' Table 1.
`)
	step := fs.Duration("step", 5*time.Second, "how long each rate is held and measured")
	p99 := fs.Duration("slo-p99", 500*time.Millisecond, "a step passes only with its accept p99 at most this (0: no bound)")
	reports := fs.String("reports", "reports", "`directory` the search is written under")
	ready := fs.Duration("ready-timeout", 30*time.Second, "how long each component may take to become healthy")
	pos, code, stop := parseInterspersed(fs, args)
	if stop {
		return code
	}
	if len(pos) > 1 {
		fmt.Fprintln(e.stderr, "capacity: name at most one scenario (default baseline)")
		return 2
	}
	if *step < time.Second {
		fmt.Fprintf(e.stderr, "capacity: --step %s: want at least 1s, so that a step holds whole windows\n", *step)
		return 2
	}
	if *p99 < 0 {
		fmt.Fprintf(e.stderr, "capacity: --slo-p99 %s: want >= 0\n", *p99)
		return 2
	}
	name := "baseline"
	if len(pos) == 1 {
		name = pos[0]
	}
	sc, err := scenarios.Load(scenarioPath(name))
	if err != nil {
		printProblems(e, err)
		return 1
	}
	bin, err := os.Executable()
	if err != nil {
		fmt.Fprintf(e.stderr, "capacity: find the testbed binary to start components from: %v\n", err)
		return 1
	}
	ctx, stopSignals := interruptible(e, "the search stops and what it found so far is written")
	defer stopSignals()
	c, path, err := measureCapacity(ctx, e, sc, bin, *reports, *step, *p99, *ready)
	if c != nil {
		printCapacity(e, c, path)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "capacity: %v\n", err)
		if ctx.Err() != nil {
			return 130
		}
		return 1
	}
	return 0
}

// measureCapacity runs the search and writes it, also when it stopped
// early; path is where it went.
func measureCapacity(ctx context.Context, e env, sc *scenarios.Scenario, bin, reports string, step, p99, ready time.Duration) (*report.CapacitySearch, string, error) {
	c, err := run.FindCapacity(ctx, run.CapacityOptions{
		Scenario: sc, Binary: bin, Step: step, AcceptP99: p99, ReadyTimeout: ready,
		Progress: e.stderr, Version: e.build.Version, Commit: e.build.Commit,
	})
	if c == nil {
		return nil, "", err
	}
	dir := filepath.Join(reports, c.ID)
	if werr := report.WriteCapacity(dir, c); werr != nil {
		return c, "", werr
	}
	return c, filepath.Join(dir, report.CapacityFile), err
}

func printCapacity(e env, c *report.CapacitySearch, path string) {
	fmt.Fprintf(e.stdout, "\n%-10s %16s %7s  %s\n", "arch", "capacity", "steps", "first failing step")
	for _, a := range c.Architectures {
		capacity := "none"
		if a.PerSec > 0 {
			capacity = fmt.Sprintf("%.1f orders/s", a.PerSec)
		}
		why := "—"
		for _, st := range a.Steps {
			if !st.Passed {
				why = fmt.Sprintf("%.1f/s: %s", st.Rate, st.Why)
				break
			}
		}
		if a.Error != "" {
			why = "stopped: " + a.Error
		}
		fmt.Fprintf(e.stdout, "%-10s %16s %7d  %s\n", a.Name, capacity, len(a.Steps), why)
	}
	if path != "" {
		fmt.Fprintf(e.stdout, "\ncapacity: %s\n", path)
	}
}
