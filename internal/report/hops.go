package report

import "fmt"

// Hop is one event type on its way from the service that emitted it to
// one that handled it.
type Hop struct {
	Event string `json:"event"`
	From  string `json:"from"`
	To    string `json:"to"`
	// Relay runs from the event's creation, in the emitter's transaction,
	// to its outbox relay handing it to the Kafka producer: the emitter's
	// commit and the relay's wait for its turn.
	Relay Latency `json:"relay"`
	// Kafka runs from there to the start of its handling: the produce
	// request, the broker, the consumer's fetch and its queue behind the
	// partition's earlier events.
	Kafka Latency `json:"kafka"`
	// Handled is the handling itself: the handler, any call it makes (the
	// PSP), its commit and its retries.
	Handled Latency `json:"handled"`
}

// hops lays out, per architecture that has them, where an order's time
// goes between and inside the services.
func (r *builder) hops() {
	some := false
	for _, a := range r.s.Architectures {
		some = some || len(a.Hops) > 0
	}
	if !some {
		return
	}
	r.heading(2, "Where the time goes")
	r.para("From every service's `event handled` log line, over the whole run (warm-up and drain included). **Relay**: from the event's creation, in the transaction of the service that emitted it, to that service's outbox relay handing it to its Kafka producer (the commit, the relay's turn; the message's timestamp is to the millisecond). **Kafka**: from there to the start of its handling (produce request, broker, fetch, the consumer's queue behind the partition's earlier events). **Handling**: the handler, any call it makes (the PSP), its commit and retries. A shipped order's completion latency is its accept latency plus the hops OrderPlaced → inventory, StockReserved → payment and PaymentSucceeded → shipping, plus the testbed's own wait for OrderShipped; the read model's hops (→ order-view) are off that path.")
	for _, a := range r.s.Architectures {
		if len(a.Hops) == 0 {
			continue
		}
		r.heading(3, "%s", a.Name)
		t := table{head: []string{"Event", "From → to", "Events", "Relay p50 (ms)", "Relay p99", "Kafka p50", "Kafka p99", "Handling p50", "Handling p99"}}
		for _, h := range a.Hops {
			t.rows = append(t.rows, []string{h.Event, h.From + " → " + h.To, fmt.Sprint(h.Handled.Count),
				ms(h.Relay.P50), ms(h.Relay.P99), ms(h.Kafka.P50), ms(h.Kafka.P99), ms(h.Handled.P50), ms(h.Handled.P99)})
		}
		r.add(block{kind: tableBlock, table: t})
	}
}
