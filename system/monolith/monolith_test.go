package monolith

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edatestbed/testbed/system/domain"
	"github.com/edatestbed/testbed/system/psp"
	"github.com/edatestbed/testbed/system/store"
	"github.com/edatestbed/testbed/system/telemetry"
)

func newServer(t *testing.T, declineRate float64, dir string) *Server {
	t.Helper()
	ctx := context.Background()
	p := httptest.NewServer(psp.NewServer(psp.Config{Seed: 1, DeclineRate: declineRate}).Handler())
	t.Cleanup(p.Close)
	cat, err := domain.NewCatalog(domain.CatalogConfig{Seed: 1, SKUs: 2, StockMin: 3, StockMax: 3, ItemsMax: 1, QuantityMax: 1})
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, filepath.Join(dir, "m.db"), schemas()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := store.SeedStock(ctx, db, cat); err != nil {
		t.Fatal(err)
	}
	// The steps go through a group commit, as Run has them on SQLite.
	writes := store.NewWriter(db)
	wctx, stop := context.WithCancel(ctx)
	written := make(chan struct{})
	go func() {
		defer close(written)
		writes.Run(wctx)
	}()
	t.Cleanup(func() {
		stop()
		<-written
	})
	return &Server{
		log: slog.New(slog.DiscardHandler), tel: telemetry.Nop(slog.New(slog.DiscardHandler)), db: db, catalog: cat, timeout: time.Second,
		psp:     psp.NewGuarded(psp.NewClient(p.URL, nil), "psp"),
		outcome: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x"}, []string{"state", "reason"}),
		writes:  writes,
	}
}

func TestPlaceRunsTheWholeOrder(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, 0, t.TempDir())
	sku := s.catalog.Products()[0].SKU
	order := func(id string, qty int) domain.PlaceOrder {
		return domain.PlaceOrder{ID: id, Customer: "c", Items: []domain.Item{{SKU: sku, Quantity: qty}}}
	}
	o, err := s.Place(ctx, order("a", 2))
	if err != nil || o.State != domain.Shipped {
		t.Fatalf("first order = %+v, %v; want shipped", o, err)
	}
	o, err = s.Place(ctx, order("b", 2))
	if err != nil || o.State != domain.Cancelled || o.Reason != domain.ReasonOutOfStock {
		t.Fatalf("second order = %+v, %v; want cancelled out of stock", o, err)
	}
	again, err := s.Place(ctx, order("a", 1))
	if err != nil || again.State != domain.Shipped || again.Items[0].Quantity != 2 {
		t.Fatalf("placing id a again = %+v, %v; want the stored order", again, err)
	}
	if n, _ := store.TotalStock(ctx, s.db); n != 4 {
		t.Fatalf("stock = %d, want 6 - 2 shipped = 4", n)
	}
}

func TestDeclinedPaymentReleasesStock(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, 1, t.TempDir())
	sku := s.catalog.Products()[0].SKU
	o, err := s.Place(ctx, domain.PlaceOrder{ID: "a", Customer: "c", Items: []domain.Item{{SKU: sku, Quantity: 3}}})
	if err != nil || o.State != domain.Cancelled || o.Reason != domain.ReasonPaymentDeclined {
		t.Fatalf("order = %+v, %v; want cancelled, declined", o, err)
	}
	if n, _ := store.TotalStock(ctx, s.db); n != 6 {
		t.Fatalf("stock = %d after a declined order, want all 6 back", n)
	}
}

func TestRecoverSettlesInterruptedOrders(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, 0, t.TempDir())
	sku := s.catalog.Products()[0].SKU
	// Leave one order reserved and one paid, as a crash between steps would.
	for id, state := range map[string]domain.State{"r": domain.Reserved, "p": domain.Paid} {
		o := Order{ID: id, State: domain.Pending}
		err := store.InTx(ctx, s.db, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO orders (id, customer, items, amount, state, created_at, updated_at) VALUES (?, 'c', ?, 1, 'pending', 0, 0)`,
				id, `[{"sku":"`+sku+`","quantity":1}]`); err != nil {
				return err
			}
			if err := domain.Reserve(ctx, store.Stock{Tx: tx}, []domain.Item{{SKU: sku, Quantity: 1}}); err != nil {
				return err
			}
			return setState(ctx, tx, &o, state, "")
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.recover(ctx); err != nil {
		t.Fatal(err)
	}
	r, _ := store.ReadOrder(ctx, s.db, "r")
	p, _ := store.ReadOrder(ctx, s.db, "p")
	if r.State != domain.Cancelled || p.State != domain.Shipped {
		t.Fatalf("after recovery reserved -> %s, paid -> %s; want cancelled, shipped", r.State, p.State)
	}
	if n, _ := store.TotalStock(ctx, s.db); n != 5 {
		t.Fatalf("stock = %d, want 6 - 1 shipped = 5", n)
	}
}

// An order recovery cannot settle (here: another connection holds the
// database's write lock past the step's timeout) is left for later instead
// of keeping the process from serving; the next recovery settles it.
func TestRecoverLeavesWhatItCannotSettle(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := newServer(t, 0, dir)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO orders (id, customer, items, amount, state, created_at, updated_at) VALUES ('p', 'c', '[]', 1, 'pending', 0, 0)`); err != nil {
		t.Fatal(err)
	}
	other, err := store.Open(ctx, filepath.Join(dir, "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	lock, err := other.BeginTx(ctx, nil) // _txlock=immediate: takes the write lock now
	if err != nil {
		t.Fatal(err)
	}
	if err := s.recover(ctx); err != nil {
		t.Fatalf("recover with the order locked = %v, want nil: the order is left for later", err)
	}
	if o, _ := store.ReadOrder(ctx, s.db, "p"); o.State != domain.Pending {
		t.Fatalf("order = %s while locked, want still pending", o.State)
	}
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := s.recover(ctx); err != nil {
		t.Fatal(err)
	}
	if o, _ := store.ReadOrder(ctx, s.db, "p"); o.State != domain.Cancelled || o.Reason != domain.ReasonInterrupted {
		t.Fatalf("order = %s (%s) after the lock went, want cancelled, interrupted", o.State, o.Reason)
	}
}

func TestUnreachableProviderCancelsAndOwesARefund(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, 0, t.TempDir())
	dead := httptest.NewServer(nil)
	dead.Close()
	s.psp = psp.NewGuarded(psp.NewClient(dead.URL, nil), "psp")
	sku := s.catalog.Products()[0].SKU
	o, err := s.Place(ctx, domain.PlaceOrder{ID: "a", Customer: "c", Items: []domain.Item{{SKU: sku, Quantity: 1}}})
	if err != nil || o.State != domain.Cancelled || o.Reason != domain.ReasonPaymentUnavailable {
		t.Fatalf("order = %+v, %v; want cancelled, payment unavailable", o, err)
	}
	var owed int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pending_refunds WHERE order_id = 'a'`).Scan(&owed); err != nil || owed != 1 {
		t.Fatalf("pending refunds for a = %d, %v; want 1", owed, err)
	}
	if n, _ := store.TotalStock(ctx, s.db); n != 6 {
		t.Fatalf("stock = %d, want all 6 back", n)
	}
}

func TestClientGivingUpDoesNotStrandTheOrder(t *testing.T) {
	s := newServer(t, 0, t.TempDir())
	sku := s.catalog.Products()[0].SKU
	ctx, cancel := context.WithCancel(context.Background())
	// A provider that answers only after the client has gone.
	slow := httptest.NewServer(psp.NewServer(psp.Config{Seed: 1, Latency: 200 * time.Millisecond}).Handler())
	defer slow.Close()
	s.psp = psp.NewGuarded(psp.NewClient(slow.URL, nil), "psp")
	time.AfterFunc(50*time.Millisecond, cancel)
	o, err := s.Place(ctx, domain.PlaceOrder{ID: "gone", Customer: "c", Items: []domain.Item{{SKU: sku, Quantity: 1}}})
	if err != nil || !o.State.Terminal() {
		t.Fatalf("order after the client left = %+v, %v; want a terminal state", o, err)
	}
}

func TestUndeliverableOrderIsRefundedAndReleased(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, 0, t.TempDir())
	sku := s.catalog.Products()[0].SKU
	o, err := s.Place(ctx, domain.PlaceOrder{ID: "u", Customer: "cust-00013", Items: []domain.Item{{SKU: sku, Quantity: 2}}})
	if err != nil || o.State != domain.Cancelled || o.Reason != domain.ReasonUndeliverable {
		t.Fatalf("order = %+v, %v; want cancelled, undeliverable", o, err)
	}
	if n, _ := store.TotalStock(ctx, s.db); n != 6 {
		t.Fatalf("stock = %d, want all 6 back", n)
	}
	var owed int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pending_refunds WHERE order_id = 'u'`).Scan(&owed); err != nil || owed != 1 {
		t.Fatalf("refunds owed for u = %d, %v; want 1", owed, err)
	}
}
