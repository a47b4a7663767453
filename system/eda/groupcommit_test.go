package eda

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"testing"

	"github.com/edatestbed/testbed/system/store"
	"github.com/edatestbed/testbed/system/telemetry"
)

// A group commits every write that succeeds, with its events, and undoes a
// failed write alone, whatever its place in the group; each caller gets its
// own write's error.
func TestGroupCommitIsolatesFailedWrites(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name string
		fail []bool // per write of the group: does its apply fail after writing?
	}{
		{"one write", []bool{false}},
		{"one failed write", []bool{true}},
		{"all succeed", []bool{false, false, false}},
		{"first fails", []bool{true, false, false}},
		{"middle fails", []bool{false, true, false}},
		{"last fails", []bool{false, false, true}},
		{"all fail", []bool{true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testService(t)
			ctx := context.Background()
			var batch []*pendingWrite
			for i, fail := range tt.fail {
				id := fmt.Sprintf("w%d", i)
				batch = append(batch, &pendingWrite{ctx: ctx, done: make(chan error, 1), apply: func(tx *sql.Tx) ([]Event, error) {
					// The failing write has changed the database before it
					// fails: undoing it must take that back too.
					if _, err := tx.ExecContext(ctx, `INSERT INTO processed (id) VALUES (?)`, id); err != nil {
						return nil, err
					}
					if fail {
						return nil, boom
					}
					return []Event{NewEvent(OrderShipped, id)}, nil
				}})
			}
			s.writes.commit(ctx, batch)

			var want []string
			for i, w := range batch {
				err := <-w.done
				if tt.fail[i] != errors.Is(err, boom) || (!tt.fail[i] && err != nil) {
					t.Errorf("write %d: err = %v, want failure %v", i, err, tt.fail[i])
				}
				if !tt.fail[i] {
					want = append(want, fmt.Sprintf("w%d", i))
				}
			}
			if got := column(t, s.db, `SELECT id FROM processed ORDER BY id`); !slices.Equal(got, want) {
				t.Errorf("processed = %v, want %v", got, want)
			}
			if got := column(t, s.db, `SELECT key FROM outbox ORDER BY seq`); !slices.Equal(got, want) {
				t.Errorf("outbox keys = %v, want %v", got, want)
			}
		})
	}
}

// testService is a service with a database holding processed and the
// outbox, and no broker: enough to run its group commit by hand.
func testService(t *testing.T) *service {
	t.Helper()
	tel, err := telemetry.New(context.Background(), telemetry.Config{Arch: "eda"}, Shipping, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "test.db"), processedSchema, outboxSchema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	s := &service{name: Shipping, log: tel.Log, tel: tel, db: db, metrics: newMetrics()}
	s.writes = newGroupCommit(s)
	return s
}

func column(t *testing.T, db *sql.DB, query string) []string {
	t.Helper()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
