package report

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"strings"
)

// HTML writes index.html for s: the content of report.md, key figures per
// architecture at the top, and the charts drawn inline. The page is one
// self-contained file (inline CSS and SVG, no script, nothing fetched), so
// it opens offline and can be mailed on its own.
func HTML(w io.Writer, s *Summary) error {
	charts, err := drawCharts(s)
	if err != nil {
		return err
	}
	page, err := build(s).html(s, charts)
	if err != nil {
		return err
	}
	if _, err := w.Write(page); err != nil {
		return fmt.Errorf("write html report: %w", err)
	}
	return nil
}

// html renders the document with the charts drawn for it.
func (d document) html(s *Summary, charts []drawnChart) ([]byte, error) {
	byName := make(map[string]drawnChart, len(charts))
	for _, c := range charts {
		byName[c.name] = c
	}
	v := htmlPage{Kicker: d.kicker}
	if v.Kicker == "" {
		v.Kicker = "run report"
	}
	for _, bl := range d.blocks {
		hb := htmlBlock{Kind: kindName(bl.kind)}
		switch bl.kind {
		case headingBlock:
			if bl.level == 1 {
				v.Title = bl.text
				continue
			}
			hb.Level, hb.Text, hb.ID = bl.level, bl.text, anchor(bl.text)
			if bl.level == 2 {
				v.Contents = append(v.Contents, htmlLink{Href: "#" + hb.ID, Text: bl.text})
			}
		case paraBlock:
			hb.Inline = inline(bl.text)
		case listBlock, orderedBlock:
			for _, item := range bl.items {
				hb.Items = append(hb.Items, inline(item))
			}
		case tableBlock:
			hb.Table = htmlTableOf(bl.table)
		case preBlock:
			hb.Text = bl.text
		case filesBlock:
			hb.Links = bundleLinks(s)
		case linksBlock:
			for _, l := range bl.links {
				hb.Links = append(hb.Links, htmlLink{Href: l.href, Text: l.text})
			}
		case glanceBlock:
			hb.Cards = glance(s)
		case chartBlock:
			c, ok := byName[bl.chart]
			if !ok {
				return nil, fmt.Errorf("render html: no chart %q", bl.chart)
			}
			hb.Chart = htmlChart{Name: c.name, Caption: c.caption, File: c.path(), SVG: inlineSVG(c.svg)}
		}
		v.Blocks = append(v.Blocks, hb)
	}

	t, err := template.New("page").Parse(pageTemplate)
	if err != nil {
		return nil, fmt.Errorf("parse html template: %w", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		return nil, fmt.Errorf("render html: %w", err)
	}
	return b.Bytes(), nil
}

// htmlPage is what the template sees.
type htmlPage struct {
	Kicker   string
	Title    string
	Contents []htmlLink
	Blocks   []htmlBlock
}

// htmlBlock is a block of the document as the template draws it; Kind
// says which of the other fields it uses.
type htmlBlock struct {
	Kind   string
	Level  int
	ID     string
	Text   string
	Inline template.HTML
	Items  []template.HTML
	Table  htmlTable
	Links  []htmlLink
	Cards  []glanceCard
	Chart  htmlChart
}

// kindName is the name the template knows a block kind by.
func kindName(k blockKind) string {
	switch k {
	case headingBlock:
		return "heading"
	case paraBlock:
		return "para"
	case listBlock:
		return "list"
	case orderedBlock:
		return "ordered"
	case tableBlock:
		return "table"
	case preBlock:
		return "pre"
	case filesBlock:
		return "files"
	case glanceBlock:
		return "glance"
	case chartBlock:
		return "chart"
	case linksBlock:
		return "links"
	}
	return ""
}

type htmlLink struct {
	Href string
	Text string
}

type htmlTable struct {
	Head []htmlCell
	Rows [][]htmlCell
}

type htmlCell struct {
	Text  string
	Paper bool
}

func htmlTableOf(t table) htmlTable {
	first := len(t.head) - t.paper
	cells := func(row []string) []htmlCell {
		out := make([]htmlCell, len(row))
		for i, c := range row {
			out[i] = htmlCell{Text: c, Paper: i >= first}
		}
		return out
	}
	ht := htmlTable{Head: cells(t.head)}
	for _, r := range t.rows {
		ht.Rows = append(ht.Rows, cells(r))
	}
	return ht
}

type htmlChart struct {
	Name    string
	Caption string
	File    string
	SVG     template.HTML
}

// inlineSVG drops the XML prolog of a chart so it can stand in HTML. The
// SVG was drawn by package chart, which escapes every text it writes, so it
// is trusted as HTML.
func inlineSVG(svg []byte) template.HTML {
	s := string(svg)
	if i := strings.Index(s, "<svg"); i >= 0 {
		s = s[i:]
	}
	return template.HTML(s)
}

// glanceCard is the key figures of one architecture.
type glanceCard struct {
	Name    string
	Paper   string
	Figures []keyFigure
}

type keyFigure struct {
	Label string
	Value string
}

// glance answers "how did the architectures compare" before the tables do.
func glance(s *Summary) []glanceCard {
	cards := make([]glanceCard, 0, len(s.Architectures))
	for _, a := range s.Architectures {
		c := glanceCard{Name: a.Name}
		if sys, ok := PaperSystem(a.Name); ok {
			c.Paper = "the paper's " + sys
		}
		latency := func(l Latency, v float64) string {
			if l.Count == 0 {
				return "—"
			}
			return ms(v) + " ms"
		}
		c.Figures = []keyFigure{
			{"Accept downtime", fmt.Sprintf("%s%% (%d of %d windows)", pct(a.AcceptDowntimePct), a.AcceptDownWindows, a.Windows)},
			{"Completion downtime", fmt.Sprintf("%s%% (%d of %d windows)", pct(a.CompletionDowntimePct), a.CompletionDownWindows, a.Windows)},
			{"Accept latency p99", latency(a.AcceptLatency, a.AcceptLatency.P99)},
			{"Completion latency p99", latency(a.CompletionLatency, a.CompletionLatency.P99)},
			{"Failed", share(a.Failed, a.Offered)},
			{"Unfinished", share(a.Unfinished, a.Offered)},
		}
		cards = append(cards, c)
	}
	return cards
}

// bundleLinks lists the files of the bundle a reader of index.html may
// want next.
func bundleLinks(s *Summary) []htmlLink {
	links := []htmlLink{
		{Href: MarkdownFile, Text: MarkdownFile},
		{Href: SummaryFile, Text: SummaryFile},
		{Href: Table1File, Text: Table1File},
		{Href: Table2File, Text: Table2File},
	}
	for _, a := range s.Architectures {
		for _, f := range []string{SecondsFile, BacklogFile, PercentilesFile} {
			p := a.Name + "/" + f
			links = append(links, htmlLink{Href: p, Text: p})
		}
	}
	for _, c := range chartList() {
		links = append(links, htmlLink{Href: c.path(), Text: c.path()})
	}
	return links
}

// anchor makes an id of a heading: lower case letters and digits, the rest
// turned into single dashes.
func anchor(heading string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(heading) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
			continue
		}
		dash = true
	}
	return b.String()
}

// inline turns the **bold** and `code` of a document's text into HTML,
// escaping everything else.
func inline(s string) template.HTML {
	var b strings.Builder
	for i, part := range strings.Split(s, "`") {
		if i%2 == 1 {
			b.WriteString("<code>" + template.HTMLEscapeString(part) + "</code>")
			continue
		}
		for j, bit := range strings.Split(part, "**") {
			if j%2 == 1 {
				b.WriteString("<strong>" + template.HTMLEscapeString(bit) + "</strong>")
				continue
			}
			b.WriteString(template.HTMLEscapeString(bit))
		}
	}
	return template.HTML(b.String())
}
