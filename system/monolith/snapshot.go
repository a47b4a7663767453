package monolith

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/edatestbed/testbed/system/store"
)

// snapshotTables are the tables a snapshot copies, with their columns.
var snapshotTables = []struct{ name, columns string }{
	{"orders", "id, customer, items, amount, state, reason, owner, created_at, updated_at"},
	{"stock", "sku, available"},
	{"shipments", "order_id, tracking"},
	{"pending_refunds", "order_id, queued_at"},
}

// Snapshot copies the monolith's tables from src (the replicas' shared
// PostgreSQL database) into a new SQLite file at path with the monolith's
// own schema: the server does not outlive the run, and the copy is read
// exactly as a single monolith's database is.
func Snapshot(ctx context.Context, src *sql.DB, path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("snapshot: %w", err)
	}
	dst, err := store.Open(ctx, path, schemas()...)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	defer dst.Close()
	return store.InTx(ctx, dst, func(tx *sql.Tx) error {
		for _, t := range snapshotTables {
			if err := copyTable(ctx, src, tx, t.name, t.columns); err != nil {
				return fmt.Errorf("snapshot %s: %w", t.name, err)
			}
		}
		return nil
	})
}

func copyTable(ctx context.Context, src *sql.DB, dst *sql.Tx, table, columns string) error {
	rows, err := src.QueryContext(ctx, `SELECT `+columns+` FROM `+table)
	if err != nil {
		return err
	}
	defer rows.Close()
	n := len(strings.Split(columns, ","))
	marks := make([]string, n)
	for i := range marks {
		marks[i] = fmt.Sprintf("$%d", i+1)
	}
	insert := `INSERT INTO ` + table + ` (` + columns + `) VALUES (` + strings.Join(marks, ", ") + `)`
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if _, err := dst.ExecContext(ctx, insert, vals...); err != nil {
			return err
		}
	}
	return rows.Err()
}
