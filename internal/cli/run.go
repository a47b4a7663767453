package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/edatestbed/testbed/internal/run"
	"github.com/edatestbed/testbed/scenarios"
)

func runCmd(e env, args []string) int {
	fs := flags(e, "run", `
Usage: testbed run [flags] <scenario>

Runs a scenario against every architecture it names (default: eda and
monolith) at the same time. <scenario> is a file, or a name looked up as
scenarios/<name>.yaml ('testbed list' shows them).

Runtimes (--runtime):
  local   (default) each component is a child process of this binary on a
          loopback address of its architecture; Kafka is an embedded
          three-node cluster. Needs nothing but this binary.
  docker  each component is a container (testcontainers-go) from an image
          built FROM scratch around this binary (it must be static: make
          build), one Docker network per architecture. Crash is a container
          kill, pause is docker pause, node loss kills every container of a
          node; partitions and latency act on the links between containers
          (proxies on the host's address in each network). Nothing is
          pulled. Every container and network is labelled with the run id
          and removed at the end; 'testbed clean' removes what a killed
          testbed left, and 'testbed doctor' says what Docker offers.

What happens:
  1. start every component and wait until each is healthy
  2. warm-up: load is sent but not measured
  3. measured period: the same open-model load (orders sent on schedule
     whether or not earlier ones returned) goes to every architecture while
     the fault timeline plays (e.g. inventory is SIGKILLed at 20 s)
  4. drain: wait for accepted orders to finish (EDA backlogs)
  5. write reports/<run-id>/: report.md, summary.json, per-second CSVs,
     the scenario, every component's config, log and data

Progress goes to stderr every --progress interval:
  [  25s/80s load   ]  eda: sent 3000 ok 100.0% done  99.8%  monolith: sent 3000 ok  61.0%
"ok" is the share of answered requests that were accepted, "done" the
share of accepted orders that reached a terminal state.

Observability: when bin/jaeger exists (make tools) and prometheus is
installed, both start with the run and their URLs are printed: every order
is one trace in Jaeger (service names are the components), and Prometheus
scrapes every component and the testbed's own series (testbed_offered_total,
testbed_fault_active, ...). --hold keeps everything up after the drain so
you can explore them.

At the end, checkers read each system's databases and the payment
provider's ledger: no accepted order lost, none left unfinished, no effect
applied twice, stock and money conserved, the read model agreeing with the
write model. A failed check is printed and shown in the report.

Ctrl-C stops the load, heals the faults, stops every process and still
writes the report of what was measured, marked INTERRUPTED. A second
Ctrl-C exits at once (child processes die with the testbed).
`)
	reports := fs.String("reports", "reports", "`directory` the run bundle is written under")
	every := fs.Duration("progress", 5*time.Second, "progress line `interval` on stderr (0: none)")
	ready := fs.Duration("ready-timeout", 30*time.Second, "how long each component may take to become healthy")
	rt := fs.String("runtime", run.RuntimeLocal, "`runtime` to run on; allowed: "+strings.Join(run.Runtimes(), ", "))
	obs := fs.String("observability", "auto", "auto: start Jaeger (bin/jaeger, from make tools) and Prometheus when installed; off: never")
	archs := fs.String("archs", "", "comma-separated `architectures` to run instead of the scenario's; allowed: "+strings.Join(scenarios.ArchitectureNames(), ", "))
	es := fs.String("elasticsearch", "", "ship every component's JSON logs to this Elasticsearch `URL` after the run (index testbed-logs-<run-id>)")
	grafana := fs.String("grafana", "", "base `URL` of a Grafana that has dashboards/grafana provisioned and reads this run's Prometheus; the report links its dashboards for the run's time range")
	profile := fs.Bool("profile", false, "save each component's CPU profile of the measured period and heap profile at its end into <arch>/profiles/ (go tool pprof <file>)")
	hold := fs.Bool("hold", false, "after the drain, keep everything running for Jaeger and Prometheus until Ctrl-C, then write the report")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(e.stderr, "run: name exactly one scenario (a file or a name from 'testbed list')")
		return 2
	}
	if !slices.Contains(run.Runtimes(), *rt) {
		fmt.Fprintf(e.stderr, "run: unknown runtime %q; allowed: %s\n", *rt, strings.Join(run.Runtimes(), ", "))
		return 2
	}
	if *obs != "auto" && *obs != "off" {
		fmt.Fprintf(e.stderr, "run: --observability %q; allowed: auto, off\n", *obs)
		return 2
	}
	sc, err := scenarios.Load(scenarioPath(fs.Arg(0)))
	if err != nil {
		printProblems(e, err)
		return 1
	}
	if *archs != "" {
		sc.Architectures = strings.Split(*archs, ",")
		if err := sc.Validate(); err != nil {
			printProblems(e, err)
			fmt.Fprintln(e.stderr, "run: --archs", *archs, "is not a valid architectures list")
			return 2
		}
	}
	bin, err := os.Executable()
	if err != nil {
		fmt.Fprintf(e.stderr, "run: find the testbed binary to start components from: %v\n", err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-ctx.Done():
		case <-finished:
			return // the run ended on its own: no signal to announce
		}
		// Restore default handling: a second Ctrl-C kills the testbed, and
		// the kernel then kills its children (parent-death signal).
		stop()
		fmt.Fprintln(e.stderr, "\nstopping: healing faults, stopping components, writing the report (Ctrl-C again to exit at once)")
	}()
	res, err := run.Run(ctx, run.Options{
		Scenario: sc, ReportsDir: *reports, Binary: bin, Progress: e.stderr, Every: *every,
		Version: e.build.Version, Commit: e.build.Commit, ReadyTimeout: *ready,
		Observability: *obs, Hold: *hold, Elasticsearch: *es, Runtime: *rt, Grafana: *grafana, Profile: *profile,
	})
	if res != nil {
		printBrief(e, res)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "run %s: %v\n", sc.Name, err)
	}
	switch {
	case err == nil:
		return 0 // also after --hold ends with Ctrl-C
	case ctx.Err() != nil:
		return 130 // interrupted, whatever else went wrong on the way out
	}
	return 1
}

// scenarioPath turns a bare name into scenarios/<name>.yaml.
func scenarioPath(arg string) string {
	if strings.ContainsAny(arg, `/\`) || strings.HasSuffix(arg, ".yaml") || strings.HasSuffix(arg, ".yml") {
		return arg
	}
	return filepath.Join("scenarios", arg+".yaml")
}

func printBrief(e env, res *run.Result) {
	s := res.Summary
	fmt.Fprintf(e.stdout, "\n%-10s %12s %14s %14s %14s %14s\n", "arch", "accepted", "accept p99", "complete p99", "accept down", "complete down")
	for _, a := range s.Architectures {
		fmt.Fprintf(e.stdout, "%-10s %11.2f%% %12.1fms %12.1fms %13.1f%% %13.1f%%\n",
			a.Name, 100*float64(a.Accepted)/float64(max(a.Offered, 1)), a.AcceptLatency.P99, a.CompletionLatency.P99,
			a.AcceptDowntimePct, a.CompletionDowntimePct)
	}
	fmt.Fprintf(e.stdout, "\nreport: %s\n", filepath.Join(res.Dir, "report.md"))
}
