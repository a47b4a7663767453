// Package cli is the testbed's command line: one file per subcommand, each
// with help text that teaches what it does and how to read its output.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Build identifies the binary.
type Build struct {
	Version string
	Commit  string
}

// env is what every subcommand gets.
type env struct {
	build  Build
	stdout io.Writer
	stderr io.Writer
}

type command struct {
	name    string
	summary string
	run     func(e env, args []string) int
}

func commands() []command {
	return []command{
		{"run", "run a scenario against every architecture and write its report", runCmd},
		{"validate", "check scenario files and print every problem", validateCmd},
		{"list", "list scenarios, fault types, targets and architectures", listCmd},
		{"report", "rewrite the report of finished runs from their summary.json", reportCmd},
		{"replay", "rebuild a run's read model from its event log and compare", replayCmd},
		{"dlq", "list a run's dead letters, or re-drive them into a held run", dlqCmd},
		{"bench", "measure the load generator and each architecture's accept path", benchCmd},
		{"capacity", "find the highest rate each architecture sustains with the SLO met", capacityCmd},
		{"suite", "run a suite of scenarios with repeats and write its statistics report", suiteCmd},
		{"doctor", "say whether the docker runtime can run here, and with what", doctorCmd},
		{"clean", "remove the containers, networks and images of docker runs", cleanCmd},
		{"serve", "run one component (used by the runtimes, rarely by hand)", serveCmd},
		{"version", "print the version", versionCmd},
	}
}

const overview = `testbed measures whether an event-driven architecture survives failures
better than a monolith. It runs both side by side, drives the same open-model
load through both, injects the same faults into both, and writes a comparison
report next to the published numbers of the seed paper.

Usage:
  testbed <command> [flags] [arguments]

Commands:
%s
Start here:
  testbed list                          what scenarios exist
  testbed run service-crash             run one (scenarios/service-crash.yaml)
  open reports/<run-id>/report.md       read the result

Run 'testbed <command> --help' for a command's flags and what its output means.
`

// Main runs the command line and returns the process exit code: 0 success,
// 1 the command failed, 2 the command line was wrong.
func Main(args []string, b Build, stdout, stderr io.Writer) int {
	e := env{build: b, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(e, args[1:])
		}
	}
	fmt.Fprintf(stderr, "testbed: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	var b strings.Builder
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, overview, b.String())
}

// flags returns a FlagSet whose --help prints help followed by the flags.
func flags(e env, name, help string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), strings.TrimLeft(help, "\n"))
		var n int
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(fs.Output(), "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parse parses args and says which exit code to return when the command
// should not go on: 0 after --help, 2 after a bad flag.
func parse(fs *flag.FlagSet, args []string) (exit int, stop bool) {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0, true
	case err != nil:
		return 2, true
	}
	return 0, false
}
