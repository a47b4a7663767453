// Command testbed runs an event-driven system and a monolith side by side
// under the same load and faults, and reports how each survived.
package main

import (
	"os"

	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/edatestbed/testbed/internal/cli"
)

// Set at build time by the Makefile (-ldflags -X).
var (
	version = "dev"
	commit  = ""
)

func main() {
	// testcontainers prints the Docker engine's details through its
	// process-wide logger the first time it connects, in the middle of a
	// run's progress; the docker runtime reports its own errors.
	tclog.SetDefault(tclog.NewNoopLogger())
	os.Exit(cli.Main(os.Args[1:], cli.Build{Version: version, Commit: commit}, os.Stdout, os.Stderr))
}
