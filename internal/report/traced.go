package report

import (
	"fmt"
	"strings"
)

// traced lists, per architecture, the slowest and some failed orders with
// their trace ids and log lines: where an investigation of a figure starts.
func (r *builder) traced() {
	some := false
	for _, a := range r.s.Architectures {
		some = some || len(a.Traced) > 0
	}
	if !some {
		return
	}
	r.heading(2, "Slowest and failed orders")
	obs := r.s.Observability
	switch {
	case obs != nil && obs.JaegerUI != "":
		r.para("Every order is one trace: open `%s/trace/<trace id>` in the run's Jaeger, which lives as long as the run (start it with `--hold` to follow the ids below). The log lines are from `<architecture>/logs/`; search them by trace id.", obs.JaegerUI)
	default:
		r.para("Every order is one trace; this run had no Jaeger (run `make tools` to build it), so the trace ids lead to the log lines in `<architecture>/logs/`, which carry them.")
	}
	for _, a := range r.s.Architectures {
		if len(a.Traced) == 0 {
			continue
		}
		r.heading(3, "%s", a.Name)
		t := table{head: []string{"Order", "Why", "Latency", "Trace", "First log lines"}}
		for _, o := range a.Traced {
			trace := orDash(o.TraceID)
			logs := strings.Join(o.Logs[:min(len(o.Logs), 4)], "; ")
			if len(o.Logs) > 4 {
				logs += fmt.Sprintf("; … %d more", len(o.Logs)-4)
			}
			t.rows = append(t.rows, []string{o.ID, o.Why, fmt.Sprintf("%.1f ms", o.Ms), trace, orDash(logs)})
		}
		r.add(block{kind: tableBlock, table: t})
	}
}
