// Package store opens the databases the systems keep their state in (an
// embedded SQLite file per process, or a shared PostgreSQL server) and holds
// the stock table every architecture reserves from. The SQL here, and in
// the systems that run on both, is the dialect the two share: $n
// placeholders, ON CONFLICT DO NOTHING, BIGINT for nanosecond times.
package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"modernc.org/sqlite" // pure-Go SQLite: no cgo, so the binary stays static

	"github.com/edatestbed/testbed/system/domain"
)

// Driver names the database implementation for reports.
const Driver = "SQLite (modernc.org/sqlite, WAL)"

// Open opens (creating when needed) the database at path and applies
// schema. One connection: SQLite has a single writer anyway, and one
// connection turns lock contention into queueing instead of SQLITE_BUSY.
// The connection keeps the statements it runs prepared (see
// sqliteConnector).
func Open(ctx context.Context, path string, schema ...string) (*sql.DB, error) {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(ON)&_txlock=immediate"
	db := sql.OpenDB(sqliteConnector{dsn: dsn, drv: &sqlite.Driver{}})
	db.SetMaxOpenConns(1)
	for _, s := range schema {
		if _, err := db.ExecContext(ctx, s); err != nil {
			db.Close()
			return nil, fmt.Errorf("apply schema to %s: %w", path, err)
		}
	}
	return db, nil
}

// OpenReader opens a second connection to the database at path, which
// Open must have created, for a reader that must not queue behind the
// writer's connection: in WAL mode a reader sees the last commit and
// neither waits for the writer nor holds it up. It refuses writes.
func OpenReader(path string) (*sql.DB, error) {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=query_only(1)"
	db := sql.OpenDB(sqliteConnector{dsn: dsn, drv: &sqlite.Driver{}})
	db.SetMaxOpenConns(1)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open reader of %s: %w", path, err)
	}
	return db, nil
}

// OpenReadOnly opens an existing database for reading only: what checkers
// and tools do with a finished run's files, which must not change them.
func OpenReadOnly(path string) (*sql.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
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
			if _, err := tx.ExecContext(ctx, `INSERT INTO stock (sku, available) VALUES ($1, $2) ON CONFLICT DO NOTHING`, p.SKU, p.Stock); err != nil {
				return fmt.Errorf("seed stock %s: %w", p.SKU, err)
			}
		}
		return nil
	})
}

// Stock is the stock table seen through a transaction; it implements
// domain.Stock. Its SQL runs on SQLite and PostgreSQL alike.
type Stock struct{ Tx *sql.Tx }

// Available returns the units of sku on hand.
func (s Stock) Available(ctx context.Context, sku string) (int, error) {
	var n int
	if err := s.Tx.QueryRowContext(ctx, `SELECT available FROM stock WHERE sku = $1`, sku).Scan(&n); err != nil {
		return 0, fmt.Errorf("stock of %s: %w", sku, err)
	}
	return n, nil
}

// Adjust adds delta (negative to take) to the units of sku on hand. The
// update only applies while enough is left: on a database several writers
// share, the units Available saw may be gone by now, and the error then
// wraps domain.ErrOutOfStock so the caller's transaction rolls back as a
// plain shortage.
func (s Stock) Adjust(ctx context.Context, sku string, delta int) error {
	res, err := s.Tx.ExecContext(ctx, `UPDATE stock SET available = available + $1 WHERE sku = $2 AND available + $1 >= 0`, delta, sku)
	if err != nil {
		return fmt.Errorf("adjust stock of %s: %w", sku, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("adjust stock of %s: %w", sku, err)
	} else if n == 0 {
		if delta < 0 {
			return fmt.Errorf("%w: %s has fewer than %d left", domain.ErrOutOfStock, sku, -delta)
		}
		return fmt.Errorf("adjust stock of %s: no such SKU", sku)
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

// Querier is what ReadOrder reads through: a database or a transaction.
type Querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ReadOrder reads an order from an orders table with the columns of
// domain.Order (items as JSON), as the monolith and the chain's order
// service keep it.
func ReadOrder(ctx context.Context, q Querier, id string) (domain.Order, error) {
	var o domain.Order
	var items []byte
	err := q.QueryRowContext(ctx, `SELECT id, customer, items, amount, state, reason FROM orders WHERE id = $1`, id).
		Scan(&o.ID, &o.Customer, &items, &o.Amount, &o.State, &o.Reason)
	if err != nil {
		return o, fmt.Errorf("read order %s: %w", id, err)
	}
	if err := json.Unmarshal(items, &o.Items); err != nil {
		return o, fmt.Errorf("decode items of order %s: %w", id, err)
	}
	return o, nil
}
