package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
)

// maxGroup bounds how many writes share one transaction.
const maxGroup = 256

// Writer funnels the writes of many goroutines to one SQLite database
// through one goroutine that commits whatever is waiting in one
// transaction, each write in its own savepoint: group commit. SQLite has
// one writer anyway; grouping turns N begin/commit pairs, and the WAL
// frames of every page they share, into one, without letting one failed
// write undo the others. Each caller still hears its own outcome, after
// the commit: a nil error means its write is committed, any error that it
// is not.
type Writer struct {
	db      *sql.DB
	in      chan *write
	stopped chan struct{}
}

type write struct {
	ctx  context.Context
	fn   func(context.Context, *sql.Tx) error
	done chan error
	// state moves once, from queued to started (the writer runs it) or to
	// abandoned (its caller stopped waiting first, so it never runs).
	state atomic.Int32
}

const (
	queued int32 = iota
	started
	abandoned
)

// ErrWriterStopped is returned for writes that reach a Writer whose Run
// has returned.
var ErrWriterStopped = errors.New("database writer stopped")

// NewWriter returns a Writer of db; nothing is written until Run runs.
func NewWriter(db *sql.DB) *Writer {
	return &Writer{db: db, in: make(chan *write, maxGroup), stopped: make(chan struct{})}
}

// Do runs fn in a transaction it may share with other writes, as if in one
// of its own: fn's changes are undone when it returns an error, and commit
// or not with the group. It returns once the outcome is known. fn runs on
// the writer's goroutine, with ctx's values but not its cancellation:
// interrupting a statement rolls back the whole shared transaction, so a
// write that has started runs to the end. One whose ctx ends before it
// starts does not run, and Do returns ctx's error.
func (w *Writer) Do(ctx context.Context, fn func(context.Context, *sql.Tx) error) error {
	wr := &write{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case w.in <- wr:
	case <-ctx.Done():
		return ctx.Err()
	case <-w.stopped:
		return ErrWriterStopped
	}
	select {
	case err := <-wr.done:
		return err
	case <-ctx.Done():
		if wr.state.CompareAndSwap(queued, abandoned) {
			return ctx.Err()
		}
		// Started: its outcome is a moment away, and only it says
		// whether the write stuck.
		return <-wr.done
	case <-w.stopped:
		select {
		case err := <-wr.done:
			return err
		default:
			return ErrWriterStopped // never taken from the queue
		}
	}
}

// Run commits groups until ctx ends. It finishes the group in hand first.
func (w *Writer) Run(ctx context.Context) {
	defer close(w.stopped)
	batch := make([]*write, 0, maxGroup)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return
		case wr := <-w.in:
			batch = append(batch, wr)
		}
		// Let the goroutines that are ready to run go first: they are
		// mostly callers about to queue a write. Woken by the first
		// caller's send, the writer would otherwise run at once, alone,
		// and commit groups of one or two while the CPU is busy; yielding
		// once costs nothing when nobody else is ready.
		runtime.Gosched()
	fill:
		for len(batch) < maxGroup {
			select {
			case wr := <-w.in:
				batch = append(batch, wr)
			default:
				break fill
			}
		}
		w.commit(batch)
	}
}

func (w *Writer) commit(batch []*write) {
	// The group's own statements are not cancelled either: the writer
	// stops between groups, not inside one.
	ctx := context.Background()
	errs := make([]error, len(batch))
	ran := make([]bool, len(batch))
	err := InTx(ctx, w.db, func(tx *sql.Tx) error {
		for i, wr := range batch {
			if !wr.state.CompareAndSwap(queued, started) {
				continue // abandoned: its caller has its answer
			}
			ran[i] = true
			if err := wr.ctx.Err(); err != nil {
				errs[i] = err
				continue
			}
			if _, err := tx.ExecContext(ctx, `SAVEPOINT write`); err != nil {
				return fmt.Errorf("savepoint: %w", err)
			}
			if err := wr.fn(context.WithoutCancel(wr.ctx), tx); err != nil {
				errs[i] = err
				// A failed ROLLBACK TO means the transaction itself is
				// gone: the whole group fails.
				if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO write`); rerr != nil {
					return errors.Join(err, fmt.Errorf("roll back to savepoint: %w", rerr))
				}
			}
			if _, err := tx.ExecContext(ctx, `RELEASE write`); err != nil {
				return fmt.Errorf("release savepoint: %w", err)
			}
		}
		return nil
	})
	for i, wr := range batch {
		if !ran[i] {
			if wr.state.CompareAndSwap(queued, started) {
				// Never reached: the group failed before it.
				wr.done <- err
			}
			continue
		}
		if err != nil && errs[i] == nil {
			errs[i] = err // the group did not commit: nobody's write stuck
		}
		wr.done <- errs[i]
	}
}
