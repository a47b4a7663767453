// Command testbed runs an event-driven system and a monolith side by side
// under the same load and faults, and reports how each survived.
package main

import (
	"os"

	"github.com/edatestbed/testbed/internal/cli"
)

// Set at build time by the Makefile (-ldflags -X).
var (
	version = "dev"
	commit  = ""
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.Build{Version: version, Commit: commit}, os.Stdout, os.Stderr))
}
