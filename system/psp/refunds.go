package psp

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"
)

// RefundSchema is the table of refunds owed: a charge whose outcome is
// unknown (the provider did not answer) may have gone through, so the
// order's cancellation queues a refund in the same transaction, and
// ReconcileRefunds asks for it until the provider answers. It is the outbox
// pattern applied to the provider's API.
const RefundSchema = `CREATE TABLE IF NOT EXISTS pending_refunds (order_id TEXT PRIMARY KEY, queued_at BIGINT NOT NULL)`

// QueueRefund records in tx that order's charge must be refunded.
func QueueRefund(ctx context.Context, tx *sql.Tx, orderID string) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO pending_refunds (order_id, queued_at) VALUES ($1, $2) ON CONFLICT DO NOTHING`, orderID, time.Now().UnixNano()); err != nil {
		return fmt.Errorf("queue refund of %s: %w", orderID, err)
	}
	return nil
}

// Refunder is what reconciliation needs of a provider client.
type Refunder interface {
	Refund(ctx context.Context, orderID string) (Charge, error)
}

// refundBatch is how many queued refunds one pass asks for.
const refundBatch = 100

// ReconcileRefunds asks the provider for every queued refund, every
// interval, until ctx ends. A refund is done when the provider answers:
// the charge refunded, or the order voided when no charge had arrived (one
// arriving after is declined). A pass that settled a whole batch goes on
// at once: waiting out the interval would cap refunds at a batch an
// interval, behind an overload that queues them faster.
func ReconcileRefunds(ctx context.Context, c Refunder, db *sql.DB, log *slog.Logger, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := refundPending(ctx, c, db, log)
		if err != nil && ctx.Err() == nil {
			log.Warn("refund reconciliation", "err", err)
		}
		if ctx.Err() != nil {
			return
		}
		if err == nil && n == refundBatch {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// refundPending asks for the oldest refunds owed, up to refundBatch, and
// returns how many it settled.
func refundPending(ctx context.Context, c Refunder, db *sql.DB, log *slog.Logger) (int, error) {
	rows, err := db.QueryContext(ctx, `SELECT order_id FROM pending_refunds ORDER BY queued_at LIMIT $1`, refundBatch)
	if err != nil {
		return 0, fmt.Errorf("list pending refunds: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("list pending refunds: %w", err)
	}
	for i, id := range ids {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ch, err := c.Refund(rctx, id)
		cancel()
		if err != nil {
			return i, fmt.Errorf("refund %s: %w", id, err) // provider still unreachable: try again later
		}
		if _, err := db.ExecContext(ctx, `DELETE FROM pending_refunds WHERE order_id = $1`, id); err != nil {
			return i, fmt.Errorf("settle refund of %s: %w", id, err)
		}
		log.Info("refund settled", "order", id, "charged", ch.Approved)
	}
	return len(ids), nil
}
