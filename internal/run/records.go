package run

import (
	"bufio"
	"context"
	varint "encoding/binary" // binary is the end-to-end tests' testbed
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/edatestbed/testbed/internal/loadgen"
	"github.com/edatestbed/testbed/internal/spool"
	"github.com/edatestbed/testbed/system/domain"
	"github.com/edatestbed/testbed/system/eda"
	"github.com/edatestbed/testbed/system/psp"
)

// Files of the raw record, per architecture, that checkers and later
// analyses read.
const (
	RequestsFile  = "requests.csv"    // every scheduled request and its outcome
	TerminalsFile = "terminals.csv"   // every terminal event the testbed observed (EDA)
	LedgerFile    = "psp-ledger.json" // every charge the payment provider decided
	DLQFile       = "dlq.jsonl"       // every dead letter, one JSON object per line (EDA)
)

// The spools hold the same records as requests.csv and terminals.csv with
// exact times, for the report: written beside them as the run goes, read
// back once it is over and removed when the report has what it needs. A
// testbed that dies in the middle of a run leaves them behind.
const (
	requestsSpool  = "requests.spool"
	terminalsSpool = "terminals.spool"
)

// flushEvery bounds how long a record waits in a buffer before it reaches
// its file, so that a testbed that dies loses at most that much.
const flushEvery = time.Second

// begin creates a's attacker for cfg with the files its load writes as it
// goes, in the directory base: every final record goes to the requests
// spool and, for an event-driven architecture, every terminal event from
// now on to the terminals spool; with withCSV, to requests.csv and
// terminals.csv as well. seqOf reads the Seq of an order of the load from
// its id. begin resets the live view, which then covers this load only.
func (a *archRun) begin(base string, withCSV bool, seqOf func(id string) (uint64, bool), cfg loadgen.Config) error {
	if err := os.MkdirAll(base, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", base, err)
	}
	req, err := createRequestLog(base, withCSV)
	if err != nil {
		return err
	}
	cfg.Records = req
	att, err := loadgen.New(cfg)
	if err != nil {
		return errors.Join(err, req.close())
	}
	var terms *terminalLog
	if !a.plan.synchronous {
		if terms, err = createTerminalLog(base, withCSV, att.Start); err != nil {
			return errors.Join(err, req.close())
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.attacker, a.requests, a.terminals = att, req, terms
	a.recording, a.termErr = terms != nil, nil
	a.seqOf, a.intended = seqOf, att.Intended
	a.final, a.accepted, a.ended, a.early = nil, nil, nil, nil
	a.finished, a.waiting = 0, 0
	return nil
}

// orderSeq reads the Seq of an order of a load back from its id, which
// domain.Catalog.Order made of prefix and the Seq.
func orderSeq(prefix string) func(id string) (uint64, bool) {
	return func(id string) (uint64, bool) {
		digits, ok := strings.CutPrefix(id, prefix)
		if !ok {
			return 0, false
		}
		seq, err := strconv.ParseUint(digits, 10, 64)
		return seq, err == nil
	}
}

// endLoad closes the files of the load once it is over: the terminals file
// takes no more events.
func (a *archRun) endLoad() error {
	a.mu.Lock()
	a.recording = false
	errs := []error{a.termErr}
	a.mu.Unlock()
	if a.requests != nil {
		errs = append(errs, a.requests.close())
	}
	if a.terminals != nil {
		errs = append(errs, a.terminals.close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s: %w", a.plan.arch, err)
	}
	return nil
}

// eachRecord reads the records of the last load back, in Seq order.
func (a *archRun) eachRecord(fn func(*loadgen.Record) error) error {
	f, err := os.Open(a.requests.spool.path)
	if err != nil {
		return fmt.Errorf("read records: %w", err)
	}
	defer f.Close()
	if err := loadgen.ReadRecords(f, fn); err != nil {
		return fmt.Errorf("read records of %s: %w", f.Name(), err)
	}
	return nil
}

// readCompletions reads the terminal events of the last load back and
// returns each order's first; nil for a synchronous architecture.
func (a *archRun) readCompletions() (map[string]loadgen.Completion, error) {
	if a.terminals == nil {
		return nil, nil
	}
	done := map[string]loadgen.Completion{}
	err := a.terminals.read(func(t eda.Terminal) {
		if _, ok := done[t.OrderID]; !ok {
			done[t.OrderID] = loadgen.Completion{At: t.At, State: string(t.State), Failed: domain.SystemFault(t.Reason)}
		}
	})
	return done, err
}

// removeSpools removes the spools of the last load.
func (a *archRun) removeSpools() error {
	errs := []error{os.Remove(a.requests.spool.path)}
	if a.terminals != nil {
		errs = append(errs, os.Remove(a.terminals.spool.path))
	}
	return errors.Join(errs...)
}

// writeRecords closes the files the run wrote as it went and saves the
// rest of the architecture's raw record into the bundle.
func (a *archRun) writeRecords(ctx context.Context, dir string) error {
	base := filepath.Join(dir, a.plan.arch)
	var errs []error
	if a.requests != nil {
		errs = append(errs, a.endLoad())
	}
	if !a.plan.synchronous {
		errs = append(errs, writeDeadLetters(ctx, a.plan.brokers, a.plan.brokerRoutes, filepath.Join(base, DLQFile)))
	}
	if a.plan.settle != nil {
		// Settling waits only while the run is not interrupted.
		if err := a.plan.settle(ctx, base); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a.plan.arch, err))
		}
	}
	return errors.Join(errs...)
}

// saveLedger exports the payment provider's ledger into the bundle, after
// teardown: with every process stopped, no order is charged or refunded
// between the reading of the ledger and of the systems' tables, as one
// would be while a backlog still drains. It is saved even after Ctrl-C:
// it is part of what was measured.
func (a *archRun) saveLedger(ctx context.Context, dir string) error {
	path := filepath.Join(dir, a.plan.arch, LedgerFile)
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("%s: save ledger: %w", a.plan.arch, err)
	}
	_, err = psp.ExportLedger(context.WithoutCancel(ctx), a.plan.ledger, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: save ledger to %s: %w", a.plan.arch, path, err)
	}
	return nil
}

// requestLog takes the load generator's records as they become final, in
// Seq order (its Config.Records): into requests.csv, for the checkers and
// readers of the bundle, and into the requests spool.
type requestLog struct {
	csv   *logFile // nil: none
	spool *logFile
	row   []string
	buf   []byte
}

func createRequestLog(base string, withCSV bool) (*requestLog, error) {
	l := &requestLog{}
	var err error
	if withCSV {
		head := []string{"seq", "id", "warmup", "intended_ms", "latency_ms", "status", "kind", "terminal"}
		if l.csv, err = createLog(filepath.Join(base, RequestsFile), head); err != nil {
			return nil, err
		}
	}
	if l.spool, err = createLog(filepath.Join(base, requestsSpool), nil); err != nil {
		return nil, errors.Join(err, l.close())
	}
	return l, nil
}

// WriteRecord is called by one goroutine at a time.
func (l *requestLog) WriteRecord(r *loadgen.Record) error {
	if l.csv != nil {
		l.row = append(l.row[:0], strconv.FormatUint(r.Seq, 10), r.ID, strconv.FormatBool(r.Warmup), ms(r.Intended), ms(r.Latency),
			strconv.Itoa(r.Status), r.Kind.String(), r.Terminal)
		if err := l.csv.writeRow(l.row); err != nil {
			return err
		}
	}
	l.buf = loadgen.AppendRecord(l.buf[:0], r)
	return l.spool.write(l.buf)
}

func (l *requestLog) close() error { return closeLogs(l.csv, l.spool) }

// terminalLog takes the terminal events of an event-driven architecture as
// the watcher sees them, duplicates included: into terminals.csv and into
// the terminals spool. archRun.mu serialises its writes.
type terminalLog struct {
	csv   *logFile // nil: none
	spool *logFile
	// ref is what the spool's times count from: a time of this process
	// with its monotonic clock, so that the times read back subtract as
	// the watcher's did.
	ref time.Time
	// start is the start of the measured period, which at_ms counts from,
	// once the load has begun; no order, so no terminal event, comes
	// before.
	start func() (time.Time, bool)
	row   []string
	buf   []byte
}

func createTerminalLog(base string, withCSV bool, start func() (time.Time, bool)) (*terminalLog, error) {
	l := &terminalLog{ref: time.Now(), start: start}
	var err error
	if withCSV {
		if l.csv, err = createLog(filepath.Join(base, TerminalsFile), []string{"order_id", "state", "reason", "at_ms"}); err != nil {
			return nil, err
		}
	}
	if l.spool, err = createLog(filepath.Join(base, terminalsSpool), nil); err != nil {
		return nil, errors.Join(err, l.close())
	}
	return l, nil
}

func (l *terminalLog) write(t eda.Terminal) error {
	if l.csv != nil {
		start, _ := l.start()
		l.row = append(l.row[:0], t.OrderID, string(t.State), t.Reason, ms(t.At.Sub(start)))
		if err := l.csv.writeRow(l.row); err != nil {
			return err
		}
	}
	b := spool.AppendString(l.buf[:0], t.OrderID)
	b = spool.AppendString(b, string(t.State))
	b = spool.AppendString(b, t.Reason)
	l.buf = varint.AppendVarint(b, int64(t.At.Sub(l.ref)))
	return l.spool.write(l.buf)
}

// read calls fn for every event of the spool, in the order they came.
func (l *terminalLog) read(fn func(eda.Terminal)) error {
	f, err := os.Open(l.spool.path)
	if err != nil {
		return fmt.Errorf("read terminal events: %w", err)
	}
	defer f.Close()
	sr := spool.NewReader(f)
	for n := 0; sr.More(); n++ {
		// States and reasons repeat; order ids do not.
		t := eda.Terminal{OrderID: sr.String(), State: domain.State(sr.Interned()), Reason: sr.Interned()}
		t.At = l.ref.Add(time.Duration(sr.Varint()))
		if err := sr.Err(); err != nil {
			return fmt.Errorf("read terminal event %d of %s: %w", n, f.Name(), err)
		}
		fn(t)
	}
	if err := sr.Err(); err != nil {
		return fmt.Errorf("read terminal events of %s: %w", f.Name(), err)
	}
	return nil
}

func (l *terminalLog) close() error { return closeLogs(l.csv, l.spool) }

// closeLogs closes the files that are not nil.
func closeLogs(files ...*logFile) error {
	var errs []error
	for _, f := range files {
		if f != nil {
			errs = append(errs, f.close())
		}
	}
	return errors.Join(errs...)
}

// logFile is a file of the bundle written while the run goes. Writes are
// buffered, and what waits in the buffer reaches the file when the buffer
// fills or flushEvery after it was written, whichever comes first.
type logFile struct {
	path string
	f    *os.File

	mu     sync.Mutex
	w      *bufio.Writer
	csv    *csv.Writer // over w, for a CSV file
	timer  *time.Timer // flushes w
	armed  bool        // the timer runs
	closed bool
	err    error // the first failure, after which nothing more is written
}

// createLog creates the file at path; with head, a CSV file with that
// header.
func createLog(path string, head []string) (*logFile, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	l := &logFile{path: path, f: f, w: bufio.NewWriterSize(f, 64<<10)}
	l.timer = time.AfterFunc(time.Hour, l.flush)
	l.timer.Stop()
	if head != nil {
		// The writer is large enough for csv to write into it directly.
		l.csv = csv.NewWriter(l.w)
		if err := l.writeRow(head); err != nil {
			return nil, errors.Join(err, l.close())
		}
	}
	return l, nil
}

func (l *logFile) write(b []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil && !l.closed {
		_, l.err = l.w.Write(b)
		l.wrote()
	}
	return l.failure()
}

func (l *logFile) writeRow(row []string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil && !l.closed {
		l.err = l.csv.Write(row)
		l.wrote()
	}
	return l.failure()
}

// wrote arms the timer for what was just written. Called with mu held.
func (l *logFile) wrote() {
	if !l.armed {
		l.armed = true
		l.timer.Reset(flushEvery)
	}
}

func (l *logFile) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.armed = false
	if l.err == nil && !l.closed {
		l.err = l.w.Flush()
	}
}

// failure is the first error, with the file's path. Called with mu held.
func (l *logFile) failure() error {
	if l.err != nil {
		return fmt.Errorf("write %s: %w", l.path, l.err)
	}
	return nil
}

func (l *logFile) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return l.failure()
	}
	l.closed = true
	l.timer.Stop()
	if l.err == nil {
		l.err = l.w.Flush()
	}
	if err := l.f.Close(); l.err == nil {
		l.err = err
	}
	return l.failure()
}

// ms formats a duration as milliseconds with microsecond precision.
func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 3, 64) }

func writeDeadLetters(ctx context.Context, brokers []string, routes map[string]string, path string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	letters, err := eda.ReadDeadLetters(ctx, brokers, routes)
	if err != nil {
		return fmt.Errorf("read dead letters: %w", err)
	}
	var b []byte
	for _, l := range letters {
		line, _ := json.Marshal(l)
		b = append(append(b, line...), '\n')
	}
	return os.WriteFile(path, b, 0o644)
}
