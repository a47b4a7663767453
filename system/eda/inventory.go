package eda

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/edatestbed/testbed/system/domain"
	"github.com/edatestbed/testbed/system/store"
)

// ReservationSchema is inventory's record of the stock each order holds.
const ReservationSchema = `CREATE TABLE IF NOT EXISTS reservations (
	order_id TEXT PRIMARY KEY,
	items TEXT NOT NULL,
	released INTEGER NOT NULL DEFAULT 0
)`

// inventory reserves stock for placed orders and releases it when payment
// fails: the compensating step of the saga.
func (s *service) inventory() {
	s.on(OrderPlaced, func(ctx context.Context, e Event, commit commitFunc) error {
		return commit(func(tx *sql.Tx) ([]Event, error) {
			err := domain.Reserve(ctx, store.Stock{Tx: tx}, e.Items)
			if errors.Is(err, domain.ErrOutOfStock) {
				out := NewEvent(StockRejected, e.OrderID)
				out.Reason = domain.ReasonOutOfStock
				return []Event{out}, nil
			}
			if err != nil {
				return nil, err
			}
			items, err := json.Marshal(e.Items)
			if err != nil {
				return nil, fmt.Errorf("encode items: %w", err)
			}
			insert := `INSERT INTO reservations (order_id, items) VALUES (?, ?)`
			if s.cfg.Break == BreakSkipDedup {
				// Without dedup the key would stop a second reservation;
				// the broken system overwrites instead, as a naive one would.
				insert = `INSERT OR REPLACE INTO reservations (order_id, items) VALUES (?, ?)`
			}
			if _, err := tx.ExecContext(ctx, insert, e.OrderID, items); err != nil {
				return nil, fmt.Errorf("record reservation of %s: %w", e.OrderID, err)
			}
			out := NewEvent(StockReserved, e.OrderID)
			out.Customer, out.Items, out.Amount = e.Customer, e.Items, e.Amount
			return []Event{out}, nil
		})
	})
	s.on(PaymentFailed, s.release)
	s.on(PaymentRefunded, s.release)
}

// release puts back the stock of an order whose payment failed or was
// refunded: the compensating step of the saga.
func (s *service) release(ctx context.Context, e Event, commit commitFunc) error {
	return commit(func(tx *sql.Tx) ([]Event, error) {
		var raw []byte
		var released bool
		err := tx.QueryRowContext(ctx, `SELECT items, released FROM reservations WHERE order_id = ?`, e.OrderID).Scan(&raw, &released)
		if errors.Is(err, sql.ErrNoRows) || released {
			s.log.Warn("release of an order without a held reservation", "order", e.OrderID, "event", e.Type)
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read reservation of %s: %w", e.OrderID, err)
		}
		var items []domain.Item
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, fmt.Errorf("decode reservation of %s: %w", e.OrderID, err)
		}
		if err := domain.Release(ctx, store.Stock{Tx: tx}, items); err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE reservations SET released = 1 WHERE order_id = ?`, e.OrderID); err != nil {
			return nil, fmt.Errorf("mark reservation of %s released: %w", e.OrderID, err)
		}
		out := NewEvent(StockReleased, e.OrderID)
		out.Items, out.Reason = items, e.Reason
		return []Event{out}, nil
	})
}
