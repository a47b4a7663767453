package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/edatestbed/testbed/internal/report"
	"github.com/edatestbed/testbed/internal/run"
	"github.com/edatestbed/testbed/internal/suite"
	"github.com/edatestbed/testbed/scenarios"
)

func suiteCmd(e env, args []string) int {
	var names []string
	for _, d := range suite.Definitions() {
		names = append(names, fmt.Sprintf("  %-8s %s", d.Name, strings.Join(d.Scenarios, ", ")))
	}
	fs := flags(e, "suite", `
Usage: testbed suite [flags] <name>

Runs every scenario of a suite --repeats times with different seeds, one
run after another, and writes one report of the statistics: for each
scenario and architecture the mean, standard deviation, 95% confidence
interval (Student's t) and coefficient of variation of downtime, latency
and throughput, the analogues of the paper's Tables 1 and 2 and Figure 7
(error bars = 95% CI), and a link to every run's bundle.

Suites:
`+strings.Join(names, "\n")+`

Repeat k runs each scenario with its seed + k − 1; the runs go repeat by
repeat (every scenario once, then again). Each run is a full 'testbed run'
of both architectures side by side and writes its own bundle under
--reports; the suite report goes to reports/<suite-id>/ (suite.json,
report.md, index.html, stats.csv, table1.csv, table2.csv, charts/).

--duration shortens (or lengthens) every run: the measured period becomes
--duration and warm-up, drain and fault times scale with it, so a fault
still covers the same share of the run. 'make paper' uses it to finish
within 15 minutes; the report says what was overridden.

Progress: a line before each run (run i of n, scenario, seed, ETA) and each
run's own progress lines. Ctrl-C stops the run under way (it still writes
what it measured), starts no other, and writes the suite report of what
finished, marked INTERRUPTED.
`)
	repeats := fs.Int("repeats", 3, "runs of each scenario, each with its own seed")
	reports := fs.String("reports", "reports", "`directory` the run bundles and the suite report are written under")
	duration := fs.Duration("duration", 0, "measured period of every run, e.g. 40s; warm-up, drain and fault times scale with it (0: as in the files)")
	dir := fs.String("scenarios", "scenarios", "`directory` of the suite's scenario files")
	every := fs.Duration("progress", 15*time.Second, "progress line `interval` of each run on stderr (0: none)")
	ready := fs.Duration("ready-timeout", 30*time.Second, "how long each component may take to become healthy")
	obs := fs.String("observability", "off", "off: runs without Jaeger and Prometheus, which would share the CPUs; auto: start them when installed")
	capacity := fs.String("capacity", "", "attach capacities to Table 1: a capacity.json from 'testbed capacity', or 'measure' to search first (first scenario of the suite, accept p99 bound 500ms)")
	capStep := fs.Duration("capacity-step", 5*time.Second, "with --capacity measure: how long each rate is held")
	pos, code, stop := parseInterspersed(fs, args)
	if stop {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(e.stderr, "suite: name exactly one suite, e.g. 'testbed suite paper'")
		return 2
	}
	def, err := suite.Lookup(pos[0])
	if err != nil {
		fmt.Fprintf(e.stderr, "suite: %v\n", err)
		return 2
	}
	switch {
	case *repeats < 1:
		fmt.Fprintf(e.stderr, "suite: --repeats %d: want at least 1\n", *repeats)
		return 2
	case *duration < 0 || *duration%time.Second != 0:
		fmt.Fprintf(e.stderr, "suite: --duration %s: want a whole number of seconds, such as 40s\n", *duration)
		return 2
	case *obs != "auto" && *obs != "off":
		fmt.Fprintf(e.stderr, "suite: --observability %q; allowed: auto, off\n", *obs)
		return 2
	case *capacity == "measure" && *capStep < time.Second:
		fmt.Fprintf(e.stderr, "suite: --capacity-step %s: want at least 1s\n", *capStep)
		return 2
	}
	bin, err := os.Executable()
	if err != nil {
		fmt.Fprintf(e.stderr, "suite: find the testbed binary to start components from: %v\n", err)
		return 1
	}

	ctx, stopSignals := interruptible(e, "the run under way writes what it measured, then the suite report is written")
	defer stopSignals()

	opt := suite.Options{
		Suite: def, ScenarioDir: *dir, Repeats: *repeats, Duration: *duration, ReportsDir: *reports,
		Progress: e.stderr, Version: e.build.Version, Commit: e.build.Commit,
		Run: func(ctx context.Context, sc *scenarios.Scenario) (*run.Result, error) {
			return run.Run(ctx, run.Options{
				Scenario: sc, ReportsDir: *reports, Binary: bin, Progress: e.stderr, Every: *every,
				Version: e.build.Version, Commit: e.build.Commit, ReadyTimeout: *ready, Observability: *obs,
			})
		},
	}
	if *obs == "off" {
		opt.Notes = append(opt.Notes, "Observability off (`--observability off`, the suite's default): no Jaeger or Prometheus ran beside the systems, so they did not share the machine's CPUs.")
	}
	switch *capacity {
	case "":
	case "measure":
		sc, err := scenarios.Load(filepath.Join(*dir, def.Scenarios[0]+".yaml"))
		if err != nil {
			printProblems(e, err)
			return 1
		}
		fmt.Fprintf(e.stderr, "suite %s: capacity search on %s first (--capacity measure)\n", def.Name, sc.Name)
		c, path, err := measureCapacity(ctx, e, sc, bin, *reports, *capStep, 500*time.Millisecond, *ready)
		if c != nil {
			printCapacity(e, c, path)
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "suite: capacity: %v\n", err)
			if ctx.Err() != nil {
				return 130
			}
			return 1
		}
		opt.Capacity, opt.CapacitySource = c, path
	default:
		c, err := report.ReadCapacity(*capacity)
		if err != nil {
			fmt.Fprintf(e.stderr, "suite: %v\n", err)
			return 1
		}
		opt.Capacity, opt.CapacitySource = c, *capacity
	}

	res, err := suite.Run(ctx, opt)
	if res != nil {
		printSuite(e, res)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "suite %s: %v\n", def.Name, err)
	}
	switch {
	case err == nil:
		return 0
	case ctx.Err() != nil:
		return 130
	}
	return 1
}

// printSuite prints the Table 2 analogue in brief and where the report is.
func printSuite(e env, res *suite.Result) {
	fmt.Fprintf(e.stdout, "\n%-18s %-10s %3s %22s %22s\n", "scenario", "arch", "n", "accept down % (±CI)", "complete down % (±CI)")
	for _, sc := range res.Suite.Scenarios {
		for _, a := range sc.Architectures {
			accept, _ := a.Figure("accept_downtime_pct")
			completion, _ := a.Figure("completion_downtime_pct")
			fmt.Fprintf(e.stdout, "%-18s %-10s %3d %22s %22s\n", sc.Name, a.Name, accept.N, brief(accept), brief(completion))
		}
	}
	fmt.Fprintf(e.stdout, "\nsuite report: %s\n", filepath.Join(res.Dir, report.MarkdownFile))
}

func brief(st report.Stat) string {
	if st.N == 0 {
		return "—"
	}
	if h, ok := st.HalfWidth(); ok {
		return fmt.Sprintf("%.1f ± %.1f", st.Mean, h)
	}
	return fmt.Sprintf("%.1f (no CI)", st.Mean)
}

// parseInterspersed parses flags before and after the positional
// arguments, so that 'testbed suite paper --repeats 3' works as well as
// 'testbed suite --repeats 3 paper'. It returns the positional arguments,
// and the exit code when the command should stop.
func parseInterspersed(fs *flag.FlagSet, args []string) (pos []string, exit int, stop bool) {
	for {
		if exit, stop = parse(fs, args); stop {
			return nil, exit, true
		}
		if fs.NArg() == 0 {
			return pos, 0, false
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// interruptible returns a context that the first Ctrl-C (or SIGTERM)
// cancels, saying what happens next; a second one kills the testbed, and
// the kernel its children. The func releases the signals.
func interruptible(e env, next string) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		if _, ok := <-sigs; !ok {
			return
		}
		signal.Stop(sigs)
		fmt.Fprintf(e.stderr, "\nstopping: %s (Ctrl-C again to exit at once)\n", next)
		cancel()
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(sigs)
		cancel()
	}
}
