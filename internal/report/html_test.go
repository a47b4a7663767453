package report

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// balanced checks that every element of page is closed, in order, by its
// own end tag: html.Parse repairs whatever it is given, so it alone would
// not notice a template that forgot a </div>.
func balanced(t *testing.T, page []byte) {
	t.Helper()
	// Void elements have no end tag in HTML.
	voidElements := []string{"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
	z := html.NewTokenizer(bytes.NewReader(page))
	var open []string
	for {
		switch z.Next() {
		case html.ErrorToken:
			if len(open) > 0 {
				t.Errorf("index.html leaves %v open", open)
			}
			return
		case html.StartTagToken:
			name, _ := z.TagName()
			if !slices.Contains(voidElements, string(name)) {
				open = append(open, string(name))
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			if len(open) == 0 || open[len(open)-1] != string(name) {
				t.Fatalf("index.html closes </%s> with %v open", name, open)
			}
			open = open[:len(open)-1]
		}
	}
}

// find returns the elements under n for which match is true.
func find(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for c := range n.Descendants() {
		if match(c) {
			out = append(out, c)
		}
	}
	return out
}

func element(a atom.Atom) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Type == html.ElementNode && n.DataAtom == a }
}

func text(n *html.Node) string {
	var b strings.Builder
	for c := range n.Descendants() {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	}
	return b.String()
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// renderHTML writes index.html for s.
func renderHTML(t *testing.T, s *Summary) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := HTML(&b, s); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestHTMLParsesWithEveryChart(t *testing.T) {
	s := fixture(t)
	page := renderHTML(t, s)
	balanced(t, page)
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}

	charts, err := drawCharts(s)
	if err != nil {
		t.Fatal(err)
	}
	figures := find(doc, element(atom.Figure))
	if len(figures) != len(charts) {
		t.Fatalf("index.html has %d figures, want one per chart (%d)", len(figures), len(charts))
	}
	for i, c := range charts {
		fig := figures[i]
		if got := attr(fig, "id"); got != "chart-"+c.name {
			t.Errorf("figure %d is %q, want chart-%s", i, got, c.name)
		}
		svgs := find(fig, element(atom.Svg))
		if len(svgs) != 1 {
			t.Fatalf("figure %s holds %d inline svg, want 1", c.name, len(svgs))
		}
		// The chart's title is its accessible name and is drawn in it.
		titles := find(svgs[0], func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == "title" })
		if len(titles) != 1 || text(titles[0]) != c.title {
			t.Errorf("svg of %s has no <title> %q", c.name, c.title)
		}
		drawn := find(svgs[0], func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == "text" && text(n) == c.title })
		if len(drawn) != 1 {
			t.Errorf("svg of %s does not draw its title %q", c.name, c.title)
		}
		if caps := find(fig, element(atom.Figcaption)); len(caps) != 1 || !strings.Contains(text(caps[0]), c.path()) {
			t.Errorf("figure %s has no caption linking %s", c.name, c.path())
		}
	}

	if h1 := find(doc, element(atom.H1)); len(h1) != 1 || text(h1[0]) != s.Scenario+" — run "+s.RunID {
		t.Errorf("index.html has no single h1 naming the run")
	}
	// Every paper figure sits in a cell marked as the paper's, and every
	// such column says it was not measured.
	for _, th := range find(doc, element(atom.Th)) {
		isPaper := attr(th, "class") == "paper"
		says := strings.HasPrefix(text(th), "Paper: ") && strings.Contains(text(th), "not measured here")
		if isPaper != says {
			t.Errorf("header %q: class paper %v, but its text says paper-and-not-measured %v", text(th), isPaper, says)
		}
	}
	var md bytes.Buffer
	if err := Markdown(&md, s); err != nil {
		t.Fatal(err)
	}
	if n, want := len(find(doc, element(atom.Table))), strings.Count(md.String(), "\n| ---"); n != want {
		t.Errorf("index.html has %d tables, want the %d of report.md", n, want)
	}
	cards := find(doc, func(n *html.Node) bool { return attr(n, "class") == "card" })
	if len(cards) != len(s.Architectures) {
		t.Errorf("index.html has %d cards at a glance, want one per architecture", len(cards))
	}
}

// TestHTMLSelfContained: nothing the page shows comes from elsewhere, and
// it needs no script. Links may lead elsewhere (the run's Prometheus and
// Grafana): a browser fetches them only when followed.
func TestHTMLSelfContained(t *testing.T) {
	doc, err := html.Parse(bytes.NewReader(renderHTML(t, fixture(t))))
	if err != nil {
		t.Fatal(err)
	}
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		switch n.DataAtom {
		case atom.Script, atom.Link, atom.Iframe, atom.Img, atom.Object:
			t.Errorf("index.html has a <%s>", n.Data)
		}
		for _, a := range n.Attr {
			if a.Key == "xmlns" || a.Namespace == "xmlns" {
				continue // a namespace name, never fetched
			}
			if n.DataAtom == atom.A && a.Key == "href" {
				continue
			}
			if a.Key == "src" || strings.Contains(a.Val, "://") {
				t.Errorf("<%s %s=%q> points outside the page", n.Data, a.Key, a.Val)
			}
		}
	}
}

// TestHTMLContent: the page says what report.md says.
func TestHTMLContent(t *testing.T) {
	s := fixture(t)
	doc, err := html.Parse(bytes.NewReader(renderHTML(t, s)))
	if err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	if err := Markdown(&md, s); err != nil {
		t.Fatal(err)
	}
	page := text(doc)
	for _, l := range strings.Split(md.String(), "\n") {
		// Headings and paragraphs of the Markdown, stripped of its markup,
		// appear as text of the page.
		if l == "" || strings.HasPrefix(l, "|") || strings.HasPrefix(l, "This report with its charts:") || strings.HasPrefix(l, "```") || strings.HasPrefix(l, "  ") || strings.HasPrefix(l, "eda") || strings.HasPrefix(l, "monolith") {
			continue
		}
		l = strings.TrimLeft(l, "#- ")
		// A Markdown link shows its text.
		if text, _, ok := strings.Cut(strings.TrimPrefix(l, "["), "]("); ok && strings.HasPrefix(l, "[") {
			l = text
		}
		l = strings.NewReplacer("**", "", "`", "").Replace(l)
		if len(l) > 2 && l[0] >= '1' && l[0] <= '9' && l[1] == '.' {
			l = strings.TrimSpace(l[2:])
		}
		if !strings.Contains(page, l) {
			t.Errorf("index.html lacks %q", l)
		}
	}
}

func TestHTMLEscapes(t *testing.T) {
	s := fixture(t)
	s.Scenario = `<script>alert("x")</script>`
	s.Description = "a <b>bold</b> & `code` claim"
	s.Limits = []string{"**limit** <i>"}
	s.Architectures[0].Name = "<eda>"
	page := string(renderHTML(t, s))
	for _, raw := range []string{"<script>", "<b>bold</b>", "<i>", "<eda>"} {
		if strings.Contains(page, raw) {
			t.Errorf("index.html holds %q unescaped", raw)
		}
	}
	for _, want := range []string{"&lt;script&gt;", "<code>code</code>", "<strong>limit</strong> &lt;i&gt;", "&lt;eda&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
}

// TestChartFilesMatchHTML ties the chart files to the charts inline in
// index.html, which the golden file pins.
func TestChartFilesMatchHTML(t *testing.T) {
	dir := t.TempDir()
	if err := WriteBundle(dir, fixture(t)); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range chartList() {
		svg, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(c.path())))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(svg, []byte("<?xml")) {
			t.Errorf("%s is not a standalone SVG document", c.path())
		}
		if !bytes.Contains(page, []byte(inlineSVG(svg))) {
			t.Errorf("%s is not the chart inline in index.html", c.path())
		}
	}
}

func TestAnchor(t *testing.T) {
	for in, want := range map[string]string{
		"Performance (analogue of the paper's Table 1)": "performance-analogue-of-the-paper-s-table-1",
		"eda: windows down or under fault":              "eda-windows-down-or-under-fault",
		"  Known limits ":                               "known-limits",
	} {
		if got := anchor(in); got != want {
			t.Errorf("anchor(%q) = %q, want %q", in, got, want)
		}
	}
}
