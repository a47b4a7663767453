package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"github.com/edatestbed/testbed/system/domain"
)

func TestStockReservationIsAtomic(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	db, err := Open(ctx, path, StockSchema)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := domain.NewCatalog(domain.CatalogConfig{Seed: 1, SKUs: 3, StockMin: 2, StockMax: 2, ItemsMax: 1, QuantityMax: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := SeedStock(ctx, db, cat); err != nil {
		t.Fatal(err)
	}
	p := cat.Products()
	items := []domain.Item{{SKU: p[0].SKU, Quantity: 1}, {SKU: p[1].SKU, Quantity: 3}}
	err = InTx(ctx, db, func(tx *sql.Tx) error { return domain.Reserve(ctx, Stock{tx}, items) })
	if !errors.Is(err, domain.ErrOutOfStock) {
		t.Fatalf("reserve = %v, want out of stock", err)
	}
	if n, _ := TotalStock(ctx, db); n != 6 {
		t.Fatalf("total stock after a failed reservation = %d, want 6", n)
	}
	items[1].Quantity = 2
	if err := InTx(ctx, db, func(tx *sql.Tx) error { return domain.Reserve(ctx, Stock{tx}, items) }); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// Reopening keeps the state and seeding again does not refill.
	db, err = Open(ctx, path, StockSchema)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := SeedStock(ctx, db, cat); err != nil {
		t.Fatal(err)
	}
	if n, _ := TotalStock(ctx, db); n != 3 {
		t.Fatalf("total stock after reopen = %d, want 3", n)
	}
}
