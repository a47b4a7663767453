package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Markdown writes report.md for s: the run in one paragraph, the analogues
// of the paper's Tables 1 and 2 with the paper's figures beside the
// measured ones, definitions, outcomes, fault mapping, a timeline of the
// outage, provenance and known limits. Architectures appear in the order of
// s.Architectures.
func Markdown(w io.Writer, s *Summary) error {
	if _, err := w.Write(build(s).markdown()); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// markdown renders the document, blocks separated by blank lines, into a
// buffer, so that a failing writer is seen once, at the end, instead of
// after every line.
func (d document) markdown() []byte {
	var b bytes.Buffer
	for _, bl := range d.blocks {
		if bl.kind == glanceBlock || bl.kind == chartBlock {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		switch bl.kind {
		case headingBlock:
			fmt.Fprintf(&b, "%s %s\n", strings.Repeat("#", bl.level), bl.text)
		case paraBlock:
			fmt.Fprintf(&b, "%s\n", bl.text)
		case listBlock:
			for _, item := range bl.items {
				fmt.Fprintf(&b, "- %s\n", item)
			}
		case orderedBlock:
			for i, item := range bl.items {
				fmt.Fprintf(&b, "%d. %s\n", i+1, item)
			}
		case tableBlock:
			bl.table.write(&b)
		case preBlock:
			fmt.Fprintf(&b, "```\n%s```\n", bl.text)
		case filesBlock:
			b.WriteString(filesLine())
		case linksBlock:
			for _, l := range bl.links {
				fmt.Fprintf(&b, "- [%s](%s)\n", l.text, l.href)
			}
		}
	}
	return b.Bytes()
}

// filesLine points from report.md to the HTML report, the charts and the
// CSV files of the bundle.
func filesLine() string {
	var b strings.Builder
	fmt.Fprintf(&b, "This report with its charts: [%s](%s). Charts: ", HTMLFile, HTMLFile)
	for i, c := range chartList() {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "[%s](%s)", c.label, c.path())
	}
	fmt.Fprintf(&b, ". Tables as CSV: [%s](%s), [%s](%s); per-second series: `<architecture>/%s`, `<architecture>/%s`, `<architecture>/%s`.\n",
		Table1File, Table1File, Table2File, Table2File, SecondsFile, BacklogFile, PercentilesFile)
	return b.String()
}

// write renders a Markdown table whose columns are padded so that
// report.md also reads well as plain text.
func (t table) write(b *bytes.Buffer) {
	widths := make([]int, len(t.head))
	measure := func(cells []string) {
		for i, c := range cells {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell(c)), 3)
		}
	}
	measure(t.head)
	for _, row := range t.rows {
		measure(row)
	}
	line := func(cells []string) {
		b.WriteString("|")
		for i, c := range cells {
			b.WriteString(" " + pad(cell(c), widths[i]) + " |")
		}
		b.WriteString("\n")
	}
	line(t.head)
	b.WriteString("|")
	for _, w := range widths {
		b.WriteString(" " + strings.Repeat("-", w) + " |")
	}
	b.WriteString("\n")
	for _, row := range t.rows {
		line(row)
	}
}

// cell escapes what would end a Markdown table cell early.
func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}
