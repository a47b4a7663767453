package eda

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/edatestbed/testbed/system/component"
	"github.com/edatestbed/testbed/system/domain"
)

// OrderSchema is order-api's order table, the write model.
const OrderSchema = `CREATE TABLE IF NOT EXISTS orders (
	id TEXT PRIMARY KEY,
	customer TEXT NOT NULL,
	items TEXT NOT NULL,
	amount INTEGER NOT NULL,
	state TEXT NOT NULL,
	reason TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL
)`

// Accepted is order-api's answer: the order is recorded and its
// OrderPlaced event will be published; its outcome comes later.
type Accepted struct {
	ID    string       `json:"id"`
	State domain.State `json:"state"`
}

// orderAPI owns the order's write model and its lifecycle: it accepts
// orders and ends the saga with OrderCancelled when stock or payment says no.
func (s *service) orderAPI() {
	s.mux.HandleFunc("POST /orders", s.http.Wrap("/orders", component.PlaceOrder(s.log, s.catalog, http.StatusAccepted, func(ctx context.Context, o domain.PlaceOrder) (any, error) {
		state, err := s.place(ctx, o)
		if err == nil {
			// A plain string: slog's JSON handler encodes a named
			// string type through encoding/json, at a cost per order.
			s.log.InfoContext(ctx, "order accepted", "order", o.ID, "state", string(state))
		}
		return Accepted{ID: o.ID, State: state}, err
	})))
	s.on(StockRejected, s.cancelOrder)
	s.on(StockReleased, s.cancelOrder)
	s.on(OrderShipped, func(ctx context.Context, e Event, commit commitFunc) error {
		err := commit(func(tx *sql.Tx) ([]Event, error) {
			return nil, setOrderState(ctx, tx, e.OrderID, domain.Shipped, "")
		})
		if err == nil {
			s.metrics.terminal.WithLabelValues(string(domain.Shipped), "").Inc()
		}
		return err
	})
}

// place writes the order and its OrderPlaced event in one local
// transaction (the outbox): accepted means it will be published. Placing
// an id again returns the stored state and emits nothing.
func (s *service) place(ctx context.Context, req domain.PlaceOrder) (domain.State, error) {
	items, err := json.Marshal(req.Items)
	if err != nil {
		return "", fmt.Errorf("encode items: %w", err)
	}
	amount := req.Amount(s.catalog)
	state := domain.Pending
	if s.unsafe != nil {
		return s.placeUnsafe(ctx, req, items, amount)
	}
	err = s.emit(ctx, func(tx *sql.Tx) ([]Event, error) {
		res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO orders (id, customer, items, amount, state, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			req.ID, req.Customer, items, amount, domain.Pending, time.Now().UnixNano())
		if err != nil {
			return nil, fmt.Errorf("insert order: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil, tx.QueryRowContext(ctx, `SELECT state FROM orders WHERE id = ?`, req.ID).Scan(&state)
		}
		e := NewEvent(OrderPlaced, req.ID)
		e.Customer, e.Items, e.Amount = req.Customer, req.Items, amount
		return []Event{e}, nil
	})
	return state, err
}

// placeUnsafe is place without the outbox (BreakNoOutbox): the order is
// written, then its event handed to a batching producer after commit, and
// the client told it was taken before the event left the process.
func (s *service) placeUnsafe(ctx context.Context, req domain.PlaceOrder, items []byte, amount int64) (domain.State, error) {
	_, err := s.db.ExecContext(ctx, `INSERT OR IGNORE INTO orders (id, customer, items, amount, state, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		req.ID, req.Customer, items, amount, domain.Pending, time.Now().UnixNano())
	if err != nil {
		return "", fmt.Errorf("insert order: %w", err)
	}
	e := NewEvent(OrderPlaced, req.ID)
	e.Customer, e.Items, e.Amount = req.Customer, req.Items, amount
	return domain.Pending, s.unsafe.send(ctx, e)
}

func (s *service) cancelOrder(ctx context.Context, e Event, commit commitFunc) error {
	reason := e.Reason
	if reason == "" {
		reason = domain.ReasonOutOfStock
	}
	err := commit(func(tx *sql.Tx) ([]Event, error) {
		if err := setOrderState(ctx, tx, e.OrderID, domain.Cancelled, reason); err != nil {
			return nil, err
		}
		c := NewEvent(OrderCancelled, e.OrderID)
		c.Reason = reason
		return []Event{c}, nil
	})
	if err == nil {
		s.metrics.terminal.WithLabelValues(string(domain.Cancelled), reason).Inc()
	}
	return err
}

func setOrderState(ctx context.Context, tx *sql.Tx, id string, state domain.State, reason string) error {
	res, err := tx.ExecContext(ctx, `UPDATE orders SET state = ?, reason = ? WHERE id = ?`, state, reason, id)
	if err != nil {
		return fmt.Errorf("set order %s %s: %w", id, state, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("set order %s %s: %w", id, state, errUnknownOrder)
	}
	return nil
}

var errUnknownOrder = errors.New("unknown order")
