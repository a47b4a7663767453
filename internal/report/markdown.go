package report

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// timelineRows caps the per-second detail table of each architecture; the
// full series is in <arch>/seconds.csv.
const timelineRows = 30

// Markdown writes report.md for s: the run in one paragraph, the analogues
// of the paper's Tables 1 and 2 with the paper's figures beside the
// measured ones, definitions, outcomes, fault mapping, a timeline of the
// outage, provenance and known limits. Architectures appear in the order of
// s.Architectures.
func Markdown(w io.Writer, s *Summary) error {
	r := markdown{s: s, paper: SeedPaper()}
	r.intro()
	r.performance()
	r.downtime()
	r.definitions()
	r.outcomes()
	r.faults()
	r.timeline()
	r.provenance()
	r.limits()
	if _, err := w.Write(r.b.Bytes()); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// markdown renders one report into a buffer, so that a failing writer is
// seen once, at the end, instead of after every line.
type markdown struct {
	b     bytes.Buffer
	s     *Summary
	paper Paper
}

func (r *markdown) printf(format string, args ...any) {
	fmt.Fprintf(&r.b, format, args...)
}

func (r *markdown) intro() {
	s := r.s
	r.printf("# %s — run %s\n\n", s.Scenario, s.RunID)
	if s.Description != "" {
		r.printf("%s\n\n", s.Description)
	}
	r.printf("The same open-model load of %s req/s was driven through %s. ", num(s.Load.Rate), r.archList())
	r.printf("Measured period %s, after %s of warm-up, followed by up to %s of drain for orders still in flight ", secs(s.Load.Duration), secs(s.Load.Warmup), secs(s.Load.Drain))
	r.printf("(request timeout %s, at most %d requests in flight). ", secs(s.Load.Timeout), s.Load.MaxInFlight)
	r.printf("Runtime %s, broker %s. ", orDash(s.Provenance.Runtime), orDash(s.Provenance.Broker))
	r.printf("SLO: a 1 s window is up when at least %s%% of the requests offered in it were accepted (accept) and, judged separately, completed within %s of their intended send time (completion). ",
		sloPct(s.SLO), secs(s.SLO.CompletionDeadline))
	switch len(s.Faults) {
	case 0:
		r.printf("No fault was injected.\n\n")
	case 1:
		r.printf("One fault was injected (see Fault mapping).\n\n")
	default:
		r.printf("%d faults were injected (see Fault mapping).\n\n", len(s.Faults))
	}
}

func (r *markdown) archList() string {
	names := make([]string, len(r.s.Architectures))
	for i, a := range r.s.Architectures {
		names[i] = a.Name
	}
	switch len(names) {
	case 0:
		return "no architecture"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1] + ", side by side"
}

func (r *markdown) performance() {
	s, p := r.s, r.paper.Table1
	r.printf("## Performance (analogue of the paper's Table 1)\n\n")

	t := table{head: []string{"Metric"}}
	for _, a := range s.Architectures {
		t.head = append(t.head, a.Name+" (measured)")
	}
	t.head = append(t.head,
		"Paper: "+TraditionalSystem+" (Table 1, not measured here)",
		"Paper: "+EventDrivenSystem+" (Table 1, not measured here)")

	row := func(metric string, paper *PaperPair, cell func(Arch) string) {
		cells := []string{metric}
		for _, a := range s.Architectures {
			cells = append(cells, cell(a))
		}
		if paper != nil {
			cells = append(cells, num(paper.Traditional), num(paper.EventDriven))
		} else {
			cells = append(cells, "—", "—")
		}
		t.rows = append(t.rows, cells)
	}
	row("Accept latency p50 (ms)", &p.RequestLatencyMS, func(a Arch) string { return ms(a.AcceptLatency, a.AcceptLatency.P50) })
	row("Accept latency p95 (ms)", &p.RequestLatencyMS, func(a Arch) string { return ms(a.AcceptLatency, a.AcceptLatency.P95) })
	row("Accept latency p99 (ms)", &p.RequestLatencyMS, func(a Arch) string { return ms(a.AcceptLatency, a.AcceptLatency.P99) })
	row("Completion latency p50 (ms)", nil, func(a Arch) string { return ms(a.CompletionLatency, a.CompletionLatency.P50) })
	row("Completion latency p95 (ms)", nil, func(a Arch) string { return ms(a.CompletionLatency, a.CompletionLatency.P95) })
	row("Completion latency p99 (ms)", nil, func(a Arch) string { return ms(a.CompletionLatency, a.CompletionLatency.P99) })
	row("Availability, accept (%)", &p.UptimePct, func(a Arch) string { return pct(100 - a.AcceptDowntimePct) })
	row("Availability, completion (%)", nil, func(a Arch) string { return pct(100 - a.CompletionDowntimePct) })
	row("Throughput, accepted (orders/s)", &p.ThroughputRPS, func(a Arch) string { return rate(a.AcceptedPerSec) })
	row("Throughput, completed (orders/s)", nil, func(a Arch) string { return rate(a.CompletedPerSec) })
	t.write(&r.b)

	r.printf("\nPaper columns are copied from seed %s (%s); they are not results of this run. ", p.Source, r.paper.Title)
	r.printf("They stand in the accept rows only: the paper's request latency, uptime and throughput are figures about answering requests, and it publishes nothing about end-to-end completion. %s\n\n", r.mappingLine())

	r.printf("How this differs from the paper: the paper gives one request latency per system without naming the statistic, the load or where timing starts; here latency is a percentile measured from each request's intended send time. ")
	r.printf("The paper does not define uptime or the period it covers; here availability is 100 − downtime %% over this run's %s measured period, fault included. ", secs(s.Load.Duration))
	r.printf("The paper's throughput is a capacity (the most each system processed); here throughput is the part of the offered %s req/s that was served, so it cannot exceed the offered rate.\n\n", num(s.Load.Rate))
}

// mappingLine says which measured architecture stands beside which of the
// paper's systems.
func (r *markdown) mappingLine() string {
	var pairs, unmapped []string
	for _, a := range r.s.Architectures {
		if sys, ok := PaperSystem(a.Name); ok {
			pairs = append(pairs, sys+" ↔ "+a.Name)
		} else {
			unmapped = append(unmapped, a.Name)
		}
	}
	line := "Paper counterparts: none of the measured architectures."
	if len(pairs) > 0 {
		line = "Paper counterparts: " + strings.Join(pairs, ", ") + "."
	}
	if len(unmapped) > 0 {
		line += " The paper has no counterpart of " + strings.Join(unmapped, ", ") + "."
	}
	return line
}

func (r *markdown) downtime() {
	s, p := r.s, r.paper.Table2
	r.printf("## Downtime during this scenario (analogue of the paper's Table 2)\n\n")

	paperRow, hasRow := p.Row(s.ComparesTo)
	paperHead := "Paper: downtime (%) (Table 2, not measured here)"
	if hasRow {
		paperHead = "Paper: " + paperRow.Label + " downtime (%) (Table 2, not measured here)"
	}
	t := table{head: []string{"Architecture", "Accept downtime (%)", "Completion downtime (%)",
		"Accept down windows", "Completion down windows", paperHead}}
	for _, a := range s.Architectures {
		paper := "—"
		if sys, ok := PaperSystem(a.Name); ok && hasRow {
			v, _ := paperRow.For(a.Name)
			paper = num(v) + " (" + sys + ")"
		}
		t.rows = append(t.rows, []string{a.Name, pct(a.AcceptDowntimePct), pct(a.CompletionDowntimePct),
			fmt.Sprintf("%d / %d", a.AcceptDownWindows, a.Windows),
			fmt.Sprintf("%d / %d", a.CompletionDownWindows, a.Windows), paper})
	}
	t.write(&r.b)
	r.printf("\n")

	switch {
	case hasRow:
		r.printf("Paper column copied from seed %s, row \"%s\"; it is not a result of this run. %s\n\n", p.Source, paperRow.Label, r.mappingLine())
	case s.ComparesTo == "baseline":
		r.printf("This scenario is a baseline. The paper's Table 2 has no baseline (fault-free) row, so there is no paper figure to stand beside it.\n\n")
	case s.ComparesTo == "":
		r.printf("This scenario names no row of the paper's Table 2 (compares_to is empty), so there is no paper figure to stand beside it.\n\n")
	default:
		rows := make([]string, len(p.Rows))
		for i, row := range p.Rows {
			rows[i] = row.Scenario
		}
		r.printf("compares_to %q is not a row of the paper's Table 2 (%s), so there is no paper figure to stand beside it.\n\n", s.ComparesTo, strings.Join(rows, ", "))
	}

	scheduled := "no fault was injected"
	if len(s.Faults) > 0 {
		var d time.Duration
		for _, f := range s.Faults {
			d += f.Duration
		}
		scheduled = "faults were scheduled for " + secs(d) + " of " + secs(s.Load.Duration)
	}
	r.printf("How this differs from the paper: the paper does not define downtime or say how long its faults and tests lasted. ")
	r.printf("Here downtime %% is the share of the 1 s windows of the measured period in which fewer than %s%% of the offered requests were accepted (accept) or completed within %s (completion). ",
		sloPct(s.SLO), secs(s.SLO.CompletionDeadline))
	r.printf("It grows with how long the fault lasted relative to the measured period (here %s), so it compares the architectures of this run with each other, not directly with the paper's figure.\n\n", scheduled)
}

func (r *markdown) definitions() {
	s := r.s
	ratio := sloPct(s.SLO) + "%"
	r.printf("## Definitions\n\n")
	r.printf("- **Window**: one second of the measured period. A request belongs to the window of its intended send time; warm-up and drain are not windows.\n")
	r.printf("- **Accept downtime**: share of windows in which accepted / offered < %s. A window in which nothing was offered is not down: nothing was asked, so nothing was refused.\n", ratio)
	r.printf("- **Completion downtime**: share of windows in which (orders completed within %s of their intended send time) / offered < %s.\n", secs(s.SLO.CompletionDeadline), ratio)
	r.printf("- **Availability (uptime)**: 100 − downtime %%, over the measured period only.\n")
	r.printf("- **Latency**: timed from each request's intended send time on the open-model schedule, not from when it actually left, so time spent queued behind a stalled system counts (coordinated-omission-correct). Accept latency: intended send → answer, accepted requests only. Completion latency: intended send → terminal state.\n")
	r.printf("- **Accepted**: answered with success within the request timeout (%s).\n", secs(s.Load.Timeout))
	r.printf("- **Failed**: errors, timeouts and non-success answers, plus requests dropped (never sent because %d were already in flight).\n", s.Load.MaxInFlight)
	r.printf("- **Completed**: an accepted order reached a terminal state — shipped, or cancelled with a reason — before the end of the drain. Monolith: the synchronous answer is the terminal state. EDA: the terminal event, as observed on Kafka by the testbed.\n")
	r.printf("- **Unfinished**: accepted, but no terminal state by the end of the drain.\n")
	r.printf("- **Throughput**: accepted (or completed) orders divided by the length of the measured period.\n")
	r.printf("- **Backlog drain time**: how long after the end of the measured period the last accepted order reached its terminal state.\n\n")
}

func (r *markdown) outcomes() {
	s := r.s
	r.printf("## Outcomes\n\n")
	t := table{head: []string{"Outcome (share of offered)"}}
	for _, a := range s.Architectures {
		t.head = append(t.head, a.Name)
	}
	row := func(name string, cell func(Arch) string) {
		cells := []string{name}
		for _, a := range s.Architectures {
			cells = append(cells, cell(a))
		}
		t.rows = append(t.rows, cells)
	}
	count := func(get func(Arch) int64) func(Arch) string {
		return func(a Arch) string { return share(get(a), a.Offered) }
	}
	row("Offered", func(a Arch) string { return strconv.FormatInt(a.Offered, 10) })
	row("Accepted", count(func(a Arch) int64 { return a.Accepted }))
	row("Failed", func(a Arch) string {
		return fmt.Sprintf("%s, of which %d dropped", share(a.Failed, a.Offered), a.Dropped)
	})
	row("Completed", count(func(a Arch) int64 { return a.Completed }))
	row("Completed within deadline", count(func(a Arch) int64 { return a.CompletedInDeadline }))
	row("Unfinished", count(func(a Arch) int64 { return a.Unfinished }))
	row("Shipped", count(func(a Arch) int64 { return a.Shipped }))
	row("Cancelled", count(func(a Arch) int64 { return a.Cancelled }))
	row("Backlog drain time", func(a Arch) string { return secs(a.LastCompletion) })
	t.write(&r.b)
	r.printf("\n")
}

func (r *markdown) faults() {
	s := r.s
	r.printf("## Fault mapping\n\n")
	if len(s.Faults) == 0 {
		r.printf("No fault was injected in this run.\n\n")
		return
	}
	for i, f := range s.Faults {
		r.printf("%d. %s on %s, scheduled at %s for %s, restart: %s.\n", i+1, f.Type, f.Target, secs(f.At), secs(f.Duration), orDash(f.Restart))
	}
	r.printf("\n")
	t := table{head: []string{"Fault", "Architecture", "Component hit", "PID", "Injected (after run start)", "Healed (after run start)", "Note"}}
	for i, f := range s.Faults {
		for _, h := range f.Mapping {
			component := h.Component
			if component == "" {
				component = "— (no such capability)"
			}
			pid := "—"
			if h.PID != 0 {
				pid = strconv.Itoa(h.PID)
			}
			t.rows = append(t.rows, []string{strconv.Itoa(i + 1), h.Arch, component, pid,
				sinceStart(h.Injected, s.Started), sinceStart(h.Healed, s.Started), orDash(h.Note)})
		}
	}
	t.write(&r.b)
	r.printf("\n")
}

func sinceStart(t, start time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return "+" + secs(t.Sub(start))
}

func (r *markdown) timeline() {
	s := r.s
	r.printf("## Timeline\n\n")
	r.printf("One character per 1 s window of the measured period: `.` up, `c` completion below the SLO (accept up), `X` accept below the SLO, `_` nothing offered. `^` marks windows with a fault active. Full series: `<architecture>/%s`.\n\n", SecondsFile)

	width := 0
	for _, a := range s.Architectures {
		width = max(width, utf8.RuneCountInString(a.Name))
	}
	width = max(width, len("  fault")) + 2
	longest := 0
	for _, a := range s.Architectures {
		longest = max(longest, len(a.Seconds))
	}
	if longest == 0 {
		r.printf("No windows were measured.\n\n")
		return
	}
	const perLine = 60
	r.printf("```\n")
	for from := 0; from < longest; from += perLine {
		to := min(from+perLine, longest)
		var ruler strings.Builder
		for t := from; t < to; t += 10 {
			ruler.WriteString(fmt.Sprintf("%-10d", t))
		}
		r.printf("%s%s\n", strings.Repeat(" ", width), strings.TrimRight(ruler.String(), " "))
		for _, a := range s.Architectures {
			state, fault := spark(a.Seconds, from, to, s.SLO.SuccessRatio)
			r.printf("%s\n", strings.TrimRight(pad(a.Name, width)+state, " "))
			if strings.TrimSpace(fault) != "" {
				r.printf("%s%s\n", pad("  fault", width), strings.TrimRight(fault, " "))
			}
		}
		if to < longest {
			r.printf("\n")
		}
	}
	r.printf("```\n\n")

	for _, a := range s.Architectures {
		r.printf("### %s: windows down or under fault\n\n", a.Name)
		t := table{head: []string{"t (s)", "Fault", "Offered", "Accepted", "Accepted (%)", "In deadline", "In deadline (%)", "Below SLO"}}
		more := 0
		for _, w := range a.Seconds {
			acceptDown := belowSLO(w.Accepted, w.Offered, s.SLO.SuccessRatio)
			completionDown := belowSLO(w.CompletedInDeadline, w.Offered, s.SLO.SuccessRatio)
			if !acceptDown && !completionDown && !w.FaultActive {
				continue
			}
			if len(t.rows) == timelineRows {
				more++
				continue
			}
			var below []string
			if acceptDown {
				below = append(below, "accept")
			}
			if completionDown {
				below = append(below, "completion")
			}
			fault := ""
			if w.FaultActive {
				fault = "yes"
			}
			t.rows = append(t.rows, []string{strconv.Itoa(w.T), fault,
				strconv.FormatInt(w.Offered, 10),
				strconv.FormatInt(w.Accepted, 10), ratioPct(w.Accepted, w.Offered),
				strconv.FormatInt(w.CompletedInDeadline, 10), ratioPct(w.CompletedInDeadline, w.Offered),
				orDash(strings.Join(below, ", "))})
		}
		if len(t.rows) == 0 {
			r.printf("No window was down or under fault.\n\n")
			continue
		}
		t.write(&r.b)
		if more > 0 {
			r.printf("\n… and %d more such windows; see `%s/%s`.\n", more, a.Name, SecondsFile)
		}
		r.printf("\n")
	}
}

// spark renders windows [from, to) of seconds as one character each, and
// the fault marks under them.
func spark(seconds []Second, from, to int, ratio float64) (state, fault string) {
	var st, ft strings.Builder
	for i := from; i < to && i < len(seconds); i++ {
		w := seconds[i]
		switch {
		case w.Offered == 0:
			st.WriteByte('_')
		case belowSLO(w.Accepted, w.Offered, ratio):
			st.WriteByte('X')
		case belowSLO(w.CompletedInDeadline, w.Offered, ratio):
			st.WriteByte('c')
		default:
			st.WriteByte('.')
		}
		if w.FaultActive {
			ft.WriteByte('^')
		} else {
			ft.WriteByte(' ')
		}
	}
	return st.String(), ft.String()
}

func (r *markdown) provenance() {
	s, p := r.s, r.s.Provenance
	r.printf("## Provenance\n\n")
	t := table{head: []string{"Item", "Value"}}
	add := func(k, v string) { t.rows = append(t.rows, []string{k, v}) }
	add("Run", s.RunID)
	add("Testbed version", orDash(p.Version))
	add("Commit", orDash(p.Commit))
	add("Runtime", orDash(p.Runtime))
	add("Broker", orDash(p.Broker))
	add("Database", orDash(p.Database))
	add("Go", orDash(p.GoVersion))
	add("OS/arch", orDash(p.OS)+"/"+orDash(p.Arch))
	add("CPUs", strconv.Itoa(p.CPUs))
	add("Scenario file", orDash(s.ScenarioFile))
	add("Scenario sha256", orDash(s.ScenarioSHA))
	add("Seed", strconv.FormatInt(s.Seed, 10))
	add("Started", stamp(s.Started))
	add("Ended", stamp(s.Ended))
	t.write(&r.b)
	r.printf("\nPaper figures: %s, %s (seed file %s).\n\n", r.paper.Title, r.paper.Author, r.paper.File)
}

func (r *markdown) limits() {
	r.printf("## Known limits\n\n")
	if len(r.s.Limits) == 0 {
		r.printf("None recorded for this run.\n")
		return
	}
	for _, l := range r.s.Limits {
		r.printf("- %s\n", l)
	}
}

// table is a Markdown table whose columns are padded so that report.md also
// reads well as plain text.
type table struct {
	head []string
	rows [][]string
}

func (t table) write(b *bytes.Buffer) {
	widths := make([]int, len(t.head))
	measure := func(cells []string) {
		for i, c := range cells {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell(c)), 3)
		}
	}
	measure(t.head)
	for _, row := range t.rows {
		measure(row)
	}
	line := func(cells []string) {
		b.WriteString("|")
		for i, c := range cells {
			b.WriteString(" " + pad(cell(c), widths[i]) + " |")
		}
		b.WriteString("\n")
	}
	line(t.head)
	b.WriteString("|")
	for _, w := range widths {
		b.WriteString(" " + strings.Repeat("-", w) + " |")
	}
	b.WriteString("\n")
	for _, row := range t.rows {
		line(row)
	}
}

// cell escapes what would end a Markdown table cell early.
func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}

func pad(s string, width int) string {
	return s + strings.Repeat(" ", max(0, width-utf8.RuneCountInString(s)))
}

// ms formats v, one statistic of the latency distribution l, or "—" when
// nothing was measured: a zero there would read as "instant".
func ms(l Latency, v float64) string {
	if l.Count == 0 {
		return "—"
	}
	if v < 100 {
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func pct(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

func rate(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// num prints a configured or published number as it was given: 50, 99.8.
func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// secs prints a duration in seconds with at most two decimals (60 s, 2.5 s),
// or in whole milliseconds below a second (250 ms), where two decimals of a
// second would round short backlogs to nothing.
func secs(d time.Duration) string {
	if d > 0 && d < time.Second {
		return num(math.Round(d.Seconds()*1000)) + " ms"
	}
	return num(math.Round(d.Seconds()*100)/100) + " s"
}

// sloPct prints the SLO ratio as a percentage, rounding away the float
// noise of the multiplication (0.57·100 is 56.99999999999999).
func sloPct(slo SLO) string {
	return num(math.Round(slo.SuccessRatio*1e6) / 1e4)
}

func share(n, of int64) string {
	if of == 0 {
		return strconv.FormatInt(n, 10)
	}
	return fmt.Sprintf("%d (%s%%)", n, pct(percent(n, of)))
}

func ratioPct(n, of int64) string {
	if of == 0 {
		return "—"
	}
	return pct(percent(n, of))
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
