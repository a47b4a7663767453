package run

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edatestbed/testbed/internal/loadgen"
	"github.com/edatestbed/testbed/system/domain"
	"github.com/edatestbed/testbed/system/eda"
)

// The records of a load reach requests.csv as they come, in the format
// the checkers read, and the report reads them back exactly from the
// spool.
func TestRequestLog(t *testing.T) {
	dir := t.TempDir()
	a := &archRun{plan: plan{arch: "monolith", synchronous: true}}
	err := a.begin(dir, true, orderSeq(orderPrefix), loadgen.Config{URL: "http://127.0.0.1:1/orders", Rate: 1, Duration: time.Second, Timeout: time.Second, MaxInFlight: 1,
		Next: func(uint64) loadgen.Request { return loadgen.Request{} }})
	if err != nil {
		t.Fatal(err)
	}
	recs := []loadgen.Record{
		{Seq: 0, ID: "o-00000000", Warmup: true, Intended: -time.Second, Latency: 1234567, Status: 200, Kind: loadgen.Accepted, Terminal: "shipped"},
		{Seq: 1, ID: "o-00000001", Intended: 1500 * time.Microsecond, Latency: 2 * time.Second, Kind: loadgen.Timeout},
		{Seq: 2, ID: "o-00000002", Intended: 2 * time.Millisecond, Kind: loadgen.Dropped},
	}
	for i := range recs {
		if err := a.requests.WriteRecord(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	// What waits in the buffer reaches the file without a close: the
	// timer calls flush.
	a.requests.csv.flush()
	const want = "seq,id,warmup,intended_ms,latency_ms,status,kind,terminal\n" +
		"0,o-00000000,true,-1000.000,1.235,200,accepted,shipped\n" +
		"1,o-00000001,false,1.500,2000.000,0,timeout,\n" +
		"2,o-00000002,false,2.000,0.000,0,dropped,\n"
	if b, err := os.ReadFile(filepath.Join(dir, RequestsFile)); err != nil || string(b) != want {
		t.Fatalf("requests.csv before close = %q, %v; want %q", b, err, want)
	}
	if err := a.endLoad(); err != nil {
		t.Fatal(err)
	}
	var got []loadgen.Record
	if err := a.eachRecord(func(r *loadgen.Record) error {
		got = append(got, *r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Fatalf("read back %d records, want %d", len(got), len(recs))
	}
	for i := range got {
		if got[i] != recs[i] {
			t.Errorf("record %d read back as %+v, want %+v", i, got[i], recs[i])
		}
	}
	if done, err := a.readCompletions(); done != nil || err != nil {
		t.Errorf("completions of a synchronous architecture: %v, %v; want none", done, err)
	}
	if err := a.removeSpools(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, requestsSpool)); !os.IsNotExist(err) {
		t.Errorf("spool after removeSpools: %v, want it gone", err)
	}
}

// Terminal events reach terminals.csv as they come, duplicates included,
// and read back as each order's first, at the very time the watcher saw.
func TestTerminalLog(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	l, err := createTerminalLog(dir, true, func() (time.Time, bool) { return start, true })
	if err != nil {
		t.Fatal(err)
	}
	a := &archRun{plan: plan{arch: "eda"}, terminals: l, recording: true}
	events := []eda.Terminal{
		{OrderID: "o-1", State: domain.Shipped, At: start.Add(1500*time.Millisecond + 7)},
		{OrderID: "o-2", State: domain.Cancelled, Reason: "payment provider unavailable", At: start.Add(2 * time.Second)},
		{OrderID: "o-1", State: domain.Shipped, At: start.Add(3 * time.Second)},
		{OrderID: "o-3", State: domain.Cancelled, Reason: "out of stock, \"sku-1\"", At: start.Add(-time.Millisecond)},
	}
	for _, e := range events {
		a.complete(e)
	}
	if err := a.endLoad(); err != nil {
		t.Fatal(err)
	}
	// Events after the end of the load are not recorded.
	a.complete(eda.Terminal{OrderID: "o-4", State: domain.Shipped, At: start.Add(4 * time.Second)})

	const want = "order_id,state,reason,at_ms\n" +
		"o-1,shipped,,1500.000\n" +
		"o-2,cancelled,payment provider unavailable,2000.000\n" +
		"o-1,shipped,,3000.000\n" +
		"o-3,cancelled,\"out of stock, \"\"sku-1\"\"\",-1.000\n"
	if b, err := os.ReadFile(filepath.Join(dir, TerminalsFile)); err != nil || string(b) != want {
		t.Fatalf("terminals.csv = %q, %v; want %q", b, err, want)
	}
	done, err := a.readCompletions()
	if err != nil {
		t.Fatal(err)
	}
	wantDone := map[string]loadgen.Completion{
		"o-1": {At: events[0].At, State: "shipped"},
		"o-2": {At: events[1].At, State: "cancelled", Failed: domain.SystemFault(events[1].Reason)},
		"o-3": {At: events[3].At, State: "cancelled", Failed: domain.SystemFault(events[3].Reason)},
	}
	if len(done) != len(wantDone) {
		t.Fatalf("completions %v, want %v", done, wantDone)
	}
	for id, w := range wantDone {
		c := done[id]
		// Sub, not Equal: the report subtracts these times from times
		// with a monotonic clock reading, as the watcher's were.
		if c.At.Sub(start) != w.At.Sub(start) || c.State != w.State || c.Failed != w.Failed {
			t.Errorf("completion of %s = %+v, want %+v", id, c, w)
		}
	}
}
