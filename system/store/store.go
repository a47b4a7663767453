// Package store opens the embedded SQLite databases the systems keep their
// state in and holds the stock table both architectures reserve from.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/edatestbed/testbed/system/domain"
	_ "modernc.org/sqlite" // pure-Go SQLite: no cgo, so the binary stays static
)

// Driver names the database implementation for reports.
const Driver = "SQLite (modernc.org/sqlite, WAL)"

// Open opens (creating when needed) the database at path and applies
// schema. One connection: SQLite has a single writer anyway, and one
// connection turns lock contention into queueing instead of SQLITE_BUSY.
func Open(ctx context.Context, path string, schema ...string) (*sql.DB, error) {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(ON)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	for _, s := range schema {
		if _, err := db.ExecContext(ctx, s); err != nil {
			db.Close()
			return nil, fmt.Errorf("apply schema to %s: %w", path, err)
		}
	}
	return db, nil
}

// InTx runs fn in a transaction and commits when it returns nil.
func InTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, rollback(tx))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func rollback(tx *sql.Tx) error {
	if err := tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}

// StockSchema is the stock table of whoever owns inventory.
const StockSchema = `CREATE TABLE IF NOT EXISTS stock (sku TEXT PRIMARY KEY, available INTEGER NOT NULL CHECK (available >= 0))`

// SeedStock fills the stock table from the catalogue once; a restarted
// process keeps what it had.
func SeedStock(ctx context.Context, db *sql.DB, c *domain.Catalog) error {
	return InTx(ctx, db, func(tx *sql.Tx) error {
		for _, p := range c.Products() {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO stock (sku, available) VALUES (?, ?)`, p.SKU, p.Stock); err != nil {
				return fmt.Errorf("seed stock %s: %w", p.SKU, err)
			}
		}
		return nil
	})
}

// Stock is the stock table seen through a transaction; it implements
// domain.Stock.
type Stock struct{ Tx *sql.Tx }

// Available returns the units of sku on hand.
func (s Stock) Available(ctx context.Context, sku string) (int, error) {
	var n int
	if err := s.Tx.QueryRowContext(ctx, `SELECT available FROM stock WHERE sku = ?`, sku).Scan(&n); err != nil {
		return 0, fmt.Errorf("stock of %s: %w", sku, err)
	}
	return n, nil
}

// Adjust adds delta (negative to take) to the units of sku on hand.
func (s Stock) Adjust(ctx context.Context, sku string, delta int) error {
	if _, err := s.Tx.ExecContext(ctx, `UPDATE stock SET available = available + ? WHERE sku = ?`, delta, sku); err != nil {
		return fmt.Errorf("adjust stock of %s: %w", sku, err)
	}
	return nil
}

// TotalStock sums the units on hand, for conservation checks.
func TotalStock(ctx context.Context, db *sql.DB) (int, error) {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(SUM(available), 0) FROM stock`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sum stock: %w", err)
	}
	return n, nil
}
