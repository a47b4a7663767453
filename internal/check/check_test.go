package check

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edatestbed/testbed/internal/report"
	"github.com/edatestbed/testbed/scenarios"
	"github.com/edatestbed/testbed/system/chain"
	"github.com/edatestbed/testbed/system/eda"
	"github.com/edatestbed/testbed/system/monolith"
	"github.com/edatestbed/testbed/system/psp"
	"github.com/edatestbed/testbed/system/store"
)

// scenario is the smallest catalogue whose stock the tests can write down:
// three SKUs of 10 units each.
func scenario(archs ...string) *scenarios.Scenario {
	return &scenarios.Scenario{
		Name: "check-test", Seed: 1, Architectures: archs,
		Catalog: scenarios.Catalog{SKUs: 3, StockMin: 10, StockMax: 10, ItemsMax: 1, QuantityMax: 3},
		// One poison message in the topic shipping consumes (payments):
		// three consumer groups read it, so three dead letters.
		Faults: []scenarios.Fault{{Type: scenarios.FaultPoisonMessage, Target: "shipping", Messages: 1}},
	}
}

// poisonLetters are the dead letters scenario()'s poison leaves.
func poisonLetters() []eda.DeadLetter {
	var out []eda.DeadLetter
	for _, c := range eda.Consumers(eda.TopicPayments) {
		out = append(out, eda.DeadLetter{Topic: eda.TopicPayments + eda.DLQSuffix, Key: "poison-0",
			Headers: map[string]string{eda.HeaderDLQReason: eda.ReasonUndecodable, eda.HeaderDLQConsumer: c}})
	}
	return out
}

// world is one architecture's bundle before it is written: the raw
// records, and per database the SQL that fills it.
type world struct {
	requests  [][]string // id, kind, terminal
	terminals [][]string // order_id, state
	ledger    []psp.Charge
	sql       map[string][]string // database path under the architecture's dir -> statements
	dlq       []eda.DeadLetter    // EDA only
}

// The databases of a bundle and the schemas the systems create them with.
const (
	orderAPIDBPath  = servicesDir + "/" + eda.OrderAPI + ".db"
	inventoryDBPath = servicesDir + "/" + eda.Inventory + ".db"
	shippingDBPath  = servicesDir + "/" + eda.Shipping + ".db"
	viewDBPath      = servicesDir + "/" + eda.OrderView + ".db"
	// sync-services keeps inventory and shipping where the EDA does, with
	// the same tables; its order service's table is its own.
	syncOrderDBPath = servicesDir + "/" + chain.Order + ".db"
	syncPaymentPath = servicesDir + "/" + chain.Payment + ".db"
)

var schemas = map[string][]string{
	monolithDB:      {monolith.Schema, store.StockSchema, psp.RefundSchema},
	haSnapshot:      {monolith.Schema, store.StockSchema, psp.RefundSchema},
	syncPaymentPath: {psp.RefundSchema},
	syncOrderDBPath: {chain.OrderSchema},
	orderAPIDBPath:  {eda.OrderSchema},
	inventoryDBPath: {store.StockSchema, eda.ReservationSchema},
	shippingDBPath:  {eda.ShipmentSchema},
	viewDBPath:      {eda.ViewSchema},
}

// The clean run both architectures start from:
//
//	o-1 shipped, SKU-00001 x2, charged 1000
//	o-2 cancelled, payment declined, SKU-00002 x1 reserved then released
//	o-3 cancelled, out of stock, nothing reserved or charged
//	o-4 timed out at the client and never recorded
//	o-5 cancelled, PSP unreachable after it had approved: refunded,
//	    SKU-00003 x1 released; a failure the monolith's client saw
const (
	insertO1    = `INSERT INTO orders (id, customer, items, amount, state, reason, created_at%s) VALUES ('o-1', 'c', '[{"sku":"SKU-00001","quantity":2}]', 1000, 'shipped', '', 0%s)`
	insertO2    = `INSERT INTO orders (id, customer, items, amount, state, reason, created_at%s) VALUES ('o-2', 'c', '[{"sku":"SKU-00002","quantity":1}]', 500, 'cancelled', 'payment_declined', 0%s)`
	insertO3    = `INSERT INTO orders (id, customer, items, amount, state, reason, created_at%s) VALUES ('o-3', 'c', '[{"sku":"SKU-00003","quantity":20}]', 9000, 'cancelled', 'out_of_stock', 0%s)`
	insertO5    = `INSERT INTO orders (id, customer, items, amount, state, reason, created_at%s) VALUES ('o-5', 'c', '[{"sku":"SKU-00003","quantity":1}]', 300, 'cancelled', 'payment_unavailable', 0%s)`
	insertStock = `INSERT INTO stock (sku, available) VALUES ('SKU-00001', 8), ('SKU-00002', 10), ('SKU-00003', 10)`
)

func cleanLedger() []psp.Charge {
	return []psp.Charge{
		{OrderID: "o-1", Amount: 1000, Approved: true},
		{OrderID: "o-2", Amount: 500, Reason: "card_declined"},
		{OrderID: "o-5", Amount: 300, Approved: true, Refunded: true},
	}
}

func orderRows(extraCols, extraVals string) []string {
	var out []string
	for _, q := range []string{insertO1, insertO2, insertO3, insertO5} {
		out = append(out, strings.ReplaceAll(strings.Replace(q, "%s", extraCols, 1), "%s", extraVals))
	}
	return out
}

func cleanMonolith() *world {
	return &world{
		requests: [][]string{
			{"o-1", "accepted", "shipped"}, {"o-2", "accepted", "cancelled"}, {"o-3", "accepted", "cancelled"},
			{"o-4", "timeout", ""}, {"o-5", "rejected", ""},
		},
		ledger: cleanLedger(),
		sql: map[string][]string{
			monolithDB: append(orderRows(", updated_at", ", 0"), insertStock, `INSERT INTO shipments VALUES ('o-1', 'TRK-o-1')`),
		},
	}
}

// cleanMonolithHA is the clean monolith with its tables in the snapshot
// copied from the replicas' PostgreSQL server.
func cleanMonolithHA() *world {
	w := cleanMonolith()
	w.sql = map[string][]string{haSnapshot: w.sql[monolithDB]}
	return w
}

// cleanSync is the clean run in sync-services: answered like the
// monolith, its stock held in inventory's reservations like the EDA's.
func cleanSync() *world {
	return &world{
		requests: cleanMonolith().requests,
		ledger:   cleanLedger(),
		sql: map[string][]string{
			syncOrderDBPath: orderRows(", updated_at", ", 0"),
			inventoryDBPath: {insertStock, `INSERT INTO reservations (order_id, items, released) VALUES
				('o-1', '[{"sku":"SKU-00001","quantity":2}]', 0),
				('o-2', '[{"sku":"SKU-00002","quantity":1}]', 1),
				('o-5', '[{"sku":"SKU-00003","quantity":1}]', 1)`},
			shippingDBPath: {`INSERT INTO shipments VALUES ('o-1', 'TRK-o-1')`},
		},
	}
}

func cleanEDA() *world {
	return &world{
		requests: [][]string{
			{"o-1", "accepted", ""}, {"o-2", "accepted", ""}, {"o-3", "accepted", ""},
			{"o-4", "timeout", ""}, {"o-5", "accepted", ""},
		},
		// o-1's shipped event arrived twice: at-least-once delivery.
		terminals: [][]string{{"o-1", "shipped"}, {"o-2", "cancelled"}, {"o-1", "shipped"}, {"o-3", "cancelled"}, {"o-5", "cancelled"}},
		ledger:    cleanLedger(),
		dlq:       poisonLetters(),
		sql: map[string][]string{
			orderAPIDBPath: orderRows("", ""),
			inventoryDBPath: {insertStock, `INSERT INTO reservations (order_id, items, released) VALUES
				('o-1', '[{"sku":"SKU-00001","quantity":2}]', 0),
				('o-2', '[{"sku":"SKU-00002","quantity":1}]', 1),
				('o-5', '[{"sku":"SKU-00003","quantity":1}]', 1)`},
			shippingDBPath: {`INSERT INTO shipments VALUES ('o-1', 'TRK-o-1')`},
			viewDBPath: {`INSERT INTO order_view (id, state, rank, updated_at) VALUES
				('o-1', 'shipped', 4, 0), ('o-2', 'cancelled', 4, 0), ('o-3', 'cancelled', 4, 0), ('o-5', 'cancelled', 4, 0)`},
		},
	}
}

// write lays w out under dir/arch the way a finished run leaves it.
func (w *world) write(t testing.TB, dir, arch string) {
	t.Helper()
	base := filepath.Join(dir, arch)
	writeCSVFile(t, filepath.Join(base, requestsFile), []string{"seq", "id", "warmup", "intended_ms", "latency_ms", "status", "kind", "terminal"},
		w.requests, func(i int, r []string) []string { return []string{"0", r[0], "false", "0", "1", "200", r[1], r[2]} })
	if w.terminals != nil {
		writeCSVFile(t, filepath.Join(base, terminalsFile), []string{"order_id", "state", "reason", "at_ms"},
			w.terminals, func(_ int, r []string) []string { return []string{r[0], r[1], "", "0"} })
		var lines []byte
		for _, dl := range w.dlq {
			b, _ := json.Marshal(dl)
			lines = append(append(lines, b...), '\n')
		}
		if err := os.WriteFile(filepath.Join(base, dlqFile), lines, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := json.Marshal(w.ledger)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, ledgerFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	for rel, stmts := range w.sql {
		path := filepath.Join(base, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		db, err := store.Open(context.Background(), path, schemas[rel]...)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range stmts {
			if _, err := db.Exec(s); err != nil {
				t.Fatalf("%s: %s: %v", rel, s, err)
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func writeCSVFile(t testing.TB, path string, head []string, rows [][]string, row func(int, []string) []string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	_ = w.Write(head)
	for i, r := range rows {
		_ = w.Write(row(i, r))
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// bundle writes the world of each architecture given and runs the
// checkers on them.
func bundle(t *testing.T, worlds map[string]*world) []report.Check {
	t.Helper()
	dir := t.TempDir()
	var archs []string
	for _, arch := range scenarios.ArchitectureNames() {
		if w, ok := worlds[arch]; ok {
			w.write(t, dir, arch)
			archs = append(archs, arch)
		}
	}
	checks, err := Run(context.Background(), dir, scenario(archs...))
	if err != nil {
		t.Fatal(err)
	}
	return checks
}

func find(t *testing.T, checks []report.Check, arch, name string) report.Check {
	t.Helper()
	for _, c := range checks {
		if c.Arch == arch && c.Name == name {
			return c
		}
	}
	t.Fatalf("no %s check for %s in %+v", name, arch, checks)
	return report.Check{}
}

func TestCleanBundlePasses(t *testing.T) {
	checks := bundle(t, map[string]*world{"monolith": cleanMonolith(), "eda": cleanEDA(), "monolith-ha": cleanMonolithHA(), "sync-services": cleanSync()})
	var got []string
	for _, c := range checks {
		got = append(got, c.Arch+"/"+c.Name)
		if !c.Passed || c.Violations != 0 || len(c.Examples) != 0 {
			t.Errorf("%s/%s failed on a clean bundle: %+v", c.Arch, c.Name, c)
		}
		if c.Checked == 0 {
			t.Errorf("%s/%s looked at nothing: %+v", c.Arch, c.Name, c)
		}
	}
	want := []string{"eda/lost", "eda/terminal", "eda/duplicated", "eda/stock", "eda/money", "eda/read-model", "eda/dlq",
		"monolith/lost", "monolith/terminal", "monolith/duplicated", "monolith/stock", "monolith/money",
		"monolith-ha/lost", "monolith-ha/terminal", "monolith-ha/duplicated", "monolith-ha/stock", "monolith-ha/money",
		"sync-services/lost", "sync-services/terminal", "sync-services/duplicated", "sync-services/stock", "sync-services/money"}
	if !slices.Equal(got, want) {
		t.Errorf("checks = %v, want %v (no read-model for the monolith)", got, want)
	}
	for _, tt := range []struct {
		arch, name string
		checked    int64
		unit       string
		detail     string
	}{
		{"eda", "lost", 4, "orders", "4 accepted, 0 missing, 0 not terminal"},
		{"monolith", "terminal", 4, "orders", "4 orders, 0 not terminal"},
		{"monolith", "lost", 3, "orders", "3 accepted"},
		// A repeated event is reported, and is no violation.
		{"eda", "duplicated", 4, "orders", "1 repeated terminal events on 1 orders"},
		{"eda", "stock", 3, "SKUs", "30 units initially, 28 available + 2 held"},
		{"monolith", "money", 4, "orders", "charged 1000 cents net of 1 refunds against 1000 cents shipped"},
		{"eda", "read-model", 4, "orders", "0 missing from the view, 0 in another state"},
		{"monolith-ha", "stock", 3, "SKUs", "30 units initially, 28 available + 2 held"},
		{"sync-services", "lost", 3, "orders", "0 in another state than the answer said"},
		{"sync-services", "duplicated", 4, "orders", "0 both reserved and rejected"},
		{"sync-services", "stock", 3, "SKUs", "30 units initially, 28 available + 2 held"},
	} {
		c := find(t, checks, tt.arch, tt.name)
		if c.Checked != tt.checked || c.Unit != tt.unit || !strings.Contains(c.Detail, tt.detail) {
			t.Errorf("%s/%s = checked %d %s, %q; want %d %s and a detail containing %q", tt.arch, tt.name, c.Checked, c.Unit, c.Detail, tt.checked, tt.unit, tt.detail)
		}
	}
}

// TestViolations is the checkers' own validity test: each broken
// guarantee must make its checker fail and name what broke it.
func TestViolations(t *testing.T) {
	tests := []struct {
		name     string
		arch     string
		sabotage func(w *world)
		checker  string
		examples []string
		detail   string
	}{
		{
			name: "accepted order missing", arch: "eda", checker: "lost", examples: []string{"o-6"},
			sabotage: func(w *world) { w.requests = append(w.requests, []string{"o-6", "accepted", ""}) },
			detail:   "5 accepted, 1 missing",
		},
		{
			name: "accepted order missing", arch: "monolith", checker: "lost", examples: []string{"o-6"},
			sabotage: func(w *world) { w.requests = append(w.requests, []string{"o-6", "accepted", "shipped"}) },
			detail:   "1 missing",
		},
		{
			name: "accepted order never ended", arch: "eda", checker: "lost", examples: []string{"o-1"},
			sabotage: func(w *world) { w.exec(orderAPIDBPath, `UPDATE orders SET state = 'paid' WHERE id = 'o-1'`) },
			detail:   "1 not terminal",
		},
		{
			name: "client told shipped, table says cancelled", arch: "monolith", checker: "lost", examples: []string{"o-2"},
			sabotage: func(w *world) { w.requests[1][2] = "shipped" },
			detail:   "1 in another state than the answer said",
		},
		{
			name: "durable order never ended", arch: "eda", checker: "terminal", examples: []string{"o-4"},
			sabotage: func(w *world) {
				w.exec(orderAPIDBPath, `INSERT INTO orders (id, customer, items, amount, state, created_at) VALUES ('o-4', 'c', '[]', 1, 'pending', 0)`)
				w.exec(viewDBPath, `INSERT INTO order_view (id, state, rank, updated_at) VALUES ('o-4', 'pending', 1, 0)`)
			},
			detail: "1 not terminal (1 pending), 0 of them acknowledged",
		},
		{
			name: "shipped although cancelled", arch: "monolith", checker: "duplicated", examples: []string{"o-2"},
			sabotage: func(w *world) { w.exec(monolithDB, `INSERT INTO shipments VALUES ('o-2', 'TRK-o-2')`) },
			detail:   "1 shipped although cancelled",
		},
		{
			name: "shipped although cancelled", arch: "eda", checker: "duplicated", examples: []string{"o-5"},
			sabotage: func(w *world) { w.exec(shippingDBPath, `INSERT INTO shipments VALUES ('o-5', 'TRK-o-5')`) },
			detail:   "1 shipped although cancelled",
		},
		{
			name: "reserved and rejected", arch: "eda", checker: "duplicated", examples: []string{"o-3"},
			sabotage: func(w *world) {
				w.exec(inventoryDBPath, `INSERT INTO reservations (order_id, items, released) VALUES ('o-3', '[{"sku":"SKU-00003","quantity":20}]', 1)`)
			},
			detail: "1 both reserved and rejected",
		},
		{
			name: "both terminal events", arch: "eda", checker: "duplicated", examples: []string{"o-1"},
			sabotage: func(w *world) { w.terminals = append(w.terminals, []string{"o-1", "cancelled"}) },
			detail:   "1 with both a shipped and a cancelled event",
		},
		{
			name: "charged twice", arch: "monolith", checker: "duplicated", examples: []string{"o-1"},
			sabotage: func(w *world) { w.ledger = append(w.ledger, w.ledger[0]) },
			detail:   "1 charged twice",
		},
		{
			name: "units vanished", arch: "monolith", checker: "stock", examples: []string{"SKU-00002"},
			sabotage: func(w *world) { w.exec(monolithDB, `UPDATE stock SET available = 9 WHERE sku = 'SKU-00002'`) },
			detail:   "1 SKUs off by -1 units",
		},
		{
			name: "stock of a shipped order came back", arch: "eda", checker: "stock", examples: []string{"SKU-00001"},
			sabotage: func(w *world) {
				w.exec(inventoryDBPath, `UPDATE reservations SET released = 1 WHERE order_id = 'o-1'`,
					`UPDATE stock SET available = 10 WHERE sku = 'SKU-00001'`)
			},
			detail: "1 SKUs off by +2 units",
		},
		{
			name: "cancelled order keeps its reservation", arch: "eda", checker: "stock", examples: []string{"SKU-00002"},
			sabotage: func(w *world) {
				w.exec(inventoryDBPath, `UPDATE reservations SET released = 0 WHERE order_id = 'o-2'`,
					`UPDATE stock SET available = 9 WHERE sku = 'SKU-00002'`)
			},
			detail: "1 cancelled orders still holding a reservation",
		},
		{
			name: "SKU the catalogue lacks", arch: "eda", checker: "stock", examples: []string{"SKU-99999"},
			sabotage: func(w *world) { w.exec(inventoryDBPath, `INSERT INTO stock VALUES ('SKU-99999', 1)`) },
			detail:   "1 missing from the catalogue or the stock table",
		},
		{
			name: "shipped order without charge", arch: "eda", checker: "money", examples: []string{"o-1"},
			sabotage: func(w *world) { w.ledger = w.ledger[1:] },
			detail:   "1 shipped without a matching charge",
		},
		{
			name: "shipped order charged another amount", arch: "monolith", checker: "money", examples: []string{"o-1"},
			sabotage: func(w *world) { w.ledger[0].Amount = 999 },
			detail:   "charged 999 cents",
		},
		{
			name: "cancelled order not refunded", arch: "monolith", checker: "money", examples: []string{"o-5"},
			sabotage: func(w *world) { w.ledger[2].Refunded = false },
			detail:   "1 cancelled but charged (0 of them with a refund still queued)",
		},
		{
			name: "cancelled order's refund still queued", arch: "monolith", checker: "money", examples: []string{"o-5"},
			sabotage: func(w *world) {
				w.ledger[2].Refunded = false
				w.exec(monolithDB, `INSERT INTO pending_refunds (order_id, queued_at) VALUES ('o-5', 0)`)
			},
			detail: "1 cancelled but charged (1 of them with a refund still queued)",
		},
		{
			name: "cancelled order's refund still queued", arch: "sync-services", checker: "money", examples: []string{"o-5"},
			sabotage: func(w *world) {
				w.ledger[2].Refunded = false
				w.exec(syncPaymentPath, `INSERT INTO pending_refunds (order_id, queued_at) VALUES ('o-5', 0)`)
			},
			detail: "1 cancelled but charged (1 of them with a refund still queued)",
		},
		{
			name: "cancelled order not refunded", arch: "eda", checker: "money", examples: []string{"o-5"},
			sabotage: func(w *world) { w.ledger[2].Refunded = false },
			detail:   "1 cancelled but charged, 0 charged but never finished",
		},
		{
			name: "charge for an order nobody has", arch: "eda", checker: "money", examples: []string{"o-9"},
			sabotage: func(w *world) { w.ledger = append(w.ledger, psp.Charge{OrderID: "o-9", Amount: 1, Approved: true}) },
			detail:   "1 charges for orders the system does not know",
		},
		{
			name: "view disagrees", arch: "eda", checker: "read-model", examples: []string{"o-2"},
			sabotage: func(w *world) { w.exec(viewDBPath, `UPDATE order_view SET state = 'reserved' WHERE id = 'o-2'`) },
			detail:   "1 in another state, 0 only in the view (o-2: order-api cancelled, view reserved)",
		},
		{
			name: "units vanished", arch: "monolith-ha", checker: "stock", examples: []string{"SKU-00002"},
			sabotage: func(w *world) { w.exec(haSnapshot, `UPDATE stock SET available = 9 WHERE sku = 'SKU-00002'`) },
			detail:   "1 SKUs off by -1 units",
		},
		{
			name: "order left pending", arch: "sync-services", checker: "terminal", examples: []string{"o-4"},
			sabotage: func(w *world) {
				w.exec(syncOrderDBPath, `INSERT INTO orders (id, customer, items, amount, state, created_at, updated_at) VALUES ('o-4', 'c', '[{"sku":"SKU-00002","quantity":1}]', 1, 'pending', 0, 0)`)
				w.exec(inventoryDBPath, `INSERT INTO reservations (order_id, items) VALUES ('o-4', '[{"sku":"SKU-00002","quantity":1}]')`,
					`UPDATE stock SET available = 9 WHERE sku = 'SKU-00002'`)
			},
			detail: "1 not terminal (1 pending)",
		},
		{
			name: "cancelled order keeps its reservation", arch: "sync-services", checker: "stock", examples: []string{"SKU-00002"},
			sabotage: func(w *world) {
				w.exec(inventoryDBPath, `UPDATE reservations SET released = 0 WHERE order_id = 'o-2'`,
					`UPDATE stock SET available = 9 WHERE sku = 'SKU-00002'`)
			},
			detail: "1 cancelled orders still holding a reservation",
		},
		{
			name: "view misses an order", arch: "eda", checker: "read-model", examples: []string{"o-3"},
			sabotage: func(w *world) { w.exec(viewDBPath, `DELETE FROM order_view WHERE id = 'o-3'`) },
			detail:   "1 missing from the view",
		},
	}
	for _, tt := range tests {
		t.Run(tt.arch+"/"+tt.name, func(t *testing.T) {
			t.Parallel()
			w := map[string]func() *world{"monolith": cleanMonolith, "eda": cleanEDA, "monolith-ha": cleanMonolithHA, "sync-services": cleanSync}[tt.arch]()
			tt.sabotage(w)
			checks := bundle(t, map[string]*world{tt.arch: w})
			c := find(t, checks, tt.arch, tt.checker)
			if c.Passed || c.Violations != int64(len(tt.examples)) || !slices.Equal(c.Examples, tt.examples) {
				t.Errorf("%s = passed %v, %d violations, examples %v; want a failure naming %v\n%s", tt.checker, c.Passed, c.Violations, c.Examples, tt.examples, c.Detail)
			}
			if !strings.Contains(c.Detail, tt.detail) {
				t.Errorf("detail %q does not say %q", c.Detail, tt.detail)
			}
		})
	}
}

func (w *world) exec(db string, stmts ...string) { w.sql[db] = append(w.sql[db], stmts...) }

func TestExamplesCappedAndSorted(t *testing.T) {
	ev := cleanEDA()
	for _, id := range []string{"o-16", "o-12", "o-10", "o-15", "o-11", "o-14", "o-13"} {
		ev.requests = append(ev.requests, []string{id, "accepted", ""})
	}
	c := find(t, bundle(t, map[string]*world{"eda": ev}), "eda", "lost")
	want := []string{"o-10", "o-11", "o-12", "o-13", "o-14"}
	if c.Violations != 7 || !slices.Equal(c.Examples, want) {
		t.Errorf("violations %d, examples %v; want 7 and %v", c.Violations, c.Examples, want)
	}
}

// An order the client never heard of is not lost, but left half-done it
// must still be reported, and the stock it holds still adds up.
func TestUnfinishedUnacknowledged(t *testing.T) {
	mono := cleanMonolith()
	mono.exec(monolithDB, `INSERT INTO orders (id, customer, items, amount, state, created_at, updated_at)
		VALUES ('o-4', 'c', '[{"sku":"SKU-00002","quantity":1}]', 500, 'reserved', 0, 0)`,
		`UPDATE stock SET available = 9 WHERE sku = 'SKU-00002'`)
	checks := bundle(t, map[string]*world{"monolith": mono})
	if c := find(t, checks, "monolith", "terminal"); c.Passed || !slices.Equal(c.Examples, []string{"o-4"}) ||
		!strings.Contains(c.Detail, "1 not terminal (1 reserved), 0 of them acknowledged") {
		t.Errorf("terminal = %+v, want a failure naming o-4", c)
	}
	for _, name := range []string{"lost", "stock", "money"} {
		if c := find(t, checks, "monolith", name); !c.Passed {
			t.Errorf("%s failed on an unacknowledged order in flight: %+v", name, c)
		}
	}
}

func TestMissingFiles(t *testing.T) {
	dir := t.TempDir()
	cleanMonolith().write(t, dir, scenarios.ArchitectureMonolith)
	cleanEDA().write(t, dir, scenarios.ArchitectureEDA)
	if err := os.Remove(filepath.Join(dir, "eda", inventoryDBPath)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "monolith", ledgerFile)); err != nil {
		t.Fatal(err)
	}
	checks, err := Run(context.Background(), dir, scenario(scenarios.ArchitectureEDA, scenarios.ArchitectureMonolith))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		arch, name string
		passed     bool
		why        string
	}{
		{"eda", "lost", true, ""},
		{"eda", "duplicated", false, "inventory.db"},
		{"eda", "stock", false, "inventory.db"},
		{"eda", "money", true, ""},
		{"monolith", "lost", true, ""},
		{"monolith", "duplicated", false, ledgerFile},
		{"monolith", "money", false, ledgerFile},
	} {
		c := find(t, checks, tt.arch, tt.name)
		if c.Passed != tt.passed || !strings.Contains(c.Detail, tt.why) || (!tt.passed && !strings.Contains(c.Detail, "cannot check")) {
			t.Errorf("%s/%s = passed %v, %q; want passed %v and a reason naming %q", tt.arch, tt.name, c.Passed, c.Detail, tt.passed, tt.why)
		}
	}
}

// An architecture whose directory is missing gets a failed verdict from
// every checker, not silence.
func TestMissingArchitecture(t *testing.T) {
	dir := t.TempDir()
	cleanEDA().write(t, dir, scenarios.ArchitectureEDA)
	checks, err := Run(context.Background(), dir, scenario(scenarios.ArchitectureEDA, scenarios.ArchitectureMonolith))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range checks {
		if c.Arch != scenarios.ArchitectureMonolith {
			continue
		}
		n++
		if c.Passed || !strings.Contains(c.Detail, "no such file") {
			t.Errorf("monolith/%s = passed %v, %q; want a failure saying the files are missing", c.Name, c.Passed, c.Detail)
		}
	}
	if n != 5 {
		t.Errorf("%d monolith verdicts, want 5", n)
	}
}

func TestRunRefuses(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	bad := scenario("eda")
	bad.Catalog.SKUs = 0
	for _, tt := range []struct {
		name string
		dir  string
		sc   *scenarios.Scenario
		want string
	}{
		{"no bundle", filepath.Join(t.TempDir(), "missing"), scenario("eda"), "no such file"},
		{"a file", file, scenario("eda"), "not a run bundle"},
		{"no scenario", t.TempDir(), nil, "no scenario"},
		{"bad catalogue", t.TempDir(), bad, "catalogue"},
		{"unknown architecture", t.TempDir(), scenario("microservices"), `"microservices" has no checkers`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(context.Background(), tt.dir, tt.sc)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// The databases are opened read-only: checking a bundle leaves it as the
// run left it.
func TestReadOnly(t *testing.T) {
	dir := t.TempDir()
	cleanEDA().write(t, dir, scenarios.ArchitectureEDA)
	path := filepath.Join(dir, "eda", orderAPIDBPath)
	db, err := openDB(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DELETE FROM orders`); err == nil {
		t.Error("a checker's connection could delete orders")
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM orders`).Scan(&n); err != nil || n != 4 {
		t.Errorf("orders = %d, %v; want 4", n, err)
	}
}

func TestDeadLetters(t *testing.T) {
	tests := []struct {
		name    string
		letters []eda.DeadLetter
		example string
	}{
		{"a poison letter missing", poisonLetters()[1:], "poison: 2 dead-lettered, 3 expected"},
		{"an event given up on", append(poisonLetters(), eda.DeadLetter{Topic: "orders.dlq", Key: "o-9",
			Headers: map[string]string{eda.HeaderDLQReason: eda.ReasonFailed, eda.HeaderDLQConsumer: eda.Inventory}}), "o-9@inventory/orders.dlq"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := cleanEDA()
			w.dlq = tt.letters
			c := find(t, bundle(t, map[string]*world{"eda": w}), "eda", "dlq")
			if c.Passed || !slices.Contains(c.Examples, tt.example) {
				t.Fatalf("dlq check = %+v; want a failure naming %q", c, tt.example)
			}
		})
	}
}
