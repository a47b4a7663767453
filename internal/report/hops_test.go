package report

import (
	"bytes"
	"strings"
	"testing"
)

func TestHops(t *testing.T) {
	s := &Summary{SchemaVersion: SchemaVersion, Architectures: []Arch{
		{Name: "eda", Hops: []Hop{
			{Event: "OrderPlaced", From: "order-api", To: "inventory", Relay: Latency{Count: 900, P50: 3.25, P99: 140.5}, Kafka: Latency{Count: 900, P50: 1.5, P99: 7}, Handled: Latency{Count: 900, P50: 0.5, P99: 12}},
		}},
		{Name: "monolith"},
	}}
	var b bytes.Buffer
	if err := Markdown(&b, s); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{"## Where the time goes", "### eda", "| OrderPlaced | order-api → inventory | 900 ", "| 3.25 ", "| 140.5 ", "| 1.50 ", "| 7.00 ", "| 0.50 ", "| 12.00 "} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(md, "### monolith") {
		t.Error("an architecture without hops got a table")
	}
	s.Architectures[0].Hops = nil
	b.Reset()
	if err := Markdown(&b, s); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "Where the time goes") {
		t.Error("an empty section was rendered")
	}
}
