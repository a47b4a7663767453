package eda

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"

	"github.com/edatestbed/testbed/system/store"
)

// maxGroup bounds how many writes share one transaction.
const maxGroup = 256

// groupCommit funnels every state change of a service through one writer
// goroutine that commits whatever is waiting in one transaction, each write
// in its own savepoint. SQLite has one writer anyway; grouping turns N
// begin/commit pairs into one without letting one failed write undo the
// others. Callers still get their own result, after their commit.
type groupCommit struct {
	s  *service
	in chan *pendingWrite
}

type pendingWrite struct {
	ctx   context.Context
	apply func(tx *sql.Tx) ([]Event, error)
	done  chan error
}

func newGroupCommit(s *service) *groupCommit {
	return &groupCommit{s: s, in: make(chan *pendingWrite, maxGroup)}
}

// do runs apply and records its events in the outbox, in a transaction it
// may share with other writes, and returns once that transaction ended.
func (g *groupCommit) do(ctx context.Context, apply func(tx *sql.Tx) ([]Event, error)) error {
	w := &pendingWrite{ctx: ctx, apply: apply, done: make(chan error, 1)}
	select {
	case g.in <- w:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		// The write may still commit; the caller just stops waiting.
		return ctx.Err()
	}
}

// run commits groups until ctx ends.
func (g *groupCommit) run(ctx context.Context) {
	for {
		var batch []*pendingWrite
		select {
		case <-ctx.Done():
			return
		case w := <-g.in:
			batch = append(batch, w)
		}
		// Let the goroutines that are ready to run go first: they are
		// mostly handlers about to queue a write. Woken by the first
		// one's send, the writer would otherwise run at once, alone, and
		// commit groups of one or two while the CPU is busy; yielding once
		// costs nothing when nobody else is ready.
		runtime.Gosched()
	fill:
		for len(batch) < maxGroup {
			select {
			case w := <-g.in:
				batch = append(batch, w)
			default:
				break fill
			}
		}
		g.commit(ctx, batch)
	}
}

// errWriteFailed ends a group's transaction run without savepoints at the
// first write that fails.
var errWriteFailed = errors.New("a write of the group failed")

// commit runs a group in one transaction. Most groups have no failing
// write, so the group first runs without savepoints (two statements fewer
// per write); only when a write fails does the group run again with one
// savepoint per write, so that the failed write alone is undone.
func (g *groupCommit) commit(ctx context.Context, batch []*pendingWrite) {
	errs, emitted, err := g.try(ctx, batch, false)
	if errors.Is(err, errWriteFailed) {
		if len(batch) > 1 {
			errs, emitted, err = g.try(ctx, batch, true)
		} else {
			err = nil // the write's own error is in errs; nothing else was in the transaction
		}
	}
	for i, w := range batch {
		if err != nil && errs[i] == nil {
			errs[i] = err // the group did not commit: nobody's write stuck
		}
		w.done <- errs[i]
	}
	if err == nil && emitted && g.s.relay != nil {
		g.s.relay.notify()
	}
}

// try applies every write of batch in one transaction and commits it. It
// returns each write's error, whether any committed write emitted events,
// and the transaction's error. Without savepoints the first failed write
// rolls the transaction back with errWriteFailed.
func (g *groupCommit) try(ctx context.Context, batch []*pendingWrite, savepoints bool) ([]error, bool, error) {
	errs := make([]error, len(batch))
	emitted := false
	err := store.InTx(ctx, g.s.db, func(tx *sql.Tx) error {
		for i, w := range batch {
			if err := w.ctx.Err(); err != nil {
				errs[i] = err
				continue
			}
			if savepoints {
				if _, err := tx.ExecContext(ctx, `SAVEPOINT write`); err != nil {
					return fmt.Errorf("savepoint: %w", err)
				}
			}
			events, err := w.apply(tx)
			if err == nil {
				err = g.s.addToOutbox(w.ctx, tx, events)
			}
			switch {
			case err != nil && !savepoints:
				errs[i] = err
				return errWriteFailed
			case err != nil:
				errs[i] = err
				if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO write`); rerr != nil {
					return errors.Join(err, fmt.Errorf("roll back to savepoint: %w", rerr))
				}
			default:
				emitted = emitted || len(events) > 0
			}
			if savepoints {
				if _, err := tx.ExecContext(ctx, `RELEASE write`); err != nil {
					return fmt.Errorf("release savepoint: %w", err)
				}
			}
		}
		return nil
	})
	return errs, emitted, err
}
