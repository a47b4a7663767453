package chain

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edatestbed/testbed/system/domain"
	"github.com/edatestbed/testbed/system/psp"
	"github.com/edatestbed/testbed/system/store"
	"github.com/edatestbed/testbed/system/telemetry"
)

// rig is a whole chain in one process: the PSP and the four services, each
// behind its own server that a test can take down.
type rig struct {
	t       *testing.T
	psp     *psp.Server
	pspDown atomic.Bool
	svc     map[string]*service
	down    map[string]*atomic.Bool
	cat     *domain.Catalog
	// customer places the orders; deliverable unless a test says otherwise.
	customer string
}

// catalogue: two SKUs of 5 units.
var catalogue = domain.CatalogConfig{Seed: 1, SKUs: 2, StockMin: 5, StockMax: 5, ItemsMax: 1, QuantityMax: 1}

func newRig(t *testing.T, declineRate float64) *rig {
	t.Helper()
	ctx := context.Background()
	r := &rig{t: t, svc: map[string]*service{}, down: map[string]*atomic.Bool{}, customer: "c"}
	r.psp = psp.NewServer(psp.Config{Seed: 1, DeclineRate: declineRate})
	pspSrv := httptest.NewServer(r.gate(&r.pspDown, r.psp.Handler()))
	t.Cleanup(pspSrv.Close)
	var err error
	if r.cat, err = domain.NewCatalog(catalogue); err != nil {
		t.Fatal(err)
	}
	// Servers first, so each service knows the next one's address.
	handlers := map[string]*atomic.Pointer[http.Handler]{}
	urls := map[string]string{}
	for _, name := range Components() {
		h := &atomic.Pointer[http.Handler]{}
		handlers[name] = h
		r.down[name] = &atomic.Bool{}
		srv := httptest.NewServer(r.gate(r.down[name], http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { (*h.Load()).ServeHTTP(w, req) })))
		t.Cleanup(srv.Close)
		urls[name] = srv.URL
	}
	next := map[string]string{Order: Inventory, Inventory: Payment, Payment: Shipping}
	tel := telemetry.Nop(slog.New(slog.DiscardHandler))
	for _, name := range Components() {
		cfg := Config{
			Component: name, DataDir: t.TempDir(), Catalog: catalogue, Next: urls[next[name]],
			CallTimeout: 2 * time.Second, PSPURL: pspSrv.URL, PSPTimeout: 500 * time.Millisecond,
		}
		if name == Shipping {
			cfg.Next = ""
		}
		s, err := newService(ctx, tel, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.db.Close() })
		var h http.Handler = s.mux
		handlers[name].Store(&h)
		r.svc[name] = s
	}
	return r
}

// gate drops every connection while down is set, as a crashed service
// behind a link does: the link accepts, then closes.
func (r *rig) gate(down *atomic.Bool, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if down.Load() {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		h.ServeHTTP(w, req)
	})
}

func (r *rig) order(id string, qty int) domain.PlaceOrder {
	return domain.PlaceOrder{ID: id, Customer: r.customer, Items: []domain.Item{{SKU: r.cat.Products()[0].SKU, Quantity: qty}}}
}

func (r *rig) place(id string, qty int) (OrderAnswer, error) {
	return r.svc[Order].place(context.Background(), r.order(id, qty))
}

// stock is what inventory has on hand.
func (r *rig) stock() int {
	r.t.Helper()
	n, err := store.TotalStock(context.Background(), r.svc[Inventory].db)
	if err != nil {
		r.t.Fatal(err)
	}
	return n
}

func (r *rig) count(name, query string, args ...any) int {
	r.t.Helper()
	var n int
	if err := r.svc[name].db.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		r.t.Fatal(err)
	}
	return n
}

func TestChainShipsOrCancelsWithCompensation(t *testing.T) {
	tests := []struct {
		name    string
		decline float64
		qty     int
		state   domain.State
		reason  string
		stock   int // units on hand after the order, of 10
		reached []string
		// customer "" is a deliverable one.
		customer string
	}{
		{"shipped", 0, 2, domain.Shipped, "", 8, []string{Inventory, Payment, Shipping}, ""},
		{"out of stock", 0, 9, domain.Cancelled, domain.ReasonOutOfStock, 10, []string{Inventory}, ""},
		{"declined: stock released", 1, 2, domain.Cancelled, domain.ReasonPaymentDeclined, 10, []string{Inventory, Payment}, ""},
		{"undeliverable: refunded and released", 0, 2, domain.Cancelled, domain.ReasonUndeliverable, 10, []string{Inventory, Payment, Shipping}, "cust-00013"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, tt.decline)
			if tt.customer != "" {
				r.customer = tt.customer
			}
			o, err := r.place("o-1", tt.qty)
			if err != nil || o.State != tt.state || o.Reason != tt.reason {
				t.Fatalf("order = %+v, %v; want %s (%s)", o, err, tt.state, tt.reason)
			}
			if n := r.stock(); n != tt.stock {
				t.Fatalf("stock = %d, want %d", n, tt.stock)
			}
			shipped := 0
			if tt.state == domain.Shipped {
				shipped = 1
			}
			if n := r.count(Shipping, `SELECT COUNT(*) FROM shipments`); n != shipped {
				t.Fatalf("shipments = %d, want %d", n, shipped)
			}
			// Every service the order reached ends in the same state.
			for _, name := range tt.reached {
				if n := r.count(name, `SELECT COUNT(*) FROM steps WHERE order_id = 'o-1' AND state = $1`, tt.state); n != 1 {
					t.Errorf("%s has no %s step for o-1", name, tt.state)
				}
			}
			// Placing the order again is a replay, not a second order.
			again, err := r.place("o-1", tt.qty)
			if err != nil || again.State != o.State || r.stock() != tt.stock {
				t.Fatalf("replay = %+v, %v, stock %d; want the stored order and no change", again, err, r.stock())
			}
		})
	}
}

func TestUnknownOutcomeIsResolvedByAbort(t *testing.T) {
	r := newRig(t, 0)
	// Shipping drops connections: payment has charged and cannot learn
	// whether the order shipped, so nobody up the chain can either.
	r.down[Shipping].Store(true)
	o, err := r.place("o-1", 2)
	if err == nil || o.State != domain.Pending {
		t.Fatalf("order with shipping down = %+v, %v; want an error and the order pending", o, err)
	}
	if n := r.stock(); n != 8 {
		t.Fatalf("stock = %d while the order is in doubt, want 8: held, not guessed at", n)
	}
	ctx := context.Background()
	if err := r.svc[Order].resolvePending(ctx, 0); err == nil {
		t.Fatal("resolved an order while shipping is still down")
	}

	// The failures opened breakers along the chain; each lets a call
	// through again once its open time is over.
	r.down[Shipping].Store(false)
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for err = r.svc[Order].resolvePending(ctx, 0); err != nil; err = r.svc[Order].resolvePending(ctx, 0) {
		if wait.Err() != nil {
			t.Fatalf("resolve with shipping back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	got, err := store.ReadOrder(ctx, r.svc[Order].db, "o-1")
	if err != nil || got.State != domain.Cancelled || got.Reason != domain.ReasonUnavailable {
		t.Fatalf("resolved order = %+v, %v; want cancelled, %s", got, err, domain.ReasonUnavailable)
	}
	if n := r.stock(); n != 10 {
		t.Fatalf("stock = %d after the abort, want all 10 back", n)
	}
	if n := r.count(Payment, `SELECT COUNT(*) FROM pending_refunds WHERE order_id = 'o-1'`); n != 1 {
		t.Fatalf("refunds owed = %d, want 1 for the charge that went through", n)
	}
	// Shipping refuses the order from now on, should a late try arrive.
	out, err := r.svc[Order].next.call(ctx, "/reservations", Request{OrderID: "o-1", Items: r.order("o-1", 2).Items, Amount: o.Amount})
	if err != nil || out.State != domain.Cancelled || r.stock() != 10 || r.count(Shipping, `SELECT COUNT(*) FROM shipments`) != 0 {
		t.Fatalf("late forward call = %+v, %v, stock %d; want cancelled with nothing reserved or shipped", out, err, r.stock())
	}
}

func TestAbortBeforeTheOrderArrives(t *testing.T) {
	r := newRig(t, 0)
	ctx := context.Background()
	out, err := r.svc[Order].next.call(ctx, "/reservations/abort", Request{OrderID: "o-1", Reason: domain.ReasonUnavailable})
	if err != nil || out.State != domain.Cancelled {
		t.Fatalf("abort of an unknown order = %+v, %v; want cancelled", out, err)
	}
	out, err = r.svc[Order].next.call(ctx, "/reservations", Request{OrderID: "o-1", Items: r.order("o-1", 1).Items, Amount: 100})
	if err != nil || out.State != domain.Cancelled || r.stock() != 10 {
		t.Fatalf("forward after abort = %+v, %v, stock %d; want cancelled, nothing reserved", out, err, r.stock())
	}
}

func TestUnreachableProviderRefundsAndReleases(t *testing.T) {
	r := newRig(t, 0)
	r.pspDown.Store(true)
	o, err := r.place("o-1", 2)
	if err != nil || o.State != domain.Cancelled || o.Reason != domain.ReasonPaymentUnavailable {
		t.Fatalf("order = %+v, %v; want cancelled, %s", o, err, domain.ReasonPaymentUnavailable)
	}
	if n := r.stock(); n != 10 {
		t.Fatalf("stock = %d, want all 10 back", n)
	}
	if n := r.count(Payment, `SELECT COUNT(*) FROM pending_refunds`); n != 1 {
		t.Fatalf("refunds owed = %d, want 1: the charge's fate is unknown", n)
	}
	if n := r.count(Shipping, `SELECT COUNT(*) FROM steps WHERE state = $1`, domain.Cancelled); n != 1 {
		t.Fatalf("shipping tombstones = %d, want 1: payment cancelled shipping before itself", n)
	}
}

func TestUnreachableInventoryCancelsAtOnce(t *testing.T) {
	r := newRig(t, 0)
	dead := httptest.NewServer(nil)
	dead.Close()
	r.svc[Order].next = newCaller(Inventory, dead.URL, nil, time.Second, 2, slog.New(slog.DiscardHandler))
	o, err := r.place("o-1", 1)
	if err != nil || o.State != domain.Cancelled || o.Reason != domain.ReasonUnavailable {
		t.Fatalf("order = %+v, %v; want cancelled at once: inventory never saw it", o, err)
	}
}

func TestBreakerOpensAfterRepeatedFailures(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	c := newCaller(Payment, srv.URL, nil, time.Second, 1, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	for i := range breakerTrips {
		if _, err := c.call(ctx, "/payments", Request{OrderID: "o"}); !errors.Is(err, errUnknown) {
			t.Fatalf("call %d = %v; want an unknown outcome (the request was delivered)", i, err)
		}
	}
	before := hits.Load()
	_, err := c.call(ctx, "/payments", Request{OrderID: "o"})
	if !errors.Is(err, errNotDelivered) || hits.Load() != before {
		t.Fatalf("call after %d failures = %v with %d more requests sent; want the open breaker to refuse it unsent", breakerTrips, err, hits.Load()-before)
	}
	if c.cb.State().String() != "open" {
		t.Fatalf("breaker %s, want open", c.cb.State())
	}
}

func TestRetriesAreBounded(t *testing.T) {
	var hits atomic.Int64
	var answer atomic.Int64 // tries to drop before answering; < 0: always answer 503
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := hits.Add(1)
		switch a := answer.Load(); {
		case a < 0:
			http.Error(w, "payment said no", http.StatusServiceUnavailable)
		case n <= a:
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		default:
			w.Write([]byte(`{"order_id":"o","state":"shipped"}`))
		}
	}))
	defer srv.Close()
	c := newCaller(Shipping, srv.URL, nil, time.Second, 3, slog.New(slog.DiscardHandler))
	call := func() error {
		hits.Store(0)
		_, err := c.call(context.Background(), "/shipments", Request{OrderID: "o"})
		return err
	}
	answer.Store(2)
	if err := call(); err != nil || hits.Load() != 3 {
		t.Fatalf("call = %v after %d tries; want an answer on the third after two dropped connections", err, hits.Load())
	}
	answer.Store(10)
	if err := call(); !errors.Is(err, errUnknown) || hits.Load() != 3 {
		t.Fatalf("call = %v after %d tries; want an unknown outcome after 3", err, hits.Load())
	}
	// An answer that says the service failed is not tried again: it has
	// retried its own calls already.
	answer.Store(-1)
	if err := call(); !errors.Is(err, errUnknown) || hits.Load() != 1 {
		t.Fatalf("call = %v after %d tries; want one try and an unknown outcome", err, hits.Load())
	}
}
