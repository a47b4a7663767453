// Package eda is the event-driven reference system: order-api, inventory,
// payment, shipping and order-view run as separate processes that talk only
// through Kafka topics. Every service keeps its own SQLite database, writes
// the events it emits to an outbox in the same transaction as its state
// change, and records the ids of the events it consumed, so a crash or a
// redelivery neither loses nor repeats work.
package eda

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/edatestbed/testbed/system/domain"
)

// Topics, one per owning service. Every message is keyed by order id, so an
// order's events keep their order within a topic.
const (
	TopicOrders    = "orders"
	TopicInventory = "inventory"
	TopicPayments  = "payments"
	TopicShipping  = "shipping"
)

// Topics lists every topic the system uses, for creating them up front.
func Topics() []string { return []string{TopicOrders, TopicInventory, TopicPayments, TopicShipping} }

// InputTopic is the first topic a component consumes: where a poison
// message aimed at it goes. Empty for a component that consumes nothing.
func InputTopic(component string) string {
	return map[string]string{
		OrderAPI:  TopicInventory,
		Inventory: TopicOrders,
		Payment:   TopicInventory,
		Shipping:  TopicPayments,
		OrderView: TopicOrders,
	}[component]
}

// Holder names the component holding a capability a scenario can target
// ("order", "inventory", ...), "" for one the system does not have.
func Holder(capability string) string {
	return map[string]string{
		"order": OrderAPI, "inventory": Inventory, "payment": Payment,
		"shipping": Shipping, "order-view": OrderView, "broker": "broker",
	}[capability]
}

// Consumers lists the components that consume topic, each in its own
// consumer group: a poison message in topic is dead-lettered once by each.
func Consumers(topic string) []string {
	return map[string][]string{
		TopicOrders:    {Inventory, OrderView},
		TopicInventory: {OrderAPI, Payment, OrderView},
		TopicPayments:  {Inventory, Shipping, OrderView},
		TopicShipping:  {OrderAPI, Payment, OrderView},
	}[topic]
}

// Event types.
const (
	OrderPlaced      = "OrderPlaced"
	OrderCancelled   = "OrderCancelled"
	StockReserved    = "StockReserved"
	StockRejected    = "StockRejected"
	StockReleased    = "StockReleased"
	PaymentSucceeded = "PaymentSucceeded"
	PaymentFailed    = "PaymentFailed"
	PaymentRefunded  = "PaymentRefunded"
	OrderShipped     = "OrderShipped"
	ShippingFailed   = "ShippingFailed"
)

var topicOf = map[string]string{
	OrderPlaced:      TopicOrders,
	OrderCancelled:   TopicOrders,
	StockReserved:    TopicInventory,
	StockRejected:    TopicInventory,
	StockReleased:    TopicInventory,
	PaymentSucceeded: TopicPayments,
	PaymentFailed:    TopicPayments,
	PaymentRefunded:  TopicPayments,
	OrderShipped:     TopicShipping,
	ShippingFailed:   TopicShipping,
}

// EventTypes lists every event type in the order an order meets them: the
// saga's way forward, then its compensations.
func EventTypes() []string {
	return []string{OrderPlaced, StockReserved, PaymentSucceeded, OrderShipped,
		StockRejected, PaymentFailed, ShippingFailed, PaymentRefunded, StockReleased, OrderCancelled}
}

// Emitter names the component that emits events of type typ: the owner of
// its topic.
func Emitter(typ string) string {
	return map[string]string{
		TopicOrders: OrderAPI, TopicInventory: Inventory, TopicPayments: Payment, TopicShipping: Shipping,
	}[topicOf[typ]]
}

// Event is the one envelope every message carries. Fields an event type does
// not need stay empty.
type Event struct {
	// ID is "<order id>/<type>": an order emits each type at most once, so a
	// handler that runs twice emits an event a consumer recognises.
	ID       string        `json:"id"`
	Type     string        `json:"type"`
	OrderID  string        `json:"order_id"`
	At       time.Time     `json:"at"`
	Customer string        `json:"customer,omitempty"`
	Items    []domain.Item `json:"items,omitempty"`
	Amount   int64         `json:"amount,omitempty"`
	Reason   string        `json:"reason,omitempty"`
}

// NewEvent returns an event of type typ about order, stamped now.
func NewEvent(typ, order string) Event {
	return Event{ID: order + "/" + typ, Type: typ, OrderID: order, At: time.Now().UTC()}
}

// Topic is where events of e's type are published.
func (e Event) Topic() string { return topicOf[e.Type] }

func decodeEvent(b []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(b, &e); err != nil {
		return e, fmt.Errorf("decode event: %w", err)
	}
	if e.ID == "" || e.OrderID == "" || topicOf[e.Type] == "" {
		return e, fmt.Errorf("decode event: id %q, order %q, type %q: missing id or order, or unknown type", e.ID, e.OrderID, e.Type)
	}
	return e, nil
}
