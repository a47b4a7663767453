package run

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/edatestbed/testbed/internal/loadgen"
	"github.com/edatestbed/testbed/internal/report"
)

// tracedPerKind bounds how many slowest and how many failed orders each
// architecture's report names.
const (
	tracedPerKind = 5
	logsPerOrder  = 12
)

// traced picks the slowest completed orders and the first failed ones of
// an architecture and finds their trace ids and log lines in its logs.
func (a *archRun) traced(dir string) []report.TracedOrder {
	r := a.result
	if r == nil {
		return nil
	}
	type cand struct {
		id  string
		why string
		d   time.Duration
	}
	var slow, failed []cand
	for _, rec := range r.Records {
		if rec.Warmup {
			continue
		}
		switch {
		case rec.Kind == loadgen.Accepted:
			d := rec.Latency
			if rec.Terminal == "" {
				c, ok := a.done[rec.ID]
				if !ok {
					failed = append(failed, cand{rec.ID, "unfinished", rec.Latency})
					continue
				}
				d = c.At.Sub(r.Start.Add(rec.Intended))
			}
			slow = append(slow, cand{rec.ID, "slowest", d})
		case rec.Kind != loadgen.Dropped && len(failed) < tracedPerKind:
			failed = append(failed, cand{rec.ID, "failed: " + rec.Kind.String(), rec.Latency})
		}
	}
	slices.SortFunc(slow, func(x, y cand) int { return int(y.d - x.d) })
	picked := append(slow[:min(len(slow), tracedPerKind)], failed[:min(len(failed), tracedPerKind)]...)
	if len(picked) == 0 {
		return nil
	}
	want := map[string]*report.TracedOrder{}
	out := make([]report.TracedOrder, len(picked))
	for i, c := range picked {
		out[i] = report.TracedOrder{ID: c.id, Why: c.why, Ms: float64(c.d) / 1e6}
		want[c.id] = &out[i]
	}
	scanLogs(filepath.Join(dir, a.plan.arch, "logs"), want)
	return out
}

// scanLogs fills in trace ids and log lines of the wanted orders from the
// JSON logs of every component.
func scanLogs(logs string, want map[string]*report.TracedOrder) {
	files, _ := filepath.Glob(filepath.Join(logs, "*.log"))
	type line struct {
		at   string
		text string
	}
	lines := map[string][]line{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			b := sc.Bytes()
			if !strings.Contains(string(b), `"order":"`) {
				continue
			}
			var l struct {
				Time, Level, Msg, Component, Order, Event string
				TraceID                                   string `json:"trace_id"`
			}
			if json.Unmarshal(b, &l) != nil {
				continue
			}
			t, ok := want[l.Order]
			if !ok {
				continue
			}
			if t.TraceID == "" {
				t.TraceID = l.TraceID
			}
			text := l.Component + " " + l.Level + " " + l.Msg
			if l.Event != "" {
				text += " " + l.Event
			}
			lines[l.Order] = append(lines[l.Order], line{l.Time, text})
		}
		fh.Close()
	}
	for id, ls := range lines {
		slices.SortStableFunc(ls, func(x, y line) int { return strings.Compare(x.at, y.at) })
		for _, l := range ls[:min(len(ls), logsPerOrder)] {
			want[id].Logs = append(want[id].Logs, l.text)
		}
	}
}
