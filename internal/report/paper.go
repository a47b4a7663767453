package report

// The seed paper's figures. Everything in this file is copied from the paper
// as printed; none of it was measured by the testbed, and the report labels it
// that way wherever it appears.

// Names the paper gives its two systems.
const (
	TraditionalSystem = "Traditional System"
	EventDrivenSystem = "Event-Driven System"
)

// Paper is the seed paper and the figures of its results section.
type Paper struct {
	Title  string
	Author string
	// File is the seed file the figures were copied from.
	File   string
	Table1 PaperTable1
	Table2 PaperTable2
}

// PaperTable1 is the paper's Table 1, "Performance Metrics Comparison".
type PaperTable1 struct {
	Source           string // where in the seed the table is, for citing it
	RequestLatencyMS PaperPair
	UptimePct        PaperPair
	ThroughputRPS    PaperPair
}

// PaperTable2 is the paper's Table 2, "Downtime Comparison During Fault
// Tolerance Tests", in percent.
type PaperTable2 struct {
	Source string
	Rows   []PaperDowntime
}

// PaperDowntime is one row of the paper's Table 2.
type PaperDowntime struct {
	// Scenario is the testbed's name for the row, the value of a
	// scenario's compares_to that stands beside it.
	Scenario string
	Label    string // the row as the paper prints it
	PaperPair
}

// PaperPair is one figure as the paper gives it for its two systems.
type PaperPair struct {
	Traditional float64
	EventDriven float64
}

// SeedPaper returns the seed paper's published figures.
func SeedPaper() Paper {
	const file = "000_e6269843cdb24899.txt"
	return Paper{
		Title:  "Event-Driven Paradigms: How to Architect Reactive and Resilient Systems",
		Author: "Joseph Franklin Santhosh Kumar",
		File:   file,
		Table1: PaperTable1{
			Source:           file + ", Table 1",
			RequestLatencyMS: PaperPair{Traditional: 500, EventDriven: 300},
			UptimePct:        PaperPair{Traditional: 99.8, EventDriven: 99.99},
			ThroughputRPS:    PaperPair{Traditional: 1000, EventDriven: 2000},
		},
		Table2: PaperTable2{
			Source: file + ", Table 2",
			Rows: []PaperDowntime{
				{Scenario: "single-service-failure", Label: "Single Service Failure", PaperPair: PaperPair{Traditional: 30, EventDriven: 12}},
				{Scenario: "network-partition", Label: "Network Partition", PaperPair: PaperPair{Traditional: 25, EventDriven: 8}},
				{Scenario: "hardware-failure", Label: "Hardware Failure", PaperPair: PaperPair{Traditional: 20, EventDriven: 5}},
			},
		},
	}
}

// Row returns the row of Table 2 that a scenario's compares_to names. There
// is none for "baseline" or "": the paper published no fault-free row.
func (t PaperTable2) Row(comparesTo string) (PaperDowntime, bool) {
	for _, r := range t.Rows {
		if r.Scenario == comparesTo {
			return r, true
		}
	}
	return PaperDowntime{}, false
}

// PaperSystem names the paper's system that a testbed architecture stands
// for, and false for an architecture the paper has no counterpart of.
func PaperSystem(arch string) (string, bool) {
	switch arch {
	case "monolith":
		return TraditionalSystem, true
	case "eda":
		return EventDrivenSystem, true
	}
	return "", false
}

// For returns the figure of the paper's system that arch stands for.
func (p PaperPair) For(arch string) (float64, bool) {
	switch sys, _ := PaperSystem(arch); sys {
	case TraditionalSystem:
		return p.Traditional, true
	case EventDrivenSystem:
		return p.EventDriven, true
	}
	return 0, false
}
