package eda

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"

	"github.com/edatestbed/testbed/system/component"
	"github.com/edatestbed/testbed/system/domain"
)

// ViewSchema is order-view's read model table.
const ViewSchema = `CREATE TABLE IF NOT EXISTS order_view (
	id TEXT PRIMARY KEY,
	customer TEXT NOT NULL DEFAULT '',
	amount INTEGER NOT NULL DEFAULT 0,
	state TEXT NOT NULL,
	rank INTEGER NOT NULL,
	reason TEXT NOT NULL DEFAULT '',
	updated_at INTEGER NOT NULL
)`

// View is the read model's answer to GET /orders/{id}.
type View struct {
	ID       string       `json:"id"`
	Customer string       `json:"customer"`
	Amount   int64        `json:"amount"`
	State    domain.State `json:"state"`
	Reason   string       `json:"reason,omitempty"`
}

// viewState says which state an event moves an order to, and how far along
// that is. Events of different topics may arrive in any order, so the view
// only ever moves forward.
var viewState = map[string]struct {
	state domain.State
	rank  int
}{
	OrderPlaced:      {domain.Pending, 1},
	StockReserved:    {domain.Reserved, 2},
	PaymentSucceeded: {domain.Paid, 3},
	OrderShipped:     {domain.Shipped, 4},
	OrderCancelled:   {domain.Cancelled, 4},
}

// orderView is the CQRS read model: built only from events, it serves
// reads so the write side never does.
func (s *service) orderView() {
	s.mux.HandleFunc("GET /orders/{id}", s.http.Wrap("/orders/{id}", s.getView))
	for typ := range viewState {
		s.on(typ, s.project)
	}
}

func (s *service) project(ctx context.Context, e Event, commit commitFunc) error {
	return commit(func(tx *sql.Tx) ([]Event, error) { return nil, projectTx(ctx, tx, e) })
}

// projectTx folds one event into the read model. The result does not
// depend on the order events arrive in, which is what lets Replay rebuild
// the view topic by topic.
func projectTx(ctx context.Context, tx *sql.Tx, e Event) error {
	st, ok := viewState[e.Type]
	if !ok {
		return nil
	}
	at := e.At.UnixNano()
	res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO order_view (id, customer, amount, state, rank, reason, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		e.OrderID, e.Customer, e.Amount, st.state, st.rank, e.Reason, at)
	if err != nil {
		return fmt.Errorf("project %s: %w", e.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE order_view SET state = ?, rank = ?, reason = ?, updated_at = ? WHERE id = ? AND rank < ?`,
		st.state, st.rank, e.Reason, at, e.OrderID, st.rank); err != nil {
		return fmt.Errorf("project %s: %w", e.ID, err)
	}
	if e.Type == OrderPlaced {
		if _, err := tx.ExecContext(ctx, `UPDATE order_view SET customer = ?, amount = ? WHERE id = ?`, e.Customer, e.Amount, e.OrderID); err != nil {
			return fmt.Errorf("project %s: %w", e.ID, err)
		}
	}
	return nil
}

func (s *service) getView(w http.ResponseWriter, r *http.Request) {
	var v View
	err := s.db.QueryRowContext(r.Context(), `SELECT id, customer, amount, state, reason FROM order_view WHERE id = ?`, r.PathValue("id")).
		Scan(&v.ID, &v.Customer, &v.Amount, &v.State, &v.Reason)
	if errors.Is(err, sql.ErrNoRows) {
		http.Error(w, "no such order (yet: the read model is eventually consistent)", http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	component.WriteJSON(w, http.StatusOK, v)
}
