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
	if err := errors.Join(st.err.requests, st.err.orders); err != nil {
		return finding{}, err
	}
	var f finding
	var missing, open, told, unseen int
	for i := range st.orders {
		e := &st.orders[i]
		if !e.is(acked) {
			continue
		}
		f.checked++
		terminal := st.stateOf(e.state).Terminal()
		switch {
		case !e.is(inOrders):
			missing++
			f.flag(st.ids[i])
		case !terminal:
			open++
			f.flag(st.ids[i])
		case e.answer != 0 && e.answer != e.state:
			// The monolith's answer is its terminal state: the table
			// must not say otherwise afterwards.
			told++
			f.flag(st.ids[i])
		}
		if e.is(inOrders) && terminal && e.events == 0 {
			unseen++
		}
	}
	f.found = fmt.Sprintf("%d accepted, %d missing, %d not terminal", f.checked, missing, open)
	switch {
	case !st.events:
		f.found += fmt.Sprintf(", %d in another state than the answer said", told)
	case st.err.terminals != nil:
		f.found += fmt.Sprintf(" (terminal events not compared: %v)", st.err.terminals)
	default:
		// Not lost, but the reason their completion went uncounted.
		f.found += fmt.Sprintf(" (%d terminal in the table but never seen as an event)", unseen)
	}
	return f, nil
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
	if err := errors.Join(st.err.requests, st.err.orders); err != nil {
		return finding{}, err
	}
	var f finding
	byState := map[domain.State]int{}
	var told int
	for i := range st.orders {
		e := &st.orders[i]
		if !e.is(inOrders) {
			continue
		}
		f.checked++
		s := st.stateOf(e.state)
		if s.Terminal() {
			continue
		}
		f.flag(st.ids[i])
		byState[s]++
		if e.is(acked) {
			told++
		}
	}
	var states []string
	for _, s := range slices.Sorted(maps.Keys(byState)) {
		states = append(states, fmt.Sprintf("%d %s", byState[s], s))
	}
	f.found = fmt.Sprintf("%d orders, %d not terminal", f.checked, len(f.bad))
	if len(states) > 0 {
		f.found += fmt.Sprintf(" (%s), %d of them acknowledged to the client", strings.Join(states, ", "), told)
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
	errs := []error{st.err.ledger, st.err.orders, st.err.shipments}
	if st.events {
		errs = append(errs, st.err.terminals)
	}
	if st.reserves {
		errs = append(errs, st.err.reservations)
	}
	if err := errors.Join(errs...); err != nil {
		return finding{}, err
	}
	var f finding
	var charged, shippedCancelled, rejected, both, repeated, extra int
	for i := range st.orders {
		e := &st.orders[i]
		named := e.charges > 0 || e.is(inOrders) || e.is(shipped) ||
			(st.reserves && e.is(reservation)) || (st.events && e.events > 0)
		if !named {
			continue
		}
		f.checked++
		cancelled := e.is(inOrders) && st.stateOf(e.state) == domain.Cancelled
		if e.charges > 1 {
			charged++
			f.flag(st.ids[i])
		}
		// A shipment of a cancelled order means a step ran again after
		// the saga (or the monolith) had settled the order.
		if e.is(shipped) && cancelled {
			shippedCancelled++
			f.flag(st.ids[i])
		}
		// A reservation held by an order cancelled for want of stock
		// means the order reached inventory twice, once reserved, once
		// rejected.
		if st.reserves && e.is(reservation) && cancelled && e.is(outOfStock) {
			rejected++
			f.flag(st.ids[i])
		}
		if !st.events {
			continue
		}
		if e.is(mixedEvents) {
			both++
			f.flag(st.ids[i])
		}
		if e.events > 1 {
			repeated++
			extra += int(e.events) - 1
		}
	}
	f.found = fmt.Sprintf("%d charged twice in the PSP ledger (its idempotency key admits one charge per order; a charge under another key shows in money as one for an unknown order), %d shipped although cancelled", charged, shippedCancelled)
	if st.reserves {
		f.found += fmt.Sprintf(", %d both reserved and rejected for stock", rejected)
	}
	if st.events {
		f.found += fmt.Sprintf(", %d with both a shipped and a cancelled event; %d repeated terminal events on %d orders, expected with at-least-once delivery and not a violation",
			both, extra, repeated)
	}
	if !st.reserves {
		f.found += "; a second reservation would show as missing units in stock"
	}
	f.found = fmt.Sprintf("%d orders, %s", f.checked, f.found)
	return f, nil
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
	errs := []error{st.err.stock, st.err.orders}
	if st.reserves {
		errs = append(errs, st.err.reservations)
	}
	if err := errors.Join(errs...); err != nil {
		return finding{}, err
	}
	held := map[string]int{}
	hold := func(sp span) {
		for _, it := range st.itemsOf(sp) {
			held[st.skus.name(it.sku)] += int(it.quantity)
		}
	}
	var leaked int
	for i := range st.orders {
		e := &st.orders[i]
		live := e.is(reservation) && !e.is(released)
		if !e.is(inOrders) {
			// A reservation of an order order-api never recorded still
			// holds its units.
			if live {
				hold(e.reserved)
			}
			continue
		}
		switch s := st.stateOf(e.state); {
		case s == domain.Shipped:
			hold(e.items)
		case s == domain.Cancelled:
			if live {
				leaked++
			}
		case !st.reserves:
			// The monolith reserves in the transaction that moves the
			// order to reserved.
			if s == domain.Reserved || s == domain.Paid {
				hold(e.items)
			}
		case live:
			hold(e.reserved)
		}
	}

	var f finding
	skus := map[string]bool{}
	initial := map[string]int{}
	for _, p := range cat.Products() {
		skus[p.SKU] = true
		initial[p.SKU] = p.Stock
	}
	for sku := range st.stock {
		skus[sku] = true
	}
	for sku := range held {
		skus[sku] = true
	}
	var sumInitial, sumAvail, sumHeld, off, unknown int
	for sku := range skus {
		init, known := initial[sku]
		avail, stocked := st.stock[sku]
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
	if err := errors.Join(st.err.ledger, st.err.orders); err != nil {
		return finding{}, err
	}
	var f finding
	var charged, shippedValue int64
	var unknown, unpaid, cancelled, owed, open int
	for i := range st.orders {
		e := &st.orders[i]
		if !e.is(inOrders) && e.charges == 0 {
			continue
		}
		f.checked++
		charged += e.net
		if !e.is(inOrders) {
			if e.netCharges > 0 {
				unknown += int(e.netCharges)
				f.flag(st.ids[i])
			}
			continue
		}
		switch st.stateOf(e.state) {
		case domain.Shipped:
			shippedValue += e.amount
			if e.net != e.amount {
				unpaid++
				f.flag(st.ids[i])
			}
		case domain.Cancelled:
			if e.net != 0 {
				cancelled++
				f.flag(st.ids[i])
				if e.is(refundOwed) {
					owed++
				}
			}
		default:
			if e.net != 0 {
				open++
				f.flag(st.ids[i])
			}
		}
	}
	f.found = fmt.Sprintf("%d orders, charged %d cents net of %d refunds against %d cents shipped; %d shipped without a matching charge, %d cancelled but charged%s, %d charged but never finished, %d charges for orders the system does not know",
		f.checked, charged, st.refunds, shippedValue, unpaid, cancelled, owedNote(st, cancelled, owed), open, unknown)
	return f, nil
}

// owedNote says how many of the cancelled orders still charged have their
// refund queued in the system: compensation that had not gone through when
// the run ended, rather than compensation forgotten. Still a violation:
// the customer holds a charge for a cancelled order.
func owedNote(st *state, cancelled, owed int) string {
	switch {
	case !st.owes || cancelled == 0:
		return ""
	case st.err.refunds != nil:
		return fmt.Sprintf(" (refunds owed not read: %v)", st.err.refunds)
	}
	return fmt.Sprintf(" (%d of them with a refund still queued)", owed)
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
	if err := errors.Join(st.err.orders, st.err.view); err != nil {
		return finding{}, err
	}
	var f finding
	var orders, missing, differ, extra int
	for i := range st.orders {
		e := &st.orders[i]
		switch {
		case !e.is(inOrders):
			if e.is(inView) {
				extra++
				f.flag(st.ids[i])
			}
			continue
		case !e.is(inView):
			missing++
			f.flag(st.ids[i])
		case e.view != e.state:
			differ++
			f.flag(st.ids[i])
		}
		orders++
	}
	f.checked = orders + extra
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
	e := &st.orders[st.numbers[id]]
	show := func(c code, in flag) string {
		if !e.is(in) {
			return "none"
		}
		return string(st.stateOf(c))
	}
	return fmt.Sprintf(" (%s: order-api %s, view %s)", id, show(e.state, inOrders), show(e.view, inView))
}

func dlqChecker() checker {
	return checker{
		name: "dlq", unit: "dead letters",
		rule: "Every dead letter must be accounted for: the poison the scenario injected, once per consumer, and no event a handler gave up on",
		run:  deadLetters,
	}
}

func deadLetters(st *state, _ *domain.Catalog) (finding, error) {
	if st.err.deadLetters != nil {
		return finding{}, st.err.deadLetters
	}
	var f finding
	poison, failed := 0, 0
	for _, dl := range st.deadLetters {
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
	f.checked = len(st.deadLetters)
	f.found = fmt.Sprintf("%d dead letters: %d poison (%d expected from the scenario), %d events given up on", len(st.deadLetters), poison, st.poisonSent, failed)
	return f, nil
}
