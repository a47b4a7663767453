package check

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/edatestbed/testbed/system/chain"
	"github.com/edatestbed/testbed/system/domain"
	"github.com/edatestbed/testbed/system/eda"
	"github.com/edatestbed/testbed/system/psp"
	"github.com/edatestbed/testbed/system/store"
	_ "modernc.org/sqlite" // the systems' own driver, so the files are read as they were written
)

// Where a run bundle keeps what the checkers read, relative to
// <bundle>/<architecture>. The file names are internal/run's; they are
// repeated here because internal/run imports this package.
const (
	requestsFile  = "requests.csv"
	terminalsFile = "terminals.csv"
	ledgerFile    = "psp-ledger.json"
	monolithDB    = "data/monolith/monolith.db"
	// haSnapshot is monolith-ha's tables, copied from its PostgreSQL
	// server before the run stopped it, in the monolith's schema.
	haSnapshot  = "data/postgres-snapshot.db"
	servicesDir = "data/services"
	dlqFile     = "dlq.jsonl"
)

// request is one row of requests.csv that the checkers need.
type request struct {
	id       string
	accepted bool
	// terminal is the state the answer carried (monolith), "" otherwise.
	terminal domain.State
}

// terminal is one terminal event the testbed saw on Kafka.
type terminal struct {
	orderID string
	state   domain.State
}

// order is one row of a system's order table.
type order struct {
	amount int64
	state  domain.State
	reason string
	items  []domain.Item
}

// reservation is one row of the EDA inventory's reservations.
type reservation struct {
	items    []domain.Item
	released bool
}

// loaded is one source of an architecture's end state, or why it could
// not be read; checkers that need it fail with that reason.
type loaded[T any] struct {
	v   T
	err error
}

func load[T any](v T, err error) loaded[T] { return loaded[T]{v, err} }

// state is everything the checkers look at for one architecture. Sources an
// architecture does not have stay zero and no checker asks for them.
type state struct {
	// events: terminal events were observed on Kafka, and there is a read
	// model and dead letters (the EDA).
	events bool
	// reserves: an inventory service of its own holds stock in
	// reservations, whatever the order table says (EDA, sync-services);
	// otherwise the order's state says what it holds (the monoliths).
	reserves bool

	requests loaded[[]request]
	ledger   loaded[[]psp.Charge]
	// orders is the system's order table: the monolith's, or order-api's.
	orders    loaded[map[string]order]
	stock     loaded[map[string]int]
	shipments loaded[map[string]bool]

	// Services with an inventory of their own.
	reservations loaded[map[string]reservation]

	// EDA only.
	terminals   loaded[[]terminal]
	view        loaded[map[string]domain.State]
	deadLetters loaded[[]eda.DeadLetter]
	// poisonSent is how many dead letters the scenario's poison faults
	// should have produced: each message once per consumer of its topic.
	poisonSent int
}

// readMonolith reads a monolith's record and its one database, at db under
// dir: the monolith's own file, or monolith-ha's snapshot.
func readMonolith(ctx context.Context, dir, db string) *state {
	st := &state{
		requests: load(readRequests(filepath.Join(dir, requestsFile))),
		ledger:   load(readLedger(filepath.Join(dir, ledgerFile))),
	}
	withDB(filepath.Join(dir, db), func(db *sql.DB, err error) {
		st.orders = load(queryOr(ctx, db, err, readOrders))
		st.stock = load(queryOr(ctx, db, err, readStock))
		st.shipments = load(queryOr(ctx, db, err, readShipments))
	})
	return st
}

// readEDA reads the EDA's record and the databases of the services the
// checkers need; payment's own table adds nothing the PSP ledger lacks.
func readEDA(ctx context.Context, dir string) *state {
	st := &state{
		events:      true,
		reserves:    true,
		requests:    load(readRequests(filepath.Join(dir, requestsFile))),
		ledger:      load(readLedger(filepath.Join(dir, ledgerFile))),
		terminals:   load(readTerminals(filepath.Join(dir, terminalsFile))),
		deadLetters: load(readDeadLetters(filepath.Join(dir, dlqFile))),
	}
	services := filepath.Join(dir, servicesDir)
	withDB(filepath.Join(services, eda.OrderAPI+".db"), func(db *sql.DB, err error) {
		st.orders = load(queryOr(ctx, db, err, readOrders))
	})
	withDB(filepath.Join(services, eda.Inventory+".db"), func(db *sql.DB, err error) {
		st.stock = load(queryOr(ctx, db, err, readStock))
		st.reservations = load(queryOr(ctx, db, err, readReservations))
	})
	withDB(filepath.Join(services, eda.Shipping+".db"), func(db *sql.DB, err error) {
		st.shipments = load(queryOr(ctx, db, err, readShipments))
	})
	withDB(filepath.Join(services, eda.OrderView+".db"), func(db *sql.DB, err error) {
		st.view = load(queryOr(ctx, db, err, readView))
	})
	return st
}

// readSyncServices reads sync-services' record and its services'
// databases: the order service's orders, inventory's stock and
// reservations, shipping's shipments.
func readSyncServices(ctx context.Context, dir string) *state {
	st := &state{
		reserves: true,
		requests: load(readRequests(filepath.Join(dir, requestsFile))),
		ledger:   load(readLedger(filepath.Join(dir, ledgerFile))),
	}
	services := filepath.Join(dir, servicesDir)
	withDB(filepath.Join(services, chain.Order+".db"), func(db *sql.DB, err error) {
		st.orders = load(queryOr(ctx, db, err, readOrders))
	})
	withDB(filepath.Join(services, chain.Inventory+".db"), func(db *sql.DB, err error) {
		st.stock = load(queryOr(ctx, db, err, readStock))
		st.reservations = load(queryOr(ctx, db, err, readReservations))
	})
	withDB(filepath.Join(services, chain.Shipping+".db"), func(db *sql.DB, err error) {
		st.shipments = load(queryOr(ctx, db, err, readShipments))
	})
	return st
}

// withDB opens path read-only for fn and closes it after.
func withDB(path string, fn func(*sql.DB, error)) {
	db, err := openDB(path)
	fn(db, err)
	if db != nil {
		db.Close()
	}
}

// queryOr runs read on db, or passes on why db could not be opened.
func queryOr[T any](ctx context.Context, db *sql.DB, err error, read func(context.Context, *sql.DB) (T, error)) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	return read(ctx, db)
}

// openDB opens a database a finished run left behind, read-only so that a
// checker can never change the evidence. A missing file is an error here:
// SQLite would otherwise report an unhelpful "unable to open".
func openDB(path string) (*sql.DB, error) { return store.OpenReadOnly(path) }

func readOrders(ctx context.Context, db *sql.DB) (map[string]order, error) {
	out := map[string]order{}
	var d compact
	err := scanRows(ctx, db, `SELECT id, amount, state, reason, items FROM orders`, func(rows *sql.Rows) error {
		var id, state, reason string
		var o order
		var items []byte
		if err := rows.Scan(&id, &o.amount, &state, &reason, &items); err != nil {
			return err
		}
		o.state, o.reason = domain.State(d.intern(state)), d.intern(reason)
		var err error
		if o.items, err = d.items(items); err != nil {
			return fmt.Errorf("decode items of order %s: %w", id, err)
		}
		out[id] = o
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read orders: %w", err)
	}
	return out, nil
}

func readStock(ctx context.Context, db *sql.DB) (map[string]int, error) {
	out := map[string]int{}
	err := scanRows(ctx, db, `SELECT sku, available FROM stock`, func(rows *sql.Rows) error {
		var sku string
		var n int
		if err := rows.Scan(&sku, &n); err != nil {
			return err
		}
		out[sku] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read stock: %w", err)
	}
	return out, nil
}

func readShipments(ctx context.Context, db *sql.DB) (map[string]bool, error) {
	out := map[string]bool{}
	err := scanRows(ctx, db, `SELECT order_id FROM shipments`, func(rows *sql.Rows) error {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		out[id] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read shipments: %w", err)
	}
	return out, nil
}

func readReservations(ctx context.Context, db *sql.DB) (map[string]reservation, error) {
	out := map[string]reservation{}
	var d compact
	err := scanRows(ctx, db, `SELECT order_id, items, released FROM reservations`, func(rows *sql.Rows) error {
		var id string
		var r reservation
		var items []byte
		if err := rows.Scan(&id, &items, &r.released); err != nil {
			return err
		}
		var err error
		if r.items, err = d.items(items); err != nil {
			return fmt.Errorf("decode items of reservation %s: %w", id, err)
		}
		out[id] = r
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read reservations: %w", err)
	}
	return out, nil
}

func readView(ctx context.Context, db *sql.DB) (map[string]domain.State, error) {
	out := map[string]domain.State{}
	err := scanRows(ctx, db, `SELECT id, state FROM order_view`, func(rows *sql.Rows) error {
		var id string
		var s domain.State
		if err := rows.Scan(&id, &s); err != nil {
			return err
		}
		out[id] = s
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read order view: %w", err)
	}
	return out, nil
}

func scanRows(ctx context.Context, db *sql.DB, query string, row func(*sql.Rows) error) error {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// readLedger decodes the ledger a charge at a time: a long run's file is
// a hundred megabytes and more, which need not be held beside what it
// decodes to.
func readLedger(path string) ([]psp.Charge, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read ledger: %w", err)
	}
	defer f.Close()
	var out []psp.Charge
	var d compact
	err = psp.DecodeLedger(bufio.NewReaderSize(f, 64<<10), func(c psp.Charge) {
		c.Reason = d.intern(c.Reason)
		out = append(out, c)
	})
	if err != nil {
		return nil, fmt.Errorf("read ledger %s: %w", path, err)
	}
	return slices.Clip(out), nil
}

// Fields read from a CSV line are substrings of the whole line: the ids
// are cloned and the rest interned, so that what is kept does not keep
// every line of the file alive.
func readRequests(path string) ([]request, error) {
	var out []request
	var d compact
	err := readCSV(path, []string{"id", "kind", "terminal"}, func(col func(string) string) {
		out = append(out, request{id: strings.Clone(col("id")), accepted: col("kind") == "accepted", terminal: domain.State(d.intern(col("terminal")))})
	})
	return slices.Clip(out), err
}

func readTerminals(path string) ([]terminal, error) {
	var out []terminal
	var d compact
	err := readCSV(path, []string{"order_id", "state"}, func(col func(string) string) {
		out = append(out, terminal{orderID: strings.Clone(col("order_id")), state: domain.State(d.intern(col("state")))})
	})
	return slices.Clip(out), err
}

// compact keeps what the checkers hold small: items in exactly sized
// slices, and SKUs, states and reasons as one string per distinct value.
// A long run's tables hold millions of orders over a thousand SKUs.
type compact struct {
	strs    map[string]string
	scratch []domain.Item
}

func (d *compact) intern(s string) string {
	if d.strs == nil {
		d.strs = map[string]string{}
	}
	v, ok := d.strs[s]
	if !ok {
		v = strings.Clone(s)
		d.strs[v] = v
	}
	return v
}

func (d *compact) items(b []byte) ([]domain.Item, error) {
	if err := json.Unmarshal(b, &d.scratch); err != nil {
		return nil, err
	}
	if d.scratch == nil {
		return nil, nil
	}
	out := make([]domain.Item, len(d.scratch))
	for i, it := range d.scratch {
		out[i] = domain.Item{SKU: d.intern(it.SKU), Quantity: it.Quantity}
	}
	return out, nil
}

// readCSV reads a CSV file with a header naming at least the columns want,
// calling row for each record with a lookup by column name.
func readCSV(path string, want []string, row func(col func(string) string)) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read records: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReaderSize(f, 64<<10))
	r.ReuseRecord = true
	head, err := r.Read()
	if err != nil {
		return fmt.Errorf("read header of %s: %w", path, err)
	}
	index := map[string]int{}
	for i, h := range head {
		index[h] = i
	}
	for _, w := range want {
		if _, ok := index[w]; !ok {
			return fmt.Errorf("read %s: no column %q in header %v", path, w, head)
		}
	}
	var rec []string
	col := func(name string) string { return rec[index[name]] }
	for {
		rec, err = r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		row(col)
	}
}

func readDeadLetters(path string) ([]eda.DeadLetter, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []eda.DeadLetter
	for i, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var dl eda.DeadLetter
		if err := json.Unmarshal(line, &dl); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
		out = append(out, dl)
	}
	return out, nil
}
