package run

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/edatestbed/testbed/scenarios"
)

// reportProgress prints a line every interval while the load runs: elapsed
// time, and per architecture the share of requests accepted and of orders
// finished so far. It returns a func that stops it.
func reportProgress(w io.Writer, every time.Duration, loadStart time.Time, sc *scenarios.Scenario, archs []*archRun, tl *timeline) func() {
	if every <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	total := sc.Total()
	go func() {
		defer close(stopped)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			var b strings.Builder
			el := time.Since(loadStart)
			phase := "load"
			switch {
			case el < sc.Load.Warmup.D():
				phase = "warm-up"
			case el > sc.Load.Warmup.D()+sc.Load.Duration.D():
				phase = "drain"
			}
			fmt.Fprintf(&b, "[%4ds/%ds %-7s]", int(el.Seconds()), int(total.Seconds()), phase)
			for _, a := range archs {
				s := a.attacker.Snapshot()
				answered := s.Accepted + s.Failed
				fmt.Fprintf(&b, "  %s: sent %d ok %s", a.plan.arch, s.Offered, pct(s.Accepted, answered))
				if !a.plan.synchronous {
					fmt.Fprintf(&b, " done %s", pct(int64(a.completed()), s.Accepted))
				}
				if s.InFlight > 0 {
					fmt.Fprintf(&b, " inflight %d", s.InFlight)
				}
			}
			if on := tl.active(); on != "" {
				fmt.Fprintf(&b, "  | fault: %s", on)
			}
			fmt.Fprintln(w, b.String())
		}
	}()
	return func() {
		close(done)
		<-stopped
	}
}

func pct(n, of int64) string {
	if of == 0 {
		return "  -  "
	}
	return fmt.Sprintf("%5.1f%%", 100*float64(n)/float64(of))
}
