package loadgen

import (
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram range: 1 µs to 5 min at 3 significant figures. Values outside
// are clamped to the range so that an outlier shows as the maximum instead
// of vanishing.
const (
	histMin = 1
	histMax = int64(5 * time.Minute / time.Microsecond)
	histSig = 3
)

// Result is what Run measured.
type Result struct {
	// Start is the wall-clock start of the measured period, after the
	// warm-up; Record.Intended is an offset from it.
	Start time.Time
	// Rate, Spikes, Warmup are the attack's configuration, Spikes sorted
	// by From, so that a report can mark the windows.
	Rate   float64
	Spikes []Spike
	Warmup time.Duration
	// Duration is the part of the measured period that was scheduled: the
	// configured duration, or less when Run was cancelled.
	Duration time.Duration
	// Records holds every scheduled request, sorted by Seq, warm-up
	// included, unless they went to Config.Records: then it is nil, and a
	// Tally over the records read back gives what Seconds, AcceptLatency
	// and Complete give over Records.
	Records []Record
}

// Bucket is one second of the measured period, by intended send time.
type Bucket struct {
	// T is the bucket's start as an offset from Result.Start.
	T time.Duration
	// Offered counts the requests scheduled in this second, so it follows
	// the spikes.
	Offered int64
	// Accepted counts those the system accepted.
	Accepted int64
	// Failed counts the rest: Rejected + Timeout + Error + Dropped, which
	// split it by Kind.
	Failed   int64
	Rejected int64
	Timeout  int64
	Error    int64
	Dropped  int64
}

// Seconds returns one Bucket per second of the measured period, the last
// one partial when Duration is not a whole number of seconds. Warm-up
// requests are left out.
func (r *Result) Seconds() []Bucket { return r.tally(nil, 0).Seconds() }

// AcceptLatency returns the latency of the accepted requests of the
// measured period, in microseconds.
func (r *Result) AcceptLatency() *hdrhistogram.Histogram { return r.tally(nil, 0).AcceptLatency() }

// Completion is when and how an order reached a terminal state, as observed
// outside the load generator (for instance on Kafka).
type Completion struct {
	At    time.Time
	State string
	// Failed marks an end the system is to blame for (a dependency was
	// unavailable): terminal, but not a success. It counts in States and
	// Failed, not in Completed or the latency.
	Failed bool
}

// CompletionBucket is one second of the measured period, by intended send
// time.
type CompletionBucket struct {
	// T is the bucket's start as an offset from Result.Start.
	T time.Duration
	// Completed counts the requests of this second whose order reached a
	// terminal state.
	Completed int64
	// CompletedInDeadline is the part of Completed that did so within the
	// deadline from its intended send time.
	CompletedInDeadline int64
}

// Completions is the end-to-end view of the measured period.
type Completions struct {
	Seconds []CompletionBucket
	// Latency runs from intended send time to terminal state, in
	// microseconds.
	Latency *hdrhistogram.Histogram
	// Completed counts orders that reached a terminal state successfully,
	// InDeadline those that did within the deadline.
	Completed, InDeadline int64
	// Failed counts orders that ended in a Failed completion.
	Failed int64
	// Unfinished counts accepted orders that never reached one.
	Unfinished int64
	// States counts completed and failed orders by terminal state.
	States map[string]int64
	// Last is the latest terminal time among them; zero when none.
	Last time.Time
}

// Complete joins the measured requests with done, which maps an order id to
// when it reached a terminal state. A Record whose answer carried Terminal
// completes at its answer time whatever done says. Requests that timed out
// or failed are joined too, because the system may have taken the order
// even though the answer never arrived; dropped requests were never sent and
// are not. Ids in done that match no measured request are ignored. A
// deadline <= 0 puts every completion within the deadline.
func (r *Result) Complete(done map[string]Completion, deadline time.Duration) Completions {
	return r.tally(done, deadline).Completions()
}

// tally is a Tally over Records.
func (r *Result) tally(done map[string]Completion, deadline time.Duration) *Tally {
	t := r.Tally(done, deadline)
	for i := range r.Records {
		t.Add(&r.Records[i])
	}
	return t
}

// Tally gathers the statistics of a Result one record at a time, so that
// they can come from records that went to Config.Records and are read back,
// one pass for all of them: what Seconds, AcceptLatency and Complete give
// over Records. Records may come in any order.
type Tally struct {
	r        *Result
	done     map[string]Completion
	deadline time.Duration
	seconds  []Bucket
	accept   *hdrhistogram.Histogram
	comp     Completions
}

// Tally returns an empty Tally of r's measured period that joins records
// with done and deadline as Complete does.
func (r *Result) Tally(done map[string]Completion, deadline time.Duration) *Tally {
	n := r.seconds()
	t := &Tally{
		r: r, done: done, deadline: deadline,
		seconds: make([]Bucket, n),
		accept:  newHistogram(),
		comp: Completions{
			Seconds: make([]CompletionBucket, n),
			Latency: newHistogram(),
			States:  make(map[string]int64),
		},
	}
	for i := range n {
		t.seconds[i].T = time.Duration(i) * time.Second
		t.comp.Seconds[i].T = time.Duration(i) * time.Second
	}
	return t
}

// Add counts one record.
func (t *Tally) Add(rec *Record) {
	s, ok := t.r.second(rec)
	if !ok {
		return
	}
	bk := &t.seconds[s]
	bk.Offered++
	switch rec.Kind {
	case Accepted:
		bk.Accepted++
		record(t.accept, rec.Latency)
	case Rejected:
		bk.Rejected++
	case Timeout:
		bk.Timeout++
	case Error:
		bk.Error++
	case Dropped:
		bk.Dropped++
	}
	if rec.Kind != Accepted {
		bk.Failed++
	}
	if rec.Kind != Dropped {
		t.complete(s, rec)
	}
}

// complete joins a measured record that was sent with its terminal state.
func (t *Tally) complete(s int, rec *Record) {
	c := &t.comp
	intended := t.r.Start.Add(rec.Intended)
	var fin Completion
	if rec.Terminal != "" {
		fin = Completion{At: intended.Add(rec.Latency), State: rec.Terminal}
	} else if f, ok := t.done[rec.ID]; ok {
		fin = f
	} else {
		if rec.Kind == Accepted {
			c.Unfinished++
		}
		return
	}
	if fin.At.After(c.Last) {
		c.Last = fin.At
	}
	if fin.Failed {
		c.Failed++
		c.States[fin.State]++
		return
	}
	lat := fin.At.Sub(intended)
	record(c.Latency, lat)
	c.Completed++
	c.Seconds[s].Completed++
	if t.deadline <= 0 || lat <= t.deadline {
		c.InDeadline++
		c.Seconds[s].CompletedInDeadline++
	}
	c.States[fin.State]++
}

// Seconds is Result.Seconds over the records added so far.
func (t *Tally) Seconds() []Bucket { return t.seconds }

// AcceptLatency is Result.AcceptLatency over the records added so far.
func (t *Tally) AcceptLatency() *hdrhistogram.Histogram { return t.accept }

// Completions is Result.Complete over the records added so far.
func (t *Tally) Completions() Completions { return t.comp }

func (r *Result) seconds() int {
	return int((r.Duration + time.Second - 1) / time.Second)
}

// second is the index of the measured second rec was scheduled in; ok is
// false for the warm-up.
func (r *Result) second(rec *Record) (int, bool) {
	if rec.Warmup || rec.Intended < 0 || rec.Intended >= r.Duration {
		return 0, false
	}
	return int(rec.Intended / time.Second), true
}

func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(histMin, histMax, histSig)
}

func record(h *hdrhistogram.Histogram, d time.Duration) {
	// The value is clamped into range, so RecordValue cannot fail.
	_ = h.RecordValue(min(max(d.Microseconds(), histMin), histMax))
}
