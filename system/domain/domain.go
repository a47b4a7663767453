// Package domain holds the business rules every architecture shares: what an
// order is, when stock can be reserved, what an order costs and which states
// an order moves through. It knows nothing about transport or storage, so the
// monolith and the event-driven services cannot drift apart.
package domain

import (
	"errors"
	"fmt"
	"strings"
)

// Item is one line of an order.
type Item struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// PlaceOrder is what a customer submits.
type PlaceOrder struct {
	// ID is the client's idempotency key: placing the same ID twice yields
	// one order. The load generator sets it so both architectures see the
	// same orders.
	ID       string `json:"id"`
	Customer string `json:"customer"`
	Items    []Item `json:"items"`
}

// State is where an order is in its life.
type State string

// The states of an order. Shipped and Cancelled are terminal.
const (
	Pending   State = "pending"
	Reserved  State = "reserved"
	Paid      State = "paid"
	Shipped   State = "shipped"
	Cancelled State = "cancelled"
)

// Terminal reports whether no further step will change the order.
func (s State) Terminal() bool { return s == Shipped || s == Cancelled }

// Why an order was cancelled.
const (
	ReasonOutOfStock         = "out_of_stock"
	ReasonPaymentDeclined    = "payment_declined"
	ReasonPaymentUnavailable = "payment_unavailable"
	// ReasonInterrupted: a crash cut the order off before it finished and
	// recovery could not complete it.
	ReasonInterrupted = "interrupted"
	// ReasonUndeliverable: the carrier cannot serve the customer's address,
	// found only when shipping: the order is cancelled after it was paid,
	// so the payment is refunded and the stock released.
	ReasonUndeliverable = "undeliverable"
	// ReasonUnavailable: a service the order needs could not be reached, so
	// the order was given up before it could finish.
	ReasonUnavailable = "service_unavailable"
)

// SystemFault reports whether a cancellation reason is the system's failure
// (a dependency it needs was unavailable, a crash cut the order off) rather
// than a business answer such as no stock or a declined card. Availability
// counts the first kind as failures.
func SystemFault(reason string) bool {
	return reason == ReasonPaymentUnavailable || reason == ReasonInterrupted || reason == ReasonUnavailable
}

// Deliverable reports whether the carrier serves a customer. One customer in
// a hundred cannot be delivered to (ids ending in 13), so every run
// exercises the saga's longest compensation: refund, then release, after a
// successful payment.
func Deliverable(customer string) bool { return !strings.HasSuffix(customer, "13") }

// Tracking is the shipment's tracking number; derived from the order so a
// shipment recorded twice is recorded identically.
func Tracking(orderID string) string { return "TRK-" + orderID }

// ErrInvalidOrder is wrapped by every validation failure, so HTTP layers can
// answer 400 without parsing messages.
var ErrInvalidOrder = errors.New("invalid order")

// ErrOutOfStock is wrapped when a reservation cannot be met in full.
var ErrOutOfStock = errors.New("out of stock")

// Limits of a single order; they keep a malformed load from turning into
// unbounded work.
const (
	MaxItems    = 50
	MaxQuantity = 1000
	maxIDLen    = 128
)

// Validate checks an order against the catalogue.
func (o PlaceOrder) Validate(c *Catalog) error {
	switch {
	case o.ID == "":
		return fmt.Errorf("%w: id is required", ErrInvalidOrder)
	case len(o.ID) > maxIDLen:
		return fmt.Errorf("%w: id longer than %d bytes", ErrInvalidOrder, maxIDLen)
	case o.Customer == "":
		return fmt.Errorf("%w: customer is required", ErrInvalidOrder)
	case len(o.Items) == 0:
		return fmt.Errorf("%w: at least one item is required", ErrInvalidOrder)
	case len(o.Items) > MaxItems:
		return fmt.Errorf("%w: %d items, at most %d allowed", ErrInvalidOrder, len(o.Items), MaxItems)
	}
	seen := make(map[string]bool, len(o.Items))
	for i, it := range o.Items {
		if _, ok := c.Price(it.SKU); !ok {
			return fmt.Errorf("%w: items[%d].sku %q is not in the catalogue", ErrInvalidOrder, i, it.SKU)
		}
		if it.Quantity < 1 || it.Quantity > MaxQuantity {
			return fmt.Errorf("%w: items[%d].quantity %d not in [1, %d]", ErrInvalidOrder, i, it.Quantity, MaxQuantity)
		}
		if seen[it.SKU] {
			return fmt.Errorf("%w: items[%d].sku %q appears twice", ErrInvalidOrder, i, it.SKU)
		}
		seen[it.SKU] = true
	}
	return nil
}

// Amount is what the order costs in cents.
func (o PlaceOrder) Amount(c *Catalog) int64 {
	var total int64
	for _, it := range o.Items {
		p, _ := c.Price(it.SKU)
		total += p * int64(it.Quantity)
	}
	return total
}

// Order is an order as a synchronous architecture keeps it and answers
// POST /orders with: the monolith's row, the chain's order service's.
type Order struct {
	ID       string `json:"id"`
	Customer string `json:"customer"`
	Items    []Item `json:"items"`
	Amount   int64  `json:"amount"`
	State    State  `json:"state"`
	Reason   string `json:"reason,omitempty"`
}
