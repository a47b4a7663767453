package eda

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/edatestbed/testbed/system/domain"
)

// ShipmentSchema is shipping's record of shipped orders.
const ShipmentSchema = `CREATE TABLE IF NOT EXISTS shipments (order_id TEXT PRIMARY KEY, tracking TEXT NOT NULL)`

// shipping ships paid orders, or fails an order the carrier cannot
// deliver, which starts the saga's compensation after payment.
func (s *service) shipping() {
	s.on(PaymentSucceeded, func(ctx context.Context, e Event, commit commitFunc) error {
		return commit(func(tx *sql.Tx) ([]Event, error) {
			if !domain.Deliverable(e.Customer) {
				// Payment refunds, inventory releases, order-api cancels.
				out := NewEvent(ShippingFailed, e.OrderID)
				out.Reason = domain.ReasonUndeliverable
				return []Event{out}, nil
			}
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO shipments (order_id, tracking) VALUES (?, ?)`, e.OrderID, domain.Tracking(e.OrderID)); err != nil {
				return nil, fmt.Errorf("ship %s: %w", e.OrderID, err)
			}
			return []Event{NewEvent(OrderShipped, e.OrderID)}, nil
		})
	})
}
