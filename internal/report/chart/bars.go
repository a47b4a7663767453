package chart

import (
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Bars is a grouped bar chart: one group per entry of Groups along x, one
// bar per set in each group, each bar labelled with its value.
type Bars struct {
	Title  string
	YLabel string
	// Unit follows each bar's value label: "%".
	Unit string
	// Limit, when > 0, is the highest value the quantity can take (100
	// for a percentage); error bars stop there rather than stretch the
	// axis past what is possible.
	Limit  float64
	Groups []string
	Sets   []BarSet
}

// BarSet is one bar of every group.
type BarSet struct {
	Name string
	Tone Tone
	// Hollow draws the bars as dashed outlines, for figures that are
	// quoted rather than measured, so they cannot be mistaken for data.
	// The outline is grey, or in Tone when Toned is set, so that quoted
	// figures of several systems stay apart.
	Hollow bool
	Toned  bool
	// Values holds one value per group; NaN leaves the group without
	// this bar (its place stays empty, so bars keep their positions).
	Values []float64
	// Err holds, per group, the half-width of an error bar drawn from
	// value-err to value+err; nil, NaN or 0 draws none.
	Err []float64
}

// err is the error bar half-width of group i, 0 for none.
func (s BarSet) err(i int) float64 {
	if i >= len(s.Err) || math.IsNaN(s.Err[i]) || math.IsInf(s.Err[i], 0) || s.Err[i] < 0 {
		return 0
	}
	return s.Err[i]
}

const barsHeight = 220

// SVG draws the chart.
func (b Bars) SVG() ([]byte, error) {
	top, found := 0.0, false
	for _, s := range b.Sets {
		for i, v := range s.Values {
			if i < len(b.Groups) && !math.IsNaN(v) && !math.IsInf(v, 0) {
				top, found = math.Max(top, b.clip(v+s.err(i))), true
			}
		}
	}
	if len(b.Groups) == 0 || !found {
		return noData(b.Title)
	}

	p := newPlot("")
	p.Y.Label.Text = b.YLabel
	g := grid()
	g.Vertical.Color = nil
	p.Add(g)
	p.NominalX(b.Groups...)
	p.X.Tick.Label = textStyle(10, true)
	p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XCenter, draw.YTop

	// Bars of a group stand side by side, the group centred on its tick.
	plotWidth := vg.Length(width - 2*margin - 60)
	barW := min(vg.Points(40), plotWidth*0.7/vg.Length(len(b.Groups)*len(b.Sets)))
	var leg legend
	labelStyle := textStyle(8.5, false)
	labelStyle.XAlign, labelStyle.YAlign = draw.XCenter, draw.YBottom
	for j, s := range b.Sets {
		offset := (vg.Length(j) - vg.Length(len(b.Sets)-1)/2) * barW
		for i, v := range s.Values {
			if i >= len(b.Groups) || math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			bar, err := plotter.NewBarChart(plotter.Values{v}, barW)
			if err != nil {
				return nil, fmt.Errorf("draw %s: %w", b.Title, err)
			}
			bar.XMin, bar.Offset = float64(i), offset
			bar.Color = s.Tone.color()
			bar.LineStyle = draw.LineStyle{Color: s.Tone.color(), Width: vg.Points(0.5)}
			if s.Hollow {
				bar.Color = color.Gray{Y: 0xF4}
				bar.LineStyle = draw.LineStyle{Color: color.Gray{Y: 0x40}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(3), vg.Points(2)}}
				if s.Toned {
					bar.LineStyle.Color, bar.LineStyle.Width = s.Tone.color(), vg.Points(1.5)
				}
			}
			e := s.err(i)
			label, err := plotter.NewLabels(plotter.XYLabels{
				// The label sits above the error bar, not inside it.
				XYs:    plotter.XYs{{X: float64(i), Y: math.Max(v, b.clip(v+e))}},
				Labels: []string{strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) + b.Unit},
			})
			if err != nil {
				return nil, fmt.Errorf("draw %s: %w", b.Title, err)
			}
			label.TextStyle = []text.Style{labelStyle}
			label.Offset = vg.Point{X: offset, Y: vg.Points(2)}
			p.Add(bar, label)
			if e > 0 {
				p.Add(errorBar{x: float64(i), offset: offset, lo: math.Max(v-e, 0), hi: b.clip(v + e), cap: barW / 4})
			}
			leg.add(s.Name, bar)
		}
	}
	// Room above the tallest bar for its label.
	p.X.Min, p.X.Max = -0.5, float64(len(b.Groups))-0.5
	p.Y.Min, p.Y.Max = 0, math.Max(top*1.18, 1)

	head := newHeader(b.Title, leg)
	return render(b.Title, head.height+barsHeight, func(dc draw.Canvas) {
		head.draw(dc)
		area := draw.Crop(dc, margin, -margin, margin, -head.height)
		p.Draw(area)
	})
}

// clip caps v at the chart's Limit, if it has one.
func (b Bars) clip(v float64) float64 {
	if b.Limit > 0 {
		return math.Min(v, b.Limit)
	}
	return v
}

// errorBar is a vertical line from lo to hi with a cap at each end, at
// the position of one bar.
type errorBar struct {
	x      float64
	offset vg.Length
	lo, hi float64
	cap    vg.Length
}

func (e errorBar) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	x := trX(e.x) + e.offset
	lo, hi := trY(e.lo), trY(e.hi)
	sty := draw.LineStyle{Color: color.Black, Width: vg.Points(1)}
	c.StrokeLine2(sty, x, lo, x, hi)
	c.StrokeLine2(sty, x-e.cap, lo, x+e.cap, lo)
	c.StrokeLine2(sty, x-e.cap, hi, x+e.cap, hi)
}
