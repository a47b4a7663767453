package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/edatestbed/testbed/scenarios"
)

func listCmd(e env, args []string) int {
	fs := flags(e, "list", `
Usage: testbed list [--dir scenarios]

Lists the scenarios in --dir with what each does, then the values a scenario
may use: fault types, targets (capabilities a fault hits; each architecture
maps a capability to the component that holds it), restart policies,
architectures and the paper's scenarios to compare with.
`)
	dir := fs.String("dir", "scenarios", "`directory` of scenario files")
	if code, stop := parse(fs, args); stop {
		return code
	}
	list, err := scenarios.List(*dir)
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tCOMPARES TO\tRATE\tDURATION\tFAULTS\tDESCRIPTION")
	for _, s := range list {
		var fl []string
		for _, f := range s.Faults {
			fl = append(fl, fmt.Sprintf("%s(%s@%v+%v)", f.Type, f.Target, f.At.D(), f.Duration.D()))
		}
		if len(fl) == 0 {
			fl = []string{"-"}
		}
		fmt.Fprintf(tw, "%s\t%s\t%g/s\t%v\t%s\t%s\n", s.Name, dash(s.ComparesTo), s.Load.Rate, s.Total(), strings.Join(fl, " "), s.Description)
	}
	tw.Flush()
	fmt.Fprintf(e.stdout, "\nrun one:       testbed run <scenario>   (or make scenario SCENARIO=<scenario>)\n")
	fmt.Fprintf(e.stdout, "fault types:   %s\n", strings.Join(scenarios.FaultTypes(), ", "))
	fmt.Fprintf(e.stdout, "targets:       %s\n", strings.Join(scenarios.Targets(), ", "))
	fmt.Fprintf(e.stdout, "restart:       %s\n", strings.Join(scenarios.RestartPolicies(), ", "))
	fmt.Fprintf(e.stdout, "architectures: %s\n", strings.Join(scenarios.ArchitectureNames(), ", "))
	fmt.Fprintf(e.stdout, "compares_to:   %s\n", strings.Join(scenarios.Comparisons(), ", "))
	if err != nil {
		fmt.Fprintf(e.stderr, "\nsome files in %s have problems (testbed validate %s):\n", *dir, filepath.Join(*dir, "*.yaml"))
		printProblems(e, err)
		return 1
	}
	return 0
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
