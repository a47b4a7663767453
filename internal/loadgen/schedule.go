package loadgen

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
)

// schedule is the piecewise-constant arrival rate of an attack, one segment
// per stretch of constant rate, sorted by start. The first segment starts at
// the start of the warm-up and the last one never ends, so the request after
// the final one still has a time (Run needs it for the covered period).
//
// Request seq is due when the cumulative number of arrivals, the integral of
// the rate from the start of the warm-up, reaches seq. Each segment carries
// that integral at its start, so every offset is computed from seq alone and
// lateness never accumulates, spike or not. With no spikes there is one
// segment starting at 0 with nothing before it, and offset and count reduce
// to seq/rate and rate×d with the same float operations in the same order.
type schedule []segment

type segment struct {
	start time.Duration // from the start of the warm-up
	n     float64       // arrivals before start
	rate  float64       // per second
}

// newSchedule builds the schedule of rate with spikes, which must be valid
// and sorted by From.
func newSchedule(rate float64, warmup time.Duration, spikes []Spike) schedule {
	s := schedule{{rate: rate}}
	// A spike that starts where the warm-up or another spike ends leaves a
	// segment without length; offset and arrivals pass over it because they
	// take the last segment that has begun.
	change := func(at time.Duration, r float64) {
		last := s[len(s)-1]
		s = append(s, segment{start: at, n: last.n + last.rate*float64(at-last.start)/1e9, rate: r})
	}
	for _, sp := range spikes {
		change(warmup+sp.From, rate*sp.Factor)
		change(warmup+sp.To, rate)
	}
	return s
}

// offset is the scheduled time of request seq from the start of the warm-up.
func (s schedule) offset(seq uint64) time.Duration {
	x := float64(seq)
	k := len(s) - 1
	for k > 0 && s[k].n > x {
		k--
	}
	g := &s[k]
	return g.start + time.Duration(math.Round((x-g.n)*1e9/g.rate))
}

// count is the number of requests whose offset falls before d. A number of
// arrivals within float noise of an integer is that integer, so 1000/s over
// 300 ms is 300 requests, not 301.
func (s schedule) count(d time.Duration) uint64 {
	x := s.arrivals(d)
	if r := math.Round(x); math.Abs(x-r) < 1e-6 {
		return uint64(r)
	}
	return uint64(math.Ceil(x))
}

// arrivals is the integral of the rate over [0, d).
func (s schedule) arrivals(d time.Duration) float64 {
	k := len(s) - 1
	for k > 0 && s[k].start > d {
		k--
	}
	g := &s[k]
	return g.n + g.rate*float64(d-g.start)/1e9
}

// checkSpikes reports every invalid spike of a measured period of length
// duration, naming it by its index in spikes, and returns the spikes sorted
// by From when all are valid. Spikes may come in any order: a scenario lists
// its faults by kind as often as by time.
func checkSpikes(spikes []Spike, duration time.Duration) ([]Spike, []error) {
	var errs []error
	var windows []int // indices of spikes whose window is valid on its own
	for i, sp := range spikes {
		if !(sp.Factor > 0) || math.IsInf(sp.Factor, 0) {
			errs = append(errs, fmt.Errorf("spike %d: factor %v: want a finite number > 0 (below 1 is a lull)", i, sp.Factor))
		}
		switch {
		case sp.To <= sp.From:
			errs = append(errs, fmt.Errorf("spike %d [%v, %v): want To > From", i, sp.From, sp.To))
		case sp.From < 0 || sp.To > duration:
			errs = append(errs, fmt.Errorf("spike %d [%v, %v): want a window within the measured period [0s, %v]", i, sp.From, sp.To, duration))
		default:
			windows = append(windows, i)
		}
	}
	slices.SortStableFunc(windows, func(a, b int) int { return cmp.Compare(spikes[a].From, spikes[b].From) })
	// Each window is checked against the earlier one that reaches furthest,
	// so a long window overlapping several short ones is named for each.
	for j, reach := 1, 0; j < len(windows); j++ {
		i, p := windows[j], windows[reach]
		if spikes[i].From < spikes[p].To {
			errs = append(errs, fmt.Errorf("spike %d [%v, %v) overlaps spike %d [%v, %v): want disjoint windows",
				i, spikes[i].From, spikes[i].To, p, spikes[p].From, spikes[p].To))
		}
		if spikes[i].To > spikes[p].To {
			reach = j
		}
	}
	if len(errs) > 0 || len(spikes) == 0 {
		return nil, errs
	}
	sorted := make([]Spike, len(windows))
	for j, i := range windows {
		sorted[j] = spikes[i]
	}
	return sorted, nil
}
