package cli

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/edatestbed/testbed/internal/compare"
	"github.com/edatestbed/testbed/internal/run"
)

// systemTarget is the accept-path rate issue "Performance" asks of an
// architecture on a 2-core machine: the EDA's 202s, the monolith's
// completed orders.
func systemTarget(arch string) (float64, bool) {
	switch arch {
	case "eda":
		return 20000, true
	case "monolith":
		return 5000, true
	}
	return 0, false
}

// maxHold bounds --hold as a scenario's load.rate is bounded.
const maxHold = 100000

// target prints one of the performance targets with the figure measured
// and whether it was met.
func target(e env, what, figure string, met bool) {
	verdict := "FALL SHORT"
	if met {
		verdict = "PASS"
	}
	fmt.Fprintf(e.stdout, "  target  %-62s %10s  %s\n", what, figure, verdict)
}

func benchCmd(e env, args []string) int {
	fs := flags(e, "bench", `
Usage: testbed bench [--step 3s] [--hold 9000] [--rate 1000] [--duration 60s] [--profile] [loadgen|systems|overhead|memory ...]

Measures the highest rate each part sustains, so you know whether a run's
numbers describe the architectures or the harness. A rate is sustained when,
held for --step, at least 99% of it is answered successfully within the step
and nothing times out, fails or is dropped. The search doubles the rate until
a rate fails, then bisects; a rate fails when two probes of it in a row do
(one probe in a few fails by chance on a busy machine). Each probe prints a
line on stderr (its rate, held or why not; for systems and overhead its
accept p99 too), and each systems figure comes with the accept p99 of the
probe that sustained it, from each request's intended send time.

  loadgen   the load generator against a trivial local HTTP target (answers
            204 at once), and vegeta (github.com/tsenart/vegeta) against the
            same target with the same rule: the ceiling of this testbed on
            this machine, with a yardstick, and both p99s at a common rate
  systems   each architecture's POST /orders on the local runtime: the EDA's
            accept path (order + outbox row written, 202), first with only
            the broker and order-api running (its relay still publishes
            every event), then with the whole saga behind it sharing the
            CPUs; and the monolith's whole synchronous order (200 with the
            terminal state). The EDA's target is judged on the first. An
            EDA probe also needs its outbox relay to keep up: at most a
            second's worth of events unpublished at the probe's end (else
            orders are taken faster than they can ever be published).
            With --hold, each of these setups holds that rate for one
            probe of --step instead of searching (testbed bench --hold 9000
            --step 30s systems): a figure checked again, for longer.

  overhead  systems twice (the EDA's accept path alone): as every run has
            them (a fault-aware proxy on every link, spans for every order,
            info logs) and bare (direct connections, no spans, warnings
            only); the ratio is what the harness costs

  memory    a run of the EDA and the monolith side by side at --rate for
            --duration (no faults, no Jaeger or Prometheus), sampling every
            --every the resident memory of the testbed and of every process
            it started, RSS and PSS (/proc/<pid>/smaps_rollup); the target
            is the sum of PSS, which counts once the pages the processes
            share (all of them run the testbed binary). The run's bundle
            goes under --reports with the samples in memory.csv. Use
            --duration 30m for the memory issue's full length; --profile
            adds every process's heap profile at the end of the measured
            period to the bundle.

With no argument, loadgen and systems. After each figure a "target" line
says whether it meets the goal of the performance issue (loadgen at least
vegeta's rate with a p99 within 5 %; EDA 20,000 accepted orders/s;
monolith 5,000 completed orders/s; harness overhead at most 20 %; every
process of the memory run together under 1 GiB, the testbed's own memory
flat over the measured period): PASS or FALL SHORT. Figures depend on the
machine and on what else runs on it; the load generator shares its CPUs
with the systems under test.
`)
	step := fs.Duration("step", 3*time.Second, "how long each probe holds its rate")
	hold := fs.Float64("hold", 0, "systems: hold this many orders/s for one probe of --step instead of searching (0: search)")
	rate := fs.Float64("rate", 1000, "memory: orders per second per architecture")
	duration := fs.Duration("duration", time.Minute, "memory: the measured period")
	every := fs.Duration("every", 2*time.Second, "memory: time between samples")
	reports := fs.String("reports", "reports", "memory: `directory` the run bundle is written under")
	profile := fs.Bool("profile", false, "memory: save every process's CPU and heap profiles into the bundle")
	if code, stop := parse(fs, args); stop {
		return code
	}
	what := fs.Args()
	if len(what) == 0 {
		what = []string{"loadgen", "systems"}
	}
	if *hold != 0 {
		if !(*hold > 0 && *hold <= maxHold) {
			fmt.Fprintf(e.stderr, "bench: --hold %v: want orders/s in (0, %d]\n", *hold, maxHold)
			return 2
		}
		if !slices.Contains(what, "systems") {
			fmt.Fprintf(e.stderr, "bench: --hold applies to systems only; name it: testbed bench --hold %v systems\n", *hold)
			return 2
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	for _, w := range what {
		switch w {
		case "loadgen":
			r, err := compare.Run(ctx, *step, e.stderr)
			if err != nil {
				fmt.Fprintf(e.stderr, "bench loadgen: %v\n", err)
				return 1
			}
			fmt.Fprintf(e.stdout, "%-9s %10.0f req/s    trivial local HTTP target (204); p99 %v at %.0f req/s (from the intended send time)\n", "loadgen", r.Ours, r.OursP99.Round(time.Microsecond), r.Rate)
			fmt.Fprintf(e.stdout, "%-9s %10.0f req/s    same target, same rule; p99 %v from its schedule, %v from the actual send, at %.0f req/s\n", "vegeta", r.Vegeta, r.VegetaP99Sched.Round(time.Microsecond), r.VegetaP99.Round(time.Microsecond), r.Rate)
			if r.VegetaHeld > 0 {
				fmt.Fprintf(e.stdout, "%-9s %10d         of vegeta's probes failed only for ticks it held back with every worker busy\n", "", r.VegetaHeld)
			}
			ratio := r.Ours / r.Vegeta
			fmt.Fprintf(e.stdout, "%-9s %10.2f         loadgen / vegeta\n", "ratio", ratio)
			target(e, "loadgen sustains at least vegeta's rate", fmt.Sprintf("%.2f", ratio), ratio >= 1)
			p99 := float64(r.OursP99)/float64(max(r.VegetaP99Sched, 1)) - 1
			target(e, "loadgen p99 within 5 % of vegeta's (both from the schedule)", fmt.Sprintf("%+.0f %%", 100*p99), p99 <= 0.05)
		case "systems":
			bin, err := os.Executable()
			if err != nil {
				fmt.Fprintf(e.stderr, "bench systems: find the testbed binary: %v\n", err)
				return 1
			}
			caps, err := run.BenchSystems(ctx, bin, *step, *hold, e.stderr)
			for _, c := range caps {
				rate := fmt.Sprintf("%10.0f orders/s", c.Rate)
				if c.Hold {
					verdict := "held"
					if !c.Held {
						verdict = c.Shortfall
					}
					rate += fmt.Sprintf(" for %v: %s;", *step, verdict)
				}
				fmt.Fprintf(e.stdout, "%-9s %s %s (%s); accept p99 %v\n", c.Arch, rate, c.Path, c.Setup, c.P99.Round(10*time.Microsecond))
				if want, _ := systemTarget(c.Arch); c.Hold && (!c.Held || c.Rate < want) {
					continue // only a held rate at the target says something of it
				}
				// The EDA's target is its accept path's: order-api with
				// what it needs. With the saga beside it the figure says
				// how the CPUs are shared, and is printed for that.
				if want, ok := systemTarget(c.Arch); ok && (c.AcceptOnly || c.Arch != "eda") {
					target(e, fmt.Sprintf("%s at least %.0f orders/s", c.Arch, want), fmt.Sprintf("%.0f", c.Rate), c.Rate >= want)
				}
			}
			if err != nil {
				fmt.Fprintf(e.stderr, "bench systems: %v\n", err)
				return 1
			}
		case "overhead":
			bin, err := os.Executable()
			if err != nil {
				fmt.Fprintf(e.stderr, "bench overhead: find the testbed binary: %v\n", err)
				return 1
			}
			pairs, err := run.BenchOverhead(ctx, bin, *step, e.stderr)
			for _, p := range pairs {
				share := p[0].Rate / max(p[1].Rate, 1)
				fmt.Fprintf(e.stdout, "%-9s %10.0f orders/s with proxies and tracing, %.0f without: %.0f %%\n",
					p[0].Arch, p[0].Rate, p[1].Rate, 100*share)
				target(e, p[0].Arch+" with the harness keeps 80 % of its bare rate", fmt.Sprintf("%.0f %%", 100*share), share >= 0.8)
			}
			if err != nil {
				fmt.Fprintf(e.stderr, "bench overhead: %v\n", err)
				return 1
			}
		case "memory":
			if code := benchMemory(ctx, e, run.MemoryOptions{Rate: *rate, Duration: *duration, Every: *every, ReportsDir: *reports, Profile: *profile}); code != 0 {
				return code
			}
		default:
			fmt.Fprintf(e.stderr, "bench: unknown target %q; allowed: loadgen, systems, overhead, memory\n", w)
			return 2
		}
	}
	return 0
}

// benchMemory runs testbed bench memory and prints its figures.
func benchMemory(ctx context.Context, e env, opt run.MemoryOptions) int {
	bin, err := os.Executable()
	if err != nil {
		fmt.Fprintf(e.stderr, "bench memory: find the testbed binary: %v\n", err)
		return 1
	}
	opt.Binary, opt.Progress, opt.Version, opt.Commit = bin, e.stderr, e.build.Version, e.build.Commit
	m, err := run.BenchMemory(ctx, opt)
	if m != nil && len(m.Samples) > 0 {
		mib := func(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
		for _, a := range m.Summary.Architectures {
			fmt.Fprintf(e.stdout, "%-9s %10d orders offered, %.1f %% accepted, %d completed\n", a.Name, a.Offered, 100*float64(a.Accepted)/float64(max(a.Offered, 1)), a.Completed)
		}
		p := m.Peak
		fmt.Fprintf(e.stdout, "%-9s %10s peak, every process (PSS, a shared page once), at %+.0f s of the measured period: testbed %s, %d children %s\n",
			"memory", mib(p.Total().PSS), p.At.Seconds(), mib(p.Testbed.PSS), len(p.Children), mib(p.ChildrenMemory().PSS))
		fmt.Fprintf(e.stdout, "%-9s %10s the same processes' RSS summed, a page shared by n processes counted n times\n", "", mib(p.Total().RSS))
		children := slices.SortedFunc(slices.Values(p.Children), func(x, y run.ProcessMemory) int { return cmp.Compare(y.PSS, x.PSS) })
		var top []string
		for _, c := range children[:min(len(children), 4)] {
			top = append(top, fmt.Sprintf("%s %s (RSS %s)", c.Name, mib(c.PSS), mib(c.RSS)))
		}
		fmt.Fprintf(e.stdout, "%-9s %10s largest children then: %s\n", "", "", strings.Join(top, ", "))
		fmt.Fprintf(e.stdout, "%-9s %10s testbed at %+.0f s, %s at %+.0f s of the measured period\n",
			"", mib(m.Start.Testbed.RSS), m.Start.At.Seconds(), mib(m.End.Testbed.RSS), m.End.At.Seconds())
		growth := m.Second - m.First
		fmt.Fprintf(e.stdout, "%-9s %10s testbed peak in the first half, %s in the second: %+.1f MiB (%+.1f %%)\n",
			"", mib(m.First), mib(m.Second), float64(growth)/(1<<20), 100*float64(growth)/float64(max(m.First, 1)))
		fmt.Fprintf(e.stdout, "%-9s %10d samples in %s and %s\n", "", len(m.Samples), filepath.Join(m.Dir, run.MemoryFile), run.MemoryProcessesFile)
		fmt.Fprintf(e.stdout, "%-9s %10s flat: %s\n", "", "", run.FlatRule)
		target(e, fmt.Sprintf("%d architectures at %.0f orders/s under 1 GiB, every process", len(m.Summary.Architectures), opt.Rate), mib(p.Total().PSS), p.Total().PSS < run.MemoryLimit)
		target(e, fmt.Sprintf("testbed memory flat over %s", opt.Duration), fmt.Sprintf("%+.1f MiB", float64(growth)/(1<<20)), m.Flat())
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "bench memory: %v\n", err)
		return 1
	}
	return 0
}
