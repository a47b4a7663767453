// Package monolith is the baseline: one process and one database that place,
// reserve, charge and ship an order synchronously, inside the HTTP request,
// with the same domain rules as the event-driven system.
//
// The same code runs replicated (monolith-ha): several processes behind a
// load balancer, all on one PostgreSQL server instead of each on its own
// SQLite file. Its SQL is the dialect both share; what replication adds is
// ownership (a replica recovers the orders it started) and compare-and-set
// state changes, so two replicas can never both settle one order.
package monolith

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/edatestbed/testbed/system/component"
	"github.com/edatestbed/testbed/system/domain"
	"github.com/edatestbed/testbed/system/psp"
	"github.com/edatestbed/testbed/system/store"
	"github.com/edatestbed/testbed/system/telemetry"
)

// Config is what the runtime hands the monolith process.
type Config struct {
	Listen     string               `json:"listen"`
	DataDir    string               `json:"data_dir"`
	Catalog    domain.CatalogConfig `json:"catalog"`
	PSPURL     string               `json:"psp_url"`
	PSPTimeout time.Duration        `json:"psp_timeout"`
	Telemetry  telemetry.Config     `json:"telemetry"`
	// Database, when set, is the DSN of the PostgreSQL server this process
	// shares with the other replicas; empty means its own SQLite file in
	// DataDir.
	Database string `json:"database,omitempty"`
	// Replica names this process among the replicas; the orders it starts
	// are its own to recover when it restarts.
	Replica string `json:"replica,omitempty"`
	// OrphanAfter, when > 0, has this replica settle the unfinished orders
	// of other replicas once they have not moved for that long: the replica
	// that started them may never come back.
	OrphanAfter time.Duration `json:"orphan_after,omitempty"`
}

// Schema is the monolith's own tables; the stock table is store.StockSchema.
const Schema = `
CREATE TABLE IF NOT EXISTS orders (
	id TEXT PRIMARY KEY,
	customer TEXT NOT NULL,
	items TEXT NOT NULL,
	amount BIGINT NOT NULL,
	state TEXT NOT NULL,
	reason TEXT NOT NULL DEFAULT '',
	owner TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS shipments (order_id TEXT PRIMARY KEY, tracking TEXT NOT NULL);`

func outcomeCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "orders_terminal_total", Help: "Orders that reached a terminal state, by state and reason.",
	}, []string{"state", "reason"})
}

// Metrics returns fresh copies of the collectors the monolith registers
// besides component.Metrics, for tools that check dashboards and rules.
func Metrics() []prometheus.Collector {
	return append([]prometheus.Collector{outcomeCounter()}, psp.BreakerMetrics()...)
}

// schemas are every table of the monolith's one database.
func schemas() []string { return []string{Schema, store.StockSchema, psp.RefundSchema} }

// Order is the monolith's answer and its row.
type Order = domain.Order

// Server is the monolith.
type Server struct {
	log     *slog.Logger
	tel     *telemetry.Telemetry
	db      *sql.DB
	catalog *domain.Catalog
	psp     *psp.Guarded
	timeout time.Duration
	outcome *prometheus.CounterVec
	// replica owns the orders this process starts ("" for the monolith).
	replica string
	// writes group the steps' transactions on SQLite (see step); nil on
	// PostgreSQL, where concurrent transactions each take a connection.
	writes *store.Writer
}

// Run opens the database, recovers orders a crash left half-done, and
// serves until ctx ends.
func Run(ctx context.Context, tel *telemetry.Telemetry, cfg Config) error {
	log := tel.Log
	cat, err := domain.NewCatalog(cfg.Catalog)
	if err != nil {
		return fmt.Errorf("build catalogue: %w", err)
	}
	db, err := open(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := store.SeedStock(ctx, db, cat); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	s := &Server{
		log: log, tel: tel, db: db, catalog: cat, timeout: cfg.PSPTimeout,
		psp:     psp.NewGuarded(psp.NewClient(cfg.PSPURL, tel.Client()), "psp"),
		outcome: outcomeCounter(),
		replica: cfg.Replica,
	}
	if cfg.Database == "" {
		// The writer outlives the server's graceful shutdown, so that
		// the orders in flight then still reach a terminal state.
		s.writes = store.NewWriter(db)
		wctx, stopWrites := context.WithCancel(context.WithoutCancel(ctx))
		written := make(chan struct{})
		go func() {
			defer close(written)
			s.writes.Run(wctx)
		}()
		defer func() {
			stopWrites()
			<-written
		}()
	}
	reg.MustRegister(s.outcome, s.psp.Collector())
	if err := s.recover(ctx); err != nil {
		return fmt.Errorf("recover interrupted orders: %w", err)
	}
	mux := component.Mux(reg, map[string]component.Check{"database": func(ctx context.Context) error {
		// A checker that gives up does not cut the ping short: that would
		// cost the pool its connection (see Place).
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stepTimeout)
		defer cancel()
		return db.PingContext(ctx)
	}})
	m := component.NewHTTPMetrics(reg)
	mux.HandleFunc("POST /orders", m.Wrap("/orders", component.PlaceOrder(log, cat, http.StatusOK, func(ctx context.Context, o domain.PlaceOrder) (any, error) {
		return s.Place(ctx, o)
	})))
	mux.HandleFunc("GET /orders/{id}", m.Wrap("/orders/{id}", s.getOrder))
	reconciled := make(chan struct{})
	rctx, stop := context.WithCancel(ctx)
	go func() {
		defer close(reconciled)
		psp.ReconcileRefunds(rctx, s.psp, db, log, time.Second)
	}()
	adopted := make(chan struct{})
	go func() {
		defer close(adopted)
		if cfg.OrphanAfter > 0 {
			s.adopt(rctx, cfg.OrphanAfter)
		}
	}()
	err = component.Serve(ctx, log, cfg.Listen, tel.Handler("monolith", mux))
	stop()
	<-reconciled
	<-adopted
	return err
}

// open opens the database cfg names, applying the monolith's schema.
func open(ctx context.Context, cfg Config) (*sql.DB, error) {
	if cfg.Database == "" {
		return store.Open(ctx, filepath.Join(cfg.DataDir, "monolith.db"), schemas()...)
	}
	db, err := store.OpenPostgres(ctx, cfg.Database, pgConns, schemas()...)
	if err != nil {
		return nil, err
	}
	// Open the pool before serving: a replica that joins the rotation with
	// none would open one connection per order in flight, each a backend
	// PostgreSQL forks, all at once, just when it is needed.
	conns := make([]*sql.Conn, 0, pgConns)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range pgConns {
		c, err := db.Conn(ctx)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("open connection pool: %w", err)
		}
		conns = append(conns, c)
	}
	return db, nil
}

// pgConns is a replica's pool: enough for the orders in flight at the
// testbed's rates to each hold one for a step, few enough that every
// replica's fit in the server's max_connections.
const pgConns = 16

// Place runs the whole order synchronously: insert, reserve, charge, ship,
// one transaction per step as a classic monolith does, and cancels with
// compensation when a step says no. Placing an existing id returns the
// stored order, once it is finished: the first request for it may still be
// running, on this replica or another (the load balancer retried it after
// a slow try), and its outcome is what the client wants to hear.
func (s *Server) Place(ctx context.Context, req domain.PlaceOrder) (o Order, err error) {
	ctx, span := s.tel.Start(ctx, "place order", trace.SpanKindInternal, attribute.String(telemetry.KeyOrder, req.ID))
	defer func() {
		span.SetAttributes(attribute.String("order.state", string(o.State)), attribute.String("order.reason", o.Reason))
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
		// A plain string: slog's JSON handler encodes a named string
		// type through encoding/json, at a cost per order.
		s.log.InfoContext(ctx, "order placed", "order", o.ID, "state", string(o.State), "reason", o.Reason)
	}()
	o = Order{ID: req.ID, Customer: req.Customer, Items: req.Items, Amount: req.Amount(s.catalog), State: domain.Pending}
	// The database work goes on when the client stops waiting, each step
	// bounded by its own timeout. A query cancelled mid-flight costs the
	// connection it ran on (the driver cannot tell where the protocol
	// stands), so clients and a balancer giving up under load would empty
	// a replica's pool just when it is busiest; and once the order is
	// written it must reach a terminal state, or it would hold its stock
	// until a restart.
	waiting := ctx
	ctx = context.WithoutCancel(ctx)
	items, err := json.Marshal(req.Items)
	if err != nil {
		return o, fmt.Errorf("encode items: %w", err)
	}
	var existing *Order
	err = s.step(ctx, "record order", func(ctx context.Context, tx *sql.Tx) error {
		now := time.Now().UnixNano()
		res, err := tx.ExecContext(ctx, `INSERT INTO orders (id, customer, items, amount, state, owner, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT DO NOTHING`,
			o.ID, o.Customer, string(items), o.Amount, o.State, s.replica, now)
		if err != nil {
			return fmt.Errorf("insert order: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			got, err := store.ReadOrder(ctx, tx, o.ID)
			if err != nil {
				return err
			}
			existing = &got
		}
		return nil
	})
	if err != nil {
		return o, err
	}
	if existing != nil {
		return s.await(waiting, *existing), nil
	}

	err = s.step(ctx, "reserve stock", func(ctx context.Context, tx *sql.Tx) error {
		prev := o
		if err := setState(ctx, tx, &o, domain.Reserved, ""); err != nil {
			return err
		}
		// Stock rows last: on a shared database the other replicas wait
		// for their locks, held from here to the commit.
		if err := domain.Reserve(ctx, store.Stock{Tx: tx}, o.Items); err != nil {
			o = prev
			return err
		}
		return nil
	})
	if errors.Is(err, domain.ErrOutOfStock) {
		return o, s.finish(ctx, &o, domain.Cancelled, domain.ReasonOutOfStock, nil)
	}
	if err != nil {
		return o, fmt.Errorf("reserve stock: %w", err)
	}

	if reason := s.charge(ctx, o); reason != "" {
		return o, s.finish(ctx, &o, domain.Cancelled, reason, func(tx *sql.Tx) error {
			if reason == domain.ReasonPaymentUnavailable {
				// The provider did not answer: the charge may have gone
				// through, so a refund is owed until it says otherwise.
				if err := psp.QueueRefund(ctx, tx, o.ID); err != nil {
					return err
				}
			}
			return domain.Release(ctx, store.Stock{Tx: tx}, o.Items)
		})
	}
	if err := s.step(ctx, "record payment", func(ctx context.Context, tx *sql.Tx) error { return setState(ctx, tx, &o, domain.Paid, "") }); err != nil {
		return o, fmt.Errorf("record payment: %w", err)
	}
	if !domain.Deliverable(o.Customer) {
		// Paid, but the carrier cannot deliver: refund and release.
		return o, s.finish(ctx, &o, domain.Cancelled, domain.ReasonUndeliverable, func(tx *sql.Tx) error {
			if err := psp.QueueRefund(ctx, tx, o.ID); err != nil {
				return err
			}
			return domain.Release(ctx, store.Stock{Tx: tx}, o.Items)
		})
	}
	return o, s.finish(ctx, &o, domain.Shipped, "", func(tx *sql.Tx) error { return ship(ctx, tx, o.ID) })
}

// await polls a stored order until it is finished or the client stops
// waiting, and returns what it last read.
func (s *Server) await(waiting context.Context, o Order) Order {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for !o.State.Terminal() {
		select {
		case <-waiting.Done():
			return o
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(waiting), stepTimeout)
		got, err := store.ReadOrder(ctx, s.db, o.ID)
		cancel()
		if err != nil {
			return o
		}
		o = got
	}
	return o
}

func ship(ctx context.Context, tx *sql.Tx, id string) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO shipments (order_id, tracking) VALUES ($1, $2) ON CONFLICT DO NOTHING`, id, domain.Tracking(id)); err != nil {
		return fmt.Errorf("ship order %s: %w", id, err)
	}
	return nil
}

// charge asks the PSP and returns a cancellation reason, or "" when paid.
func (s *Server) charge(ctx context.Context, o Order) string {
	ctx, span := s.tel.Start(ctx, "charge payment", trace.SpanKindInternal, attribute.String(telemetry.KeyOrder, o.ID))
	defer span.End()
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	ch, err := s.psp.Charge(ctx, o.ID, o.Amount)
	switch {
	case err != nil:
		s.log.Warn("charge failed", "order", o.ID, "err", err)
		return domain.ReasonPaymentUnavailable
	case !ch.Approved:
		return domain.ReasonPaymentDeclined
	}
	return ""
}

// finish moves an order to a terminal state, with the compensation or
// side effect that goes with it in the same transaction.
func (s *Server) finish(ctx context.Context, o *Order, state domain.State, reason string, with func(*sql.Tx) error) error {
	err := s.step(ctx, "finish as "+string(state), func(ctx context.Context, tx *sql.Tx) error {
		prev := *o
		if err := setState(ctx, tx, o, state, reason); err != nil {
			return err
		}
		// The side effect last, for the same reason as in reserving.
		if with != nil {
			if err := with(tx); err != nil {
				*o = prev
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("finish order as %s: %w", state, err)
	}
	s.outcome.WithLabelValues(string(state), reason).Inc()
	return nil
}

// stepTimeout bounds one step's transaction: a database behind a link that
// swallows bytes would otherwise hold the order, and its connection,
// until the link heals.
const stepTimeout = 5 * time.Second

// step runs one transaction of an order as a child span, as the
// monolith's synchronous steps appear in its request's trace. On SQLite
// the step's transaction is a savepoint in a group commit (store.Writer):
// still all or nothing, and committed when step returns nil, but sharing
// its begin, commit and WAL pages with the other orders' steps waiting at
// that moment, as a database server's group commit shares its log flush.
func (s *Server) step(ctx context.Context, name string, fn func(context.Context, *sql.Tx) error) error {
	ctx, span := s.tel.Start(ctx, name, trace.SpanKindInternal)
	defer span.End()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	var err error
	if s.writes != nil {
		err = s.writes.Do(ctx, fn)
	} else {
		err = store.InTx(ctx, s.db, func(tx *sql.Tx) error { return fn(ctx, tx) })
	}
	if err != nil {
		span.RecordError(err)
	}
	return err
}

// setState moves an order on from the state o holds, and only from it:
// when another replica settled the order meanwhile (it took over an
// order that looked abandoned), the update finds nothing to change and the
// error rolls back the step with its side effects.
func setState(ctx context.Context, tx *sql.Tx, o *Order, state domain.State, reason string) error {
	res, err := tx.ExecContext(ctx, `UPDATE orders SET state = $1, reason = $2, updated_at = $3 WHERE id = $4 AND state = $5`,
		state, reason, time.Now().UnixNano(), o.ID, o.State)
	if err != nil {
		return fmt.Errorf("set order %s %s: %w", o.ID, state, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("set order %s %s: %w", o.ID, state, err)
	} else if n == 0 {
		return fmt.Errorf("set order %s %s: %w", o.ID, state, errMoved)
	}
	o.State, o.Reason = state, reason
	return nil
}

// errMoved: the order is no longer in the state the step started from.
var errMoved = errors.New("order moved on meanwhile: another replica settled it")

func (s *Server) getOrder(w http.ResponseWriter, r *http.Request) {
	o, err := store.ReadOrder(r.Context(), s.db, r.PathValue("id"))
	if errors.Is(err, sql.ErrNoRows) {
		http.Error(w, "no such order", http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	component.WriteJSON(w, http.StatusOK, o)
}

// recover settles orders a crash interrupted mid-request, as the monolith's
// start-up job: the client never got an answer for them, so they must not
// keep stock forever. A replica recovers only the orders it started: the
// others' are in flight in processes that are still running. An order
// that cannot be settled now (its row locked, the database slow) is left
// for later, with a warning, rather than keeping the process from serving:
// another replica adopts it, or the next start tries again, and until then
// the checkers see it unfinished.
func (s *Server) recover(ctx context.Context) error {
	ids, err := s.unfinished(ctx, `owner = $3`, s.replica)
	if err != nil {
		return err
	}
	start := time.Now()
	left := 0
	for _, id := range ids {
		if err := s.settle(ctx, id); err != nil {
			if ctx.Err() != nil {
				return err
			}
			left++
			s.log.Warn("interrupted order not settled, left for later", "order", id, "err", err)
		}
	}
	if len(ids) > 0 {
		s.log.Info("recovery done", "orders", len(ids), "left", left, "ms", time.Since(start).Milliseconds())
	}
	return nil
}

// adopt settles, every quarter of after, the unfinished orders other
// replicas started and left unmoved for longer than after: their replica
// crashed, lost its node or its database, and may not come back. If it
// does, the compare-and-set in setState makes its late step fail instead of
// undoing what this replica decided.
func (s *Server) adopt(ctx context.Context, after time.Duration) {
	t := time.NewTicker(after / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ids, err := s.unfinished(ctx, `owner <> $3 AND updated_at < $4`, s.replica, time.Now().Add(-after).UnixNano())
		if err != nil {
			s.log.Warn("look for orphaned orders", "err", err)
			continue
		}
		for _, id := range ids {
			if err := s.settle(ctx, id); err != nil && ctx.Err() == nil {
				s.log.Warn("settle orphaned order", "order", id, "err", err)
			}
		}
	}
}

// unfinished lists the orders not in a terminal state that also match
// where, whose arguments start at $3.
func (s *Server) unfinished(ctx context.Context, where string, args ...any) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM orders WHERE state NOT IN ($1, $2) AND `+where,
		append([]any{domain.Shipped, domain.Cancelled}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("list unfinished orders: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list unfinished orders: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list unfinished orders: %w", err)
	}
	return ids, nil
}

// settle brings an interrupted order to a terminal state: paid orders are
// shipped; earlier ones are cancelled, releasing their stock and refunding
// a charge that may have gone through.
func (s *Server) settle(ctx context.Context, id string) error {
	rctx, cancel := context.WithTimeout(ctx, stepTimeout)
	o, err := store.ReadOrder(rctx, s.db, id)
	cancel()
	if err != nil {
		return err
	}
	switch o.State {
	case domain.Paid:
		err = s.finish(ctx, &o, domain.Shipped, "", func(tx *sql.Tx) error { return ship(ctx, tx, o.ID) })
	case domain.Reserved:
		// The crash may have come after the charge: refund, to be safe.
		err = s.finish(ctx, &o, domain.Cancelled, domain.ReasonInterrupted, func(tx *sql.Tx) error {
			if err := psp.QueueRefund(ctx, tx, o.ID); err != nil {
				return err
			}
			return domain.Release(ctx, store.Stock{Tx: tx}, o.Items)
		})
	default:
		err = s.finish(ctx, &o, domain.Cancelled, domain.ReasonInterrupted, nil)
	}
	if err != nil {
		return err
	}
	s.log.Info("recovered interrupted order", "order", o.ID, "state", o.State)
	return nil
}
