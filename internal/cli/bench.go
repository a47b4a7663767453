package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/edatestbed/testbed/internal/compare"
	"github.com/edatestbed/testbed/internal/run"
)

func benchCmd(e env, args []string) int {
	fs := flags(e, "bench", `
Usage: testbed bench [--step 3s] [loadgen|systems|overhead ...]

Measures the highest rate each part sustains, so you know whether a run's
numbers describe the architectures or the harness. A rate is sustained when,
held for --step, at least 99% of it is answered successfully within the step
and nothing times out, fails or is dropped. The search doubles the rate until
a probe fails, then bisects.

  loadgen   the load generator against a trivial local HTTP target (answers
            204 at once), and vegeta (github.com/tsenart/vegeta) against the
            same target with the same rule: the ceiling of this testbed on
            this machine, with a yardstick, and both p99s at a common rate
  systems   each architecture's POST /orders on the local runtime: the EDA's
            accept path (order + outbox row written, 202) and the monolith's
            whole synchronous order (200 with the terminal state)

  overhead  systems twice: as every run has them (a toxiproxy proxy on
            every link, spans for every order, info logs) and bare (direct
            connections, no spans, warnings only); the ratio is what the
            harness costs

With no argument, loadgen and systems. Figures depend on the machine; the
load generator shares its CPUs with the systems under test.
`)
	step := fs.Duration("step", 3*time.Second, "how long each probe holds its rate")
	if code, stop := parse(fs, args); stop {
		return code
	}
	what := fs.Args()
	if len(what) == 0 {
		what = []string{"loadgen", "systems"}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	for _, w := range what {
		switch w {
		case "loadgen":
			r, err := compare.Run(ctx, *step)
			if err != nil {
				fmt.Fprintf(e.stderr, "bench loadgen: %v\n", err)
				return 1
			}
			fmt.Fprintf(e.stdout, "%-9s %10.0f req/s    trivial local HTTP target (204); p99 %v at %.0f req/s (from the intended send time)\n", "loadgen", r.Ours, r.OursP99.Round(time.Microsecond), r.Rate)
			fmt.Fprintf(e.stdout, "%-9s %10.0f req/s    same target, same rule; p99 %v at %.0f req/s (from the actual send time)\n", "vegeta", r.Vegeta, r.VegetaP99.Round(time.Microsecond), r.Rate)
			fmt.Fprintf(e.stdout, "%-9s %10.2f         loadgen / vegeta\n", "ratio", r.Ours/r.Vegeta)
		case "systems":
			bin, err := os.Executable()
			if err != nil {
				fmt.Fprintf(e.stderr, "bench systems: find the testbed binary: %v\n", err)
				return 1
			}
			caps, err := run.BenchSystems(ctx, bin, *step, e.stderr)
			for _, c := range caps {
				fmt.Fprintf(e.stdout, "%-9s %10.0f orders/s %s\n", c.Arch, c.Rate, c.Path)
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
				fmt.Fprintf(e.stdout, "%-9s %10.0f orders/s with proxies and tracing, %.0f without: %.0f %%\n",
					p[0].Arch, p[0].Rate, p[1].Rate, 100*p[0].Rate/max(p[1].Rate, 1))
			}
			if err != nil {
				fmt.Fprintf(e.stderr, "bench overhead: %v\n", err)
				return 1
			}
		default:
			fmt.Fprintf(e.stderr, "bench: unknown target %q; allowed: loadgen, systems, overhead\n", w)
			return 2
		}
	}
	return 0
}
