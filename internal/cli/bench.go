package cli

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/edatestbed/testbed/internal/loadgen"
	"github.com/edatestbed/testbed/internal/run"
)

func benchCmd(e env, args []string) int {
	fs := flags(e, "bench", `
Usage: testbed bench [--step 3s] [loadgen|systems ...]

Measures the highest rate each part sustains, so you know whether a run's
numbers describe the architectures or the harness. A rate is sustained when,
held for --step, at least 99% of it is answered successfully within the step
and nothing times out, fails or is dropped. The search doubles the rate until
a probe fails, then bisects.

  loadgen   the load generator against a trivial local HTTP target (answers
            204 at once): the ceiling of this testbed on this machine
  systems   each architecture's POST /orders on the local runtime: the EDA's
            accept path (order + outbox row written, 202) and the monolith's
            whole synchronous order (200 with the terminal state)

With no argument, both. Figures depend on the machine; the load generator
shares its CPUs with the systems under test.
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
			rate, err := benchLoadgen(ctx, *step)
			if err != nil {
				fmt.Fprintf(e.stderr, "bench loadgen: %v\n", err)
				return 1
			}
			fmt.Fprintf(e.stdout, "%-9s %10.0f req/s    trivial local HTTP target (204)\n", "loadgen", rate)
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
		default:
			fmt.Fprintf(e.stderr, "bench: unknown target %q; allowed: loadgen, systems\n", w)
			return 2
		}
	}
	return 0
}

// benchLoadgen finds the load generator's ceiling against a target that
// does no work.
func benchLoadgen(ctx context.Context, step time.Duration) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}), ReadHeaderTimeout: time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	return loadgen.MaxRate(ctx, loadgen.Target{URL: "http://" + ln.Addr().String() + "/"}, 1000, step)
}
