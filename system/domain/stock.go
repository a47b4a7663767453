package domain

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Stock is what reserving and releasing need of a store. Implementations
// run inside the caller's transaction, so a reservation is all or nothing.
type Stock interface {
	Available(ctx context.Context, sku string) (int, error)
	Adjust(ctx context.Context, sku string, delta int) error
}

// Reserve takes every item of an order out of stock, or nothing when any
// line cannot be met in full; the error then wraps ErrOutOfStock. It takes
// the lines in SKU order, so two orders reserving on one shared database
// lock its rows in the same order and cannot deadlock.
func Reserve(ctx context.Context, s Stock, items []Item) error {
	items = slices.SortedFunc(slices.Values(items), func(a, b Item) int { return strings.Compare(a.SKU, b.SKU) })
	for _, it := range items {
		n, err := s.Available(ctx, it.SKU)
		if err != nil {
			return fmt.Errorf("read stock of %s: %w", it.SKU, err)
		}
		if n < it.Quantity {
			return fmt.Errorf("%w: %s has %d, order needs %d", ErrOutOfStock, it.SKU, n, it.Quantity)
		}
	}
	for _, it := range items {
		if err := s.Adjust(ctx, it.SKU, -it.Quantity); err != nil {
			return fmt.Errorf("reserve %s: %w", it.SKU, err)
		}
	}
	return nil
}

// Release puts the items of a cancelled order back: the compensation of
// Reserve, in the same SKU order.
func Release(ctx context.Context, s Stock, items []Item) error {
	items = slices.SortedFunc(slices.Values(items), func(a, b Item) int { return strings.Compare(a.SKU, b.SKU) })
	for _, it := range items {
		if err := s.Adjust(ctx, it.SKU, it.Quantity); err != nil {
			return fmt.Errorf("release %s: %w", it.SKU, err)
		}
	}
	return nil
}
