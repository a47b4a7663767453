package monolith

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edatestbed/testbed/internal/pgserver"
	"github.com/edatestbed/testbed/internal/runtime/local"
	"github.com/edatestbed/testbed/system/domain"
	"github.com/edatestbed/testbed/system/psp"
	"github.com/edatestbed/testbed/system/store"
	"github.com/edatestbed/testbed/system/telemetry"
)

// postgres starts a server for the test, or skips it when the package is
// not installed.
func postgres(t *testing.T) string {
	t.Helper()
	bin, err := pgserver.Find()
	if err != nil {
		t.Skip(err)
	}
	addr, err := local.FreeAddr("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	_, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	dir := t.TempDir()
	log, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	srv, err := pgserver.Start(context.Background(), pgserver.Config{Host: "127.0.0.1", Port: port, DataDir: filepath.Join(dir, "pg"), BinDir: bin}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	return srv.DSN
}

// replicas opens n monolith replicas on the database at dsn, as
// monolith-ha runs them.
func replicas(t *testing.T, dsn string, n int, cat *domain.Catalog) []*Server {
	t.Helper()
	ctx := context.Background()
	p := httptest.NewServer(psp.NewServer(psp.Config{Seed: 1}).Handler())
	t.Cleanup(p.Close)
	var out []*Server
	for i := range n {
		db, err := open(ctx, Config{Database: dsn})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := store.SeedStock(ctx, db, cat); err != nil {
			t.Fatal(err)
		}
		out = append(out, &Server{
			log: slog.New(slog.DiscardHandler), tel: telemetry.Nop(slog.New(slog.DiscardHandler)), db: db, catalog: cat, timeout: time.Second,
			psp:     psp.NewGuarded(psp.NewClient(p.URL, nil), "psp"),
			outcome: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x"}, []string{"state", "reason"}),
			replica: fmt.Sprintf("replica-%d", i+1),
		})
	}
	return out
}

func TestReplicasNeverOversellSharedStock(t *testing.T) {
	ctx := context.Background()
	cat, err := domain.NewCatalog(domain.CatalogConfig{Seed: 1, SKUs: 3, StockMin: 4, StockMax: 4, ItemsMax: 1, QuantityMax: 1})
	if err != nil {
		t.Fatal(err)
	}
	rs := replicas(t, postgres(t), 2, cat)
	p := cat.Products()
	// Every order wants one unit of every SKU, in a different order, so
	// concurrent reservations contend for the same rows: 4 can ship.
	var wg sync.WaitGroup
	results := make([]Order, 16)
	errs := make([]error, len(results))
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			items := []domain.Item{{SKU: p[i%3].SKU, Quantity: 1}, {SKU: p[(i+1)%3].SKU, Quantity: 1}, {SKU: p[(i+2)%3].SKU, Quantity: 1}}
			results[i], errs[i] = rs[i%2].Place(ctx, domain.PlaceOrder{ID: fmt.Sprintf("o-%d", i), Customer: "c", Items: items})
		}()
	}
	wg.Wait()
	shipped := 0
	for i, o := range results {
		if errs[i] != nil {
			t.Fatalf("order %d: %v", i, errs[i])
		}
		switch {
		case o.State == domain.Shipped:
			shipped++
		case o.State != domain.Cancelled || o.Reason != domain.ReasonOutOfStock:
			t.Fatalf("order %d ended %s (%s); want shipped or out of stock", i, o.State, o.Reason)
		}
	}
	if shipped != 4 {
		t.Fatalf("%d orders shipped from 4 units of each SKU; want exactly 4", shipped)
	}
	if n, err := store.TotalStock(ctx, rs[0].db); err != nil || n != 0 {
		t.Fatalf("stock left = %d, %v; want 0", n, err)
	}
}

func TestReplicaRecoversOnlyItsOwnOrders(t *testing.T) {
	ctx := context.Background()
	cat, err := domain.NewCatalog(domain.CatalogConfig{Seed: 1, SKUs: 1, StockMin: 10, StockMax: 10, ItemsMax: 1, QuantityMax: 1})
	if err != nil {
		t.Fatal(err)
	}
	rs := replicas(t, postgres(t), 2, cat)
	sku := cat.Products()[0].SKU
	// Each replica left one order reserved, as a crash between steps would.
	for i, r := range rs {
		id := fmt.Sprintf("o-%d", i+1)
		err := store.InTx(ctx, r.db, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO orders (id, customer, items, amount, state, owner, created_at, updated_at) VALUES ($1, 'c', $2, 1, 'pending', $3, 0, 0)`,
				id, `[{"sku":"`+sku+`","quantity":1}]`, r.replica); err != nil {
				return err
			}
			if err := domain.Reserve(ctx, store.Stock{Tx: tx}, []domain.Item{{SKU: sku, Quantity: 1}}); err != nil {
				return err
			}
			return setState(ctx, tx, &Order{ID: id, State: domain.Pending}, domain.Reserved, "")
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := rs[0].recover(ctx); err != nil {
		t.Fatal(err)
	}
	mine, _ := store.ReadOrder(ctx, rs[0].db, "o-1")
	theirs, _ := store.ReadOrder(ctx, rs[0].db, "o-2")
	if mine.State != domain.Cancelled || theirs.State != domain.Reserved {
		t.Fatalf("after replica-1 recovered: its order %s, replica-2's %s; want cancelled, still reserved", mine.State, theirs.State)
	}

	// replica-2's order has not moved for ages: replica-1 adopts it.
	actx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		rs[0].adopt(actx, 40*time.Millisecond)
	}()
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for theirs.State == domain.Reserved && wait.Err() == nil {
		time.Sleep(10 * time.Millisecond)
		theirs, _ = store.ReadOrder(ctx, rs[0].db, "o-2")
	}
	stop()
	<-done
	if theirs.State != domain.Cancelled || theirs.Reason != domain.ReasonInterrupted {
		t.Fatalf("orphaned order = %s (%s); want cancelled, interrupted", theirs.State, theirs.Reason)
	}
	if n, _ := store.TotalStock(ctx, rs[0].db); n != 10 {
		t.Fatalf("stock = %d after both cancellations, want all 10 back", n)
	}

	// replica-2 comes back and tries to carry on with its order: the
	// compare-and-set refuses, so nothing is charged or shipped twice.
	late := Order{ID: "o-2", State: domain.Reserved}
	err = rs[1].step(ctx, "record payment", func(ctx context.Context, tx *sql.Tx) error { return setState(ctx, tx, &late, domain.Paid, "") })
	if err == nil {
		t.Fatal("a replica moved on an order another replica had settled")
	}
}

func TestSnapshotCopiesWhatTheCheckersRead(t *testing.T) {
	ctx := context.Background()
	cat, err := domain.NewCatalog(domain.CatalogConfig{Seed: 1, SKUs: 2, StockMin: 5, StockMax: 5, ItemsMax: 1, QuantityMax: 1})
	if err != nil {
		t.Fatal(err)
	}
	rs := replicas(t, postgres(t), 1, cat)
	sku := cat.Products()[0].SKU
	o, err := rs[0].Place(ctx, domain.PlaceOrder{ID: "o-1", Customer: "c", Items: []domain.Item{{SKU: sku, Quantity: 2}}})
	if err != nil || o.State != domain.Shipped {
		t.Fatalf("order = %+v, %v; want shipped", o, err)
	}
	path := filepath.Join(t.TempDir(), "snapshot.db")
	if err := Snapshot(ctx, rs[0].db, path); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := store.ReadOrder(ctx, db, "o-1")
	if err != nil || got.State != domain.Shipped || got.Amount != o.Amount || got.Items[0] != o.Items[0] {
		t.Fatalf("snapshot order = %+v, %v; want %+v", got, err, o)
	}
	var shipments int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM shipments`).Scan(&shipments); err != nil || shipments != 1 {
		t.Fatalf("shipments in snapshot = %d, %v; want 1", shipments, err)
	}
	if n, err := store.TotalStock(ctx, db); err != nil || n != 8 {
		t.Fatalf("stock in snapshot = %d, %v; want 10 - 2 = 8", n, err)
	}
}

func TestReplayWaitsForTheFirstRequest(t *testing.T) {
	ctx := context.Background()
	cat, err := domain.NewCatalog(domain.CatalogConfig{Seed: 1, SKUs: 1, StockMin: 5, StockMax: 5, ItemsMax: 1, QuantityMax: 1})
	if err != nil {
		t.Fatal(err)
	}
	rs := replicas(t, postgres(t), 2, cat)
	// The provider answers slowly, so replica-1 is mid-order when the
	// load balancer, tired of waiting, sends the order to replica-2.
	slow := httptest.NewServer(psp.NewServer(psp.Config{Seed: 1, Latency: 300 * time.Millisecond}).Handler())
	defer slow.Close()
	rs[0].psp = psp.NewGuarded(psp.NewClient(slow.URL, nil), "psp")
	req := domain.PlaceOrder{ID: "o-1", Customer: "c", Items: []domain.Item{{SKU: cat.Products()[0].SKU, Quantity: 1}}}
	first := make(chan Order, 1)
	go func() {
		o, _ := rs[0].Place(ctx, req)
		first <- o
	}()
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		if o, err := store.ReadOrder(ctx, rs[1].db, "o-1"); err == nil && o.State == domain.Reserved {
			break
		}
		if wait.Err() != nil {
			t.Fatal("replica-1 never reserved the order")
		}
		time.Sleep(5 * time.Millisecond)
	}
	replay, err := rs[1].Place(ctx, req)
	if err != nil || replay.State != domain.Shipped {
		t.Fatalf("replay on replica-2 = %+v, %v; want it to wait for replica-1's outcome, shipped", replay, err)
	}
	if o := <-first; o.State != domain.Shipped {
		t.Fatalf("replica-1 ended the order %s", o.State)
	}
}
