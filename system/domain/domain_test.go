package domain

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

func testCatalog(t *testing.T) *Catalog {
	t.Helper()
	c, err := NewCatalog(CatalogConfig{Seed: 7, SKUs: 20, StockMin: 5, StockMax: 10, ItemsMax: 3, QuantityMax: 4})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCatalogDeterministic(t *testing.T) {
	a, b := testCatalog(t), testCatalog(t)
	if !reflect.DeepEqual(a.Products(), b.Products()) {
		t.Fatal("same config gave different catalogues")
	}
	for seq := range uint64(100) {
		if !reflect.DeepEqual(a.Order("o-", seq), b.Order("o-", seq)) {
			t.Fatalf("order %d differs between equal catalogues", seq)
		}
		if err := a.Order("o-", seq).Validate(a); err != nil {
			t.Fatalf("generated order %d is invalid: %v", seq, err)
		}
	}
	other, err := NewCatalog(CatalogConfig{Seed: 8, SKUs: 20, StockMin: 5, StockMax: 10, ItemsMax: 3, QuantityMax: 4})
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(a.Products(), other.Products()) {
		t.Fatal("different seeds gave the same catalogue")
	}
}

func TestCatalogConfigRejected(t *testing.T) {
	if _, err := NewCatalog(CatalogConfig{SKUs: 1, StockMin: 10, StockMax: 5, ItemsMax: 1, QuantityMax: 1}); err == nil {
		t.Fatal("stock_max < stock_min accepted")
	}
}

func TestValidate(t *testing.T) {
	c := testCatalog(t)
	sku := c.Products()[0].SKU
	tests := []struct {
		name  string
		order PlaceOrder
		ok    bool
	}{
		{"valid", PlaceOrder{ID: "1", Customer: "c", Items: []Item{{sku, 1}}}, true},
		{"no id", PlaceOrder{Customer: "c", Items: []Item{{sku, 1}}}, false},
		{"no customer", PlaceOrder{ID: "1", Items: []Item{{sku, 1}}}, false},
		{"no items", PlaceOrder{ID: "1", Customer: "c"}, false},
		{"unknown sku", PlaceOrder{ID: "1", Customer: "c", Items: []Item{{"nope", 1}}}, false},
		{"zero quantity", PlaceOrder{ID: "1", Customer: "c", Items: []Item{{sku, 0}}}, false},
		{"duplicate sku", PlaceOrder{ID: "1", Customer: "c", Items: []Item{{sku, 1}, {sku, 2}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.order.Validate(c)
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidOrder) {
				t.Fatalf("error %v does not wrap ErrInvalidOrder", err)
			}
		})
	}
}

type mapStock map[string]int

func (m mapStock) Available(_ context.Context, sku string) (int, error) { return m[sku], nil }
func (m mapStock) Adjust(_ context.Context, sku string, d int) error    { m[sku] += d; return nil }

func TestReserveAllOrNothing(t *testing.T) {
	ctx := context.Background()
	s := mapStock{"a": 3, "b": 1}
	err := Reserve(ctx, s, []Item{{"a", 2}, {"b", 2}})
	if !errors.Is(err, ErrOutOfStock) {
		t.Fatalf("Reserve short = %v, want ErrOutOfStock", err)
	}
	if s["a"] != 3 || s["b"] != 1 {
		t.Fatalf("failed reservation changed stock: %v", s)
	}
	if err := Reserve(ctx, s, []Item{{"a", 2}, {"b", 1}}); err != nil {
		t.Fatal(err)
	}
	if s["a"] != 1 || s["b"] != 0 {
		t.Fatalf("stock after reserve = %v", s)
	}
	if err := Release(ctx, s, []Item{{"a", 2}, {"b", 1}}); err != nil {
		t.Fatal(err)
	}
	if s["a"] != 3 || s["b"] != 1 {
		t.Fatalf("release did not restore stock: %v", s)
	}
}

func TestAmount(t *testing.T) {
	c := testCatalog(t)
	p0, p1 := c.Products()[0], c.Products()[1]
	o := PlaceOrder{Items: []Item{{p0.SKU, 2}, {p1.SKU, 3}}}
	if got, want := o.Amount(c), 2*p0.Price+3*p1.Price; got != want {
		t.Fatalf("Amount = %d, want %d", got, want)
	}
}
