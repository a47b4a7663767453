// Package report turns what a run measured into the run bundle: summary.json,
// report.md and a self-contained index.html in the shape of the seed
// paper's Tables 1 and 2, the charts (package chart draws them) and CSV
// files of the tables and the per-second series.
package report

import "time"

// SchemaVersion is bumped whenever a field of Summary changes meaning or is
// removed, so tools reading summary.json can refuse what they do not know.
const SchemaVersion = 1

// Summary is everything a report is rendered from. It is written to
// summary.json and read back by `testbed report`, so every field must be
// JSON-serialisable and measured in the run it describes.
type Summary struct {
	SchemaVersion int    `json:"schema_version"`
	RunID         string `json:"run_id"`
	Scenario      string `json:"scenario"`
	Description   string `json:"description,omitempty"`
	ScenarioFile  string `json:"scenario_file"`
	ScenarioSHA   string `json:"scenario_sha256"`
	// ComparesTo names the row of the paper's Table 2 this scenario stands
	// beside: "baseline", "single-service-failure", "network-partition",
	// "hardware-failure", or "" when it has no counterpart.
	ComparesTo string    `json:"compares_to,omitempty"`
	Seed       int64     `json:"seed"`
	Started    time.Time `json:"started"`
	Ended      time.Time `json:"ended"`
	// MeasuredStart is when the measured period began (after warm-up);
	// fault times in the scenario count from it.
	MeasuredStart time.Time `json:"measured_start"`

	Provenance Provenance `json:"provenance"`
	Load       Load       `json:"load"`
	SLO        SLO        `json:"slo"`

	Architectures []Arch  `json:"architectures"`
	Faults        []Fault `json:"faults"`
	// Checks are the business checkers' verdicts on each architecture's
	// end state; empty when none ran.
	Checks []Check  `json:"checks,omitempty"`
	Limits []string `json:"limits,omitempty"`
	// Observability is where the run's Jaeger, Prometheus and Grafana
	// listened; their links in the report work while the run is held
	// (--hold).
	Observability *Observability `json:"observability,omitempty"`
}

// Provenance says where and with what the run was made.
type Provenance struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Runtime   string `json:"runtime"`
	Broker    string `json:"broker"`
	Database  string `json:"database"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	CPUs      int    `json:"cpus"`
}

// Load is the offered load of the run.
type Load struct {
	Rate        float64       `json:"rate"`
	Warmup      time.Duration `json:"warmup_ns"`
	Duration    time.Duration `json:"duration_ns"`
	Drain       time.Duration `json:"drain_ns"`
	Timeout     time.Duration `json:"timeout_ns"`
	MaxInFlight int           `json:"max_in_flight"`
}

// SLO is what a 1 s window must meet to count as up.
type SLO struct {
	SuccessRatio       float64       `json:"success_ratio"`
	CompletionDeadline time.Duration `json:"completion_deadline_ns"`
}

// Arch is what one architecture did in the run.
type Arch struct {
	Name string `json:"name"` // "eda", "monolith"
	// About says in one sentence what the architecture is and what it was
	// given (services, replicas, database, retries).
	About string `json:"about,omitempty"`

	Offered   int64 `json:"offered"`   // requests the pacer scheduled in the measured period
	Accepted  int64 `json:"accepted"`  // answered with success within the timeout
	Failed    int64 `json:"failed"`    // errors, timeouts, non-success status, dropped
	Dropped   int64 `json:"dropped"`   // of Failed: not sent because max_in_flight was reached
	Completed int64 `json:"completed"` // accepted orders that reached a terminal state before the end of the drain
	// CompletedInDeadline counts accepted orders whose terminal state came
	// within slo.completion_deadline of their intended send time.
	CompletedInDeadline int64 `json:"completed_in_deadline"`
	Unfinished          int64 `json:"unfinished"` // accepted, no terminal state by the end of the drain
	// Abandoned counts accepted orders the system later cancelled for its
	// own failure (a dependency unavailable): terminal, but not completed.
	Abandoned int64 `json:"abandoned"`
	Shipped   int64 `json:"shipped"`
	Cancelled int64 `json:"cancelled"`

	AcceptLatency     Latency `json:"accept_latency"`     // intended send -> answer, accepted requests only
	CompletionLatency Latency `json:"completion_latency"` // intended send -> terminal state

	// Throughput in orders per second over the measured period.
	AcceptedPerSec  float64 `json:"accepted_per_sec"`
	CompletedPerSec float64 `json:"completed_per_sec"`
	// Capacity is the highest offered rate, in orders per second, at which
	// the architecture met the SLO in a `testbed capacity` search, measured
	// apart from this run; 0 when none is known.
	Capacity float64 `json:"capacity_per_sec,omitempty"`

	Windows               int     `json:"windows"`                 // 1 s windows in the measured period
	AcceptDownWindows     int     `json:"accept_down_windows"`     // accepted/offered < slo.success_ratio
	CompletionDownWindows int     `json:"completion_down_windows"` // completed_in_deadline/offered < slo.success_ratio
	AcceptDowntimePct     float64 `json:"accept_downtime_pct"`
	CompletionDowntimePct float64 `json:"completion_downtime_pct"`
	// LastCompletion is how long after the end of the measured period the
	// last accepted order reached its terminal state (backlog drain time).
	LastCompletion time.Duration `json:"last_completion_ns"`
	// ReadModelLag is how long after the testbed saw an order's terminal
	// event the read model (order-view) applied it, over every order:
	// the staleness a reader of the CQRS view lives with. Nil for an
	// architecture without a separate read model.
	ReadModelLag *Latency `json:"read_model_lag,omitempty"`

	Seconds []Second `json:"seconds"`

	// Backlog samples, once a second from the start of the measured period to
	// the end of the drain: orders accepted and not yet completed, as the
	// testbed saw them.
	Backlog []BacklogPoint `json:"backlog,omitempty"`

	// Traced are the slowest and some failed orders of the run, with their
	// trace ids and log lines, to start an investigation from.
	Traced []TracedOrder `json:"traced,omitempty"`
	// Hops say, per event type and consuming service, how long events
	// waited between two services and how long their handling took: where
	// an order's time goes. Nil for an architecture without events.
	Hops []Hop `json:"hops,omitempty"`

	// Percentile distributions of the latencies (HdrHistogram's percentile
	// iteration), for the percentile plot.
	AcceptPercentiles     []Percentile `json:"accept_percentiles,omitempty"`
	CompletionPercentiles []Percentile `json:"completion_percentiles,omitempty"`
}

// TracedOrder is one order worth looking at: why, how long it took, its
// trace (one per order, across every component) and its log lines.
type TracedOrder struct {
	ID      string   `json:"id"`
	Why     string   `json:"why"` // "slowest", "failed: timeout", ...
	Ms      float64  `json:"ms"`  // completion (or failure) latency
	TraceID string   `json:"trace_id,omitempty"`
	Logs    []string `json:"logs,omitempty"` // "component level msg", in time order
}

// BacklogPoint is the backlog at T seconds after the start of the measured
// period (negative: warm-up).
type BacklogPoint struct {
	T      int   `json:"t"`
	Orders int64 `json:"orders"`
}

// Percentile is one point of a latency distribution.
type Percentile struct {
	Percentile float64 `json:"percentile"` // 0..100
	Ms         float64 `json:"ms"`
	Count      int64   `json:"count"` // samples at or below Ms
}

// Latency is a distribution read off an HdrHistogram, in milliseconds.
type Latency struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// Second is one 1 s window of the measured period, counted by the intended
// send time of the requests in it.
type Second struct {
	T                   int   `json:"t"` // seconds since the start of the measured period
	Offered             int64 `json:"offered"`
	Accepted            int64 `json:"accepted"`
	Failed              int64 `json:"failed"`
	Completed           int64 `json:"completed"`
	CompletedInDeadline int64 `json:"completed_in_deadline"`
	FaultActive         bool  `json:"fault_active"`
	// Latency of the requests of this window, in ms; 0 when none.
	AcceptP50     float64 `json:"accept_p50_ms"`
	AcceptP99     float64 `json:"accept_p99_ms"`
	CompletionP50 float64 `json:"completion_p50_ms"`
	CompletionP99 float64 `json:"completion_p99_ms"`
}

// Fault is one fault of the timeline and what it hit in each architecture.
type Fault struct {
	Type     string        `json:"type"`
	Target   string        `json:"target"`
	At       time.Duration `json:"at_ns"`
	Duration time.Duration `json:"duration_ns"`
	Restart  string        `json:"restart"`
	Mapping  []Hit         `json:"mapping"`
}

// Hit is what a fault did to one architecture: the component that holds the
// targeted capability there, and when it was injected and healed.
type Hit struct {
	Arch      string    `json:"arch"`
	Component string    `json:"component"` // "" when the architecture has no such capability
	PID       int       `json:"pid,omitempty"`
	Injected  time.Time `json:"injected"`
	Healed    time.Time `json:"healed"`
	Note      string    `json:"note,omitempty"`
	// When the timeline meant to inject and heal; the difference to
	// Injected and Healed is the testbed's own timing error.
	ScheduledInject time.Time `json:"scheduled_inject"`
	ScheduledHeal   time.Time `json:"scheduled_heal"`
	// Recovery runs from the heal to the start of the first window from
	// which three in a row meet the SLO for accept and completion; -1 when
	// that never happened in the measured period.
	Recovery time.Duration `json:"recovery_ns"`
}

// Check is one business checker's verdict on one architecture: did the
// system lose, duplicate or invent anything.
type Check struct {
	Arch       string   `json:"arch"`
	Name       string   `json:"name"` // lost, duplicated, stock, money, read-model, ...
	Passed     bool     `json:"passed"`
	Checked    int64    `json:"checked"`            // how many orders, SKUs or charges it looked at
	Unit       string   `json:"unit"`               // what Checked counts: "orders", "SKUs"
	Violations int64    `json:"violations"`         // how many of them broke the rule
	Examples   []string `json:"examples,omitempty"` // a few order ids or SKUs that broke it
	Detail     string   `json:"detail"`             // the rule, and what was found, in one sentence
}

// Observability records the base URLs of the stack a run started, with
// no trailing path: the report links Jaeger traces, Prometheus graphs and
// Grafana dashboards under them.
type Observability struct {
	JaegerUI   string `json:"jaeger_ui,omitempty"`
	Prometheus string `json:"prometheus,omitempty"`
	// Grafana serves the dashboards of dashboards/grafana/ by their uids.
	Grafana string `json:"grafana,omitempty"`
}
