package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
)

func openTest(t *testing.T, schema ...string) *sql.DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "t.db"), schema...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// cacheSize is how many statements db's one connection keeps prepared.
func cacheSize(t *testing.T, db *sql.DB) int {
	t.Helper()
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n := -1
	if err := c.Raw(func(dc any) error {
		n = len(dc.(*cachingConn).stmts)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestStatementsArePreparedOnce(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, `CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)`)
	before := cacheSize(t, db)
	for i := range 10 {
		if _, err := db.ExecContext(ctx, `INSERT INTO t (k, v) VALUES (?, ?)`, i, "v"); err != nil {
			t.Fatal(err)
		}
	}
	if got := cacheSize(t, db); got != before+1 {
		t.Fatalf("%d statements cached after one INSERT ran 10 times, want %d", got, before+1)
	}
	// A constraint failure leaves the statement reusable.
	if _, err := db.ExecContext(ctx, `INSERT INTO t (k, v) VALUES (?, ?)`, 1, "again"); err == nil {
		t.Fatal("duplicate key inserted")
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO t (k, v) VALUES (?, ?)`, 10, "v"); err != nil {
		t.Fatalf("insert after a failed one: %v", err)
	}
	// SQL that does not parse is an error, and is not cached.
	if _, err := db.ExecContext(ctx, `INSERT INTO nowhere VALUES (1)`); err == nil {
		t.Fatal("insert into a missing table succeeded")
	}
	if got := cacheSize(t, db); got != before+1 {
		t.Fatalf("%d statements cached, want %d", got, before+1)
	}
}

func TestNestedQueriesOfOneStatement(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, `CREATE TABLE t (k INTEGER PRIMARY KEY)`)
	for i := range 3 {
		if _, err := db.ExecContext(ctx, `INSERT INTO t (k) VALUES (?)`, i); err != nil {
			t.Fatal(err)
		}
	}
	const q = `SELECT k FROM t WHERE k >= ? ORDER BY k`
	err := InTx(ctx, db, func(tx *sql.Tx) error {
		outer, err := tx.QueryContext(ctx, q, 0)
		if err != nil {
			return err
		}
		defer outer.Close()
		pairs := 0
		for outer.Next() {
			var k int
			if err := outer.Scan(&k); err != nil {
				return err
			}
			// The same text while the outer rows are open gets a
			// statement of its own.
			inner, err := tx.QueryContext(ctx, q, k)
			if err != nil {
				return err
			}
			for inner.Next() {
				pairs++
			}
			if err := inner.Close(); err != nil {
				return err
			}
		}
		if pairs != 3+2+1 {
			t.Errorf("%d pairs, want 6", pairs)
		}
		return outer.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	// Closed, the cached statement serves the next query from the start.
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM t WHERE k >= ?`, 1).Scan(&n); err != nil || n != 2 {
		t.Fatalf("count = %d, %v; want 2", n, err)
	}
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM t WHERE k >= ?`, 0).Scan(&n); err != nil || n != 3 {
		t.Fatalf("count = %d, %v; want 3", n, err)
	}
}

func TestEndedContextFailsBeforeTheStatement(t *testing.T) {
	db := openTest(t, `CREATE TABLE t (k INTEGER PRIMARY KEY)`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := db.ExecContext(ctx, `INSERT INTO t (k) VALUES (1)`); !errors.Is(err, context.Canceled) {
		t.Fatalf("insert with a cancelled context = %v, want context.Canceled", err)
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM t`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d rows, %v; want none", n, err)
	}
}
