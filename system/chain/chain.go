// Package chain is the sync-services architecture: order, inventory,
// payment and shipping as separate processes, each with its own SQLite
// database, calling each other synchronously over HTTP the way most teams
// build it before they move to events. The order service calls inventory,
// inventory reserves and calls payment, payment charges (through the PSP)
// and calls shipping; the answer travels back up the chain, and the order
// service answers the client with the order's terminal state, as the
// monolith does.
//
// Every call has a timeout, bounded retries with backoff and a circuit
// breaker (sony/gobreaker), and every endpoint is idempotent by order id.
// A step that cannot finish is compensated: stock released, charge
// refunded. A call whose outcome is unknown (the callee may have acted
// before the answer was lost) is never guessed at: the order stays pending
// and the order service later resolves it with an abort down the chain.
// Abort is the saga's compensation request: each service answers with its
// decision if it made one, or cancels its step (undoing what it did and
// refusing a late forward request) after asking the next service to do the
// same. The deepest service that decided fixes the outcome, so every
// service ends in the same state.
package chain

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edatestbed/testbed/system/component"
	"github.com/edatestbed/testbed/system/domain"
	"github.com/edatestbed/testbed/system/psp"
	"github.com/edatestbed/testbed/system/store"
	"github.com/edatestbed/testbed/system/telemetry"
)

// The services of the chain.
const (
	Order     = "order"
	Inventory = "inventory"
	Payment   = "payment"
	Shipping  = "shipping"
)

// Components lists the services in start order: each after the one it
// calls.
func Components() []string { return []string{Shipping, Payment, Inventory, Order} }

// ServePrefix is put before a service's name to form its `testbed serve`
// component ("sync-inventory"), apart from the EDA's services of the same
// names.
const ServePrefix = "sync-"

// Config is what the runtime hands one service of the chain.
type Config struct {
	Component string               `json:"component"`
	Listen    string               `json:"listen"`
	DataDir   string               `json:"data_dir"`
	Catalog   domain.CatalogConfig `json:"catalog"`
	// Next is the base URL of the service this one calls (inventory for
	// order, payment for inventory, shipping for payment), through its link.
	Next string `json:"next,omitempty"`
	// CallTimeout bounds one call to Next, retries included. Each service
	// gets less than its caller, so its answer comes back before the
	// caller stops waiting.
	CallTimeout time.Duration `json:"call_timeout,omitempty"`
	// Attempts bounds the tries of one call; 0 means 3.
	Attempts int `json:"attempts,omitempty"`
	// PSPURL and PSPTimeout: payment only.
	PSPURL     string        `json:"psp_url,omitempty"`
	PSPTimeout time.Duration `json:"psp_timeout,omitempty"`
	// ResolveAfter: order only. An order still pending after this long had
	// its call end without an answer; the order service then resolves it
	// with an abort down the chain.
	ResolveAfter time.Duration    `json:"resolve_after,omitempty"`
	Telemetry    telemetry.Config `json:"telemetry"`
}

// The tables. Inventory's reservations have the EDA inventory's columns, so
// the checkers read both alike.
const (
	// OrderSchema is the order service's orders, what the client was told.
	OrderSchema = `CREATE TABLE IF NOT EXISTS orders (
	id TEXT PRIMARY KEY,
	customer TEXT NOT NULL,
	items TEXT NOT NULL,
	amount BIGINT NOT NULL,
	state TEXT NOT NULL,
	reason TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
)`
	// StepSchema is each downstream service's saga step per order: started,
	// then shipped or cancelled once this service knows the outcome.
	StepSchema = `CREATE TABLE IF NOT EXISTS steps (
	order_id TEXT PRIMARY KEY,
	state TEXT NOT NULL,
	reason TEXT NOT NULL DEFAULT '',
	updated_at BIGINT NOT NULL
)`
	// ReservationSchema is the stock each order took at inventory.
	ReservationSchema = `CREATE TABLE IF NOT EXISTS reservations (
	order_id TEXT PRIMARY KEY,
	items TEXT NOT NULL,
	released INTEGER NOT NULL DEFAULT 0
)`
	// ShipmentSchema is the shipments shipping made.
	ShipmentSchema = `CREATE TABLE IF NOT EXISTS shipments (order_id TEXT PRIMARY KEY, tracking TEXT NOT NULL)`
)

// started is a step whose outcome this service does not know yet.
const started domain.State = "started"

// Request is what a service sends the next one: the order for a forward
// call, its id and a reason for an abort.
type Request struct {
	OrderID  string        `json:"order_id"`
	Customer string        `json:"customer,omitempty"`
	Items    []domain.Item `json:"items,omitempty"`
	Amount   int64         `json:"amount,omitempty"`
	Reason   string        `json:"reason,omitempty"`
}

// Outcome is a service's decision about an order: shipped or cancelled.
type Outcome struct {
	OrderID string       `json:"order_id"`
	State   domain.State `json:"state"`
	Reason  string       `json:"reason,omitempty"`
}

// OrderAnswer is the order service's answer to POST /orders, the same shape
// as the monolith's.
type OrderAnswer = domain.Order

// service is one process of the chain.
type service struct {
	name    string
	cfg     Config
	log     *slog.Logger
	tel     *telemetry.Telemetry
	db      *sql.DB
	catalog *domain.Catalog
	next    *caller      // nil for shipping
	psp     *psp.Guarded // payment only
	reg     *prometheus.Registry
	mux     *http.ServeMux
	http    *component.HTTPMetrics
	outcome *prometheus.CounterVec // order only
	// background work of the service, run until it stops.
	background []func(context.Context)
}

func outcomeCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "orders_terminal_total", Help: "Orders that reached a terminal state, by state and reason.",
	}, []string{"state", "reason"})
}

// Metrics returns fresh copies of the collectors the services register
// besides component.Metrics, for tools that check dashboards and rules.
func Metrics() []prometheus.Collector {
	calls, _ := callMetrics("next")
	return append([]prometheus.Collector{outcomeCounter(), calls}, psp.BreakerMetrics()...)
}

// newService opens the service's database and builds its endpoints; Run
// serves them. It calls the next service with hc.
func newService(ctx context.Context, tel *telemetry.Telemetry, cfg Config, hc *http.Client) (*service, error) {
	schemas := map[string][]string{
		Order:     {OrderSchema},
		Inventory: {StepSchema, store.StockSchema, ReservationSchema},
		Payment:   {StepSchema, psp.RefundSchema},
		Shipping:  {StepSchema, ShipmentSchema},
	}
	schema, ok := schemas[cfg.Component]
	if !ok {
		return nil, fmt.Errorf("unknown sync-services component %q; allowed: %v", cfg.Component, Components())
	}
	cat, err := domain.NewCatalog(cfg.Catalog)
	if err != nil {
		return nil, fmt.Errorf("build catalogue: %w", err)
	}
	db, err := store.Open(ctx, filepath.Join(cfg.DataDir, cfg.Component+".db"), schema...)
	if err != nil {
		return nil, err
	}
	s := &service{name: cfg.Component, cfg: cfg, log: tel.Log, tel: tel, db: db, catalog: cat, reg: prometheus.NewRegistry()}
	s.mux = component.Mux(s.reg, map[string]component.Check{"database": func(ctx context.Context) error { return db.PingContext(ctx) }})
	s.http = component.NewHTTPMetrics(s.reg)
	if cfg.Component != Shipping {
		if cfg.Next == "" {
			db.Close()
			return nil, fmt.Errorf("%s: config names no next service to call", cfg.Component)
		}
		s.next = newCaller(map[string]string{Order: Inventory, Inventory: Payment, Payment: Shipping}[cfg.Component], cfg.Next, hc, cfg.CallTimeout, cfg.Attempts, tel.Log)
		s.reg.MustRegister(s.next.collectors()...)
	}
	switch cfg.Component {
	case Order:
		s.outcome = outcomeCounter()
		s.reg.MustRegister(s.outcome)
		s.order()
	case Inventory:
		if err := store.SeedStock(ctx, db, cat); err != nil {
			db.Close()
			return nil, err
		}
		s.inventory()
	case Payment:
		s.psp = psp.NewGuarded(psp.NewClient(cfg.PSPURL, hc), "psp")
		s.reg.MustRegister(s.psp.Collector())
		s.payment()
	case Shipping:
		s.shipping()
	}
	return s, nil
}

// Run starts the service cfg names and serves until ctx ends.
func Run(ctx context.Context, tel *telemetry.Telemetry, cfg Config) error {
	s, err := newService(ctx, tel, cfg, tel.Client())
	if err != nil {
		return err
	}
	defer s.db.Close()
	bctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, w := range s.background {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w(bctx)
		}()
	}
	err = component.Serve(ctx, s.log, cfg.Listen, tel.Handler(ServePrefix+s.name, s.mux))
	stop()
	wg.Wait()
	return err
}

// endpoint serves POST path with fn. The work goes on when the caller stops
// waiting: a step left started would hold stock, or money, until an abort.
func (s *service) endpoint(path string, fn func(context.Context, Request) (Outcome, error)) {
	s.mux.HandleFunc("POST "+path, s.http.Wrap(path, func(w http.ResponseWriter, r *http.Request) {
		var req Request
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil || req.OrderID == "" {
			http.Error(w, fmt.Sprintf("want JSON {order_id, ...}: %v", err), http.StatusBadRequest)
			return
		}
		out, err := fn(context.WithoutCancel(r.Context()), req)
		if err != nil {
			s.log.WarnContext(r.Context(), "no outcome", "order", req.OrderID, "path", path, "err", err)
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		s.log.InfoContext(r.Context(), "step answered", "order", req.OrderID, "path", path, "state", out.State, "reason", out.Reason)
		component.WriteJSON(w, http.StatusOK, out)
	}))
}

// readStep returns an order's step here; ok is false when there is none.
func readStep(ctx context.Context, tx *sql.Tx, id string) (out Outcome, ok bool, err error) {
	out.OrderID = id
	err = tx.QueryRowContext(ctx, `SELECT state, reason FROM steps WHERE order_id = $1`, id).Scan(&out.State, &out.Reason)
	if errors.Is(err, sql.ErrNoRows) {
		return out, false, nil
	}
	if err != nil {
		return out, false, fmt.Errorf("read step of %s: %w", id, err)
	}
	return out, true, nil
}

func insertStep(ctx context.Context, tx *sql.Tx, id string, state domain.State, reason string) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO steps (order_id, state, reason, updated_at) VALUES ($1, $2, $3, $4)`, id, state, reason, time.Now().UnixNano()); err != nil {
		return fmt.Errorf("record step of %s: %w", id, err)
	}
	return nil
}

// begin starts an order's step with do (the step's local effect, which may
// decide the outcome at once, as a stock shortage does), unless the step
// exists. It returns the decided outcome, or nil when the step is started
// and the next service must be asked.
func (s *service) begin(ctx context.Context, id string, do func(tx *sql.Tx) (*Outcome, error)) (*Outcome, error) {
	var decided *Outcome
	err := store.InTx(ctx, s.db, func(tx *sql.Tx) error {
		cur, ok, err := readStep(ctx, tx, id)
		switch {
		case err != nil:
			return err
		case ok && cur.State != started:
			decided = &cur
			return nil
		case ok:
			// A retry of a call whose first try is still running or died:
			// ask the next service again, it is idempotent too.
			return nil
		}
		if do != nil {
			if decided, err = do(tx); err != nil {
				return err
			}
		}
		if decided != nil {
			return insertStep(ctx, tx, id, decided.State, decided.Reason)
		}
		return insertStep(ctx, tx, id, started, "")
	})
	return decided, err
}

// settle records the outcome the next service decided. Only the first
// settlement of a step applies, with undo (the step's compensation) when
// the order was cancelled; a concurrent one, a retry racing an abort, gets
// the outcome already recorded.
func (s *service) settle(ctx context.Context, out Outcome, undo func(tx *sql.Tx) error) (Outcome, error) {
	var final Outcome
	err := store.InTx(ctx, s.db, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE steps SET state = $1, reason = $2, updated_at = $3 WHERE order_id = $4 AND state = $5`,
			out.State, out.Reason, time.Now().UnixNano(), out.OrderID, started)
		if err != nil {
			return fmt.Errorf("settle step of %s: %w", out.OrderID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			cur, ok, err := readStep(ctx, tx, out.OrderID)
			if err == nil && !ok {
				err = fmt.Errorf("settle step of %s: no such step", out.OrderID)
			}
			final = cur
			return err
		}
		final = out
		if out.State == domain.Cancelled && undo != nil {
			return undo(tx)
		}
		return nil
	})
	return final, err
}

// abort is the compensation endpoint every downstream service shares: the
// decision when there is one; a cancelled step (a tombstone that refuses a
// late forward call) when the order never got here; and for a started step,
// the next service's answer to the same abort, settled with undo.
func (s *service) abort(path string, undo func(ctx context.Context, id string) func(*sql.Tx) error) {
	s.endpoint(path, func(ctx context.Context, req Request) (Outcome, error) {
		reason := req.Reason
		if reason == "" {
			reason = domain.ReasonUnavailable
		}
		decided, err := s.begin(ctx, req.OrderID, func(*sql.Tx) (*Outcome, error) {
			return &Outcome{OrderID: req.OrderID, State: domain.Cancelled, Reason: reason}, nil
		})
		if err != nil || decided != nil {
			return deref(decided), err
		}
		if s.next == nil {
			return Outcome{}, fmt.Errorf("step of %s started at the end of the chain", req.OrderID)
		}
		out, err := s.next.call(ctx, s.next.abortPath, Request{OrderID: req.OrderID, Reason: reason})
		if err != nil {
			return Outcome{}, err
		}
		return s.settle(ctx, out, undo(ctx, req.OrderID))
	})
}

func deref(o *Outcome) Outcome {
	if o == nil {
		return Outcome{}
	}
	return *o
}
