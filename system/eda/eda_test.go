package eda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/edatestbed/testbed/system/component"
	"github.com/edatestbed/testbed/system/domain"
	"github.com/edatestbed/testbed/system/psp"
	"github.com/edatestbed/testbed/system/store"
	"github.com/edatestbed/testbed/system/telemetry"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type system struct {
	t       *testing.T
	brokers []string
	catalog domain.CatalogConfig
	pspURL  string
	dir     string
	addrs   map[string]string
	stops   map[string]func()
}

func startSystem(t *testing.T, declineRate float64) *system {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(4, append(Topics(), DLQTopics()...)...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	p := httptest.NewServer(psp.NewServer(psp.Config{Seed: 1, DeclineRate: declineRate}).Handler())
	t.Cleanup(p.Close)
	s := &system{
		t: t, brokers: c.ListenAddrs(), pspURL: p.URL, dir: t.TempDir(),
		catalog: domain.CatalogConfig{Seed: 1, SKUs: 5, StockMin: 20, StockMax: 20, ItemsMax: 2, QuantityMax: 3},
		addrs:   map[string]string{}, stops: map[string]func(){},
	}
	for _, name := range Components() {
		s.start(name)
	}
	return s
}

// start runs one component in this process and waits until it is healthy.
func (s *system) start(name string) {
	t := s.t
	if s.addrs[name] == "" {
		s.addrs[name] = freeAddr(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("component", name)
	go func() {
		done <- Run(ctx, telemetry.Nop(log), Config{
			Component: name, Listen: s.addrs[name], DataDir: s.dir, Brokers: s.brokers,
			Catalog: s.catalog, PSPURL: s.pspURL, PSPTimeout: time.Second,
		})
	}()
	var once sync.Once
	s.stops[name] = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("%s: %v", name, err)
			}
		})
	}
	t.Cleanup(s.stops[name])
	for {
		select {
		case err := <-done:
			t.Fatalf("%s exited before it was healthy: %v", name, err)
		default:
		}
		resp, err := http.Get("http://" + s.addrs[name] + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return
			}
		}
		time.Sleep(20 * time.Millisecond) // polling interval of a readiness check
	}
}

func (s *system) place(o domain.PlaceOrder) {
	s.t.Helper()
	b, _ := json.Marshal(o)
	resp, err := http.Post("http://"+s.addrs[OrderAPI]+"/orders", "application/json", bytes.NewReader(b))
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		s.t.Fatalf("POST /orders %s = %s, want 202", o.ID, resp.Status)
	}
}

// awaitTerminal watches until every id reached a terminal state.
func (s *system) awaitTerminal(ids []string, within time.Duration) map[string]Terminal {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var mu sync.Mutex
	got := map[string]Terminal{}
	err := Watch(ctx, s.brokers, nil, func(tm Terminal) {
		mu.Lock()
		defer mu.Unlock()
		if want[tm.OrderID] {
			got[tm.OrderID] = tm
		}
		if len(got) == len(want) {
			cancel()
		}
	})
	if err != nil {
		s.t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(want) && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		s.t.Fatalf("%d of %d orders reached a terminal state within %v", len(got), len(want), within)
	}
	return got
}

func TestOrdersFlowThroughTheSaga(t *testing.T) {
	s := startSystem(t, 0.25)
	cat, err := domain.NewCatalog(s.catalog)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range uint64(60) {
		o := cat.Order("o-", i)
		ids = append(ids, o.ID)
		s.place(o)
	}
	s.place(cat.Order("o-", 0)) // a client retry must not place a second order
	got := s.awaitTerminal(ids, 30*time.Second)
	count := map[string]int{}
	for _, tm := range got {
		count[string(tm.State)+"/"+tm.Reason]++
	}
	t.Logf("outcomes: %v", count)
	if count["shipped/"] == 0 || count["cancelled/"+domain.ReasonPaymentDeclined] == 0 || count["cancelled/"+domain.ReasonOutOfStock] == 0 {
		t.Fatalf("want shipped, declined and out-of-stock orders among %v", count)
	}

	// The read model converges on the terminal states.
	for id, tm := range got {
		s.awaitView(id, tm.State)
	}
}

// awaitView polls order-view until it shows the order in state.
func (s *system) awaitView(id string, state domain.State) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var v View
		resp, err := http.Get(fmt.Sprintf("http://%s/orders/%s", s.addrs[OrderView], id))
		if err != nil {
			s.t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if err == nil && v.State == state {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("order-view shows %s as %q, not %s, after 30 s", id, v.State, state)
		}
		time.Sleep(20 * time.Millisecond) // polling an eventually consistent read model
	}
}

func TestRestartedConsumerProcessesTheBacklog(t *testing.T) {
	s := startSystem(t, 0)
	cat, err := domain.NewCatalog(s.catalog)
	if err != nil {
		t.Fatal(err)
	}
	s.stops[Inventory]()
	var ids []string
	for i := range uint64(20) {
		o := cat.Order("b-", i)
		ids = append(ids, o.ID)
		s.place(o) // accepted while inventory is down
	}
	s.start(Inventory)
	got := s.awaitTerminal(ids, 30*time.Second)
	if len(got) != len(ids) {
		t.Fatalf("%d of %d orders finished after inventory came back", len(got), len(ids))
	}
}

func TestPoisonMessagesDoNotStallConsumers(t *testing.T) {
	s := startSystem(t, 0)
	cat, err := domain.NewCatalog(s.catalog)
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"p-0", "p-1", "p-2", "p-3"}
	values := [][]byte{[]byte("\x00garbage"), []byte(`{"type":"Nope","order_id":"x"}`), []byte(`{}`), []byte(`[1,2]`)}
	for _, topic := range Topics() {
		if err := Publish(context.Background(), s.brokers, nil, topic, keys, values); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for i := range uint64(10) {
		o := cat.Order("after-poison-", i)
		ids = append(ids, o.ID)
		s.place(o)
	}
	if got := s.awaitTerminal(ids, 30*time.Second); len(got) != len(ids) {
		t.Fatalf("%d of %d orders placed after poison finished", len(got), len(ids))
	}
	// Every consumer of a topic dead-letters each poison message once, with
	// why and who, and nothing else lands there.
	want := 0
	for _, topic := range Topics() {
		want += len(keys) * len(Consumers(topic))
	}
	var letters []DeadLetter
	for {
		letters, err = ReadDeadLetters(context.Background(), s.brokers, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(letters) >= want {
			break
		}
		time.Sleep(50 * time.Millisecond) // polling the dead-letter topics as consumers reach the poison
	}
	if len(letters) != want {
		t.Fatalf("%d dead letters, want %d (each poison message once per consumer)", len(letters), want)
	}
	for _, dl := range letters {
		if dl.Headers[HeaderDLQReason] != ReasonUndecodable || dl.Headers[HeaderDLQConsumer] == "" || dl.Headers[HeaderDLQTopic]+DLQSuffix != dl.Topic {
			t.Fatalf("dead letter %+v lacks its reason, consumer or source topic", dl)
		}
	}
}

func TestConsumersMatchHandlers(t *testing.T) {
	// Consumers is written out by hand for the checkers; it must say what
	// the services actually subscribe to.
	for _, name := range Components() {
		s := &service{name: name, handlers: map[string]handler{}, mux: http.NewServeMux(), http: component.NewHTTPMetrics(prometheus.NewRegistry())}
		switch name {
		case OrderAPI:
			s.orderAPI()
		case Inventory:
			s.inventory()
		case Payment:
			s.payment()
		case Shipping:
			s.shipping()
		case OrderView:
			s.orderView()
		}
		for _, topic := range Topics() {
			if got := slices.Contains(s.topics, topic); got != slices.Contains(Consumers(topic), name) {
				t.Errorf("%s subscribes to %s: %v, but Consumers(%s) = %v", name, topic, got, topic, Consumers(topic))
			}
		}
	}
}

func TestReplayRebuildsTheReadModel(t *testing.T) {
	s := startSystem(t, 0.3)
	cat, err := domain.NewCatalog(s.catalog)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range uint64(30) {
		o := cat.Order("r-", i)
		ids = append(ids, o.ID)
		s.place(o)
	}
	terminals := s.awaitTerminal(ids, 30*time.Second)
	// The testbed's watcher may see a terminal event before order-view has
	// applied it: wait for the view, stop order-view so its database is
	// final, then rebuild from the log.
	for id, tm := range terminals {
		s.awaitView(id, tm.State)
	}
	s.stops[OrderView]()
	ctx := context.Background()
	live, err := store.Open(ctx, filepath.Join(s.dir, OrderView+".db"))
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	rebuilt, err := store.Open(ctx, filepath.Join(t.TempDir(), "replay.db"), ViewSchema)
	if err != nil {
		t.Fatal(err)
	}
	defer rebuilt.Close()
	n, err := Replay(ctx, s.brokers, rebuilt)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ReadViews(ctx, live)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadViews(ctx, rebuilt)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 || len(got) != len(want) {
		t.Fatalf("replayed %d events into %d views; the live model has %d", n, len(got), len(want))
	}
	for id, v := range want {
		if got[id] != v {
			t.Fatalf("order %s: rebuilt %+v, live %+v", id, got[id], v)
		}
	}
}

func TestUndeliverableOrderIsRefundedAndReleased(t *testing.T) {
	s := startSystem(t, 0)
	cat, err := domain.NewCatalog(s.catalog)
	if err != nil {
		t.Fatal(err)
	}
	o := cat.Order("u-", 1)
	o.Customer = "cust-00013"
	if domain.Deliverable(o.Customer) {
		t.Fatal("test customer is deliverable")
	}
	s.place(o)
	got := s.awaitTerminal([]string{o.ID}, 30*time.Second)
	if tm := got[o.ID]; tm.State != domain.Cancelled || tm.Reason != domain.ReasonUndeliverable {
		t.Fatalf("undeliverable order ended %s/%s; want cancelled/undeliverable", tm.State, tm.Reason)
	}
	ledger, err := psp.NewClient(s.pspURL, nil).Ledger(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ledger) != 1 || !ledger[0].Approved || !ledger[0].Refunded {
		t.Fatalf("ledger = %+v; want the order charged, then refunded", ledger)
	}
}

// EventTypes and Emitter are written out by hand for the report's hops;
// they must cover every event type the services publish.
func TestEventTypesAreListed(t *testing.T) {
	types := EventTypes()
	if len(types) != len(topicOf) {
		t.Errorf("EventTypes has %d types, topicOf %d", len(types), len(topicOf))
	}
	for _, typ := range types {
		if _, ok := topicOf[typ]; !ok {
			t.Errorf("EventTypes lists %s, which has no topic", typ)
		}
		if Emitter(typ) == "" {
			t.Errorf("Emitter(%s) is empty", typ)
		}
	}
	if len(slices.Compact(slices.Sorted(slices.Values(types)))) != len(types) {
		t.Errorf("EventTypes repeats a type: %v", types)
	}
}
