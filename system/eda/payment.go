package eda

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/edatestbed/testbed/system/domain"
	"github.com/edatestbed/testbed/system/psp"
)

const paymentSchema = `CREATE TABLE IF NOT EXISTS payments (
	order_id TEXT PRIMARY KEY,
	amount INTEGER NOT NULL,
	approved INTEGER NOT NULL,
	reason TEXT NOT NULL DEFAULT ''
)`

// pspAttempts bounds how often one event calls an unreachable provider
// before the order is failed with payment_unavailable.
const pspAttempts = 3

// payment charges reserved orders through the PSP.
func (s *service) payment() {
	s.background = append(s.background, func(ctx context.Context) { s.psp.ReconcileRefunds(ctx, s.db, s.log, time.Second) })
	s.on(StockReserved, func(ctx context.Context, e Event, commit commitFunc) error {
		ch, err := s.charge(ctx, e)
		reason := ""
		switch {
		case errors.Is(err, psp.ErrUnavailable):
			reason = domain.ReasonPaymentUnavailable
		case err != nil:
			return err
		case !ch.Approved:
			reason = domain.ReasonPaymentDeclined
		}
		return commit(func(tx *sql.Tx) ([]Event, error) {
			if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO payments (order_id, amount, approved, reason) VALUES (?, ?, ?, ?)`,
				e.OrderID, e.Amount, reason == "", reason); err != nil {
				return nil, fmt.Errorf("record payment of %s: %w", e.OrderID, err)
			}
			if reason == domain.ReasonPaymentUnavailable {
				// No answer: the charge may have gone through, so a refund
				// is owed until the provider says otherwise.
				if err := psp.QueueRefund(ctx, tx, e.OrderID); err != nil {
					return nil, err
				}
			}
			if reason != "" {
				out := NewEvent(PaymentFailed, e.OrderID)
				out.Reason = reason
				return []Event{out}, nil
			}
			out := NewEvent(PaymentSucceeded, e.OrderID)
			out.Amount = e.Amount
			return []Event{out}, nil
		})
	})
}

func (s *service) charge(ctx context.Context, e Event) (psp.Charge, error) {
	backoff := 100 * time.Millisecond
	var err error
	for attempt := 1; attempt <= pspAttempts; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, s.cfg.PSPTimeout)
		var ch psp.Charge
		ch, err = s.psp.Charge(cctx, e.OrderID, e.Amount)
		cancel()
		if err == nil || !errors.Is(err, psp.ErrUnavailable) || ctx.Err() != nil {
			return ch, err
		}
		s.log.Warn("charge failed", "order", e.OrderID, "attempt", attempt, "err", err)
		if attempt < pspAttempts {
			sleep(ctx, backoff)
			backoff *= 2
		}
	}
	return psp.Charge{}, err
}
