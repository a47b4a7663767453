package run

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/edatestbed/testbed/system/eda"
	"github.com/edatestbed/testbed/system/store"
)

// awaitView returns once the view shows order-api's terminal states, and
// gives up when its limit is up.
func TestAwaitView(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	apiPath, viewPath := filepath.Join(dir, "order-api.db"), filepath.Join(dir, "order-view.db")
	api, err := store.Open(ctx, apiPath, eda.OrderSchema)
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	view, err := store.Open(ctx, viewPath, eda.ViewSchema)
	if err != nil {
		t.Fatal(err)
	}
	defer view.Close()
	if _, err := api.Exec(`INSERT INTO orders (id, customer, items, amount, state, created_at) VALUES ('o-1', 'c', '[]', 1, 'shipped', 0), ('o-2', 'c', '[]', 1, 'cancelled', 0), ('o-3', 'c', '[]', 1, 'pending', 0)`); err != nil {
		t.Fatal(err)
	}
	// The view still has o-2 paid: behind.
	if _, err := view.Exec(`INSERT INTO order_view (id, state, rank, updated_at) VALUES ('o-1', 'shipped', 4, 0), ('o-2', 'paid', 3, 0), ('o-3', 'reserved', 2, 0)`); err != nil {
		t.Fatal(err)
	}

	if n, err := viewBehind(ctx, api, view); n != 1 || err != nil {
		t.Errorf("viewBehind = %d, %v; want 1 (o-2)", n, err)
	}
	if err := awaitView(ctx, 0, apiPath, viewPath); err != nil {
		t.Fatal(err) // gives up at once, the view still behind
	}

	done := make(chan error, 1)
	go func() { done <- awaitView(ctx, time.Hour, apiPath, viewPath) }()
	if _, err := view.Exec(`UPDATE order_view SET state = 'cancelled', rank = 4 WHERE id = 'o-2'`); err != nil {
		t.Fatal(err)
	}
	// An order order-api never finished does not hold the wait: o-3.
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("awaitView still waiting a minute after the view caught up")
	}
	if n, err := viewBehind(ctx, api, view); n != 0 || err != nil {
		t.Errorf("viewBehind = %d, %v; want 0", n, err)
	}

	if err := awaitView(ctx, time.Hour, filepath.Join(dir, "missing.db"), viewPath); err == nil {
		t.Error("awaitView on a missing database: no error")
	}
}
