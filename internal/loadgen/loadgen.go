package loadgen

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"
)

// maxRecords bounds rate×(warmup+duration): a typo in the rate should fail
// in New, not exhaust memory or disk in Run (without Config.Records every
// scheduled request gets a Record allocated up front).
const maxRecords = 1 << 31

// Request is one request the pacer sends.
type Request struct {
	// ID identifies the order; it is the Record's ID unless the answer
	// names another one.
	ID string
	// Body is sent as application/json.
	Body []byte
}

// Outcome is how the caller classifies an answer.
type Outcome struct {
	// Accepted reports that the system took the order.
	Accepted bool
	// OrderID is the id the answer gives the order; empty means Request.ID.
	OrderID string
	// Terminal is the order's terminal state when the answer already carries
	// it (the synchronous monolith answers "shipped" or "cancelled"); the
	// completion time is then the answer time.
	Terminal string
}

// Config describes one attack. Every field without a documented default is
// required.
type Config struct {
	// URL is the POST target.
	URL string
	// Rate is the arrival rate in requests per second, outside Spikes.
	Rate float64
	// Warmup is sent on schedule before the measured period; its records are
	// kept with Warmup set and left out of every statistic.
	Warmup time.Duration
	// Duration is the measured period, starting after Warmup.
	Duration time.Duration
	// Spikes multiply Rate inside windows of the measured period; outside
	// them the rate is Rate. Windows must not overlap and must lie within
	// [0, Duration]; they may come in any order. Optional.
	Spikes []Spike
	// Timeout bounds each request from the moment it is sent.
	Timeout time.Duration
	// MaxInFlight caps concurrent requests. A request that falls due while
	// the cap is reached is not sent and is recorded as Dropped: the pacer
	// never slows down.
	MaxInFlight int
	// Next builds the seq-th request, seq counting from 0 and including the
	// warm-up. It is called from the pacer goroutine in seq order, so it need
	// not be safe for concurrent use, but its run time delays the schedule.
	Next func(seq uint64) Request
	// Classify classifies an answer. body holds at most the first 64 KiB and
	// is only valid during the call. Nil means a 2xx status is accepted.
	// It is called concurrently from many goroutines.
	Classify func(status int, body []byte) Outcome
	// Observe, when set, gets each record once it is final: answered,
	// failed or dropped. It is called concurrently from many goroutines
	// and its run time delays the next request of its worker (or, for a
	// dropped request, the schedule), so it must be quick: the testbed
	// feeds its live latency histograms with it.
	Observe func(Record)
	// Records, when set, gets every record once it and every record
	// scheduled before it are final, in Seq order, one call at a time,
	// and Result.Records stays nil: an attack then holds only the records
	// of requests in flight and of those answered before an earlier one,
	// however long it runs. It is called by the goroutine that finished
	// the last of them, so its run time delays that worker: it should
	// buffer. Nil keeps every record in Result.Records.
	Records RecordWriter
	// Client sends the requests. Nil means a transport of the Attacker's own
	// with keep-alive, room for MaxInFlight idle connections to the host, no
	// proxy and no redirects; its idle connections are closed when Run
	// returns.
	Client *http.Client
}

// Spike is a window of the measured period in which the arrival rate is
// Rate×Factor: a load spike, or a lull when Factor is below 1.
type Spike struct {
	// From and To are offsets from the start of the measured period; the
	// window is [From, To).
	From, To time.Duration
	// Factor multiplies Rate; it must be > 0.
	Factor float64
}

// Kind is how a scheduled request ended.
type Kind uint8

// The zero Kind is no outcome, so a Record that was never finished stands
// out instead of passing for accepted.
const (
	// Accepted is an answer Classify accepted.
	Accepted Kind = iota + 1
	// Rejected is an answer Classify did not accept.
	Rejected
	// Timeout is a request that got no complete answer within Timeout.
	Timeout
	// Error is a transport failure: refused connection, reset, bad answer.
	Error
	// Dropped is a request that was due while MaxInFlight requests were
	// outstanding and was therefore never sent.
	Dropped
)

// String returns the kind's lowercase name.
func (k Kind) String() string {
	switch k {
	case Accepted:
		return "accepted"
	case Rejected:
		return "rejected"
	case Timeout:
		return "timeout"
	case Error:
		return "error"
	case Dropped:
		return "dropped"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Record is what happened to one scheduled request. Fields are ordered to
// keep it at 72 bytes, because an attack without Config.Records keeps one
// per request.
type Record struct {
	Seq uint64
	// ID is Outcome.OrderID, or Request.ID when the answer named none.
	ID string
	// Terminal is Outcome.Terminal.
	Terminal string
	// Intended is the scheduled send time as an offset from the start of the
	// measured period; negative during the warm-up.
	Intended time.Duration
	// Latency runs from the intended time to the complete answer, or to the
	// failure, so it includes any delay before the request was sent.
	Latency time.Duration
	// Status is the HTTP status, 0 when there was no answer.
	Status int
	Kind   Kind
	Warmup bool
}

// Snapshot is the progress of a running attack.
type Snapshot struct {
	// Elapsed is the time since the start of the measured period; negative
	// during the warm-up, zero before Run.
	Elapsed time.Duration
	// Offered counts scheduled requests, warm-up included, dropped included.
	Offered int64
	// Accepted counts accepted answers.
	Accepted int64
	// Failed counts rejected, timed-out, failed and dropped requests.
	Failed int64
	// Dropped is the part of Failed that was never sent.
	Dropped int64
	// InFlight counts requests sent and not yet answered.
	InFlight int64
}

// Attacker runs one attack. It is used once: Run fails when called again.
type Attacker struct {
	cfg Config // Spikes sorted by From
	// Exactly one of client and transport is set: the caller's Client, whose
	// redirect, cookie and timeout rules every request goes through, or a
	// Transport of this package, which gets each request directly.
	client    *http.Client
	transport *http.Transport
	// ownTransport is set when the transport is the Attacker's alone, so
	// Run closes its idle connections.
	ownTransport bool
	// post is the request every send to the transport copies: URL parsed
	// once, headers shared, since a Transport only reads them.
	post    *http.Request
	sched   schedule
	warmupN uint64 // requests scheduled before the measured period
	total   uint64 // requests scheduled in all

	ran      atomic.Bool
	started  atomic.Pointer[time.Time]
	offered  atomic.Int64
	accepted atomic.Int64
	failed   atomic.Int64
	dropped  atomic.Int64
	inFlight atomic.Int64
}

// New checks cfg and returns an Attacker for it. Every problem with cfg is
// reported, joined in one error.
func New(cfg Config) (*Attacker, error) {
	return newAttackerOn(cfg, nil)
}

// newAttackerOn is New with a Transport of this package that outlives the
// attack, so that successive attacks start on warm connections; nil means
// cfg.Client, or a Transport of the Attacker's own when that is nil too.
func newAttackerOn(cfg Config, tr *http.Transport) (*Attacker, error) {
	spikes, err := validate(cfg)
	if err != nil {
		return nil, fmt.Errorf("new attacker: %w", err)
	}
	// The sorted copy also keeps the caller from changing the windows
	// after they were checked.
	cfg.Spikes = spikes
	sched := newSchedule(cfg.Rate, cfg.Warmup, spikes)
	a := &Attacker{
		cfg:       cfg,
		transport: tr,
		sched:     sched,
		warmupN:   sched.count(cfg.Warmup),
		total:     sched.count(cfg.Warmup + cfg.Duration),
	}
	switch {
	case tr != nil:
	case cfg.Client != nil:
		a.client = cfg.Client
		return a, nil
	default:
		a.transport = newTransport(cfg.Timeout, cfg.MaxInFlight)
		a.ownTransport = true
	}
	// The template is what http.NewRequest and Client.Do would make of
	// the URL; validate has parsed it already.
	req, err := http.NewRequest(http.MethodPost, cfg.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("new attacker: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if u := req.URL.User; u != nil {
		p, _ := u.Password()
		req.SetBasicAuth(u.Username(), p)
	}
	a.post = req
	return a, nil
}

// validate returns cfg.Spikes sorted by From when cfg is valid.
func validate(cfg Config) ([]Spike, error) {
	var errs []error
	if u, err := url.Parse(cfg.URL); err != nil {
		errs = append(errs, fmt.Errorf("url: %w", err))
	} else if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("url %q: want an absolute http or https URL", cfg.URL))
	}
	rateOK := cfg.Rate > 0 && !math.IsInf(cfg.Rate, 0)
	if !rateOK {
		errs = append(errs, fmt.Errorf("rate %v: want a finite number > 0", cfg.Rate))
	}
	if cfg.Warmup < 0 {
		errs = append(errs, fmt.Errorf("warmup %v: want >= 0", cfg.Warmup))
	}
	if cfg.Duration <= 0 {
		errs = append(errs, fmt.Errorf("duration %v: want > 0", cfg.Duration))
	}
	if cfg.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout %v: want > 0", cfg.Timeout))
	}
	if cfg.MaxInFlight <= 0 {
		errs = append(errs, fmt.Errorf("max in flight %d: want > 0", cfg.MaxInFlight))
	}
	if cfg.Next == nil {
		errs = append(errs, errors.New("next: want a request builder, got nil"))
	}
	spikes, spikeErrs := checkSpikes(cfg.Spikes, cfg.Duration)
	errs = append(errs, spikeErrs...)
	if rateOK && cfg.Warmup >= 0 && cfg.Duration > 0 && len(spikeErrs) == 0 {
		rate := fmt.Sprint(cfg.Rate)
		if len(spikes) > 0 {
			rate += " with spikes"
		}
		sched := newSchedule(cfg.Rate, cfg.Warmup, spikes)
		span := cfg.Warmup + cfg.Duration
		// A huge factor makes the number of arrivals infinite, which the
		// comparison catches too.
		if span < 0 || sched.arrivals(span) >= maxRecords {
			errs = append(errs, fmt.Errorf("rate %s over %v: more than %d requests", rate, span, maxRecords))
		} else if sched.count(span) == sched.count(cfg.Warmup) {
			errs = append(errs, fmt.Errorf("rate %s over duration %v: no request falls in the measured period", rate, cfg.Duration))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return spikes, nil
}

// newTransport is tuned for many concurrent POSTs to one host: every
// in-flight request can park its connection for reuse, and proxies from the
// environment would put a foreign hop in the measurement. Requests go to it
// without an http.Client in between: the Client would clone headers and URL
// for every request in case of a redirect, which is an answer to classify
// here, not something to follow, and would turn user info in the URL into
// basic auth, which the request template of newAttackerOn does once.
func newTransport(timeout time.Duration, maxInFlight int) *http.Transport {
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:         dialer.DialContext,
		MaxIdleConnsPerHost: maxInFlight,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

// Start returns the start of the measured period, which Result.Start will
// be, once Run has begun; ok is false before.
func (a *Attacker) Start() (t time.Time, ok bool) {
	t0 := a.started.Load()
	if t0 == nil {
		return time.Time{}, false
	}
	return t0.Add(a.cfg.Warmup), true
}

// Intended is the scheduled send time of request seq as an offset from the
// start of the measured period: its Record's Intended.
func (a *Attacker) Intended(seq uint64) time.Duration {
	return a.sched.offset(seq) - a.cfg.Warmup
}

// Snapshot returns the attack's progress so far. It is safe to call while
// Run is running.
func (a *Attacker) Snapshot() Snapshot {
	s := Snapshot{
		Offered:  a.offered.Load(),
		Accepted: a.accepted.Load(),
		Failed:   a.failed.Load(),
		Dropped:  a.dropped.Load(),
		InFlight: a.inFlight.Load(),
	}
	if t0 := a.started.Load(); t0 != nil {
		s.Elapsed = time.Since(*t0) - a.cfg.Warmup
	}
	return s
}
