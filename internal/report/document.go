package report

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// timelineRows caps the per-second detail table of each architecture; the
// full series is in <arch>/seconds.csv.
const timelineRows = 30

// document is a report laid out as blocks, so that report.md and
// index.html are rendered from one text and cannot say different things.
type document struct {
	// kicker is the line above the title of index.html; "" means "run
	// report".
	kicker string
	blocks []block
}

type blockKind int

const (
	headingBlock blockKind = iota
	paraBlock
	listBlock
	orderedBlock
	tableBlock
	preBlock
	// filesBlock links the other files of the bundle.
	filesBlock
	// glanceBlock and chartBlock are drawn by index.html only: report.md
	// shows tables and links to the charts instead.
	glanceBlock
	chartBlock
	// linksBlock is a list of links, to files, other bundles or the
	// run's observability stack.
	linksBlock
)

// block is one element of a document. Text of paragraphs and list items
// may use **bold** and `code`, the two bits of Markdown both renderers
// understand.
type block struct {
	kind  blockKind
	level int      // headingBlock: 1..3
	text  string   // headingBlock, paraBlock, preBlock
	items []string // listBlock, orderedBlock
	table table    // tableBlock
	chart string   // chartBlock: the chart's name
	links []link   // linksBlock
}

// link is one entry of a linksBlock: href is relative to the bundle,
// with /, or an absolute URL (the run's Prometheus and Grafana).
type link struct {
	href string
	text string
}

// table is a table of a document. The last paper columns hold the seed
// paper's figures, which index.html sets apart from the measured ones.
type table struct {
	head  []string
	rows  [][]string
	paper int
}

// build lays out the report of s: the run in one paragraph, the analogues
// of the paper's Tables 1 and 2 with the paper's figures beside the
// measured ones, definitions, outcomes, the checkers' verdicts, fault
// mapping, a timeline of the outage, provenance and known limits, with the
// charts where they belong.
// Architectures appear in the order of s.Architectures.
func build(s *Summary) document {
	r := builder{s: s, paper: SeedPaper()}
	r.intro()
	r.performance()
	r.downtime()
	r.definitions()
	r.outcomes()
	r.checks()
	r.faults()
	r.hops()
	r.traced()
	r.metrics()
	r.timeline()
	r.provenance()
	r.limits()
	return document{blocks: r.blocks}
}

type builder struct {
	s      *Summary
	paper  Paper
	blocks []block
}

func (r *builder) add(b block) { r.blocks = append(r.blocks, b) }

func (r *builder) heading(level int, format string, args ...any) {
	r.add(block{kind: headingBlock, level: level, text: fmt.Sprintf(format, args...)})
}

func (r *builder) para(format string, args ...any) {
	r.add(block{kind: paraBlock, text: fmt.Sprintf(format, args...)})
}

func (r *builder) chart(name string) { r.add(block{kind: chartBlock, chart: name}) }

func (r *builder) intro() {
	s := r.s
	r.heading(1, "%s — run %s", s.Scenario, s.RunID)
	if s.Description != "" {
		r.para("%s", s.Description)
	}
	var p strings.Builder
	fmt.Fprintf(&p, "The same open-model load of %s req/s was driven through %s. ", num(s.Load.Rate), r.archList())
	fmt.Fprintf(&p, "Measured period %s, after %s of warm-up, followed by up to %s of drain for orders still in flight ", secs(s.Load.Duration), secs(s.Load.Warmup), secs(s.Load.Drain))
	fmt.Fprintf(&p, "(request timeout %s, at most %d requests in flight). ", secs(s.Load.Timeout), s.Load.MaxInFlight)
	fmt.Fprintf(&p, "Runtime %s, broker %s. ", orDash(s.Provenance.Runtime), orDash(s.Provenance.Broker))
	fmt.Fprintf(&p, "SLO: a 1 s window is up when at least %s%% of the requests offered in it were accepted (accept) and, judged separately, completed within %s of their intended send time (completion). ",
		sloPct(s.SLO), secs(s.SLO.CompletionDeadline))
	switch len(s.Faults) {
	case 0:
		p.WriteString("No fault was injected.")
	case 1:
		p.WriteString("One fault was injected (see Fault mapping).")
	default:
		fmt.Fprintf(&p, "%d faults were injected (see Fault mapping).", len(s.Faults))
	}
	r.para("%s", p.String())
	var about []string
	for _, a := range s.Architectures {
		if a.About != "" {
			about = append(about, fmt.Sprintf("**%s**: %s.", a.Name, a.About))
		}
	}
	if len(about) > 0 {
		r.add(block{kind: listBlock, items: about})
	}
	r.add(block{kind: glanceBlock})
	r.chart(successChart)
	r.add(block{kind: filesBlock})
}

func (r *builder) archList() string {
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

// metric is one row of the Table 1 analogue.
type metric struct {
	key   string // its name in table1.csv
	label string // its name in the report
	// paper is the paper's figure for the row, nil where the paper has
	// none that means the same thing.
	paper *PaperPair
	// value is the measured figure, false when nothing was measured.
	value  func(Arch) (float64, bool)
	format func(float64) string
}

// table1 lists the rows of the Table 1 analogue.
func table1(p PaperTable1) []metric {
	latency := func(kind func(Arch) Latency, stat func(Latency) float64) func(Arch) (float64, bool) {
		return func(a Arch) (float64, bool) { l := kind(a); return stat(l), l.Count > 0 }
	}
	accept := func(a Arch) Latency { return a.AcceptLatency }
	completion := func(a Arch) Latency { return a.CompletionLatency }
	p50 := func(l Latency) float64 { return l.P50 }
	p95 := func(l Latency) float64 { return l.P95 }
	p99 := func(l Latency) float64 { return l.P99 }
	always := func(f func(Arch) float64) func(Arch) (float64, bool) {
		return func(a Arch) (float64, bool) { return f(a), true }
	}
	return []metric{
		{"accept_latency_p50_ms", "Accept latency p50 (ms)", &p.RequestLatencyMS, latency(accept, p50), ms},
		{"accept_latency_p95_ms", "Accept latency p95 (ms)", &p.RequestLatencyMS, latency(accept, p95), ms},
		{"accept_latency_p99_ms", "Accept latency p99 (ms)", &p.RequestLatencyMS, latency(accept, p99), ms},
		{"completion_latency_p50_ms", "Completion latency p50 (ms)", nil, latency(completion, p50), ms},
		{"completion_latency_p95_ms", "Completion latency p95 (ms)", nil, latency(completion, p95), ms},
		{"completion_latency_p99_ms", "Completion latency p99 (ms)", nil, latency(completion, p99), ms},
		{"availability_accept_pct", "Availability, accept (%)", &p.UptimePct, always(func(a Arch) float64 { return 100 - a.AcceptDowntimePct }), pct},
		{"availability_completion_pct", "Availability, completion (%)", nil, always(func(a Arch) float64 { return 100 - a.CompletionDowntimePct }), pct},
		{"throughput_accepted_per_sec", "Throughput, accepted (orders/s)", &p.ThroughputRPS, always(func(a Arch) float64 { return a.AcceptedPerSec }), rate},
		{"throughput_completed_per_sec", "Throughput, completed (orders/s)", nil, always(func(a Arch) float64 { return a.CompletedPerSec }), rate},
	}
}

// capacityMetric is the Table 1 row of the capacity found by `testbed
// capacity`, the figure that means what the paper's throughput means.
func capacityMetric(p PaperTable1) metric {
	return metric{"capacity_per_sec", "Capacity, SLO met (orders/s)", &p.ThroughputRPS,
		func(a Arch) (float64, bool) { return a.Capacity, a.Capacity > 0 }, rate}
}

// table1Of lists the rows of the Table 1 analogue of archs: the capacity
// row only when a capacity is known, since most runs have none and a row
// of dashes would suggest it failed.
func table1Of(p PaperTable1, archs []Arch) []metric {
	rows := table1(p)
	if hasCapacity(archs) {
		rows = append(rows, capacityMetric(p))
	}
	return rows
}

func hasCapacity(archs []Arch) bool {
	for _, a := range archs {
		if a.Capacity > 0 {
			return true
		}
	}
	return false
}

func (r *builder) performance() {
	s, p := r.s, r.paper.Table1
	r.heading(2, "Performance (analogue of the paper's Table 1)")

	t := table{head: []string{"Metric"}, paper: 2}
	for _, a := range s.Architectures {
		t.head = append(t.head, a.Name+" (measured)")
	}
	t.head = append(t.head,
		"Paper: "+TraditionalSystem+" (Table 1, not measured here)",
		"Paper: "+EventDrivenSystem+" (Table 1, not measured here)")
	for _, m := range table1Of(p, s.Architectures) {
		cells := []string{m.label}
		for _, a := range s.Architectures {
			v, ok := m.value(a)
			cells = append(cells, orDash(ifOK(ok, m.format, v)))
		}
		if m.paper != nil {
			cells = append(cells, num(m.paper.Traditional), num(m.paper.EventDriven))
		} else {
			cells = append(cells, "—", "—")
		}
		t.rows = append(t.rows, cells)
	}
	r.add(block{kind: tableBlock, table: t})

	r.para("Paper columns are copied from seed %s (%s); they are not results of this run. They stand in the accept rows only: the paper's request latency, uptime and throughput are figures about answering requests, and it publishes nothing about end-to-end completion. %s",
		p.Source, r.paper.Title, r.mappingLine())
	capacity := ""
	if hasCapacity(s.Architectures) {
		capacity = " The capacity row is the nearest analogue of the paper's figure: the highest offered rate at which the architecture met this SLO (accepted and completed within the deadline) over a whole step of a `testbed capacity` rate search, measured apart from this run."
	}
	r.para("How this differs from the paper: the paper gives one request latency per system without naming the statistic, the load or where timing starts; here latency is a percentile measured from each request's intended send time. "+
		"The paper does not define uptime or the period it covers; here availability is 100 − downtime %% over this run's %s measured period, fault included. "+
		"The paper's throughput is a capacity (the most each system processed); here throughput is the part of the offered %s req/s that was served, so it cannot exceed the offered rate.%s",
		secs(s.Load.Duration), num(s.Load.Rate), capacity)
	r.chart(percentileChart)
	r.chart(latencyChart)
}

// ifOK formats v, or is "" when there is nothing to format.
func ifOK(ok bool, format func(float64) string, v float64) string {
	if !ok {
		return ""
	}
	return format(v)
}

// mappingLine says which measured architecture stands beside which of the
// paper's systems.
func (r *builder) mappingLine() string {
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

func (r *builder) downtime() {
	s, p := r.s, r.paper.Table2
	r.heading(2, "Downtime during this scenario (analogue of the paper's Table 2)")

	paperRow, hasRow := p.Row(s.ComparesTo)
	paperHead := "Paper: downtime (%) (Table 2, not measured here)"
	if hasRow {
		paperHead = "Paper: " + paperRow.Label + " downtime (%) (Table 2, not measured here)"
	}
	t := table{head: []string{"Architecture", "Accept downtime (%)", "Completion downtime (%)",
		"Accept down windows", "Completion down windows", paperHead}, paper: 1}
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
	r.add(block{kind: tableBlock, table: t})

	switch {
	case hasRow:
		r.para("Paper column copied from seed %s, row \"%s\"; it is not a result of this run. %s", p.Source, paperRow.Label, r.mappingLine())
	case s.ComparesTo == "baseline":
		r.para("This scenario is a baseline. The paper's Table 2 has no baseline (fault-free) row, so there is no paper figure to stand beside it.")
	case s.ComparesTo == "":
		r.para("This scenario names no row of the paper's Table 2 (compares_to is empty), so there is no paper figure to stand beside it.")
	default:
		rows := make([]string, len(p.Rows))
		for i, row := range p.Rows {
			rows[i] = row.Scenario
		}
		r.para("compares_to %q is not a row of the paper's Table 2 (%s), so there is no paper figure to stand beside it.", s.ComparesTo, strings.Join(rows, ", "))
	}

	r.para("How this differs from the paper: the paper does not define downtime or say how long its faults and tests lasted. "+
		"Here downtime %% is the share of the 1 s windows of the measured period in which fewer than %s%% of the offered requests were accepted (accept) or completed within %s (completion). "+
		"It grows with how long the fault lasted relative to the measured period (here %s), so it compares the architectures of this run with each other, not directly with the paper's figure.",
		sloPct(s.SLO), secs(s.SLO.CompletionDeadline), r.scheduled())
	r.chart(downtimeChart)
}

// scheduled says how long faults were scheduled for, against the measured
// period.
func (r *builder) scheduled() string {
	s := r.s
	if len(s.Faults) == 0 {
		return "no fault was injected"
	}
	var d time.Duration
	for _, f := range s.Faults {
		d += f.Duration
	}
	return "faults were scheduled for " + secs(d) + " of " + secs(s.Load.Duration)
}

func (r *builder) definitions() {
	s := r.s
	ratio := sloPct(s.SLO) + "%"
	r.heading(2, "Definitions")
	r.add(block{kind: listBlock, items: []string{
		"**Window**: one second of the measured period. A request belongs to the window of its intended send time; warm-up and drain are not windows.",
		fmt.Sprintf("**Accept downtime**: share of windows in which accepted / offered < %s. A window in which nothing was offered is not down: nothing was asked, so nothing was refused.", ratio),
		fmt.Sprintf("**Completion downtime**: share of windows in which (orders completed within %s of their intended send time) / offered < %s.", secs(s.SLO.CompletionDeadline), ratio),
		"**Availability (uptime)**: 100 − downtime %, over the measured period only.",
		"**Latency**: timed from each request's intended send time on the open-model schedule, not from when it actually left, so time spent queued behind a stalled system counts (coordinated-omission-correct). Accept latency: intended send → answer, accepted requests only. Completion latency: intended send → terminal state.",
		fmt.Sprintf("**Accepted**: answered with success within the request timeout (%s).", secs(s.Load.Timeout)),
		fmt.Sprintf("**Failed**: errors, timeouts and non-success answers, plus requests dropped (never sent because %d were already in flight).", s.Load.MaxInFlight),
		"**Completed**: an accepted order reached a terminal state — shipped, or cancelled with a reason — before the end of the drain. Monolith: the synchronous answer is the terminal state. EDA: the terminal event, as observed on Kafka by the testbed.",
		"**Unfinished**: accepted, but no terminal state by the end of the drain.",
		"**Throughput**: accepted (or completed) orders divided by the length of the measured period.",
		"**Backlog drain time**: how long after the end of the measured period the last accepted order reached its terminal state.",
	}})
}

func (r *builder) outcomes() {
	s := r.s
	r.heading(2, "Outcomes")
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
	row("Read model lag p50 / p99 / max", func(a Arch) string {
		l := a.ReadModelLag
		if l == nil || l.Count == 0 {
			return "—"
		}
		return fmt.Sprintf("%.1f / %.1f / %.1f ms", l.P50, l.P99, l.Max)
	})
	r.add(block{kind: tableBlock, table: t})
	r.chart(backlogChart)
}

// checks lays out the business checkers' verdicts: one row per checker,
// one column per architecture, then why each failure failed.
func (r *builder) checks() {
	s := r.s
	r.heading(2, "Checks")
	if len(s.Checks) == 0 {
		r.para("No checks ran.")
		return
	}
	var archs, names []string
	for _, a := range s.Architectures {
		archs = append(archs, a.Name)
	}
	verdicts := map[[2]string]Check{}
	for _, c := range s.Checks {
		if !slices.Contains(archs, c.Arch) {
			archs = append(archs, c.Arch)
		}
		if !slices.Contains(names, c.Name) {
			names = append(names, c.Name)
		}
		verdicts[[2]string{c.Name, c.Arch}] = c
	}
	t := table{head: append([]string{"Checker"}, archs...)}
	var failed []string
	for _, name := range names {
		cells := []string{name}
		for _, a := range archs {
			c, ok := verdicts[[2]string{name, a}]
			if !ok {
				cells = append(cells, "—")
				continue
			}
			cells = append(cells, verdict(c))
			if !c.Passed {
				failed = append(failed, fmt.Sprintf("**%s, %s**: %s", a, name, c.Detail))
			}
		}
		t.rows = append(t.rows, cells)
	}
	r.add(block{kind: tableBlock, table: t})
	r.para("Each checker holds an architecture's end state to a business rule, from the load generator's record of every request and answer, the payment provider's ledger and the systems' own databases after the drain. — means the checker does not apply to that architecture.")
	if len(failed) > 0 {
		r.add(block{kind: listBlock, items: failed})
	}
}

// verdict is a check's table cell: what it looked at when it passed, how
// much broke and a few examples when it failed.
func verdict(c Check) string {
	unit := c.Unit
	if unit == "" {
		unit = "items"
	}
	switch {
	case c.Passed:
		return fmt.Sprintf("pass (%d %s)", c.Checked, unit)
	case c.Violations == 0:
		return "FAIL: could not check"
	}
	out := fmt.Sprintf("FAIL: %d of %d %s", c.Violations, c.Checked, unit)
	if len(c.Examples) > 0 {
		ex := strings.Join(c.Examples, ", ")
		if int64(len(c.Examples)) < c.Violations {
			ex += ", …"
		}
		out += " (" + ex + ")"
	}
	return out
}

func (r *builder) faults() {
	s := r.s
	r.heading(2, "Fault mapping")
	if len(s.Faults) == 0 {
		r.para("No fault was injected in this run.")
		return
	}
	items := make([]string, len(s.Faults))
	for i, f := range s.Faults {
		items[i] = fmt.Sprintf("%s on %s, scheduled at %s for %s, restart: %s.", f.Type, f.Target, secs(f.At), secs(f.Duration), orDash(f.Restart))
	}
	r.add(block{kind: orderedBlock, items: items})
	t := table{head: []string{"Fault", "Architecture", "Hit", "PID", "Injected", "Healed", "Recovered after heal", "Note"}}
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
				atMeasured(h.Injected, h.ScheduledInject, s.MeasuredStart), atMeasured(h.Healed, h.ScheduledHeal, s.MeasuredStart),
				recovery(h), orDash(h.Note)})
		}
	}
	r.add(block{kind: tableBlock, table: t})
	r.para("Times count from the start of the measured period, as the scenario's do; the figure in brackets is the difference to the schedule: for an injection the testbed's own delay, for a heal also the time the component took to come back. Recovered after heal: from the heal to the first of three windows in a row that meet the SLO for both accept and completion.")
}

// atMeasured formats t as seconds into the measured period, with its
// lateness against the schedule.
func atMeasured(t, scheduled, measured time.Time) string {
	if t.IsZero() {
		return "—"
	}
	out := "+" + secs(t.Sub(measured))
	if !scheduled.IsZero() {
		out += fmt.Sprintf(" (%+d ms)", t.Sub(scheduled).Milliseconds())
	}
	return out
}

func recovery(h Hit) string {
	switch {
	case h.Healed.IsZero():
		return "—"
	case h.Recovery < 0:
		return "not within the measured period"
	}
	return secs(h.Recovery)
}

func (r *builder) timeline() {
	s := r.s
	r.heading(2, "Timeline")
	r.para("One character per 1 s window of the measured period: `.` up, `c` completion below the SLO (accept up), `X` accept below the SLO, `_` nothing offered. `^` marks windows with a fault active. Full series: `<architecture>/%s`.", SecondsFile)

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
		r.para("No windows were measured.")
		return
	}
	const perLine = 60
	var b strings.Builder
	for from := 0; from < longest; from += perLine {
		to := min(from+perLine, longest)
		var ruler strings.Builder
		for t := from; t < to; t += 10 {
			ruler.WriteString(fmt.Sprintf("%-10d", t))
		}
		fmt.Fprintf(&b, "%s%s\n", strings.Repeat(" ", width), strings.TrimRight(ruler.String(), " "))
		for _, a := range s.Architectures {
			state, fault := spark(a.Seconds, from, to, s.SLO.SuccessRatio)
			fmt.Fprintf(&b, "%s\n", strings.TrimRight(pad(a.Name, width)+state, " "))
			if strings.TrimSpace(fault) != "" {
				fmt.Fprintf(&b, "%s%s\n", pad("  fault", width), strings.TrimRight(fault, " "))
			}
		}
		if to < longest {
			b.WriteString("\n")
		}
	}
	r.add(block{kind: preBlock, text: b.String()})

	for _, a := range s.Architectures {
		r.heading(3, "%s: windows down or under fault", a.Name)
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
			r.para("No window was down or under fault.")
			continue
		}
		r.add(block{kind: tableBlock, table: t})
		if more > 0 {
			r.para("… and %d more such windows; see `%s/%s`.", more, a.Name, SecondsFile)
		}
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

// rows are the provenance lines every report shares.
func (p Provenance) rows() [][]string {
	return [][]string{
		{"Testbed version", orDash(p.Version)},
		{"Commit", orDash(p.Commit)},
		{"Runtime", orDash(p.Runtime)},
		{"Broker", orDash(p.Broker)},
		{"Database", orDash(p.Database)},
		{"Go", orDash(p.GoVersion)},
		{"OS/arch", orDash(p.OS) + "/" + orDash(p.Arch)},
		{"CPUs", strconv.Itoa(p.CPUs)},
	}
}

func (r *builder) provenance() {
	s, p := r.s, r.s.Provenance
	r.heading(2, "Provenance")
	t := table{head: []string{"Item", "Value"}}
	add := func(k, v string) { t.rows = append(t.rows, []string{k, v}) }
	add("Run", s.RunID)
	t.rows = append(t.rows, p.rows()...)
	add("Scenario file", orDash(s.ScenarioFile))
	add("Scenario sha256", orDash(s.ScenarioSHA))
	add("Seed", strconv.FormatInt(s.Seed, 10))
	add("Started", stamp(s.Started))
	add("Ended", stamp(s.Ended))
	r.add(block{kind: tableBlock, table: t})
	r.para("Paper figures: %s, %s (seed file %s).", r.paper.Title, r.paper.Author, r.paper.File)
}

func (r *builder) limits() {
	r.heading(2, "Known limits")
	if len(r.s.Limits) == 0 {
		r.para("None recorded for this run.")
		return
	}
	r.add(block{kind: listBlock, items: r.s.Limits})
}

// ms formats a latency in milliseconds: two decimals below 100 ms, one
// above, where more would be noise.
func ms(v float64) string {
	if math.Abs(v) < 100 {
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

func pad(s string, width int) string {
	return s + strings.Repeat(" ", max(0, width-utf8.RuneCountInString(s)))
}
