package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgresDriver names the shared database for reports.
const PostgresDriver = "PostgreSQL (jackc/pgx v5 through database/sql)"

// OpenPostgres connects to the PostgreSQL server at dsn with at most conns
// connections, and applies schema when given. Nothing is dialled for the
// schema-less call until the first query.
func OpenPostgres(ctx context.Context, dsn string, conns int, schema ...string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse postgres dsn: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	// Idle connections stay open: reopening them costs a forked backend
	// each. One that a partition cut fails its next use and is dropped.
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	for _, s := range schema {
		if _, err := db.ExecContext(ctx, s); err != nil {
			db.Close()
			return nil, fmt.Errorf("apply schema to postgres: %w", err)
		}
	}
	return db, nil
}
