// Package check holds a finished run to account. From the load generator's
// record of every request and answer, the payment provider's ledger and the
// systems' own databases after the drain, it decides for each architecture
// whether an acknowledged order was lost, an effect repeated, stock or money
// created or destroyed, or the read model left disagreeing with the orders.
// Availability figures mean little without this: a system can answer every
// request and still lose the orders behind the answers.
package check

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"

	"github.com/edatestbed/testbed/internal/report"
	"github.com/edatestbed/testbed/scenarios"
	"github.com/edatestbed/testbed/system/domain"
	"github.com/edatestbed/testbed/system/eda"
)

// maxExamples bounds the ids a verdict names; the count says the rest.
const maxExamples = 5

// checker is one business rule.
type checker struct {
	name string
	unit string // what checked counts
	rule string // what must hold, as the start of the verdict's sentence
	run  func(st *state, cat *domain.Catalog) (finding, error)
}

// finding is what a checker saw: how many items it looked at, which broke
// the rule, and the numbers behind it for the verdict's sentence.
type finding struct {
	checked int
	bad     map[string]bool
	found   string
}

func (f *finding) flag(id string) {
	if f.bad == nil {
		f.bad = map[string]bool{}
	}
	f.bad[id] = true
}

// checkers lists the checkers of an architecture in the order the report
// shows them. Only the EDA has a read model and dead letters to check.
func checkers(st *state) []checker {
	out := []checker{lostChecker(), terminalChecker(), duplicatedChecker(), stockChecker(), moneyChecker()}
	if st.events {
		out = append(out, readModelChecker(), dlqChecker())
	}
	return out
}

// Run checks both architectures' end state in a bundle and returns one
// verdict per checker and architecture. It fails only when the bundle cannot
// be read at all; a checker whose files are missing for one architecture
// returns a failed verdict that says why.
func Run(ctx context.Context, dir string, sc *scenarios.Scenario) ([]report.Check, error) {
	if sc == nil {
		return nil, errors.New("check run: no scenario")
	}
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("check run: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("check run: %s is not a run bundle directory", dir)
	}
	// After a long run the checkers' tables are most of what the process
	// holds, and they only grow while the bundle is read: collecting more
	// often keeps the heap nearer their size than twice it, for some more
	// time (BenchmarkRunEDA at a million orders: 316 B an order at the
	// peak and 9.6 s with Go's default of 100, 213 B and 11.3 s with 25).
	defer debug.SetGCPercent(debug.SetGCPercent(25))
	cat, err := domain.NewCatalog(sc.CatalogConfig())
	if err != nil {
		return nil, fmt.Errorf("check run: %w", err)
	}
	var out []report.Check
	for _, arch := range sc.Architectures {
		base := filepath.Join(dir, arch)
		var st *state
		switch arch {
		case scenarios.ArchitectureMonolith:
			st = readMonolith(ctx, base, monolithDB)
		case scenarios.ArchitectureMonolithHA:
			st = readMonolith(ctx, base, haSnapshot)
		case scenarios.ArchitectureSyncServices:
			st = readSyncServices(ctx, base)
		case scenarios.ArchitectureEDA:
			st = readEDA(ctx, base)
			st.poisonSent = poisonSent(sc)
		default:
			return nil, fmt.Errorf("check run: architecture %q has no checkers; allowed: %v", arch, scenarios.ArchitectureNames())
		}
		for _, ck := range checkers(st) {
			out = append(out, ck.verdict(arch, st, cat))
		}
	}
	// A cancelled context turns every read into an error; that is no
	// verdict on the system.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("check run: %w", err)
	}
	return out, nil
}

func (ck checker) verdict(arch string, st *state, cat *domain.Catalog) report.Check {
	out := report.Check{Arch: arch, Name: ck.name, Unit: ck.unit}
	f, err := ck.run(st, cat)
	if err != nil {
		out.Detail = fmt.Sprintf("%s; cannot check: %v.", ck.rule, err)
		return out
	}
	bad := make([]string, 0, len(f.bad))
	for id := range f.bad {
		bad = append(bad, id)
	}
	slices.Sort(bad)
	out.Passed = len(bad) == 0
	out.Checked = int64(f.checked)
	out.Violations = int64(len(bad))
	if len(bad) > 0 {
		out.Examples = bad[:min(len(bad), maxExamples)]
	}
	out.Detail = fmt.Sprintf("%s: %s.", ck.rule, f.found)
	return out
}

// poisonSent counts the dead letters a scenario's poison faults should
// leave in the EDA: each message once per consumer group of its topic.
func poisonSent(sc *scenarios.Scenario) int {
	n := 0
	for _, f := range sc.Faults {
		if f.Type == scenarios.FaultPoisonMessage {
			n += f.Messages * len(eda.Consumers(eda.InputTopic(eda.Holder(f.Target))))
		}
	}
	return n
}
