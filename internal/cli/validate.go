package cli

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/edatestbed/testbed/scenarios"
)

func validateCmd(e env, args []string) int {
	fs := flags(e, "validate", `
Usage: testbed validate [file.yaml ...]

Checks scenario files without running anything. With no arguments it checks
every scenarios/*.yaml. Each problem is printed on its own line as

  file:line: field: what is wrong; what is allowed

and the exit status is 1 when any file has a problem. Unknown keys, missing
required fields, negative durations, faults that end after the measured
period, unknown targets and overlapping faults are all problems.
`)
	if code, stop := parse(fs, args); stop {
		return code
	}
	files := fs.Args()
	if len(files) == 0 {
		var err error
		files, err = filepath.Glob(filepath.Join("scenarios", "*.yaml"))
		if err != nil || len(files) == 0 {
			fmt.Fprintln(e.stderr, "validate: no files given and no scenarios/*.yaml here")
			return 2
		}
	}
	bad := 0
	for _, f := range files {
		s, err := scenarios.Load(f)
		if err != nil {
			bad++
			printProblems(e, err)
			continue
		}
		fmt.Fprintf(e.stdout, "ok   %s (%s, %d faults, %v total)\n", f, s.Name, len(s.Faults), s.Total())
	}
	if bad > 0 {
		fmt.Fprintf(e.stderr, "%d of %d files have problems\n", bad, len(files))
		return 1
	}
	return 0
}

// printProblems prints one line per problem of a scenario error.
func printProblems(e env, err error) {
	ps := scenarios.Problems(err)
	if len(ps) == 0 {
		fmt.Fprintln(e.stderr, err)
		return
	}
	for _, p := range ps {
		fmt.Fprintln(e.stderr, p)
	}
	var other []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, x := range j.Unwrap() {
			var p *scenarios.Problem
			if !errors.As(x, &p) {
				other = append(other, x)
			}
		}
	}
	for _, x := range other {
		fmt.Fprintln(e.stderr, x)
	}
}
