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

// tracedCand is an order the report may follow into the logs.
type tracedCand struct {
	id  string
	why string
	d   time.Duration
}

// picker picks, from the records in Seq order, the slowest completed
// orders and the first failed ones, tracedPerKind of each: an accepted
// order that never finished counts as failed.
type picker struct {
	r      *loadgen.Result
	slow   []tracedCand // slowest first; among equals, the earliest
	failed []tracedCand
}

func (p *picker) add(rec *loadgen.Record, done map[string]loadgen.Completion) {
	if rec.Warmup {
		return
	}
	switch {
	case rec.Kind == loadgen.Accepted:
		d := rec.Latency
		if rec.Terminal == "" {
			c, ok := done[rec.ID]
			if !ok {
				p.fail(tracedCand{rec.ID, "unfinished", rec.Latency})
				return
			}
			d = c.At.Sub(p.r.Start.Add(rec.Intended))
		}
		i, _ := slices.BinarySearchFunc(p.slow, d, func(c tracedCand, d time.Duration) int {
			if c.d >= d {
				return -1
			}
			return 1
		})
		if i < tracedPerKind {
			p.slow = slices.Insert(p.slow, i, tracedCand{rec.ID, "slowest", d})
			p.slow = p.slow[:min(len(p.slow), tracedPerKind)]
		}
	case rec.Kind != loadgen.Dropped && len(p.failed) < tracedPerKind:
		p.fail(tracedCand{rec.ID, "failed: " + rec.Kind.String(), rec.Latency})
	}
}

func (p *picker) fail(c tracedCand) {
	if len(p.failed) < tracedPerKind {
		p.failed = append(p.failed, c)
	}
}

// picked are the slowest, then the failed.
func (p *picker) picked() []tracedCand { return append(slices.Clip(p.slow), p.failed...) }

// traced finds the trace ids and log lines of the orders the report
// follows (picked from the record by summarize) in the architecture's logs.
func (a *archRun) traced(dir string) []report.TracedOrder {
	if len(a.picked) == 0 {
		return nil
	}
	want := map[string]*report.TracedOrder{}
	out := make([]report.TracedOrder, len(a.picked))
	for i, c := range a.picked {
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
