package store

import (
	"context"
	"database/sql/driver"
	"fmt"

	"modernc.org/sqlite"
)

// maxCachedStmts bounds the statements one connection keeps prepared. The
// systems' SQL is a few dozen constant strings; a query built at run time
// past the bound is prepared for its call alone, as without the cache.
const maxCachedStmts = 128

// sqliteConnector opens SQLite connections that keep every statement they
// run prepared, keyed by its text. database/sql prepares, runs and
// finalizes a statement on every Exec and Query that does not go through a
// *sql.Stmt, and with a pure-Go SQLite parsing the SQL costs as much as
// running a small statement: the cache turns that into a map look-up and a
// reset, for every caller, without a *sql.Stmt at each call site.
type sqliteConnector struct {
	dsn string
	drv *sqlite.Driver
}

func (c sqliteConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	sc, ok := conn.(sqliteConn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("sqlite connection %T lacks the context methods the statement cache needs", conn)
	}
	return &cachingConn{sqliteConn: sc, stmts: map[string]*cachedStmt{}}, nil
}

func (c sqliteConnector) Driver() driver.Driver { return c.drv }

// sqliteConn is what database/sql uses of a modernc.org/sqlite connection.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// cachingConn is a connection with its statement cache. database/sql
// never uses one connection from two goroutines at once (rows are closed
// under the connection's lock too), so the cache needs no lock of its own.
//
// A context that has ended fails a call before it starts, but one that
// has started runs to its end (see running): on a local file with one
// connection a statement takes microseconds and waits for no lock, while
// the driver watches a cancellable context with a goroutine per statement,
// and interrupting a statement inside a transaction makes SQLite roll back
// the whole transaction, which under a group commit (Writer) is every
// write of the group.
type cachingConn struct {
	sqliteConn
	stmts map[string]*cachedStmt
}

type cachedStmt struct {
	stmt preparedStmt
	// open: rows read from the statement are not closed yet, so a query
	// of the same text meanwhile (a nested loop) gets a statement of its own.
	open bool
}

type preparedStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// cached returns query's statement, preparing it on first use; nil, and no
// error, when query is to run without the cache.
func (c *cachingConn) cached(ctx context.Context, query string) (*cachedStmt, error) {
	if cs, ok := c.stmts[query]; ok {
		return cs, nil
	}
	if len(c.stmts) >= maxCachedStmts {
		return nil, nil
	}
	s, err := c.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	ps, ok := s.(preparedStmt)
	if !ok {
		s.Close()
		return nil, nil
	}
	cs := &cachedStmt{stmt: ps}
	c.stmts[query] = cs
	return cs, nil
}

// running returns ctx without its cancellation, or ctx's error when it
// has ended already.
func running(ctx context.Context) (context.Context, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if ctx.Done() == nil {
		return ctx, nil
	}
	return context.WithoutCancel(ctx), nil
}

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	ctx, err := running(ctx)
	if err != nil {
		return nil, err
	}
	return c.sqliteConn.BeginTx(ctx, opts)
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	ctx, err := running(ctx)
	if err != nil {
		return nil, err
	}
	cs, err := c.cached(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil || cs.open {
		return c.sqliteConn.ExecContext(ctx, query, args)
	}
	return cs.stmt.ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	ctx, err := running(ctx)
	if err != nil {
		return nil, err
	}
	cs, err := c.cached(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil || cs.open {
		return c.sqliteConn.QueryContext(ctx, query, args)
	}
	rows, err := cs.stmt.QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	cs.open = true
	return &cachedRows{Rows: rows, cs: cs}, nil
}

// Close finalizes the cached statements before the connection.
func (c *cachingConn) Close() error {
	for q, cs := range c.stmts {
		cs.stmt.Close()
		delete(c.stmts, q)
	}
	return c.sqliteConn.Close()
}

// cachedRows frees its statement for the next query when closed; closing
// resets the statement instead of finalizing it.
type cachedRows struct {
	driver.Rows
	cs *cachedStmt
}

func (r *cachedRows) Close() error {
	r.cs.open = false
	return r.Rows.Close()
}
