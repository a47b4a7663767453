package run

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/edatestbed/testbed/system/domain"
	"github.com/edatestbed/testbed/system/store"
)

// awaitView waits, at most limit, until the EDA's read model shows as many
// shipped and as many cancelled orders as order-api's table: the view is
// eventually consistent and, under a heavy load, still folds in the last
// terminal events when the testbed has seen them all. The read-model
// checker then judges a view that had its time; one that never catches up
// (events lost, a projection gone wrong) still fails it once limit is up.
// Both databases are read beside the running services (WAL).
func awaitView(ctx context.Context, limit time.Duration, orderAPI, orderView string) error {
	api, err := store.OpenReadOnly(orderAPI)
	if err != nil {
		return fmt.Errorf("read model: %w", err)
	}
	defer api.Close()
	view, err := store.OpenReadOnly(orderView)
	if err != nil {
		return fmt.Errorf("read model: %w", err)
	}
	defer view.Close()
	awaitSettled(ctx, limit, func(ctx context.Context) (int, error) { return viewBehind(ctx, api, view) })
	return nil
}

// viewBehind counts the shipped and cancelled orders of order-api's table
// the view does not show as such yet (or shows in excess).
func viewBehind(ctx context.Context, api, view *sql.DB) (int, error) {
	want, err := terminalCounts(ctx, api, `SELECT state, COUNT(*) FROM orders GROUP BY state`)
	if err != nil {
		return 0, err
	}
	got, err := terminalCounts(ctx, view, `SELECT state, COUNT(*) FROM order_view GROUP BY state`)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range []domain.State{domain.Shipped, domain.Cancelled} {
		n += max(want[s]-got[s], got[s]-want[s])
	}
	return n, nil
}

// terminalCounts runs query, which yields (state, count) rows.
func terminalCounts(ctx context.Context, db *sql.DB, query string) (map[domain.State]int, error) {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[domain.State]int{}
	for rows.Next() {
		var s domain.State
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}
