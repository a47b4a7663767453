package eda

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/edatestbed/testbed/system/domain"
	"github.com/edatestbed/testbed/system/psp"
)

const paymentSchema = `CREATE TABLE IF NOT EXISTS payments (
	order_id TEXT PRIMARY KEY,
	amount INTEGER NOT NULL,
	approved INTEGER NOT NULL,
	reason TEXT NOT NULL DEFAULT '',
	refunded INTEGER NOT NULL DEFAULT 0
)`

// payment charges reserved orders through the PSP, behind a circuit
// breaker. When the provider cannot be reached (or the breaker is open) the
// event stays unconsumed and is retried with backoff until it can: the
// order waits in Kafka instead of being cancelled, which is the EDA's
// fallback. Charges are idempotent by order id, so a retry after a lost
// answer gets the first decision back, never a second charge.
func (s *service) payment() {
	s.on(StockReserved, func(ctx context.Context, e Event, commit commitFunc) error {
		cctx, cancel := context.WithTimeout(ctx, s.cfg.PSPTimeout)
		ch, err := s.psp.Charge(cctx, e.OrderID, e.Amount)
		cancel()
		switch {
		case errors.Is(err, psp.ErrUnavailable):
			return transient(fmt.Errorf("charge %s: %w", e.OrderID, err))
		case err != nil:
			return err
		}
		reason := ""
		if !ch.Approved {
			reason = domain.ReasonPaymentDeclined
		}
		return commit(func(tx *sql.Tx) ([]Event, error) {
			if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO payments (order_id, amount, approved, reason) VALUES (?, ?, ?, ?)`,
				e.OrderID, e.Amount, reason == "", reason); err != nil {
				return nil, fmt.Errorf("record payment of %s: %w", e.OrderID, err)
			}
			if reason != "" {
				out := NewEvent(PaymentFailed, e.OrderID)
				out.Reason = reason
				return []Event{out}, nil
			}
			out := NewEvent(PaymentSucceeded, e.OrderID)
			out.Customer, out.Amount = e.Customer, e.Amount
			return []Event{out}, nil
		})
	})
	// Compensation: an order that could not be shipped gets its money back
	// before its stock is released.
	s.on(ShippingFailed, func(ctx context.Context, e Event, commit commitFunc) error {
		cctx, cancel := context.WithTimeout(ctx, s.cfg.PSPTimeout)
		_, err := s.psp.Refund(cctx, e.OrderID)
		cancel()
		switch {
		case errors.Is(err, psp.ErrUnavailable):
			return transient(fmt.Errorf("refund %s: %w", e.OrderID, err))
		case err != nil:
			return err
		}
		return commit(func(tx *sql.Tx) ([]Event, error) {
			if _, err := tx.ExecContext(ctx, `UPDATE payments SET refunded = 1 WHERE order_id = ?`, e.OrderID); err != nil {
				return nil, fmt.Errorf("record refund of %s: %w", e.OrderID, err)
			}
			out := NewEvent(PaymentRefunded, e.OrderID)
			out.Reason = e.Reason
			return []Event{out}, nil
		})
	})
}
