package cli

import (
	"fmt"
	"path/filepath"

	"github.com/edatestbed/testbed/internal/report"
)

func reportCmd(e env, args []string) int {
	fs := flags(e, "report", `
Usage: testbed report <run-dir> [<run-dir> ...]

Rewrites every derived file of finished runs from their summary.json,
without running anything again: report.md, index.html, table1.csv,
table2.csv, the per-architecture CSVs and the charts in charts/. Use it
after upgrading the testbed, or to restore a file you deleted. The output
is byte for byte what the run wrote, so a diff shows what a new version
changes.

A run-dir is a directory under reports/ that holds a summary.json. A
suite report's directory (with a suite.json, from 'testbed suite') is
regenerated the same way: report.md, index.html, its CSVs and charts.
`)
	if code, stop := parse(fs, args); stop {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(e.stderr, "report: name at least one run directory, e.g. reports/<run-id>")
		return 2
	}
	failed := 0
	for _, dir := range fs.Args() {
		regenerate := report.Regenerate
		if report.IsSuite(dir) {
			regenerate = report.RegenerateSuite
		}
		if err := regenerate(dir); err != nil {
			fmt.Fprintf(e.stderr, "report %s: %v\n", dir, err)
			failed++
			continue
		}
		fmt.Fprintf(e.stdout, "%s\n", filepath.Join(dir, report.MarkdownFile))
	}
	if failed > 0 {
		return 1
	}
	return 0
}
