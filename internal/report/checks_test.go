package report

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// withChecks is the fixture with a verdict of every shape: passed, failed
// with more violations than examples, failed without being able to check,
// and a checker that does not apply to the monolith.
func withChecks(t *testing.T) *Summary {
	s := fixture(t)
	s.Checks = []Check{
		{Arch: "eda", Name: "lost", Passed: true, Checked: 550, Unit: "orders", Detail: "Every order acknowledged ...: 550 accepted, 0 missing."},
		{Arch: "eda", Name: "stock", Passed: true, Checked: 20, Unit: "SKUs", Detail: "For every SKU ...: 0 SKUs off."},
		{Arch: "eda", Name: "read-model", Checked: 550, Unit: "orders", Violations: 7,
			Examples: []string{"o-00000012", "o-00000013", "o-00000020", "o-00000021", "o-00000022"},
			Detail:   "After the drain, order-view must show every order in the state order-api's table holds: 550 orders, 7 in another state."},
		{Arch: "monolith", Name: "lost", Checked: 348, Unit: "orders", Violations: 1, Examples: []string{"o-00000200"},
			Detail: "Every order acknowledged to the client must be in the order table in a terminal state: 348 accepted, 1 missing."},
		{Arch: "monolith", Name: "stock", Unit: "SKUs", Detail: "For every SKU ...; cannot check: open database: no such file."},
	}
	return s
}

// section returns the Markdown from the "## name" heading to the next
// second-level heading.
func section(t *testing.T, md, name string) string {
	t.Helper()
	i := strings.Index(md, "\n## "+name+"\n")
	if i < 0 {
		t.Fatalf("report.md has no %s section", name)
	}
	rest := md[i+1:]
	if j := strings.Index(rest[3:], "\n## "); j >= 0 {
		rest = rest[:j+4]
	}
	return rest
}

func TestMarkdownChecks(t *testing.T) {
	var b bytes.Buffer
	if err := Markdown(&b, withChecks(t)); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	got := section(t, md, "Checks")
	golden(t, "checks.md.golden", []byte(got))

	for _, want := range []string{
		"| lost       | pass (550 orders)",
		"FAIL: 1 of 348 orders (o-00000200)",
		"FAIL: 7 of 550 orders (o-00000012, o-00000013, o-00000020, o-00000021, o-00000022, …)",
		"FAIL: could not check",
		"| read-model | FAIL: 7 of 550 orders (o-00000012, o-00000013, o-00000020, o-00000021, o-00000022, …) | — ",
		"- **eda, read-model**: After the drain",
		"- **monolith, stock**: For every SKU ...; cannot check",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Checks section lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "**eda, lost**") {
		t.Errorf("a passed check is listed among the failures:\n%s", got)
	}
	if strings.Index(md, "## Outcomes") > strings.Index(md, "## Checks") {
		t.Error("Checks comes before Outcomes")
	}
}

func TestMarkdownNoChecks(t *testing.T) {
	var b bytes.Buffer
	if err := Markdown(&b, fixture(t)); err != nil {
		t.Fatal(err)
	}
	if got := section(t, b.String(), "Checks"); !strings.Contains(got, "No checks ran.") || strings.Contains(got, "|") {
		t.Errorf("a run without checks must say so and draw no table:\n%s", got)
	}
}

func TestHTMLChecks(t *testing.T) {
	doc, err := html.Parse(bytes.NewReader(renderHTML(t, withChecks(t))))
	if err != nil {
		t.Fatal(err)
	}
	page := text(doc)
	for _, want := range []string{"FAIL: 1 of 348 orders (o-00000200)", "pass (20 SKUs)", "eda, read-model: After the drain"} {
		if !strings.Contains(page, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
}
