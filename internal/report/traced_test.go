package report

import (
	"bytes"
	"strings"
	"testing"
)

func TestTracedOrders(t *testing.T) {
	s := &Summary{SchemaVersion: SchemaVersion, Architectures: []Arch{{Name: "eda", Traced: []TracedOrder{
		{ID: "o-7", Why: "slowest", Ms: 4120.5, TraceID: "abc123", Logs: []string{"order-api INFO order accepted", "inventory INFO event handled OrderPlaced"}},
		{ID: "o-9", Why: "failed: timeout", Ms: 1000},
	}}}, Observability: &Observability{JaegerUI: "http://127.0.0.1:16686"}}
	var b bytes.Buffer
	if err := Markdown(&b, s); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{"## Slowest and failed orders", "http://127.0.0.1:16686/trace/<trace id>", "| o-7 ", "abc123", "4120.5 ms", "inventory INFO event handled OrderPlaced", "failed: timeout"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	s.Architectures[0].Traced = nil
	b.Reset()
	if err := Markdown(&b, s); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "Slowest and failed orders") {
		t.Error("an empty section was rendered")
	}
}

func TestArchitecturesAreExplained(t *testing.T) {
	s := &Summary{SchemaVersion: SchemaVersion, Architectures: []Arch{
		{Name: "eda", About: "services over Kafka"},
		{Name: "monolith-ha", About: "2 replicas on PostgreSQL"},
	}}
	var b bytes.Buffer
	if err := Markdown(&b, s); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"**eda**: services over Kafka.", "**monolith-ha**: 2 replicas on PostgreSQL."} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
