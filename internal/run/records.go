package run

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/edatestbed/testbed/system/eda"
	"github.com/edatestbed/testbed/system/psp"
)

// Files of the raw record, per architecture, that checkers and later
// analyses read.
const (
	RequestsFile  = "requests.csv"    // every scheduled request and its outcome
	TerminalsFile = "terminals.csv"   // every terminal event the testbed observed (EDA)
	LedgerFile    = "psp-ledger.json" // every charge the payment provider decided
	DLQFile       = "dlq.jsonl"       // every dead letter, one JSON object per line (EDA)
)

// writeRecords saves the architecture's raw record into the bundle.
func (a *archRun) writeRecords(ctx context.Context, dir string) error {
	base := filepath.Join(dir, a.plan.arch)
	var errs []error
	if a.result != nil {
		errs = append(errs, writeCSV(filepath.Join(base, RequestsFile),
			[]string{"seq", "id", "warmup", "intended_ms", "latency_ms", "status", "kind", "terminal"},
			len(a.result.Records), func(i int) []string {
				r := a.result.Records[i]
				return []string{strconv.FormatUint(r.Seq, 10), r.ID, strconv.FormatBool(r.Warmup), ms(r.Intended), ms(r.Latency),
					strconv.Itoa(r.Status), r.Kind.String(), r.Terminal}
			}))
	}
	if !a.plan.synchronous {
		a.mu.Lock()
		terms := a.terminals
		a.mu.Unlock()
		var start time.Time
		if a.result != nil {
			start = a.result.Start
		}
		errs = append(errs, writeCSV(filepath.Join(base, TerminalsFile),
			[]string{"order_id", "state", "reason", "at_ms"}, len(terms), func(i int) []string {
				t := terms[i]
				return []string{t.OrderID, string(t.State), t.Reason, ms(t.At.Sub(start))}
			}))
	}
	if !a.plan.synchronous {
		errs = append(errs, writeDeadLetters(ctx, a.plan.brokers, a.plan.brokerRoutes, filepath.Join(base, DLQFile)))
	}
	if a.plan.settle != nil {
		// Settling waits only while the run is not interrupted.
		if err := a.plan.settle(ctx, base); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a.plan.arch, err))
		}
	}
	// The ledger is read even after Ctrl-C: it is part of what was measured.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	ledger, err := psp.NewClient("http://"+a.plan.pspAddr, nil).Ledger(ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", a.plan.arch, err))
	} else {
		b, _ := json.MarshalIndent(ledger, "", " ")
		errs = append(errs, os.WriteFile(filepath.Join(base, LedgerFile), b, 0o644))
	}
	return errors.Join(errs...)
}

// ms formats a duration as milliseconds with microsecond precision.
func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 3, 64) }

func writeCSV(path string, head []string, n int, row func(int) []string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	bw := bufio.NewWriter(f)
	w := csv.NewWriter(bw)
	_ = w.Write(head)
	for i := range n {
		_ = w.Write(row(i))
	}
	w.Flush()
	if err := errors.Join(w.Error(), bw.Flush(), f.Close()); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func writeDeadLetters(ctx context.Context, brokers []string, routes map[string]string, path string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	letters, err := eda.ReadDeadLetters(ctx, brokers, routes)
	if err != nil {
		return fmt.Errorf("read dead letters: %w", err)
	}
	var b []byte
	for _, l := range letters {
		line, _ := json.Marshal(l)
		b = append(append(b, line...), '\n')
	}
	return os.WriteFile(path, b, 0o644)
}
