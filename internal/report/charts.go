package report

import (
	"fmt"
	"math"
	"path"

	"github.com/edatestbed/testbed/internal/report/chart"
)

// Names of the report's charts; each is also the name of its file under
// ChartsDir.
const (
	successChart    = "success-ratio"
	latencyChart    = "latency-over-time"
	percentileChart = "latency-percentiles"
	backlogChart    = "backlog"
	downtimeChart   = "downtime"
)

// chartRef names a chart and says what report.md calls it when it links
// to it.
type chartRef struct {
	name  string
	label string
}

// path is where the chart lies in the bundle, as a link: always with /.
func (c chartRef) path() string { return path.Join(ChartsDir, c.name+".svg") }

// chartList lists the charts in the order the report shows them.
func chartList() []chartRef {
	return []chartRef{
		{successChart, "success ratio per second"},
		{percentileChart, "latency percentiles"},
		{latencyChart, "latency over time"},
		{downtimeChart, "downtime against the paper"},
		{backlogChart, "backlog"},
	}
}

// drawnChart is a chart drawn from a summary, with the sentence that tells
// a reader of index.html how to read it.
type drawnChart struct {
	chartRef
	title   string
	caption string
	svg     []byte
}

// drawCharts draws every chart of chartList for s.
func drawCharts(s *Summary) ([]drawnChart, error) {
	var out []drawnChart
	for _, ref := range chartList() {
		var (
			title, caption string
			svg            []byte
			err            error
		)
		switch ref.name {
		case successChart:
			title, caption, svg, err = successRatio(s)
		case latencyChart:
			title, caption, svg, err = latencyOverTime(s)
		case percentileChart:
			title, caption, svg, err = latencyPercentiles(s)
		case backlogChart:
			title, caption, svg, err = backlog(s)
		case downtimeChart:
			title, caption, svg, err = downtimeBars(s)
		}
		if err != nil {
			return nil, fmt.Errorf("draw chart %s: %w", ref.name, err)
		}
		out = append(out, drawnChart{chartRef: ref, title: title, caption: caption, svg: svg})
	}
	return out, nil
}

// faultShade names the grey of the fault windows in every chart's legend.
// The charts share their looks, so that one look means one thing in all of
// them: blue is accept, vermillion is completion, grey is a fault.
const faultShade = "fault active"

// windows is the number of 1 s windows of the longest series.
func windows(s *Summary) int {
	n := 0
	for _, a := range s.Architectures {
		n = max(n, len(a.Seconds))
	}
	return n
}

// timeAxis is the x axis of the per-second charts.
func timeAxis(s *Summary) chart.Axis {
	return chart.Axis{Label: "seconds since the start of the measured period", Max: float64(windows(s))}
}

// faultSpans are the runs of windows with a fault active.
func faultSpans(seconds []Second) []chart.Span {
	var spans []chart.Span
	for _, w := range seconds {
		from, to := float64(w.T), float64(w.T+1)
		switch {
		case !w.FaultActive:
		case len(spans) > 0 && spans[len(spans)-1].To == from:
			spans[len(spans)-1].To = to
		default:
			spans = append(spans, chart.Span{From: from, To: to})
		}
	}
	return spans
}

// steps draws one value per window as a level across the window, so that
// the chart shows what a window is: a second counted as one. A NaN value
// or a missing window leaves a gap.
func steps(seconds []Second, value func(Second) float64) []chart.Point {
	var pts []chart.Point
	for i, w := range seconds {
		if i > 0 && w.T != seconds[i-1].T+1 {
			pts = append(pts, chart.Point{X: float64(w.T), Y: math.NaN()})
		}
		v := value(w)
		pts = append(pts, chart.Point{X: float64(w.T), Y: v}, chart.Point{X: float64(w.T + 1), Y: v})
		if math.IsNaN(v) {
			pts = pts[:len(pts)-1]
		}
	}
	return pts
}

// served is 100·n/offered, NaN when nothing was offered: a window without
// requests has no ratio, and drawing it as 0 or 100 would invent one.
func served(n, offered int64) float64 {
	if offered == 0 {
		return math.NaN()
	}
	return percent(n, offered)
}

func successRatio(s *Summary) (title, caption string, svg []byte, err error) {
	deadline := secs(s.SLO.CompletionDeadline)
	title = "Per-second success ratio — " + s.Scenario
	caption = fmt.Sprintf("Share of the requests offered in each 1 s window that were accepted (blue) and that completed within %s (vermillion), one panel per architecture. Grey: a fault was active. Dashed: the SLO of %s%%; a window below it counts as down.",
		deadline, sloPct(s.SLO))
	f := chart.Figure{
		Title:     title,
		X:         timeAxis(s),
		Y:         chart.Axis{Label: "% of offered", Max: 100},
		Refs:      []chart.Ref{{Name: "SLO " + sloPct(s.SLO) + "%", Y: 100 * s.SLO.SuccessRatio}},
		ShadeName: faultShade,
	}
	for _, a := range s.Architectures {
		f.Panels = append(f.Panels, chart.Panel{
			Title: a.Name,
			Shade: faultSpans(a.Seconds),
			Lines: []chart.Line{
				{Name: "accepted / offered", Tone: chart.Blue,
					Points: steps(a.Seconds, func(w Second) float64 { return served(w.Accepted, w.Offered) })},
				{Name: "completed within " + deadline + " / offered", Tone: chart.Vermillion, Thick: true,
					Points: steps(a.Seconds, func(w Second) float64 { return served(w.CompletedInDeadline, w.Offered) })},
			},
		})
	}
	svg, err = f.SVG()
	return title, caption, svg, err
}

func latencyOverTime(s *Summary) (title, caption string, svg []byte, err error) {
	title = "Latency per second, p50 and p99 — " + s.Scenario
	caption = "Median (solid) and 99th percentile (dashed) of the accept latency (blue) and the completion latency (vermillion) of the requests of each 1 s window, timed from their intended send time, on a log scale. Gaps: no request of that window was accepted, or none completed. Grey: a fault was active."
	f := chart.Figure{
		Title:     title,
		X:         timeAxis(s),
		Y:         chart.Axis{Label: "latency (ms)", Scale: chart.Log},
		ShadeName: faultShade,
	}
	for _, a := range s.Architectures {
		f.Panels = append(f.Panels, chart.Panel{
			Title: a.Name,
			Shade: faultSpans(a.Seconds),
			Lines: []chart.Line{
				{Name: "accept p50", Tone: chart.Blue, Points: steps(a.Seconds, func(w Second) float64 { return w.AcceptP50 })},
				{Name: "accept p99", Tone: chart.Blue, Dashed: true, Points: steps(a.Seconds, func(w Second) float64 { return w.AcceptP99 })},
				{Name: "completion p50", Tone: chart.Vermillion, Thick: true, Points: steps(a.Seconds, func(w Second) float64 { return w.CompletionP50 })},
				{Name: "completion p99", Tone: chart.Vermillion, Thick: true, Dashed: true, Points: steps(a.Seconds, func(w Second) float64 { return w.CompletionP99 })},
			},
		})
	}
	svg, err = f.SVG()
	return title, caption, svg, err
}

func latencyPercentiles(s *Summary) (title, caption string, svg []byte, err error) {
	title = "Latency distribution by percentile — " + s.Scenario
	caption = "HdrHistogram percentile plot of the whole measured period: the latency (log scale) below which each share of the requests fell. The axis stretches the tail, so 99% and 99.9% get as much room as the median. Blue: accept latency; vermillion: completion latency."
	f := chart.Figure{
		Title: title,
		X:     chart.Axis{Label: "percentile", Scale: chart.Percentile},
		Y:     chart.Axis{Label: "latency (ms)", Scale: chart.Log},
	}
	points := func(ps []Percentile) []chart.Point {
		pts := make([]chart.Point, len(ps))
		for i, p := range ps {
			pts[i] = chart.Point{X: p.Percentile, Y: p.Ms}
		}
		return pts
	}
	for _, a := range s.Architectures {
		f.Panels = append(f.Panels, chart.Panel{
			Title: a.Name,
			Lines: []chart.Line{
				{Name: "accept", Tone: chart.Blue, Points: points(a.AcceptPercentiles)},
				{Name: "completion", Tone: chart.Vermillion, Thick: true, Points: points(a.CompletionPercentiles)},
			},
		})
	}
	svg, err = f.SVG()
	return title, caption, svg, err
}

func backlog(s *Summary) (title, caption string, svg []byte, err error) {
	title = "Backlog: accepted orders not yet finished — " + s.Scenario
	caption = fmt.Sprintf("Orders accepted and not yet in a terminal state, sampled once a second from the start of the measured period through the drain, which begins at %s. Grey: a fault was active.",
		secs(s.Load.Duration))
	f := chart.Figure{
		Title:     title,
		X:         timeAxis(s),
		Y:         chart.Axis{Label: "orders", Max: 1},
		ShadeName: faultShade,
	}
	for _, a := range s.Architectures {
		pts := make([]chart.Point, len(a.Backlog))
		for i, b := range a.Backlog {
			pts[i] = chart.Point{X: float64(b.T), Y: float64(b.Orders)}
		}
		f.Panels = append(f.Panels, chart.Panel{
			Title: a.Name,
			Shade: faultSpans(a.Seconds),
			Lines: []chart.Line{{Name: "accepted, not finished", Tone: chart.Green, Points: pts}},
		})
	}
	svg, err = f.SVG()
	return title, caption, svg, err
}

func downtimeBars(s *Summary) (title, caption string, svg []byte, err error) {
	row, hasRow := SeedPaper().Table2.Row(s.ComparesTo)
	title = "Downtime per architecture — " + s.Scenario
	caption = fmt.Sprintf("Share of the 1 s windows of the measured period below the SLO of %s%%: accept (blue) and completion (vermillion).", sloPct(s.SLO))
	if hasRow {
		title += " beside the paper's " + row.Label
		caption += fmt.Sprintf(" Dashed outlines: the paper's Table 2 figure for %s, quoted, not measured; the paper does not define downtime, so read it as a reference point, not a like-for-like comparison.", row.Label)
	}
	b := chart.Bars{
		Title:  title,
		YLabel: "downtime (% of windows)",
		Unit:   "%",
		Sets: []chart.BarSet{
			{Name: "accept downtime (measured)", Tone: chart.Blue},
			{Name: "completion downtime (measured)", Tone: chart.Vermillion},
		},
	}
	paper := chart.BarSet{Name: "paper (not measured): " + row.Label, Hollow: true}
	for _, a := range s.Architectures {
		b.Groups = append(b.Groups, a.Name)
		b.Sets[0].Values = append(b.Sets[0].Values, a.AcceptDowntimePct)
		b.Sets[1].Values = append(b.Sets[1].Values, a.CompletionDowntimePct)
		v, ok := row.For(a.Name)
		if !ok {
			v = math.NaN()
		}
		paper.Values = append(paper.Values, v)
	}
	if hasRow {
		b.Sets = append(b.Sets, paper)
	}
	svg, err = b.SVG()
	return title, caption, svg, err
}
