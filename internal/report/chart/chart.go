// Package chart draws the charts of a run report as SVG with
// gonum.org/v1/plot.
//
// A Figure is a stack of panels that share both axes, one per
// architecture, under one title and one legend, so that the panels compare
// at a glance; Bars is a grouped bar chart. Both draw a figure that says
// "no data" instead of failing when there is nothing to plot: a report of a
// run that measured nothing must still render.
//
// Text is set in Liberation Sans, the font gonum measures it with; the SVG
// names Arial, Helvetica and sans-serif as fallbacks, which Liberation Sans
// is metrically compatible with, so the text stays readable and fits where
// Liberation is not installed. Output is deterministic: the same input gives
// the same bytes.
package chart

import (
	"bytes"
	"fmt"
	"html"
	"image/color"
	"math"
	"strconv"
	"strings"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Scale is how an axis maps values to positions.
type Scale int

const (
	// Linear spaces values evenly.
	Linear Scale = iota
	// Log spaces decades evenly; values <= 0 cannot be drawn and break the
	// line they are part of.
	Log
	// Percentile is HdrHistogram's percentile axis: a value p in 0..100 is
	// drawn at 1/(1-p/100) on a log scale and labelled 90%, 99%, 99.9%…,
	// so that the tail gets as much room as the body. 100 itself lies at
	// infinity and is not drawn.
	Percentile
)

// Axis describes one axis of a Figure.
type Axis struct {
	Label string
	Scale Scale
	// Min and Max are always inside the axis range; the data may widen it.
	// They let a chart keep 0..100 for a ratio, or 0 for a count, whatever
	// the data. Values a Log axis cannot show are ignored.
	Min, Max float64
}

// Tone is a colour of the chart palette, taken from Okabe and Ito's, whose
// colours readers with colour-vision deficiencies can tell apart.
type Tone int

// The palette.
const (
	Blue Tone = iota
	Vermillion
	Green
	Orange
)

func (t Tone) color() color.Color {
	switch t {
	case Orange:
		return color.RGBA{R: 0xE6, G: 0x9F, B: 0x00, A: 0xFF}
	case Vermillion:
		return color.RGBA{R: 0xD5, G: 0x5E, B: 0x00, A: 0xFF}
	case Green:
		return color.RGBA{R: 0x00, G: 0x9E, B: 0x73, A: 0xFF}
	}
	return color.RGBA{R: 0x00, G: 0x72, B: 0xB2, A: 0xFF}
}

// Point is one data point.
type Point struct{ X, Y float64 }

// Line is one series of a panel.
type Line struct {
	// Name is the legend entry. Lines of the same name in several panels
	// share one entry, so they must share their look too.
	Name   string
	Tone   Tone
	Dashed bool
	// Thick lines are drawn wider and before the others, so that a line
	// drawn on the same values stays visible inside them: where accept and
	// completion agree, both show.
	Thick bool
	// Points in drawing order. A point the axes cannot show (NaN, <= 0 on
	// a Log axis, >= 100 on a Percentile axis) breaks the line: gaps in
	// the data stay gaps.
	Points []Point
}

// Span is a range of x values to shade, [From, To).
type Span struct{ From, To float64 }

// Ref is a horizontal reference line drawn dashed across every panel.
type Ref struct {
	Name string
	Y    float64
}

// Panel is one plot of a Figure.
type Panel struct {
	Title string
	Lines []Line
	Shade []Span
}

// Figure is a titled stack of panels that share their axes.
type Figure struct {
	Title  string
	X, Y   Axis
	Panels []Panel
	Refs   []Ref
	// ShadeName is the legend entry of the shaded spans.
	ShadeName string
}

// Sizes, in points: a figure is as wide as a report column, and each panel
// tall enough to read a step in a 60 s series.
const (
	width       = 540
	panelHeight = 150
	margin      = 10
	noDataH     = 90
)

// SVG draws the figure.
func (f Figure) SVG() ([]byte, error) {
	if !f.hasData() {
		return noData(f.Title)
	}
	xr, yr := f.X.rangeOf(f.xs()), f.Y.rangeOf(f.ys())

	var leg legend
	plots := make([][]*plot.Plot, len(f.Panels))
	for i, pn := range f.Panels {
		p := newPlot(pn.Title)
		f.X.apply(&p.X, xr)
		f.Y.apply(&p.Y, yr)
		if i < len(f.Panels)-1 {
			// One x label under the stack is enough: the panels share it.
			p.X.Label.Text = ""
		}
		p.Add(grid())
		if len(pn.Shade) > 0 {
			s := shade{spans: pn.Shade, x: f.X.Scale}
			p.Add(s)
			leg.add(f.ShadeName, s)
		}
		for _, r := range f.Refs {
			if !f.Y.Scale.shows(r.Y) {
				continue
			}
			y := f.Y.Scale.position(r.Y)
			l, err := plotter.NewLine(plotter.XYs{{X: xr.min, Y: y}, {X: xr.max, Y: y}})
			if err != nil {
				return nil, fmt.Errorf("draw %s: %w", f.Title, err)
			}
			l.LineStyle = draw.LineStyle{Color: color.Gray{Y: 0x40}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(5), vg.Points(3)}}
			p.Add(l)
			leg.add(r.Name, l)
		}
		drawn := false
		for _, thick := range []bool{true, false} {
			for _, ln := range pn.Lines {
				if ln.Thick != thick {
					continue
				}
				ps, err := f.series(ln)
				if err != nil {
					return nil, fmt.Errorf("draw %s: %w", f.Title, err)
				}
				for _, s := range ps {
					p.Add(s)
				}
				drawn = drawn || len(ps) > 0
			}
		}
		// The legend lists the lines in the order given, whatever order
		// they were drawn in.
		for _, ln := range pn.Lines {
			if f.hasPoints(ln) {
				leg.add(ln.Name, lineThumb(ln.style()))
			}
		}
		if !drawn {
			p.Add(message("no data"))
		}
		// The ranges are the figure's, whatever the plotters added.
		p.X.Min, p.X.Max = xr.min, xr.max
		p.Y.Min, p.Y.Max = yr.min, yr.max
		plots[i] = []*plot.Plot{p}
	}

	head := newHeader(f.Title, leg)
	height := head.height + vg.Length(len(f.Panels))*panelHeight + margin
	return render(f.Title, height, func(dc draw.Canvas) {
		head.draw(dc)
		area := draw.Crop(dc, 0, 0, 0, -head.height)
		tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadY: 8, PadLeft: margin, PadRight: margin, PadBottom: margin}
		for i, row := range plot.Align(plots, tiles, area) {
			plots[i][0].Draw(row[0])
		}
	})
}

func (f Figure) hasData() bool {
	for _, pn := range f.Panels {
		for _, l := range pn.Lines {
			if f.hasPoints(l) {
				return true
			}
		}
	}
	return false
}

func (f Figure) hasPoints(l Line) bool {
	for _, pt := range l.Points {
		if f.drawable(pt) {
			return true
		}
	}
	return false
}

// drawable reports whether the axes can show pt.
func (f Figure) drawable(pt Point) bool {
	return f.X.Scale.shows(pt.X) && f.Y.Scale.shows(pt.Y)
}

func (s Scale) shows(v float64) bool {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return false
	case s == Log:
		return v > 0
	case s == Percentile:
		return v >= 0 && v < 100
	}
	return true
}

// position is where v lies on the axis. Log and Percentile axes are drawn
// as linear axes over log10 of the value, labelled with the values: gonum's
// own log scale places an axis label by the midpoint of the values rather
// than of the axis, which pushes the label off the panel.
func (s Scale) position(v float64) float64 {
	switch s {
	case Log:
		return math.Log10(v)
	case Percentile:
		return -math.Log10(1 - v/100)
	}
	return v
}

func (f Figure) xs() []float64 {
	var v []float64
	for _, pn := range f.Panels {
		for _, l := range pn.Lines {
			for _, pt := range l.Points {
				if f.drawable(pt) {
					v = append(v, pt.X)
				}
			}
		}
		for _, s := range pn.Shade {
			v = append(v, s.From, s.To)
		}
	}
	return v
}

func (f Figure) ys() []float64 {
	var v []float64
	for _, pn := range f.Panels {
		for _, l := range pn.Lines {
			for _, pt := range l.Points {
				if f.drawable(pt) {
					v = append(v, pt.Y)
				}
			}
		}
	}
	for _, r := range f.Refs {
		v = append(v, r.Y)
	}
	return v
}

// series turns a line into one plotter per unbroken run of points; a run
// of one point is drawn as a dot, or it would not show at all.
func (f Figure) series(ln Line) ([]plot.Plotter, error) {
	style := ln.style()
	var out []plot.Plotter
	var run plotter.XYs
	flush := func() error {
		switch len(run) {
		case 0:
			return nil
		case 1:
			s, err := plotter.NewScatter(run)
			if err != nil {
				return err
			}
			s.GlyphStyle = draw.GlyphStyle{Color: style.Color, Radius: vg.Points(2), Shape: draw.CircleGlyph{}}
			out = append(out, s)
		default:
			l, err := plotter.NewLine(run)
			if err != nil {
				return err
			}
			l.LineStyle = style
			out = append(out, l)
		}
		run = nil
		return nil
	}
	for _, pt := range ln.Points {
		if !f.drawable(pt) {
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		run = append(run, plotter.XY{X: f.X.Scale.position(pt.X), Y: f.Y.Scale.position(pt.Y)})
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

func (ln Line) style() draw.LineStyle {
	style := draw.LineStyle{Color: ln.Tone.color(), Width: vg.Points(1.5)}
	if ln.Thick {
		style.Width = vg.Points(3.5)
	}
	if ln.Dashed {
		style.Dashes = []vg.Length{vg.Points(5), vg.Points(2.5)}
	}
	return style
}

// span is an axis range.
type span struct{ min, max float64 }

// rangeOf is the range of positions of an axis that holds the values vs,
// Min and Max, widened on log axes to whole decades so that both ends have
// a label.
func (a Axis) rangeOf(vs []float64) span {
	r := span{min: math.Inf(1), max: math.Inf(-1)}
	for _, v := range append([]float64{a.Min, a.Max}, vs...) {
		if a.Scale.shows(v) {
			p := a.Scale.position(v)
			r.min, r.max = math.Min(r.min, p), math.Max(r.max, p)
		}
	}
	if math.IsInf(r.min, 0) {
		r = span{min: 0, max: 1}
	}
	if a.Scale != Linear {
		r.min, r.max = math.Floor(r.min), math.Ceil(r.max)
	}
	if r.max <= r.min {
		r.max = r.min + 1
	}
	return r
}

func (a Axis) apply(ax *plot.Axis, r span) {
	ax.Label.Text = a.Label
	ax.Min, ax.Max = r.min, r.max
	switch a.Scale {
	case Log:
		ax.Tick.Marker = decadeTicks{label: func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }}
	case Percentile:
		ax.Tick.Marker = decadeTicks{label: percentileLabel, half: true}
	}
}

// decadeTicks marks an axis of log10 positions: a labelled tick on every
// power of ten, unlabelled ones between.
type decadeTicks struct {
	// label names the value 10^position.
	label func(float64) string
	// half labels 2 as well: the median, on a percentile axis.
	half bool
}

func (t decadeTicks) Ticks(min, max float64) []plot.Tick {
	var ticks []plot.Tick
	for e := math.Ceil(min); e <= max; e++ {
		decade := math.Pow10(int(e))
		ticks = append(ticks, plot.Tick{Value: e, Label: t.label(decade)})
		for i := 2.0; i < 10 && e+math.Log10(i) < max; i++ {
			tick := plot.Tick{Value: e + math.Log10(i)}
			if t.half && decade*i == 2 {
				tick.Label = t.label(2)
			}
			ticks = append(ticks, tick)
		}
	}
	return ticks
}

// percentileLabel names the percentile that lies at x = 1/(1-p):
// 1 → 0%, 2 → 50%, 10 → 90%, 1000 → 99.9%.
func percentileLabel(x float64) string {
	p := 100 * (1 - 1/x)
	digits := max(0, int(math.Ceil(math.Log10(x)))-2)
	return strconv.FormatFloat(p, 'f', digits, 64) + "%"
}

func newPlot(title string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle = textStyle(10, true)
	p.Title.TextStyle.XAlign, p.Title.TextStyle.YAlign = draw.XCenter, draw.YTop
	p.Title.Padding = vg.Points(4)
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		label, tick := ax.Label.TextStyle, ax.Tick.Label
		ax.Label.TextStyle = textStyle(9.5, false)
		ax.Label.TextStyle.XAlign, ax.Label.TextStyle.YAlign = label.XAlign, label.YAlign
		ax.Tick.Label = textStyle(8.5, false)
		ax.Tick.Label.XAlign, ax.Tick.Label.YAlign = tick.XAlign, tick.YAlign
		ax.Tick.Length = vg.Points(4)
	}
	return p
}

func textStyle(size float64, bold bool) text.Style {
	f := font.Font{Typeface: "Liberation", Variant: "Sans"}
	if bold {
		f.Weight = xfont.WeightBold
	}
	return text.Style{
		Color:   color.Black,
		Font:    font.From(f, vg.Points(size)),
		Handler: plot.DefaultTextHandler,
	}
}

func grid() *plotter.Grid {
	g := plotter.NewGrid()
	light := draw.LineStyle{Color: color.Gray{Y: 0xE4}, Width: vg.Points(0.5)}
	g.Vertical, g.Horizontal = light, light
	return g
}

// shade fills spans of x over the whole height of a panel.
type shade struct {
	spans []Span
	x     Scale
}

func shadeColor() color.Color { return color.Gray{Y: 0xDD} }

func (s shade) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	c.SetColor(shadeColor())
	for _, sp := range s.spans {
		if !s.x.shows(sp.From) || !s.x.shows(sp.To) {
			continue
		}
		x0 := max(trX(s.x.position(sp.From)), c.Min.X)
		x1 := min(trX(s.x.position(sp.To)), c.Max.X)
		if x1 <= x0 {
			continue
		}
		c.Fill(vg.Rectangle{Min: vg.Point{X: x0, Y: c.Min.Y}, Max: vg.Point{X: x1, Y: c.Max.Y}}.Path())
	}
}

func (shade) Thumbnail(c *draw.Canvas) {
	c.SetColor(shadeColor())
	c.Fill(c.Rectangle.Path())
}

// message writes a line of text in the middle of a panel.
type message string

func (m message) Plot(c draw.Canvas, _ *plot.Plot) {
	sty := textStyle(10, false)
	sty.Color = color.Gray{Y: 0x60}
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YCenter
	c.FillText(sty, c.Center(), string(m))
}

type lineThumb draw.LineStyle

func (l lineThumb) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	c.StrokeLine2(draw.LineStyle(l), c.Min.X, y, c.Max.X, y)
}

// legend is the one legend of a figure, in the order entries first appear.
type legend struct {
	entries []legendEntry
}

type legendEntry struct {
	name  string
	thumb plot.Thumbnailer
}

func (l *legend) add(name string, t plot.Thumbnailer) {
	if name == "" {
		return
	}
	for _, e := range l.entries {
		if e.name == name {
			return
		}
	}
	l.entries = append(l.entries, legendEntry{name, t})
}

// header is the figure's title with its legend laid out in rows under it,
// above the panels, where it hides no data.
type header struct {
	title  string
	leg    legend
	rows   [][]legendEntry
	height vg.Length
}

const (
	thumbWidth = 22
	entryGap   = 16
)

func newHeader(title string, leg legend) header {
	h := header{title: title, leg: leg}
	sty := textStyle(9, false)
	room := vg.Length(width - 2*margin)
	var row []legendEntry
	var used vg.Length
	for _, e := range leg.entries {
		w := thumbWidth + 4 + sty.Width(e.name) + entryGap
		if len(row) > 0 && used+w > room {
			h.rows = append(h.rows, row)
			row, used = nil, 0
		}
		row = append(row, e)
		used += w
	}
	if len(row) > 0 {
		h.rows = append(h.rows, row)
	}
	h.height = margin + textStyle(12, true).Height(title) + 6 + vg.Length(len(h.rows))*legendRowHeight() + 4
	return h
}

func legendRowHeight() vg.Length { return textStyle(9, false).Height("Mg") + 4 }

func (h header) draw(dc draw.Canvas) {
	title := textStyle(12, true)
	title.XAlign, title.YAlign = draw.XLeft, draw.YTop
	y := dc.Max.Y - margin
	dc.FillText(title, vg.Point{X: dc.Min.X + margin, Y: y}, h.title)
	y -= title.Height(h.title) + 6

	sty := textStyle(9, false)
	sty.XAlign, sty.YAlign = draw.XLeft, draw.YCenter
	rowH := legendRowHeight()
	for _, row := range h.rows {
		x := dc.Min.X + margin
		mid := y - rowH/2
		for _, e := range row {
			icon := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
				Min: vg.Point{X: x, Y: mid - rowH/2 + 2},
				Max: vg.Point{X: x + thumbWidth, Y: mid + rowH/2 - 2},
			}}
			e.thumb.Thumbnail(&icon)
			dc.FillText(sty, vg.Point{X: x + thumbWidth + 4, Y: mid}, e.name)
			x += thumbWidth + 4 + sty.Width(e.name) + entryGap
		}
		y -= rowH
	}
}

// noData draws a figure that has its title and says there was nothing to
// plot.
func noData(title string) ([]byte, error) {
	head := newHeader(title, legend{})
	return render(title, head.height+noDataH, func(dc draw.Canvas) {
		head.draw(dc)
		area := draw.Crop(dc, margin, -margin, margin, -head.height)
		area.SetLineStyle(draw.LineStyle{Color: color.Gray{Y: 0xC0}, Width: vg.Points(0.5)})
		area.Stroke(area.Rectangle.Path())
		message("no data").Plot(area, nil)
	})
}

// render draws onto a white SVG canvas of the report's width and returns
// the document, with the title as its accessible name and font fallbacks.
func render(title string, height vg.Length, paint func(draw.Canvas)) ([]byte, error) {
	c := vgsvg.New(width, height)
	dc := draw.New(c)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	paint(dc)

	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("write svg %s: %w", title, err)
	}
	svg := strings.ReplaceAll(buf.String(), "font-family:Liberation Sans;", "font-family:Liberation Sans,Arial,Helvetica,sans-serif;")
	// The title goes right after the opening tag, where SVG wants it.
	open := strings.Index(svg, "<svg")
	end := strings.Index(svg[open:], ">") + open + 1
	svg = svg[:end] + "\n<title>" + html.EscapeString(title) + "</title>" + svg[end:]
	return []byte(svg), nil
}
