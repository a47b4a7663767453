package chart

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
)

// texts parses svg as XML, failing the test if it is not well-formed, and
// returns its <title> and the content of every <text> element.
func texts(t *testing.T, svg []byte) (title string, all []string) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(svg))
	var stack []string
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("svg is not well-formed XML: %v\n%s", err, svg)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			stack = append(stack, tok.Name.Local)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				continue
			}
			switch stack[len(stack)-1] {
			case "title":
				title = string(tok)
			case "text":
				all = append(all, string(tok))
			}
		}
	}
	if len(stack) != 0 {
		t.Fatalf("svg leaves %v open", stack)
	}
	return title, all
}

func steps(values ...float64) []Point {
	var pts []Point
	for i, v := range values {
		pts = append(pts, Point{X: float64(i), Y: v}, Point{X: float64(i + 1), Y: v})
	}
	return pts
}

func TestFigureSVG(t *testing.T) {
	nan := math.NaN()
	ratio := func(panels ...Panel) Figure {
		return Figure{
			Title: "Success <ratio> & more", X: Axis{Label: "t (s)", Max: 10}, Y: Axis{Label: "% of offered", Max: 100},
			Refs: []Ref{{Name: "SLO 95%", Y: 95}}, ShadeName: "fault active", Panels: panels,
		}
	}
	tests := []struct {
		name   string
		fig    Figure
		want   []string // texts the chart must show
		noData int      // how many "no data" it must say
	}{
		{
			name: "two panels",
			fig: ratio(
				Panel{Title: "eda", Shade: []Span{{3, 7}}, Lines: []Line{{Name: "accepted", Points: steps(100, 100, 100, 0, 0)}}},
				Panel{Title: "monolith", Lines: []Line{{Name: "accepted", Points: steps(100, nan, 90)}}},
			),
			want: []string{"eda", "monolith", "accepted", "SLO 95%", "fault active", "t (s)", "% of offered"},
		},
		{
			name: "one panel",
			fig:  ratio(Panel{Title: "eda", Lines: []Line{{Name: "accepted", Points: steps(100)}}}),
			want: []string{"eda", "accepted"},
		},
		{
			name: "three panels, one empty",
			fig: ratio(
				Panel{Title: "a", Lines: []Line{{Name: "accepted", Points: steps(1, 2)}}},
				Panel{Title: "b"},
				Panel{Title: "c", Lines: []Line{{Name: "accepted", Points: []Point{{X: 4, Y: 50}}}}},
			),
			want:   []string{"a", "b", "c"},
			noData: 1,
		},
		{name: "no panels", fig: ratio(), want: []string{"Success <ratio> & more"}, noData: 1},
		{name: "panels without points", fig: ratio(Panel{Title: "eda"}, Panel{Title: "monolith", Lines: []Line{{Name: "x"}}}), noData: 1},
		{name: "only NaN", fig: ratio(Panel{Title: "eda", Lines: []Line{{Name: "x", Points: steps(nan, nan)}}}), noData: 1},
		{
			name: "log axis skips zeros",
			fig: Figure{Title: "Latency", X: Axis{Max: 3}, Y: Axis{Label: "ms", Scale: Log},
				Panels: []Panel{{Title: "eda", Lines: []Line{{Name: "p99", Dashed: true, Thick: true, Points: steps(0, 4.2, 0)}}}}},
			want: []string{"1", "10", "p99"},
		},
		{
			name: "log axis with nothing positive",
			fig: Figure{Title: "Latency", Y: Axis{Scale: Log},
				Panels: []Panel{{Title: "eda", Lines: []Line{{Name: "p99", Points: steps(0, 0)}}}}},
			noData: 1,
		},
		{
			name: "percentile axis",
			fig: Figure{Title: "Distribution", X: Axis{Label: "percentile", Scale: Percentile}, Y: Axis{Label: "ms", Scale: Log},
				Panels: []Panel{{Title: "eda", Lines: []Line{{Name: "accept", Points: []Point{{0, 0.4}, {50, 1.1}, {90, 1.8}, {99, 6}, {99.8, 16}, {100, 16}}}}}}},
			want: []string{"0%", "50%", "90%", "99%", "99.9%", "0.1", "100", "accept"},
		},
		{
			name: "percentile 100 alone cannot be drawn",
			fig: Figure{Title: "Distribution", X: Axis{Scale: Percentile}, Y: Axis{Scale: Log},
				Panels: []Panel{{Title: "eda", Lines: []Line{{Name: "accept", Points: []Point{{100, 16}}}}}}},
			noData: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svg, err := tt.fig.SVG()
			if err != nil {
				t.Fatal(err)
			}
			title, all := texts(t, svg)
			if title != tt.fig.Title {
				t.Errorf("svg title %q, want %q", title, tt.fig.Title)
			}
			if !slices.Contains(all, tt.fig.Title) {
				t.Errorf("the chart does not show its title %q: %q", tt.fig.Title, all)
			}
			for _, w := range tt.want {
				if !slices.Contains(all, w) {
					t.Errorf("the chart does not show %q: %q", w, all)
				}
			}
			if got := countOf(all, "no data"); got != tt.noData {
				t.Errorf("the chart says \"no data\" %d times, want %d", got, tt.noData)
			}
			again, err := tt.fig.SVG()
			if err != nil || !bytes.Equal(svg, again) {
				t.Errorf("a second drawing of the same figure differs (err %v)", err)
			}
		})
	}
}

func countOf(all []string, s string) int {
	n := 0
	for _, a := range all {
		if a == s {
			n++
		}
	}
	return n
}

// TestLegendOnce: a line in every panel has one legend entry, and a
// figure without a fault has no fault entry.
func TestLegendOnce(t *testing.T) {
	f := Figure{Title: "T", ShadeName: "fault active"}
	for _, name := range []string{"a", "b", "c"} {
		f.Panels = append(f.Panels, Panel{Title: name, Lines: []Line{{Name: "accepted", Points: steps(1, 2)}}})
	}
	svg, err := f.SVG()
	if err != nil {
		t.Fatal(err)
	}
	_, all := texts(t, svg)
	if n := countOf(all, "accepted"); n != 1 {
		t.Errorf("legend lists %q %d times, want once", "accepted", n)
	}
	if slices.Contains(all, "fault active") {
		t.Error("legend lists a fault that no panel shades")
	}
}

func TestBarsSVG(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name   string
		bars   Bars
		want   []string
		hollow bool
		noData bool
	}{
		{
			name: "measured and paper",
			bars: Bars{Title: "Downtime", YLabel: "downtime (%)", Unit: "%", Groups: []string{"eda", "monolith", "other"}, Sets: []BarSet{
				{Name: "accept", Tone: Blue, Values: []float64{0, 40, 12.345}},
				{Name: "paper (not measured)", Hollow: true, Values: []float64{12, 30, nan}},
			}},
			want:   []string{"eda", "monolith", "other", "0%", "40%", "12.3%", "12%", "30%", "accept", "paper (not measured)", "downtime (%)"},
			hollow: true,
		},
		{
			name: "one group",
			bars: Bars{Title: "Downtime", Groups: []string{"eda"}, Sets: []BarSet{{Name: "accept", Values: []float64{5}}}},
			want: []string{"eda", "5", "accept"},
		},
		{
			name:   "no groups",
			bars:   Bars{Title: "Downtime", Sets: []BarSet{{Name: "accept"}}},
			noData: true,
		},
		{
			name:   "only NaN",
			bars:   Bars{Title: "Downtime", Groups: []string{"eda"}, Sets: []BarSet{{Name: "paper", Values: []float64{nan}}}},
			noData: true,
		},
		{
			name: "a set without values is left out of the legend",
			bars: Bars{Title: "Downtime", Groups: []string{"x"}, Sets: []BarSet{
				{Name: "accept", Values: []float64{3}},
				{Name: "paper (not measured)", Hollow: true, Values: []float64{nan}},
			}},
			want: []string{"accept"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svg, err := tt.bars.SVG()
			if err != nil {
				t.Fatal(err)
			}
			title, all := texts(t, svg)
			if title != tt.bars.Title {
				t.Errorf("svg title %q, want %q", title, tt.bars.Title)
			}
			for _, w := range tt.want {
				if !slices.Contains(all, w) {
					t.Errorf("the chart does not show %q: %q", w, all)
				}
			}
			if got := slices.Contains(all, "no data"); got != tt.noData {
				t.Errorf("says no data: %v, want %v", got, tt.noData)
			}
			if strings.Contains(string(svg), "stroke-dasharray") != tt.hollow {
				t.Errorf("dashed outlines: %v, want %v", !tt.hollow, tt.hollow)
			}
			if tt.name == "a set without values is left out of the legend" && slices.Contains(all, "paper (not measured)") {
				t.Error("legend lists a set that drew no bar")
			}
		})
	}
}

// TestFonts: the text names fonts a browser without Liberation has, so it
// renders everywhere.
func TestFonts(t *testing.T) {
	svg, err := Figure{Title: "T", Panels: []Panel{{Title: "p", Lines: []Line{{Name: "l", Points: steps(1)}}}}}.SVG()
	if err != nil {
		t.Fatal(err)
	}
	s := string(svg)
	if strings.Contains(s, "font-family:Liberation Sans;") {
		t.Error("text names Liberation Sans without fallbacks")
	}
	if !strings.Contains(s, "font-family:Liberation Sans,Arial,Helvetica,sans-serif;") {
		t.Errorf("text does not name the fallback fonts:\n%s", s)
	}
}

func TestPercentileLabel(t *testing.T) {
	for x, want := range map[float64]string{1: "0%", 2: "50%", 10: "90%", 100: "99%", 1000: "99.9%", 1e4: "99.99%", 1e5: "99.999%"} {
		if got := percentileLabel(x); got != want {
			t.Errorf("percentileLabel(%v) = %q, want %q", x, got, want)
		}
	}
}

func TestRangeOf(t *testing.T) {
	tests := []struct {
		name string
		axis Axis
		vs   []float64
		want span
	}{
		{"linear holds min and max", Axis{Min: 0, Max: 100}, []float64{40, 60}, span{0, 100}},
		{"data widens linear", Axis{Max: 1}, []float64{0, 250}, span{0, 250}},
		{"linear without data", Axis{}, nil, span{0, 1}},
		{"log to whole decades", Axis{Scale: Log}, []float64{0.4, 3727}, span{-1, 4}},
		{"log ignores non-positive", Axis{Scale: Log}, []float64{0, -3, 12}, span{1, 2}},
		{"log of one decade value", Axis{Scale: Log}, []float64{10}, span{1, 2}},
		{"percentile", Axis{Scale: Percentile}, []float64{0, 99.8046875, 100}, span{0, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.axis.rangeOf(tt.vs); math.Abs(got.min-tt.want.min) > 1e-9 || math.Abs(got.max-tt.want.max) > 1e-9 {
				t.Errorf("rangeOf(%v) = %+v, want %+v", tt.vs, got, tt.want)
			}
		})
	}
}

func BenchmarkFigureSVG(b *testing.B) {
	f := Figure{Title: "T", X: Axis{Max: 60}, Y: Axis{Scale: Log}, ShadeName: "fault"}
	for _, name := range []string{"eda", "monolith"} {
		v := make([]float64, 60)
		for i := range v {
			v[i] = 1 + float64(i%7)
		}
		f.Panels = append(f.Panels, Panel{Title: name, Shade: []Span{{20, 30}}, Lines: []Line{
			{Name: "a", Points: steps(v...)}, {Name: "b", Dashed: true, Points: steps(v...)},
			{Name: "c", Thick: true, Points: steps(v...)}, {Name: "d", Thick: true, Dashed: true, Points: steps(v...)},
		}})
	}
	for b.Loop() {
		if _, err := f.SVG(); err != nil {
			b.Fatal(err)
		}
	}
}
