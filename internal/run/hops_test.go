package run

import "testing"

// Hops come from the "event handled" lines that say how long the event
// waited and how much of it since its publication, per event type and
// handling service, in the saga's order; other lines, lines without both
// and missing logs are skipped. Lines give microseconds (order-view.log)
// or, written before 2026-12-02, milliseconds (inventory.log).
func TestReadHops(t *testing.T) {
	got := readHops("testdata/hops")
	type row struct {
		event, from, to             string
		n                           int64
		relayMax, kafkaMax, handMax float64
	}
	want := []row{
		// Relay = waited - kafka: 6 and 17.5 ms; kafka 4 and 12.5 ms.
		{"OrderPlaced", "order-api", "inventory", 2, 17.5, 12.5, 2.5},
		{"OrderPlaced", "order-api", "order-view", 1, 15, 5, 1.5},
		// Kafka's timestamp is to the millisecond: a relay part below
		// zero counts as the least there is.
		{"PaymentFailed", "payment", "inventory", 1, 0.001, 7.5, 4},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d hops, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		r := row{g.Event, g.From, g.To, g.Handled.Count, g.Relay.Max, g.Kafka.Max, g.Handled.Max}
		// HdrHistogram keeps 3 significant figures.
		if r.event != w.event || r.from != w.from || r.to != w.to || r.n != w.n || g.Relay.Count != w.n || g.Kafka.Count != w.n ||
			!near(r.relayMax, w.relayMax) || !near(r.kafkaMax, w.kafkaMax) || !near(r.handMax, w.handMax) {
			t.Errorf("hop %d = %+v, want %+v", i, r, w)
		}
	}
	if h := readHops(t.TempDir()); h != nil {
		t.Errorf("no logs: %v, want none", h)
	}
}

func near(a, b float64) bool { return a >= b*0.999 && a <= b*1.001 }
