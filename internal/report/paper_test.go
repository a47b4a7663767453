package report

import "testing"

// TestSeedPaper pins the figures to the paper as printed (seed
// 000_e6269843cdb24899.txt, Tables 1 and 2).
func TestSeedPaper(t *testing.T) {
	p := SeedPaper()
	t1 := []struct {
		name string
		got  PaperPair
		want PaperPair
	}{
		{"request latency (ms)", p.Table1.RequestLatencyMS, PaperPair{500, 300}},
		{"system uptime (%)", p.Table1.UptimePct, PaperPair{99.8, 99.99}},
		{"throughput (req/s)", p.Table1.ThroughputRPS, PaperPair{1000, 2000}},
	}
	for _, tt := range t1 {
		if tt.got != tt.want {
			t.Errorf("Table 1 %s = %+v, want %+v", tt.name, tt.got, tt.want)
		}
	}
	t2 := []struct {
		comparesTo string
		label      string
		want       PaperPair
	}{
		{"single-service-failure", "Single Service Failure", PaperPair{30, 12}},
		{"network-partition", "Network Partition", PaperPair{25, 8}},
		{"hardware-failure", "Hardware Failure", PaperPair{20, 5}},
	}
	for _, tt := range t2 {
		row, ok := p.Table2.Row(tt.comparesTo)
		if !ok || row.Label != tt.label || row.PaperPair != tt.want {
			t.Errorf("Table 2 row %q = %+v, %v; want %q %+v", tt.comparesTo, row, ok, tt.label, tt.want)
		}
	}
	if len(p.Table2.Rows) != len(t2) {
		t.Errorf("Table 2 has %d rows, the paper has %d", len(p.Table2.Rows), len(t2))
	}
	for _, none := range []string{"baseline", ""} {
		if _, ok := p.Table2.Row(none); ok {
			t.Errorf("Table 2 has a row for %q; the paper has none", none)
		}
	}
	if p.Table1.Source != "000_e6269843cdb24899.txt, Table 1" || p.Table2.Source != "000_e6269843cdb24899.txt, Table 2" {
		t.Errorf("sources %q, %q do not cite the seed file and table", p.Table1.Source, p.Table2.Source)
	}
}

func TestPaperSystem(t *testing.T) {
	pair := PaperPair{Traditional: 1, EventDriven: 2}
	tests := []struct {
		arch   string
		system string
		value  float64
		ok     bool
	}{
		{"monolith", TraditionalSystem, 1, true},
		{"eda", EventDrivenSystem, 2, true},
		{"microservices-sync", "", 0, false},
	}
	for _, tt := range tests {
		sys, ok := PaperSystem(tt.arch)
		v, vok := pair.For(tt.arch)
		if sys != tt.system || ok != tt.ok || v != tt.value || vok != tt.ok {
			t.Errorf("%s: system %q %v, value %v %v; want %q %v, %v", tt.arch, sys, ok, v, vok, tt.system, tt.ok, tt.value)
		}
	}
}
