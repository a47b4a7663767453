package run

import (
	"context"
	"testing"
	"time"

	"github.com/edatestbed/testbed/internal/report"
	"github.com/edatestbed/testbed/scenarios"
	"github.com/edatestbed/testbed/system/eda"
)

// TestCheckersCatchBrokenGuarantees breaks one guarantee of the EDA per
// run and expects the checker that guards it to fail: a checker that
// cannot fail is a defect. The same scenarios pass with nothing broken
// (TestFaultsEndToEnd and the checks every run makes).
func TestCheckersCatchBrokenGuarantees(t *testing.T) {
	endToEnd(t)
	tests := []struct {
		name      string
		scenario  string
		component string
		brk       string
		checks    []string // at least one of these must fail
	}{
		{"events sent without an outbox are lost with a crash", "testdata/break-crash-order.yaml", eda.OrderAPI, eda.BreakNoOutbox, []string{"lost", "terminal"}},
		{"redelivery without dedup reserves stock twice", "testdata/break-crash-inventory.yaml", eda.Inventory, eda.BreakSkipDedup, []string{"stock", "duplicated"}},
		{"acknowledging before processing loses what failed", "testdata/break-partition-payment.yaml", eda.Payment, eda.BreakCommitFirst, []string{"lost", "terminal"}},
	}
	for _, tt := range tests {
		t.Run(tt.brk, func(t *testing.T) {
			sc, err := scenarios.Load(tt.scenario)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Run(context.Background(), Options{
				Scenario: sc, ReportsDir: t.TempDir(), Binary: binary, Version: "test", ReadyTimeout: 30 * time.Second,
				Observability: "off", Break: map[string]string{tt.component: tt.brk},
			})
			if err != nil {
				t.Fatal(err)
			}
			byName := map[string]report.Check{}
			for _, c := range res.Summary.Checks {
				byName[c.Name] = c
			}
			caught := false
			for _, name := range tt.checks {
				if c, ok := byName[name]; ok && !c.Passed && c.Violations > 0 {
					caught = true
					t.Logf("%s: %s", name, c.Detail)
				}
			}
			if !caught {
				t.Errorf("%s: none of the checkers %v failed; verdicts: %+v", tt.name, tt.checks, res.Summary.Checks)
			}
		})
	}
}
