package chain

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
	"github.com/edatestbed/testbed/system/psp"
	"github.com/edatestbed/testbed/system/store"
)

// order takes the client's order, calls inventory, and answers with the
// outcome the chain decided.
func (s *service) order() {
	s.mux.HandleFunc("POST /orders", s.http.Wrap("/orders", component.PlaceOrder(s.log, s.catalog, http.StatusOK, func(ctx context.Context, o domain.PlaceOrder) (any, error) {
		return s.place(ctx, o)
	})))
	s.mux.HandleFunc("GET /orders/pending", s.http.Wrap("/orders/pending", func(w http.ResponseWriter, r *http.Request) {
		var n int
		if err := s.db.QueryRowContext(r.Context(), `SELECT COUNT(*) FROM orders WHERE state = $1`, domain.Pending).Scan(&n); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		component.WriteJSON(w, http.StatusOK, Pending{Orders: n})
	}))
	s.mux.HandleFunc("GET /orders/{id}", s.http.Wrap("/orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		o, err := store.ReadOrder(r.Context(), s.db, r.PathValue("id"))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			http.Error(w, "no such order", http.StatusNotFound)
		case err != nil:
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		default:
			component.WriteJSON(w, http.StatusOK, o)
		}
	}))
	after := s.cfg.ResolveAfter
	if after <= 0 {
		after = 2 * max(s.next.timeout, time.Second)
	}
	s.background = append(s.background, func(ctx context.Context) { s.resolve(ctx, after) })
}

// Pending is the order service's answer to GET /orders/pending: how many
// orders wait for the chain to resolve them.
type Pending struct {
	Orders int `json:"orders"`
}

// place records the order, then asks inventory to carry it through the
// chain. Placing an existing id returns the stored order: only the request
// that recorded it drives it, so no two calls for one order race down the
// chain from here.
func (s *service) place(ctx context.Context, req domain.PlaceOrder) (OrderAnswer, error) {
	o := OrderAnswer{ID: req.ID, Customer: req.Customer, Items: req.Items, Amount: req.Amount(s.catalog), State: domain.Pending}
	items, err := json.Marshal(req.Items)
	if err != nil {
		return o, fmt.Errorf("encode items: %w", err)
	}
	recorded := false
	err = store.InTx(ctx, s.db, func(tx *sql.Tx) error {
		now := time.Now().UnixNano()
		res, err := tx.ExecContext(ctx, `INSERT INTO orders (id, customer, items, amount, state, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT DO NOTHING`,
			o.ID, o.Customer, string(items), o.Amount, o.State, now)
		if err != nil {
			return fmt.Errorf("insert order: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			o, err = store.ReadOrder(ctx, tx, o.ID)
			return err
		}
		recorded = true
		return nil
	})
	if err != nil || !recorded {
		return o, err
	}
	ctx = context.WithoutCancel(ctx)
	out, err := s.next.call(ctx, s.next.path, Request{OrderID: o.ID, Customer: o.Customer, Items: o.Items, Amount: o.Amount})
	switch {
	case errors.Is(err, errNotDelivered):
		// Inventory never saw the order and nothing else will send it
		// there: cancel it here and now.
		out = Outcome{OrderID: o.ID, State: domain.Cancelled, Reason: domain.ReasonUnavailable}
	case err != nil:
		return o, fmt.Errorf("order %s is pending, to be resolved once the chain answers: %w", o.ID, err)
	}
	return s.finish(ctx, o, out)
}

// finish records the chain's outcome on a pending order; an order the
// resolver settled meanwhile keeps what it has.
func (s *service) finish(ctx context.Context, o OrderAnswer, out Outcome) (OrderAnswer, error) {
	err := store.InTx(ctx, s.db, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE orders SET state = $1, reason = $2, updated_at = $3 WHERE id = $4 AND state = $5`,
			out.State, out.Reason, time.Now().UnixNano(), o.ID, domain.Pending)
		if err != nil {
			return fmt.Errorf("finish order %s: %w", o.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			o, err = store.ReadOrder(ctx, tx, o.ID)
			return err
		}
		o.State, o.Reason = out.State, out.Reason
		s.outcome.WithLabelValues(string(out.State), out.Reason).Inc()
		return nil
	})
	if err == nil {
		s.log.InfoContext(ctx, "order placed", "order", o.ID, "state", o.State, "reason", o.Reason)
	}
	return o, err
}

// resolve settles, every quarter of after, the orders pending for longer
// than after: their call down the chain ended without an answer, or this
// process crashed mid-call. An abort asks the chain what happened and
// cancels whatever had not finished.
func (s *service) resolve(ctx context.Context, after time.Duration) {
	t := time.NewTicker(max(after/4, 50*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.resolvePending(ctx, after); err != nil && ctx.Err() == nil {
			s.log.Warn("resolve pending orders", "err", err)
		}
	}
}

// resolvePending aborts the orders pending for longer than after, oldest
// first, and stops at the first the chain cannot answer for yet.
func (s *service) resolvePending(ctx context.Context, after time.Duration) error {
	ids, err := s.stale(ctx, after)
	if err != nil {
		return fmt.Errorf("look for pending orders: %w", err)
	}
	for _, id := range ids {
		out, err := s.next.call(ctx, s.next.abortPath, Request{OrderID: id, Reason: domain.ReasonUnavailable})
		if err != nil {
			return fmt.Errorf("resolve order %s: %w", id, err)
		}
		o, err := store.ReadOrder(ctx, s.db, id)
		if err == nil {
			_, err = s.finish(ctx, o, out)
		}
		if err != nil {
			return fmt.Errorf("record resolved order %s: %w", id, err)
		}
	}
	return nil
}

func (s *service) stale(ctx context.Context, after time.Duration) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM orders WHERE state = $1 AND updated_at < $2 ORDER BY updated_at LIMIT 200`,
		domain.Pending, time.Now().Add(-after).UnixNano())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// inventory reserves the order's stock and calls payment; when the order
// is cancelled after that, the reservation is released.
func (s *service) inventory() {
	p := paths[Inventory]
	s.endpoint(p[0], func(ctx context.Context, req Request) (Outcome, error) {
		decided, err := s.begin(ctx, req.OrderID, func(tx *sql.Tx) (*Outcome, error) {
			err := domain.Reserve(ctx, store.Stock{Tx: tx}, req.Items)
			if errors.Is(err, domain.ErrOutOfStock) {
				return &Outcome{OrderID: req.OrderID, State: domain.Cancelled, Reason: domain.ReasonOutOfStock}, nil
			}
			if err != nil {
				return nil, err
			}
			items, err := json.Marshal(req.Items)
			if err != nil {
				return nil, fmt.Errorf("encode items: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO reservations (order_id, items) VALUES ($1, $2)`, req.OrderID, string(items)); err != nil {
				return nil, fmt.Errorf("record reservation of %s: %w", req.OrderID, err)
			}
			return nil, nil
		})
		if err != nil || decided != nil {
			return deref(decided), err
		}
		out, err := s.next.call(ctx, s.next.path, req)
		if err != nil {
			return Outcome{}, err
		}
		return s.settle(ctx, out, s.release(ctx, req.OrderID))
	})
	s.abort(p[1], s.release)
}

// release returns the compensation that puts an order's reserved stock
// back.
func (s *service) release(ctx context.Context, id string) func(tx *sql.Tx) error {
	return func(tx *sql.Tx) error {
		var raw []byte
		err := tx.QueryRowContext(ctx, `SELECT items FROM reservations WHERE order_id = $1 AND released = 0`, id).Scan(&raw)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read reservation of %s: %w", id, err)
		}
		var items []domain.Item
		if err := json.Unmarshal(raw, &items); err != nil {
			return fmt.Errorf("decode reservation of %s: %w", id, err)
		}
		if err := domain.Release(ctx, store.Stock{Tx: tx}, items); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE reservations SET released = 1 WHERE order_id = $1`, id); err != nil {
			return fmt.Errorf("mark reservation of %s released: %w", id, err)
		}
		return nil
	}
}

// payment charges the order through the PSP and calls shipping; when the
// order is cancelled after a charge may have gone through, a refund is
// queued and reconciled with the PSP until it answers.
func (s *service) payment() {
	s.background = append(s.background, func(ctx context.Context) { psp.ReconcileRefunds(ctx, s.psp, s.db, s.log, time.Second) })
	p := paths[Payment]
	s.endpoint(p[0], func(ctx context.Context, req Request) (Outcome, error) {
		decided, err := s.begin(ctx, req.OrderID, nil)
		if err != nil || decided != nil {
			return deref(decided), err
		}
		cctx, cancel := context.WithTimeout(ctx, s.cfg.PSPTimeout)
		ch, err := s.psp.Charge(cctx, req.OrderID, req.Amount)
		cancel()
		var out Outcome
		switch {
		case err != nil:
			// The charge may have gone through, and another try of this
			// call may have had it approved and shipped: only shipping
			// knows, so ask it to abort before cancelling here.
			s.log.WarnContext(ctx, "charge failed", "order", req.OrderID, "err", err)
			out, err = s.next.call(ctx, s.next.abortPath, Request{OrderID: req.OrderID, Reason: domain.ReasonPaymentUnavailable})
		case !ch.Approved:
			// A decline is final at the PSP: no try of this call can
			// have reached shipping.
			out = Outcome{OrderID: req.OrderID, State: domain.Cancelled, Reason: domain.ReasonPaymentDeclined}
		default:
			out, err = s.next.call(ctx, s.next.path, req)
		}
		if err != nil {
			return Outcome{}, err
		}
		final, err := s.settle(ctx, out, s.refund(ctx, req.OrderID))
		if err == nil && final.State == domain.Cancelled && ch.Approved {
			// An abort may have settled the step first and queued a refund
			// the PSP answered before this charge reached it; owing it
			// again is harmless, refunds are idempotent.
			err = store.InTx(ctx, s.db, func(tx *sql.Tx) error { return psp.QueueRefund(ctx, tx, req.OrderID) })
		}
		return final, err
	})
	s.abort(p[1], s.refund)
}

// refund returns the compensation of a charge: a refund owed.
func (s *service) refund(ctx context.Context, id string) func(tx *sql.Tx) error {
	return func(tx *sql.Tx) error { return psp.QueueRefund(ctx, tx, id) }
}

// shipping ships the order; it decides every outcome it is asked about,
// so it never calls anyone.
func (s *service) shipping() {
	p := paths[Shipping]
	s.endpoint(p[0], func(ctx context.Context, req Request) (Outcome, error) {
		decided, err := s.begin(ctx, req.OrderID, func(tx *sql.Tx) (*Outcome, error) {
			if !domain.Deliverable(req.Customer) {
				// The callers compensate: payment refunds, inventory releases.
				return &Outcome{OrderID: req.OrderID, State: domain.Cancelled, Reason: domain.ReasonUndeliverable}, nil
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO shipments (order_id, tracking) VALUES ($1, $2) ON CONFLICT DO NOTHING`, req.OrderID, domain.Tracking(req.OrderID)); err != nil {
				return nil, fmt.Errorf("ship %s: %w", req.OrderID, err)
			}
			return &Outcome{OrderID: req.OrderID, State: domain.Shipped}, nil
		})
		return deref(decided), err
	})
	s.abort(p[1], nil)
}
