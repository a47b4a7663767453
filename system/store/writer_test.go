package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// runWriter runs w until the test ends.
func runWriter(t *testing.T, w *Writer) *Writer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return w
}

var errNo = errors.New("no")

func TestWriterKeepsEveryWriteToItself(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, `CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)`)
	w := runWriter(t, NewWriter(db))
	// Concurrent writes share transactions; every third one fails after
	// writing, and only its own row goes.
	var wg sync.WaitGroup
	errs := make([]error, 300)
	for i := range errs {
		wg.Go(func() {
			errs[i] = w.Do(ctx, func(ctx context.Context, tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO t (k, v) VALUES (?, ?)`, i, fmt.Sprint(i)); err != nil {
					return err
				}
				if i%3 == 0 {
					return errNo
				}
				return nil
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if (i%3 == 0) != errors.Is(err, errNo) || (i%3 != 0 && err != nil) {
			t.Fatalf("write %d = %v", i, err)
		}
	}
	rows, err := db.QueryContext(ctx, `SELECT k FROM t`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var k int
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		if k%3 == 0 {
			t.Fatalf("row %d of a failed write was committed", k)
		}
		n++
	}
	if n != 200 {
		t.Fatalf("%d rows, want the 200 of the writes that succeeded", n)
	}
}

func TestWriterSkipsAbandonedWrites(t *testing.T) {
	db := openTest(t, `CREATE TABLE t (k INTEGER PRIMARY KEY)`)
	w := NewWriter(db) // not running yet: writes wait in the queue
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- w.Do(ctx, func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO t (k) VALUES (1)`)
			return err
		})
	}()
	for len(w.in) == 0 { // until the write is queued
		select {
		case err := <-errc:
			t.Fatalf("Do returned %v before the writer ran", err)
		default:
			runtime.Gosched()
		}
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned write = %v, want context.Canceled", err)
	}
	runWriter(t, w)
	// A write queued after the abandoned one runs: the writer has passed it.
	if err := w.Do(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO t (k) VALUES (2)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var ks []int
	rows, err := db.Query(`SELECT k FROM t`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k int
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		ks = append(ks, k)
	}
	if len(ks) != 1 || ks[0] != 2 {
		t.Fatalf("rows %v, want only 2: the abandoned write must not run", ks)
	}
}

func TestWriterStopped(t *testing.T) {
	db := openTest(t, `CREATE TABLE t (k INTEGER PRIMARY KEY)`)
	w := NewWriter(db)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w.Run(ctx) // returns at once
	err := w.Do(context.Background(), func(context.Context, *sql.Tx) error {
		t.Error("a stopped writer ran a write")
		return nil
	})
	if !errors.Is(err, ErrWriterStopped) {
		t.Fatalf("write to a stopped writer = %v, want ErrWriterStopped", err)
	}
}
