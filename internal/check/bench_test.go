package check

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/edatestbed/testbed/internal/report"
	"github.com/edatestbed/testbed/scenarios"
	"github.com/edatestbed/testbed/system/domain"
	"github.com/edatestbed/testbed/system/psp"
	"github.com/edatestbed/testbed/system/store"
)

// BenchmarkRunEDA checks the bundle of a clean EDA run of n orders. Its
// peak-heap-B/order is the most heap in use seen while the checkers ran
// (sampled every millisecond, above the heap before they started), per
// order: what decides whether the bundle of a long run can be checked on
// the machine that ran it. A 30-minute run at 1,000 orders/s leaves 1.8
// million.
func BenchmarkRunEDA(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("orders=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			sc := largeEDA(b, dir, n)
			b.ResetTimer()
			var peak uint64
			for b.Loop() {
				var checks []report.Check
				var err error
				peak = max(peak, peakHeap(func() { checks, err = Run(context.Background(), dir, sc) }))
				if err != nil {
					b.Fatal(err)
				}
				for _, c := range checks {
					if !c.Passed {
						b.Fatalf("%s failed on a clean bundle: %s", c.Name, c.Detail)
					}
				}
			}
			b.ReportMetric(float64(peak)/float64(n), "peak-heap-B/order")
		})
	}
}

// peakHeap runs fn and returns the most heap its run held above what was
// live before it.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	base := read()
	done := make(chan struct{})
	var wg sync.WaitGroup
	var peak uint64
	wg.Go(func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			peak = max(peak, read())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	fn()
	close(done)
	wg.Wait()
	peak = max(peak, read())
	if peak < base {
		return 0
	}
	return peak - base
}

// largeEDA writes the bundle of a clean EDA run of n one-item orders
// under dir: nine in ten shipped, one in ten declined by the PSP and its
// stock released, every terminal event seen once and one in twenty twice.
func largeEDA(b *testing.B, dir string, n int) *scenarios.Scenario {
	b.Helper()
	sc := &scenarios.Scenario{
		Name: "check-bench", Seed: 1, Architectures: []string{scenarios.ArchitectureEDA},
		Catalog: scenarios.Catalog{SKUs: 1000, StockMin: 1_000_000_000, StockMax: 1_000_000_000, ItemsMax: 1, QuantityMax: 1},
	}
	cat, err := domain.NewCatalog(sc.CatalogConfig())
	if err != nil {
		b.Fatal(err)
	}
	products := cat.Products()
	base := filepath.Join(dir, scenarios.ArchitectureEDA)
	type row struct {
		id, sku string
		shipped bool
	}
	rows := make([]row, n)
	held := map[string]int{}
	for i := range rows {
		rows[i] = row{id: fmt.Sprintf("o-%08d", i), sku: products[i%len(products)].SKU, shipped: i%10 != 0}
		if rows[i].shipped {
			held[rows[i].sku]++
		}
	}
	items := func(r row) string { return `[{"sku":"` + r.sku + `","quantity":1}]` }
	state := func(r row) string {
		if r.shipped {
			return string(domain.Shipped)
		}
		return string(domain.Cancelled)
	}

	requests := [][]string{}
	terminals := [][]string{}
	var ledger []psp.Charge
	for i, r := range rows {
		requests = append(requests, []string{r.id, "accepted", ""})
		terminals = append(terminals, []string{r.id, state(r)})
		if i%20 == 0 {
			terminals = append(terminals, []string{r.id, state(r)})
		}
		c := psp.Charge{OrderID: r.id, Amount: 100, Approved: r.shipped}
		if !r.shipped {
			c.Reason = "card_declined"
		}
		ledger = append(ledger, c)
	}
	w := &world{requests: requests, terminals: terminals, ledger: ledger}
	w.write(b, dir, scenarios.ArchitectureEDA)

	fill(b, filepath.Join(base, orderAPIDBPath), schemas[orderAPIDBPath], func(tx *sql.Tx) error {
		return insertEach(tx, `INSERT INTO orders (id, customer, items, amount, state, reason, created_at) VALUES (?, 'c', ?, 100, ?, ?, 0)`, n, func(i int) []any {
			reason := ""
			if !rows[i].shipped {
				reason = domain.ReasonPaymentDeclined
			}
			return []any{rows[i].id, items(rows[i]), state(rows[i]), reason}
		})
	})
	fill(b, filepath.Join(base, inventoryDBPath), schemas[inventoryDBPath], func(tx *sql.Tx) error {
		err := insertEach(tx, `INSERT INTO stock (sku, available) VALUES (?, ?)`, len(products), func(i int) []any {
			return []any{products[i].SKU, products[i].Stock - held[products[i].SKU]}
		})
		if err != nil {
			return err
		}
		return insertEach(tx, `INSERT INTO reservations (order_id, items, released) VALUES (?, ?, ?)`, n, func(i int) []any {
			return []any{rows[i].id, items(rows[i]), !rows[i].shipped}
		})
	})
	fill(b, filepath.Join(base, shippingDBPath), schemas[shippingDBPath], func(tx *sql.Tx) error {
		return insertEach(tx, `INSERT INTO shipments VALUES (?, ?)`, n, func(i int) []any {
			if !rows[i].shipped {
				return nil
			}
			return []any{rows[i].id, "TRK-" + rows[i].id}
		})
	})
	fill(b, filepath.Join(base, viewDBPath), schemas[viewDBPath], func(tx *sql.Tx) error {
		return insertEach(tx, `INSERT INTO order_view (id, state, rank, updated_at) VALUES (?, ?, 4, 0)`, n, func(i int) []any {
			return []any{rows[i].id, state(rows[i])}
		})
	})
	return sc
}

// fill creates the database at path with its schema and runs insert in
// one transaction.
func fill(b *testing.B, path string, schema []string, insert func(*sql.Tx) error) {
	b.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	db, err := store.Open(context.Background(), path, schema...)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	if err := insert(tx); err != nil {
		b.Fatalf("fill %s: %v", path, err)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// insertEach runs query with the arguments of each of n rows; a row
// without arguments is skipped.
func insertEach(tx *sql.Tx, query string, n int, args func(int) []any) error {
	stmt, err := tx.Prepare(query)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for i := range n {
		a := args(i)
		if a == nil {
			continue
		}
		if _, err := stmt.Exec(a...); err != nil {
			return fmt.Errorf("row %d: %w", i, err)
		}
	}
	return nil
}
