package check

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/edatestbed/testbed/system/domain"
	"github.com/edatestbed/testbed/system/eda"
)

// lostChecker: an order the client was told was taken must exist and have
// ended. Warm-up orders count: they were acknowledged like any other.
func lostChecker() checker {
	return checker{
		name: "lost", unit: "orders",
		rule: "Every order acknowledged to the client must be in the order table in a terminal state",
		run:  lost,
	}
}

func lost(st *state, _ *domain.Catalog) (finding, error) {
	if err := errors.Join(st.requests.err, st.orders.err); err != nil {
		return finding{}, err
	}
	orders := st.orders.v
	var f finding
	seen := map[string]bool{}
	var missing, open, told int
	for _, r := range st.requests.v {
		if !r.accepted || seen[r.id] {
			continue
		}
		seen[r.id] = true
		o, ok := orders[r.id]
		switch {
		case !ok:
			missing++
			f.flag(r.id)
		case !o.state.Terminal():
			open++
			f.flag(r.id)
		case r.terminal != "" && r.terminal != o.state:
			// The monolith's answer is its terminal state: the table
			// must not say otherwise afterwards.
			told++
			f.flag(r.id)
		}
	}
	f.checked = len(seen)
	f.found = fmt.Sprintf("%d accepted, %d missing, %d not terminal", f.checked, missing, open)
	if st.events {
		f.found += unobserved(st, seen)
	} else {
		f.found += fmt.Sprintf(", %d in another state than the answer said", told)
	}
	return f, nil
}

// unobserved says how many accepted orders ended in order-api's table
// without the testbed seeing their terminal event on Kafka: not lost, but
// the reason their completion went uncounted.
func unobserved(st *state, accepted map[string]bool) string {
	if st.terminals.err != nil {
		return fmt.Sprintf(" (terminal events not compared: %v)", st.terminals.err)
	}
	observed := map[string]bool{}
	for _, t := range st.terminals.v {
		observed[t.orderID] = true
	}
	n := 0
	for id := range accepted {
		if o, ok := st.orders.v[id]; ok && o.state.Terminal() && !observed[id] {
			n++
		}
	}
	return fmt.Sprintf(" (%d terminal in the table but never seen as an event)", n)
}

// terminalChecker: every order the system recorded ends, whether or not
// the client heard about it. An order the client gave up on is not lost,
// but one left half-done holds stock, and perhaps money, that nothing
// will give back.
func terminalChecker() checker {
	return checker{
		name: "terminal", unit: "orders",
		rule: "Every order in the system's order table, acknowledged or not, must have reached a terminal state after the drain",
		run:  unfinished,
	}
}

func unfinished(st *state, _ *domain.Catalog) (finding, error) {
	if err := errors.Join(st.requests.err, st.orders.err); err != nil {
		return finding{}, err
	}
	accepted := map[string]bool{}
	for _, r := range st.requests.v {
		if r.accepted {
			accepted[r.id] = true
		}
	}
	var f finding
	byState := map[domain.State]int{}
	var acked int
	for id, o := range st.orders.v {
		if o.state.Terminal() {
			continue
		}
		f.flag(id)
		byState[o.state]++
		if accepted[id] {
			acked++
		}
	}
	f.checked = len(st.orders.v)
	var states []string
	for _, s := range slices.Sorted(maps.Keys(byState)) {
		states = append(states, fmt.Sprintf("%d %s", byState[s], s))
	}
	f.found = fmt.Sprintf("%d orders, %d not terminal", f.checked, len(f.bad))
	if len(states) > 0 {
		f.found += fmt.Sprintf(" (%s), %d of them acknowledged to the client", strings.Join(states, ", "), acked)
	}
	return f, nil
}

// duplicatedChecker: a repeated effect, not a repeated message. Every
// table that records an effect is keyed by order id and the PSP's charges
// by their idempotency key, so a second row cannot exist; a repeated effect
// shows instead as an order whose effects contradict each other, or as
// units missing from stock.
func duplicatedChecker() checker {
	return checker{
		name: "duplicated", unit: "orders",
		rule: "No order may be charged, reserved or shipped twice nor end both shipped and cancelled",
		run:  duplicated,
	}
}

func duplicated(st *state, _ *domain.Catalog) (finding, error) {
	errs := []error{st.ledger.err, st.orders.err, st.shipments.err}
	if st.events {
		errs = append(errs, st.terminals.err)
	}
	if st.reserves {
		errs = append(errs, st.reservations.err)
	}
	if err := errors.Join(errs...); err != nil {
		return finding{}, err
	}
	var f finding
	ids := map[string]bool{}
	charges := map[string]int{}
	for _, c := range st.ledger.v {
		ids[c.OrderID] = true
		charges[c.OrderID]++
	}
	var charged int
	for id, n := range charges {
		if n > 1 {
			charged++
			f.flag(id)
		}
	}
	// A shipment of a cancelled order means a step ran again after the
	// saga (or the monolith) had settled the order.
	var shippedCancelled int
	for id := range st.shipments.v {
		ids[id] = true
		if o, ok := st.orders.v[id]; ok && o.state == domain.Cancelled {
			shippedCancelled++
			f.flag(id)
		}
	}
	for id := range st.orders.v {
		ids[id] = true
	}
	f.found = fmt.Sprintf("%d charged twice in the PSP ledger (its idempotency key admits one charge per order; a charge under another key shows in money as one for an unknown order), %d shipped although cancelled", charged, shippedCancelled)
	if st.reserves {
		f.found += duplicatedReservations(st, &f, ids)
	}
	if st.events {
		f.found += duplicatedEvents(st, &f, ids)
	}
	if !st.reserves {
		f.found += "; a second reservation would show as missing units in stock"
	}
	f.checked = len(ids)
	f.found = fmt.Sprintf("%d orders, %s", f.checked, f.found)
	return f, nil
}

// duplicatedReservations adds what an inventory of its own records: a
// reservation held by an order cancelled for want of stock means the order
// reached inventory twice, once reserved, once rejected.
func duplicatedReservations(st *state, f *finding, ids map[string]bool) string {
	var rejected int
	for id := range st.reservations.v {
		ids[id] = true
		if o, ok := st.orders.v[id]; ok && o.state == domain.Cancelled && o.reason == domain.ReasonOutOfStock {
			rejected++
			f.flag(id)
		}
	}
	return fmt.Sprintf(", %d both reserved and rejected for stock", rejected)
}

// duplicatedEvents adds what only the event-driven system records: the
// terminal events on the wire.
func duplicatedEvents(st *state, f *finding, ids map[string]bool) string {
	ends := map[string]map[domain.State]int{}
	for _, t := range st.terminals.v {
		ids[t.orderID] = true
		if ends[t.orderID] == nil {
			ends[t.orderID] = map[domain.State]int{}
		}
		ends[t.orderID][t.state]++
	}
	var both, repeated, extra int
	for id, e := range ends {
		if len(e) > 1 {
			both++
			f.flag(id)
		}
		n := 0
		for _, c := range e {
			n += c
		}
		if n > 1 {
			repeated++
			extra += n - 1
		}
	}
	return fmt.Sprintf(", %d with both a shipped and a cancelled event; %d repeated terminal events on %d orders, expected with at-least-once delivery and not a violation",
		both, extra, repeated)
}

// stockChecker: units are neither created nor destroyed. An order holds
// its items once it is shipped or while its reservation is live, and
// never once it is cancelled, whatever the reservation table says: a
// cancelled order still holding stock, or a shipped one whose stock came
// back, leaves the SKU off.
func stockChecker() checker {
	return checker{
		name: "stock", unit: "SKUs",
		rule: "For every SKU, initial stock must equal available plus held by live orders, and never go negative",
		run:  stock,
	}
}

func stock(st *state, cat *domain.Catalog) (finding, error) {
	errs := []error{st.stock.err, st.orders.err}
	if st.reserves {
		errs = append(errs, st.reservations.err)
	}
	if err := errors.Join(errs...); err != nil {
		return finding{}, err
	}
	held := map[string]int{}
	hold := func(items []domain.Item) {
		for _, it := range items {
			held[it.SKU] += it.Quantity
		}
	}
	var leaked int
	for id, o := range st.orders.v {
		switch {
		case o.state == domain.Shipped:
			hold(o.items)
		case o.state == domain.Cancelled:
			if r, ok := st.reservations.v[id]; ok && !r.released {
				leaked++
			}
		case !st.reserves:
			// The monolith reserves in the transaction that moves the
			// order to reserved.
			if o.state == domain.Reserved || o.state == domain.Paid {
				hold(o.items)
			}
		default:
			if r, ok := st.reservations.v[id]; ok && !r.released {
				hold(r.items)
			}
		}
	}
	// A reservation of an order order-api never recorded still holds
	// its units.
	for id, r := range st.reservations.v {
		if _, ok := st.orders.v[id]; !ok && !r.released {
			hold(r.items)
		}
	}

	var f finding
	skus := map[string]bool{}
	initial := map[string]int{}
	for _, p := range cat.Products() {
		skus[p.SKU] = true
		initial[p.SKU] = p.Stock
	}
	for sku := range st.stock.v {
		skus[sku] = true
	}
	for sku := range held {
		skus[sku] = true
	}
	var sumInitial, sumAvail, sumHeld, off, unknown int
	for sku := range skus {
		init, known := initial[sku]
		avail, stocked := st.stock.v[sku]
		sumInitial += init
		sumAvail += avail
		sumHeld += held[sku]
		switch {
		case !known || !stocked:
			unknown++
			f.flag(sku)
		case avail < 0 || init != avail+held[sku]:
			off += avail + held[sku] - init
			f.flag(sku)
		}
	}
	f.checked = len(skus)
	f.found = fmt.Sprintf("%d SKUs, %d units initially, %d available + %d held, %d SKUs off by %+d units in all, %d missing from the catalogue or the stock table",
		f.checked, sumInitial, sumAvail, sumHeld, len(f.bad)-unknown, off, unknown)
	if leaked > 0 {
		f.found += fmt.Sprintf(", %d cancelled orders still holding a reservation", leaked)
	}
	return f, nil
}

// moneyChecker: what the customers paid is what was shipped. The PSP's
// ledger is the outside world's record; the order table says what each
// order cost and how it ended.
func moneyChecker() checker {
	return checker{
		name: "money", unit: "orders",
		rule: "Approved, unrefunded charges must equal the value of shipped orders, order by order",
		run:  money,
	}
}

func money(st *state, _ *domain.Catalog) (finding, error) {
	if err := errors.Join(st.ledger.err, st.orders.err); err != nil {
		return finding{}, err
	}
	var f finding
	net := map[string]int64{} // approved, unrefunded amount per order
	var charged, shippedValue int64
	var refunds, unknown int
	for _, c := range st.ledger.v {
		if c.Refunded {
			refunds++
		}
		if c.Approved && !c.Refunded {
			net[c.OrderID] += c.Amount
			charged += c.Amount
		}
		if _, ok := st.orders.v[c.OrderID]; !ok && c.Approved && !c.Refunded {
			unknown++
			f.flag(c.OrderID)
		}
	}
	var unpaid, cancelled, open int
	for id, o := range st.orders.v {
		paid := net[id]
		switch o.state {
		case domain.Shipped:
			shippedValue += o.amount
			if paid != o.amount {
				unpaid++
				f.flag(id)
			}
		case domain.Cancelled:
			if paid != 0 {
				cancelled++
				f.flag(id)
			}
		default:
			if paid != 0 {
				open++
				f.flag(id)
			}
		}
	}
	ids := map[string]bool{}
	for id := range st.orders.v {
		ids[id] = true
	}
	for _, c := range st.ledger.v {
		ids[c.OrderID] = true
	}
	f.checked = len(ids)
	f.found = fmt.Sprintf("%d orders, charged %d cents net of %d refunds against %d cents shipped; %d shipped without a matching charge, %d cancelled but charged, %d charged but never finished, %d charges for orders the system does not know",
		f.checked, charged, refunds, shippedValue, unpaid, cancelled, open, unknown)
	return f, nil
}

// readModelChecker: the run waits after the drain (as long as the drain
// may last) for the read model to catch up, so any difference left from
// order-api's table is a projection that went wrong, or a view that could
// not keep up with the load even then.
func readModelChecker() checker {
	return checker{
		name: "read-model", unit: "orders",
		rule: "After the drain, order-view must show every order in the state order-api's table holds",
		run:  readModel,
	}
}

func readModel(st *state, _ *domain.Catalog) (finding, error) {
	if err := errors.Join(st.orders.err, st.view.err); err != nil {
		return finding{}, err
	}
	var f finding
	var missing, differ, extra int
	for id, o := range st.orders.v {
		v, ok := st.view.v[id]
		switch {
		case !ok:
			missing++
			f.flag(id)
		case v != o.state:
			differ++
			f.flag(id)
		}
	}
	for id := range st.view.v {
		if _, ok := st.orders.v[id]; !ok {
			extra++
			f.flag(id)
		}
	}
	f.checked = len(st.orders.v) + extra
	f.found = fmt.Sprintf("%d orders, %d missing from the view, %d in another state, %d only in the view%s",
		f.checked, missing, differ, extra, stateSample(st, f.bad))
	return f, nil
}

// stateSample shows, for the first disagreement, what each side says: the
// quickest way to see whether the view lags or went its own way.
func stateSample(st *state, bad map[string]bool) string {
	if len(bad) == 0 {
		return ""
	}
	ids := make([]string, 0, len(bad))
	for id := range bad {
		ids = append(ids, id)
	}
	id := slices.Min(ids)
	show := func(s domain.State, ok bool) string {
		if !ok {
			return "none"
		}
		return string(s)
	}
	o, inOrders := st.orders.v[id]
	v, inView := st.view.v[id]
	return fmt.Sprintf(" (%s: order-api %s, view %s)", id, show(o.state, inOrders), show(v, inView))
}

func dlqChecker() checker {
	return checker{
		name: "dlq", unit: "dead letters",
		rule: "Every dead letter must be accounted for: the poison the scenario injected, once per consumer, and no event a handler gave up on",
		run:  deadLetters,
	}
}

func deadLetters(st *state, _ *domain.Catalog) (finding, error) {
	if st.deadLetters.err != nil {
		return finding{}, st.deadLetters.err
	}
	var f finding
	poison, failed := 0, 0
	for _, dl := range st.deadLetters.v {
		switch dl.Headers[eda.HeaderDLQReason] {
		case eda.ReasonUndecodable:
			poison++
		default:
			// An event a handler gave up on is an order that stopped
			// halfway: name it.
			failed++
			f.flag(fmt.Sprintf("%s@%s/%s", dl.Key, dl.Headers[eda.HeaderDLQConsumer], dl.Topic))
		}
	}
	if poison != st.poisonSent {
		f.flag(fmt.Sprintf("poison: %d dead-lettered, %d expected", poison, st.poisonSent))
	}
	f.checked = len(st.deadLetters.v)
	f.found = fmt.Sprintf("%d dead letters: %d poison (%d expected from the scenario), %d events given up on", len(st.deadLetters.v), poison, st.poisonSent, failed)
	return f, nil
}
