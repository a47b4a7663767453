package check

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
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

// state is everything the checkers look at for one architecture. What
// every source says of an order sits in one entry, found by the order's
// number, so that an id is held once however many sources name it: a
// 30-minute run leaves millions of orders, and a map per source held each
// id five times over (1.5 KB of heap an order at the peak). Sources an
// architecture does not have leave their part of the entries zero, and no
// checker asks for them.
type state struct {
	// events: terminal events were observed on Kafka, and there is a read
	// model and dead letters (the EDA).
	events bool
	// reserves: an inventory service of its own holds stock in
	// reservations, whatever the order table says (EDA, sync-services);
	// otherwise the order's state says what it holds (the monoliths).
	reserves bool
	// owes: the system queues the refunds it owes the provider in a table
	// (psp.RefundSchema), so a cancelled order still charged may be one
	// whose refund has not gone through yet (the monoliths,
	// sync-services).
	owes bool

	// err says, per source, why it could not be read. A source that failed
	// part way may have filled some entries: a checker reads only the
	// sources whose error it has checked.
	err sourceErrs

	numbers map[string]int32 // order id -> its number
	ids     []string         // by number
	orders  []entry          // by number
	states  codes            // the order states and terminal events name
	skus    codes
	items   []item // every order's and reservation's items, in spans

	stock map[string]int
	// refunds is how many of the ledger's charges were refunded.
	refunds int

	// EDA only.
	deadLetters []eda.DeadLetter
	// poisonSent is how many dead letters the scenario's poison faults
	// should have produced: each message once per consumer of its topic.
	poisonSent int
}

// sourceErrs holds why each source of an architecture's end state could not
// be read; checkers that need one fail with its reason.
type sourceErrs struct {
	requests, ledger, terminals, deadLetters              error
	orders, stock, reservations, shipments, view, refunds error
}

// entry is what the sources say of one order.
type entry struct {
	amount int64 // the order table's
	net    int64 // approved, unrefunded charges in the PSP ledger

	items    span // the order table's
	reserved span // inventory's reservation

	charges    uint32 // the ledger's charges for the order
	netCharges uint32 // of which approved and not refunded
	events     uint32 // terminal events seen on Kafka

	state  code // the order table's
	answer code // what the first accepted answer said (the monolith's), 0 if nothing
	view   code // the read model's
	event  code // the first terminal event's state

	flags flag
}

type flag uint16

const (
	inOrders    flag = 1 << iota // a row in the order table
	outOfStock                   // cancelled for want of stock
	acked                        // the client was told the order was taken
	reservation                  // a row in inventory's reservations
	released                     // that reservation was released
	shipped                      // a row in the shipments table
	inView                       // a row in the read model
	mixedEvents                  // terminal events of more than one state
	refundOwed                   // a refund still queued for the provider
)

func (e *entry) is(f flag) bool { return e.flags&f == f }

// span is where an entry's items sit in state.items.
type span struct{ off, n uint32 }

// item is a domain.Item with its SKU's number in state.skus.
type item struct {
	sku      uint32
	quantity int32
}

// codes numbers distinct strings, each held once; 0 is the empty string,
// so that a zero field means "none".
type codes struct {
	index map[string]uint32
	names []string
}

// code is an order state's number in state.states.
type code uint8

func (c *codes) of(s string) uint32 {
	if c.index == nil {
		c.index = map[string]uint32{"": 0}
		c.names = []string{""}
	}
	n, ok := c.index[s]
	if !ok {
		n = uint32(len(c.names))
		s = strings.Clone(s)
		c.index[s] = n
		c.names = append(c.names, s)
	}
	return n
}

func (c *codes) name(n uint32) string { return c.names[n] }

// stateCode codes what a source says an order's state is. A bundle of ours
// names a handful of states; hundreds mean the column holds something else.
func (st *state) stateCode(s string) (code, error) {
	n := st.states.of(s)
	if n > 255 {
		return 0, fmt.Errorf("more than 255 distinct order states (%q): not a state column", s)
	}
	return code(n), nil
}

func (st *state) stateOf(c code) domain.State { return domain.State(st.states.name(uint32(c))) }

// number returns the number of the order with id, numbering it if it is new.
func (st *state) number(id string) int32 {
	n, ok := st.numbers[id]
	if !ok {
		if st.numbers == nil {
			st.numbers = map[string]int32{}
		}
		n = int32(len(st.ids))
		id = strings.Clone(id)
		st.numbers[id] = n
		st.ids = append(st.ids, id)
		st.orders = append(st.orders, entry{})
	}
	return n
}

// expect makes room for n orders, so that growing the tables does not
// briefly hold them twice.
func (st *state) expect(n int) {
	if st.numbers != nil || n <= 0 {
		return
	}
	st.numbers = make(map[string]int32, n)
	st.ids = make([]string, 0, n)
	st.orders = make([]entry, 0, n)
}

// decodeItems appends an order's JSON items to st.items and returns their
// span.
func (st *state) decodeItems(b []byte, scratch *[]domain.Item) (span, error) {
	*scratch = (*scratch)[:0]
	if err := json.Unmarshal(b, scratch); err != nil {
		return span{}, err
	}
	sp := span{off: uint32(len(st.items)), n: uint32(len(*scratch))}
	for _, it := range *scratch {
		if it.Quantity < math.MinInt32 || it.Quantity > math.MaxInt32 {
			return span{}, fmt.Errorf("quantity %d of %s out of range", it.Quantity, it.SKU)
		}
		st.items = append(st.items, item{sku: st.skus.of(it.SKU), quantity: int32(it.Quantity)})
	}
	return sp, nil
}

func (st *state) itemsOf(sp span) []item { return st.items[sp.off : sp.off+sp.n] }

// readMonolith reads a monolith's record and its one database, at db under
// dir: the monolith's own file, or monolith-ha's snapshot. The order table
// comes first: its size is the number of orders to make room for.
func readMonolith(ctx context.Context, dir, db string) *state {
	st := &state{owes: true}
	withDB(filepath.Join(dir, db), func(db *sql.DB, err error) {
		st.err.orders = queryOr(ctx, db, err, st.readOrders)
		st.err.stock = queryOr(ctx, db, err, st.readStock)
		st.err.shipments = queryOr(ctx, db, err, st.readShipments)
		st.err.refunds = queryOr(ctx, db, err, st.readRefundsOwed)
	})
	st.err.requests = st.readRequests(filepath.Join(dir, requestsFile))
	st.err.ledger = st.readLedger(filepath.Join(dir, ledgerFile))
	return st
}

// readEDA reads the EDA's record and the databases of the services the
// checkers need; payment's own table adds nothing the PSP ledger lacks.
func readEDA(ctx context.Context, dir string) *state {
	st := &state{events: true, reserves: true}
	services := filepath.Join(dir, servicesDir)
	withDB(filepath.Join(services, eda.OrderAPI+".db"), func(db *sql.DB, err error) {
		st.err.orders = queryOr(ctx, db, err, st.readOrders)
	})
	withDB(filepath.Join(services, eda.Inventory+".db"), func(db *sql.DB, err error) {
		st.err.stock = queryOr(ctx, db, err, st.readStock)
		st.err.reservations = queryOr(ctx, db, err, st.readReservations)
	})
	withDB(filepath.Join(services, eda.Shipping+".db"), func(db *sql.DB, err error) {
		st.err.shipments = queryOr(ctx, db, err, st.readShipments)
	})
	withDB(filepath.Join(services, eda.OrderView+".db"), func(db *sql.DB, err error) {
		st.err.view = queryOr(ctx, db, err, st.readView)
	})
	st.err.requests = st.readRequests(filepath.Join(dir, requestsFile))
	st.err.ledger = st.readLedger(filepath.Join(dir, ledgerFile))
	st.err.terminals = st.readTerminals(filepath.Join(dir, terminalsFile))
	st.deadLetters, st.err.deadLetters = readDeadLetters(filepath.Join(dir, dlqFile))
	return st
}

// readSyncServices reads sync-services' record and its services'
// databases: the order service's orders, inventory's stock and
// reservations, shipping's shipments.
func readSyncServices(ctx context.Context, dir string) *state {
	st := &state{reserves: true, owes: true}
	services := filepath.Join(dir, servicesDir)
	withDB(filepath.Join(services, chain.Order+".db"), func(db *sql.DB, err error) {
		st.err.orders = queryOr(ctx, db, err, st.readOrders)
	})
	withDB(filepath.Join(services, chain.Payment+".db"), func(db *sql.DB, err error) {
		st.err.refunds = queryOr(ctx, db, err, st.readRefundsOwed)
	})
	withDB(filepath.Join(services, chain.Inventory+".db"), func(db *sql.DB, err error) {
		st.err.stock = queryOr(ctx, db, err, st.readStock)
		st.err.reservations = queryOr(ctx, db, err, st.readReservations)
	})
	withDB(filepath.Join(services, chain.Shipping+".db"), func(db *sql.DB, err error) {
		st.err.shipments = queryOr(ctx, db, err, st.readShipments)
	})
	st.err.requests = st.readRequests(filepath.Join(dir, requestsFile))
	st.err.ledger = st.readLedger(filepath.Join(dir, ledgerFile))
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
func queryOr(ctx context.Context, db *sql.DB, err error, read func(context.Context, *sql.DB) error) error {
	if err != nil {
		return err
	}
	return read(ctx, db)
}

// openDB opens a database a finished run left behind, read-only so that a
// checker can never change the evidence. A missing file is an error here:
// SQLite would otherwise report an unhelpful "unable to open".
func openDB(path string) (*sql.DB, error) { return store.OpenReadOnly(path) }

func (st *state) readOrders(ctx context.Context, db *sql.DB) error {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM orders`).Scan(&n); err != nil {
		return fmt.Errorf("read orders: %w", err)
	}
	st.expect(n)
	var scratch []domain.Item
	var id, state, reason, items sql.RawBytes
	var amount int64
	err := scanRows(ctx, db, `SELECT id, amount, state, reason, items FROM orders`, func(rows *sql.Rows) error {
		if err := rows.Scan(&id, &amount, &state, &reason, &items); err != nil {
			return err
		}
		c, err := st.stateCode(string(state))
		if err != nil {
			return fmt.Errorf("order %s: %w", id, err)
		}
		sp, err := st.decodeItems(items, &scratch)
		if err != nil {
			return fmt.Errorf("decode items of order %s: %w", id, err)
		}
		e := &st.orders[st.number(string(id))]
		e.amount, e.state, e.items = amount, c, sp
		e.flags |= inOrders
		if string(reason) == domain.ReasonOutOfStock {
			e.flags |= outOfStock
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read orders: %w", err)
	}
	return nil
}

func (st *state) readStock(ctx context.Context, db *sql.DB) error {
	st.stock = map[string]int{}
	err := scanRows(ctx, db, `SELECT sku, available FROM stock`, func(rows *sql.Rows) error {
		var sku string
		var n int
		if err := rows.Scan(&sku, &n); err != nil {
			return err
		}
		st.stock[sku] = n
		return nil
	})
	if err != nil {
		return fmt.Errorf("read stock: %w", err)
	}
	return nil
}

func (st *state) readShipments(ctx context.Context, db *sql.DB) error {
	return st.readMarked(ctx, db, "shipments", `SELECT order_id FROM shipments`, shipped)
}

func (st *state) readRefundsOwed(ctx context.Context, db *sql.DB) error {
	return st.readMarked(ctx, db, "refunds owed", `SELECT order_id FROM pending_refunds`, refundOwed)
}

// readMarked sets f on every order a query of one column of order ids
// names.
func (st *state) readMarked(ctx context.Context, db *sql.DB, what, query string, f flag) error {
	var id sql.RawBytes
	err := scanRows(ctx, db, query, func(rows *sql.Rows) error {
		if err := rows.Scan(&id); err != nil {
			return err
		}
		st.orders[st.number(string(id))].flags |= f
		return nil
	})
	if err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	return nil
}

func (st *state) readReservations(ctx context.Context, db *sql.DB) error {
	var scratch []domain.Item
	var id, items sql.RawBytes
	var rel bool
	err := scanRows(ctx, db, `SELECT order_id, items, released FROM reservations`, func(rows *sql.Rows) error {
		if err := rows.Scan(&id, &items, &rel); err != nil {
			return err
		}
		sp, err := st.decodeItems(items, &scratch)
		if err != nil {
			return fmt.Errorf("decode items of reservation %s: %w", id, err)
		}
		e := &st.orders[st.number(string(id))]
		e.reserved = sp
		e.flags |= reservation
		if rel {
			e.flags |= released
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read reservations: %w", err)
	}
	return nil
}

func (st *state) readView(ctx context.Context, db *sql.DB) error {
	var id, state sql.RawBytes
	err := scanRows(ctx, db, `SELECT id, state FROM order_view`, func(rows *sql.Rows) error {
		if err := rows.Scan(&id, &state); err != nil {
			return err
		}
		c, err := st.stateCode(string(state))
		if err != nil {
			return fmt.Errorf("view of %s: %w", id, err)
		}
		e := &st.orders[st.number(string(id))]
		e.view = c
		e.flags |= inView
		return nil
	})
	if err != nil {
		return fmt.Errorf("read order view: %w", err)
	}
	return nil
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
func (st *state) readLedger(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read ledger: %w", err)
	}
	defer f.Close()
	err = psp.DecodeLedger(bufio.NewReaderSize(f, 64<<10), func(c psp.Charge) {
		e := &st.orders[st.number(c.OrderID)]
		e.charges++
		if c.Refunded {
			st.refunds++
		}
		if c.Approved && !c.Refunded {
			e.net += c.Amount
			e.netCharges++
		}
	})
	if err != nil {
		return fmt.Errorf("read ledger %s: %w", path, err)
	}
	return nil
}

// readRequests keeps of requests.csv what the first accepted request of
// each order said; the client's other requests decide nothing here.
func (st *state) readRequests(path string) error {
	var err error
	rerr := readCSV(path, []string{"id", "kind", "terminal"}, func(col func(string) string) {
		if err != nil || col("kind") != "accepted" {
			return
		}
		e := &st.orders[st.number(col("id"))]
		if e.is(acked) {
			return
		}
		e.flags |= acked
		e.answer, err = st.stateCode(col("terminal"))
	})
	return cmp.Or(rerr, err)
}

func (st *state) readTerminals(path string) error {
	var err error
	rerr := readCSV(path, []string{"order_id", "state"}, func(col func(string) string) {
		if err != nil {
			return
		}
		var c code
		if c, err = st.stateCode(col("state")); err != nil {
			return
		}
		e := &st.orders[st.number(col("order_id"))]
		e.events++
		switch {
		case e.events == 1:
			e.event = c
		case c != e.event:
			e.flags |= mixedEvents
		}
	})
	return cmp.Or(rerr, err)
}

// readCSV reads a CSV file with a header naming at least the columns want,
// calling row for each record with a lookup by column name. The fields are
// substrings of the line, which is reused: row must clone what it keeps.
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
