package report

import "time"

// Derive fills the fields of a that follow from its Seconds and counts:
// Windows, the down-window counts, both downtime percentages and both
// throughputs. measured is the length of the measured period the counts were
// taken over. a.Seconds must hold one entry per 1 s window of that period,
// empty windows included, because Windows is its length.
//
// Derive overwrites every field it fills, so calling it twice is harmless.
func Derive(a *Arch, slo SLO, measured time.Duration) {
	a.Windows = len(a.Seconds)
	a.AcceptDownWindows, a.CompletionDownWindows = 0, 0
	for _, s := range a.Seconds {
		if belowSLO(s.Accepted, s.Offered, slo.SuccessRatio) {
			a.AcceptDownWindows++
		}
		if belowSLO(s.CompletedInDeadline, s.Offered, slo.SuccessRatio) {
			a.CompletionDownWindows++
		}
	}
	a.AcceptDowntimePct = percent(int64(a.AcceptDownWindows), int64(a.Windows))
	a.CompletionDowntimePct = percent(int64(a.CompletionDownWindows), int64(a.Windows))

	a.AcceptedPerSec, a.CompletedPerSec = 0, 0
	if measured > 0 {
		a.AcceptedPerSec = float64(a.Accepted) / measured.Seconds()
		a.CompletedPerSec = float64(a.Completed) / measured.Seconds()
	}
}

// Up reports whether a window met the SLO for accept and for completion.
func (s Second) Up(slo SLO) bool {
	return !belowSLO(s.Accepted, s.Offered, slo.SuccessRatio) && !belowSLO(s.CompletedInDeadline, s.Offered, slo.SuccessRatio)
}

// belowSLO reports whether a window served less than ratio of what it was
// offered. A window with nothing offered is not down: nothing was asked of
// the system, so nothing was refused, and counting it as down would turn a
// pause of the pacer into an outage of the system.
//
// The comparison divides rather than multiplying ratio by offered so that a
// window exactly at the SLO (99 of 100 against 0.99) is up, as it should be.
func belowSLO(served, offered int64, ratio float64) bool {
	return offered > 0 && float64(served)/float64(offered) < ratio
}

// percent is 100·part/whole, and 0 when whole is 0.
func percent(part, whole int64) float64 {
	if whole == 0 {
		return 0
	}
	return 100 * float64(part) / float64(whole)
}
