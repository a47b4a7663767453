package chart

import (
	"math"
	"strings"
	"testing"
)

func TestBarsErrorBarsAndTonedOutlines(t *testing.T) {
	nan := math.NaN()
	base := Bars{Title: "Downtime per scenario", Unit: "%", Limit: 100, Groups: []string{"crash", "partition"}, Sets: []BarSet{
		{Name: "eda (measured)", Tone: Green, Values: []float64{10, 20}},
		{Name: "paper: Event-Driven System", Tone: Green, Hollow: true, Toned: true, Values: []float64{12, nan}},
	}}
	plain, err := base.SVG()
	if err != nil {
		t.Fatal(err)
	}
	withErr := base
	withErr.Sets = append([]BarSet(nil), base.Sets...)
	withErr.Sets[0].Err = []float64{5, 150} // the second reaches past 100 %
	svg, err := withErr.SVG()
	if err != nil {
		t.Fatal(err)
	}
	// Each error bar is three strokes (the bar and its caps); the chart
	// with two more error bars draws six more paths than without.
	if got, want := strings.Count(string(svg), "<path"), strings.Count(string(plain), "<path")+6; got != want {
		t.Errorf("%d paths with two error bars, want %d", got, want)
	}
	_, labels := texts(t, svg)
	for _, l := range labels {
		// The axis stops short of the clipped error bar's 170 %: its top
		// label is at most 100·1.18.
		if l == "160" || l == "180" {
			t.Errorf("the axis runs past the limit of 100: label %q", l)
		}
	}
	// A toned outline takes the set's colour instead of grey.
	if !strings.Contains(string(svg), "stroke:#009E73") || !strings.Contains(string(svg), "stroke-dasharray") {
		t.Error("the paper's bars are not dashed outlines in their set's green")
	}
}
