package report

import (
	"bytes"
	"encoding/csv"
	"strconv"
)

// The CSV files hold numbers as measured, at full precision, for tools to
// read: the report rounds, these do not. A figure that was not measured is
// an empty cell, never 0, which would read as a measurement.

// writeCSV encodes records as CSV.
func writeCSV(records [][]string) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.WriteAll(records); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func float(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func integer(v int64) string { return strconv.FormatInt(v, 10) }

// msOrEmpty is a per-window latency: the summary stores 0 for a window
// without samples, the CSV leaves it empty.
func msOrEmpty(v float64) string {
	if v == 0 {
		return ""
	}
	return float(v)
}

// table1CSV is the Table 1 analogue: one row per metric, one column per
// architecture, then the paper's two columns, empty where the paper has no
// figure of that meaning.
func table1CSV(s *Summary) ([]byte, error) {
	head := []string{"metric"}
	for _, a := range s.Architectures {
		head = append(head, a.Name)
	}
	head = append(head, "paper_traditional_system", "paper_event_driven_system")
	records := [][]string{head}
	for _, m := range table1Of(SeedPaper().Table1, s.Architectures) {
		row := []string{m.key}
		for _, a := range s.Architectures {
			v, ok := m.value(a)
			row = append(row, ifOK(ok, float, v))
		}
		if m.paper != nil {
			row = append(row, float(m.paper.Traditional), float(m.paper.EventDriven))
		} else {
			row = append(row, "", "")
		}
		records = append(records, row)
	}
	return writeCSV(records)
}

// table2CSV is the Table 2 analogue: one row per architecture, with the
// paper's row for the scenario and the figure of the paper's system the
// architecture stands for, when there are both.
func table2CSV(s *Summary) ([]byte, error) {
	paperRow, hasRow := SeedPaper().Table2.Row(s.ComparesTo)
	records := [][]string{{"architecture", "accept_downtime_pct", "completion_downtime_pct",
		"accept_down_windows", "completion_down_windows", "windows",
		"paper_row", "paper_system", "paper_downtime_pct"}}
	for _, a := range s.Architectures {
		row := []string{a.Name, float(a.AcceptDowntimePct), float(a.CompletionDowntimePct),
			strconv.Itoa(a.AcceptDownWindows), strconv.Itoa(a.CompletionDownWindows), strconv.Itoa(a.Windows)}
		sys, mapped := PaperSystem(a.Name)
		if hasRow && mapped {
			v, _ := paperRow.For(a.Name)
			row = append(row, paperRow.Label, sys, float(v))
		} else {
			row = append(row, "", "", "")
		}
		records = append(records, row)
	}
	return writeCSV(records)
}

// secondsCSV is one row per window. fault_active is 1 or 0 so that
// plotting tools can use the column as a number.
func secondsCSV(a Arch) ([]byte, error) {
	records := [][]string{{"t", "offered", "accepted", "failed", "completed", "completed_in_deadline", "fault_active",
		"accept_p50_ms", "accept_p99_ms", "completion_p50_ms", "completion_p99_ms"}}
	for _, s := range a.Seconds {
		fault := "0"
		if s.FaultActive {
			fault = "1"
		}
		records = append(records, []string{
			strconv.Itoa(s.T),
			integer(s.Offered),
			integer(s.Accepted),
			integer(s.Failed),
			integer(s.Completed),
			integer(s.CompletedInDeadline),
			fault,
			msOrEmpty(s.AcceptP50),
			msOrEmpty(s.AcceptP99),
			msOrEmpty(s.CompletionP50),
			msOrEmpty(s.CompletionP99),
		})
	}
	return writeCSV(records)
}

// backlogCSV is one row per backlog sample.
func backlogCSV(a Arch) ([]byte, error) {
	records := [][]string{{"t", "orders"}}
	for _, b := range a.Backlog {
		records = append(records, []string{strconv.Itoa(b.T), integer(b.Orders)})
	}
	return writeCSV(records)
}

// percentilesCSV is both latency distributions, accept first.
func percentilesCSV(a Arch) ([]byte, error) {
	records := [][]string{{"kind", "percentile", "ms", "count"}}
	for _, d := range []struct {
		kind string
		ps   []Percentile
	}{{"accept", a.AcceptPercentiles}, {"completion", a.CompletionPercentiles}} {
		for _, p := range d.ps {
			records = append(records, []string{d.kind, float(p.Percentile), float(p.Ms), integer(p.Count)})
		}
	}
	return writeCSV(records)
}
