package cli

import (
	"fmt"
	"runtime"
)

func versionCmd(e env, args []string) int {
	fs := flags(e, "version", `
Usage: testbed version

Prints the testbed version, the git commit it was built from and the Go
version. Reports carry the same information in their provenance section.
`)
	if code, stop := parse(fs, args); stop {
		return code
	}
	commit := e.build.Commit
	if commit == "" {
		commit = "unknown"
	}
	fmt.Fprintf(e.stdout, "testbed %s (commit %s, %s %s/%s)\n", e.build.Version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return 0
}
