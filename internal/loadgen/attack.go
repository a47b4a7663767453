package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// maxBody is how much of an answer Classify gets; the rest is read and
// discarded so the connection can be reused.
const maxBody = 64 << 10

// Run sends the attack and returns what it measured. Every scheduled
// request ends as a Record: in Result.Records, or handed to Config.Records.
// It blocks until the warm-up and the measured period have been scheduled
// and every request sent has been answered or has timed out. Cancelling ctx
// stops the schedule; requests already sent still run to their answer or
// timeout, and Run returns the partial Result with ctx.Err(). When
// Config.Records fails, Run goes on measuring, hands it no more records and
// returns its error with the Result.
func (a *Attacker) Run(ctx context.Context) (*Result, error) {
	if !a.ran.CompareAndSwap(false, true) {
		return nil, errors.New("run attack: attacker already ran")
	}
	if a.ownTransport {
		defer a.transport.CloseIdleConnections()
	}
	t0 := time.Now()
	a.started.Store(&t0)
	r := &run{
		a:  a,
		t0: t0,
		// Requests outlive a cancelled ctx: an answer that is on its way
		// is a measurement, and Timeout already bounds the wait.
		base: context.WithoutCancel(ctx),
		jobs: make(chan job),
	}
	var kept []Record
	if a.cfg.Records != nil {
		r.seq = newSequencer(a.cfg.Records.WriteRecord)
	} else {
		kept = make([]Record, 0, a.total)
		r.seq = newSequencer(func(rec *Record) error {
			kept = append(kept, *rec)
			return nil
		})
	}
	n := r.pace(ctx)
	close(r.jobs)
	r.wg.Wait()

	covered := a.sched.offset(n) - a.cfg.Warmup
	res := &Result{
		Start:    t0.Add(a.cfg.Warmup),
		Rate:     a.cfg.Rate,
		Spikes:   a.cfg.Spikes,
		Warmup:   a.cfg.Warmup,
		Duration: max(0, min(covered, a.cfg.Duration)),
		Records:  kept,
	}
	var errs []error
	if n < a.total {
		errs = append(errs, ctx.Err())
	}
	if r.seq.err != nil {
		errs = append(errs, fmt.Errorf("run attack: write records: %w", r.seq.err))
	}
	return res, errors.Join(errs...)
}

// run is the state of one Run. The pacer goroutine owns workers and fills
// in the schedule fields of a Record before handing it to a worker, which
// fills in the outcome and hands it to seq.
type run struct {
	a       *Attacker
	t0      time.Time
	seq     *sequencer
	base    context.Context
	jobs    chan job
	wg      sync.WaitGroup
	workers int
}

type job struct {
	rec  Record
	due  time.Time
	body []byte
}

// pace schedules requests at t0 plus their offset in the schedule until all
// are scheduled or ctx is done, and returns how many it scheduled. When it
// wakes up late it sends everything that is due at once, without moving the
// schedule.
func (r *run) pace(ctx context.Context) uint64 {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for seq := uint64(0); seq < r.a.total; seq++ {
		off := r.a.sched.offset(seq)
		due := r.t0.Add(off)
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return seq
			case <-timer.C:
			}
		} else {
			select {
			case <-ctx.Done():
				return seq
			default:
			}
		}
		r.fire(seq, off, due)
	}
	return r.a.total
}

// fire hands request seq to an idle worker, starts a worker when none is
// idle, or drops the request when MaxInFlight are outstanding. Workers are
// started on demand, as vegeta does, so a low rate against a fast system
// keeps a handful of goroutines, and they are kept, so the grown stacks and
// buffers of the HTTP path are reused instead of rebuilt per request.
func (r *run) fire(seq uint64, off time.Duration, due time.Time) {
	req := r.a.cfg.Next(seq)
	rec := Record{Seq: seq, ID: req.ID, Intended: off - r.a.cfg.Warmup, Warmup: seq < r.a.warmupN}
	r.a.offered.Add(1)

	// Only this goroutine increments inFlight, so the check cannot race
	// past the cap.
	if r.a.inFlight.Load() >= int64(r.a.cfg.MaxInFlight) {
		rec.Kind = Dropped
		rec.Latency = time.Since(due)
		r.a.dropped.Add(1)
		r.a.failed.Add(1)
		r.finish(rec)
		return
	}
	r.a.inFlight.Add(1)
	j := job{rec: rec, due: due, body: req.Body}
	select {
	case r.jobs <- j:
		return
	default:
	}
	if r.workers < r.a.cfg.MaxInFlight {
		r.workers++
		r.wg.Add(1)
		go r.work(j)
		return
	}
	// Every worker exists and fewer than MaxInFlight requests are out, so
	// one worker has finished its request and is on its way back to the
	// channel: this send waits for that, never for an answer.
	r.jobs <- j
}

func (r *run) work(first job) {
	defer r.wg.Done()
	w := &worker{dl: deadline{base: r.base, timeout: r.a.cfg.Timeout}}
	defer w.dl.release()
	r.hit(w, first)
	for j := range r.jobs {
		r.hit(w, j)
	}
}

// worker is what one worker goroutine keeps from request to request.
type worker struct {
	buf   bytes.Buffer     // the answer Classify gets
	limit io.LimitedReader // caps buf at maxBody
	dl    deadline
}

// finish hands a final record to Config.Observe and on to the records.
func (r *run) finish(rec Record) {
	if r.a.cfg.Observe != nil {
		r.a.cfg.Observe(rec)
	}
	r.seq.done(rec)
}

// hit sends one request and records its outcome.
func (r *run) hit(w *worker, j job) {
	r.answer(w, &j)
	r.finish(j.rec)
	r.a.inFlight.Add(-1)
}

// answer sends j and fills in the outcome of its record.
func (r *run) answer(w *worker, j *job) {
	rec := &j.rec
	status, body, fail := r.do(w, j.body)
	rec.Latency = time.Since(j.due)
	rec.Status = status
	if fail != 0 {
		rec.Kind = fail
		r.a.failed.Add(1)
		return
	}
	out := r.classify(status, body)
	if out.OrderID != "" {
		rec.ID = out.OrderID
	}
	rec.Terminal = out.Terminal
	if out.Accepted {
		rec.Kind = Accepted
		r.a.accepted.Add(1)
		return
	}
	rec.Kind = Rejected
	r.a.failed.Add(1)
}

// do posts body and reads the whole answer, keeping the first maxBody bytes
// in w.buf when there is a Classify to give them to. fail is 0 on an answer.
func (r *run) do(w *worker, body []byte) (status int, answer []byte, fail Kind) {
	ctx := w.dl.start()
	defer w.dl.stop()
	resp, err := r.a.send(ctx, body)
	if err != nil {
		return 0, nil, failure(ctx, err)
	}
	defer resp.Body.Close()
	w.buf.Reset()
	if r.a.cfg.Classify != nil {
		w.limit = io.LimitedReader{R: resp.Body, N: maxBody}
		_, err := w.buf.ReadFrom(&w.limit)
		w.limit.R = nil
		if err != nil {
			return resp.StatusCode, nil, failure(ctx, err)
		}
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return resp.StatusCode, nil, failure(ctx, err)
	}
	return resp.StatusCode, w.buf.Bytes(), 0
}

// deadline bounds a worker's requests one at a time with one context and
// one timer, reused until a request runs out of time: a context.WithTimeout
// per request would allocate a context, a timer and the Transport's
// cancellation links every time, which showed as a few percent of the CPU
// at the ceiling. The context is cancelled with context.DeadlineExceeded as
// its cause when the timer fires.
type deadline struct {
	base    context.Context
	timeout time.Duration
	ctx     context.Context // nil when the next request needs a fresh one
	cancel  context.CancelCauseFunc
	timer   *time.Timer
}

// start returns the context of a request that starts now.
func (d *deadline) start() context.Context {
	if d.ctx == nil {
		ctx, cancel := context.WithCancelCause(d.base)
		d.ctx, d.cancel = ctx, cancel
		d.timer = time.AfterFunc(d.timeout, func() { cancel(context.DeadlineExceeded) })
		return ctx
	}
	d.timer.Reset(d.timeout)
	return d.ctx
}

// stop ends the request that start began, after its answer was read.
func (d *deadline) stop() {
	if !d.timer.Stop() {
		// The timer fired, or is firing: the context is done or about to
		// be, so the next request gets a new one.
		d.release()
	}
}

// release cancels the current context, if any.
func (d *deadline) release() {
	if d.ctx != nil {
		d.timer.Stop()
		d.cancel(context.Canceled)
		d.ctx = nil
	}
}

// send posts body, through the caller's Client when there is one.
func (a *Attacker) send(ctx context.Context, body []byte) (*http.Response, error) {
	if a.client != nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.URL, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		return a.client.Do(req)
	}
	req := a.post.WithContext(ctx)
	req.ContentLength = int64(len(body))
	if len(body) == 0 {
		req.Body, req.GetBody = http.NoBody, noBody
	} else {
		// A *bytes.Reader lets the Transport write headers and body in one
		// segment (any other reader gets the headers flushed first), and
		// GetBody lets it resend the request on a fresh connection when a
		// kept-alive one turns out to be closed before anything was
		// written: both as NewRequest sets them up.
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	return a.transport.RoundTrip(req)
}

func noBody() (io.ReadCloser, error) { return http.NoBody, nil }

// failure tells a timeout from other transport errors. The context check
// covers errors that lost their cause on the way up; the net.Error check
// covers a caller's Client with its own Timeout.
func failure(ctx context.Context, err error) Kind {
	var ne net.Error
	if errors.Is(context.Cause(ctx), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout()) {
		return Timeout
	}
	return Error
}

func (r *run) classify(status int, body []byte) Outcome {
	if r.a.cfg.Classify != nil {
		return r.a.cfg.Classify(status, body)
	}
	return Outcome{Accepted: status >= 200 && status < 300}
}
