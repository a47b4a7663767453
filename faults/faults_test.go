package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edatestbed/testbed/internal/broker"
	"github.com/edatestbed/testbed/internal/links"
)

type fakeSignals struct{ got []syscall.Signal }

func (f *fakeSignals) Signal(_ string, sig syscall.Signal) (int, error) {
	f.got = append(f.got, sig)
	return 7, nil
}

func TestPause(t *testing.T) {
	ctx := context.Background()
	s := &fakeSignals{}
	p := NewPause(s, "payment")
	if err := p.Heal(ctx); err != nil || len(s.got) != 0 {
		t.Fatalf("healing a pause never injected sent %v, %v", s.got, err)
	}
	if err := p.Inject(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if want := []syscall.Signal{syscall.SIGSTOP, syscall.SIGCONT}; !reflect.DeepEqual(s.got, want) || p.PID() != 7 {
		t.Fatalf("signals %v pid %d; want %v once each, pid 7", s.got, p.PID(), want)
	}
}

// fakeLinks records what was done to which link.
type fakeLinks struct {
	mu  sync.Mutex
	ops []string
}

func (f *fakeLinks) add(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, op)
	return nil
}
func (f *fakeLinks) Cut(name, mode, dir string) error {
	return f.add("cut " + name + " " + mode + " " + dir)
}
func (f *fakeLinks) Slow(name string, _ links.Degrade) error {
	return f.add("slow " + name)
}
func (f *fakeLinks) Heal(_ context.Context, name string) error { return f.add("heal " + name) }

func TestPartitionAndLatency(t *testing.T) {
	ctx := context.Background()
	l := &fakeLinks{}
	p := NewPartition(l, "blackhole", []LinkCut{{"payment->broker-1", Upstream}, {"payment->psp", Both}})
	if err := p.Inject(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	lat := NewLatency(l, []string{"payment->psp"}, links.Degrade{LatencyMs: 100, JitterMs: 10})
	if err := lat.Inject(ctx); err != nil {
		t.Fatal(err)
	}
	if err := lat.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"cut payment->broker-1 blackhole upstream", "cut payment->psp blackhole both",
		"heal payment->broker-1", "heal payment->psp",
		"slow payment->psp", "heal payment->psp",
	}
	if !reflect.DeepEqual(l.ops, want) {
		t.Fatalf("ops = %q\nwant %q", l.ops, want)
	}
}

type fakeBroker struct {
	nodes   []broker.Node
	removed []int32
	back    []int32
}

func (f *fakeBroker) Nodes(context.Context) ([]broker.Node, error) { return f.nodes, nil }
func (f *fakeBroker) Remove(_ context.Context, id int32) error {
	f.removed = append(f.removed, id)
	return nil
}
func (f *fakeBroker) Restore(_ context.Context, id int32) error {
	f.back = append(f.back, id)
	return nil
}

func TestBrokerLossTakesBusiestLeaders(t *testing.T) {
	ctx := context.Background()
	b := &fakeBroker{nodes: []broker.Node{{ID: 0, Leaders: 3}, {ID: 1, Leaders: 9}, {ID: 2, Leaders: 3}}}
	l := &fakeLinks{}
	linksTo := func(id int32) []string { return []string{"x->broker-" + string(rune('1'+id))} }
	f := NewBrokerLoss(b, l, linksTo, 2)
	if err := f.Inject(ctx); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(b.removed, []int32{1, 0}) {
		t.Fatalf("removed %v; want the busiest node 1, then the lowest id among equals, 0", b.removed)
	}
	if err := f.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(b.back, []int32{1, 0}) || len(f.Removed()) != 0 {
		t.Fatalf("restored %v, still removed %v", b.back, f.Removed())
	}
	want := []string{"cut x->broker-2 blackhole both", "cut x->broker-1 blackhole both", "heal x->broker-2", "heal x->broker-1"}
	if !reflect.DeepEqual(l.ops, want) {
		t.Fatalf("link ops %q, want %q", l.ops, want)
	}
}

// orderFault records its injection and heal in a shared log.
type orderFault struct {
	name string
	log  *fakeLinks
	fail bool
}

func (o orderFault) Inject(context.Context) error { return o.log.add("inject " + o.name) }
func (o orderFault) Heal(context.Context) error {
	_ = o.log.add("heal " + o.name)
	if o.fail {
		return errors.New("cannot heal " + o.name)
	}
	return nil
}
func (o orderFault) Describe() string { return o.name }

func TestGroupHealsInOrderEvenAfterAFailure(t *testing.T) {
	ctx := context.Background()
	log := &fakeLinks{}
	g := NewGroup("lose node-2", orderFault{"broker", log, true}, orderFault{"inventory", log, false})
	if err := g.Inject(ctx); err != nil {
		t.Fatal(err)
	}
	log.ops = nil
	if err := g.Heal(ctx); err == nil {
		t.Fatal("a failed part's heal error was lost")
	}
	if !reflect.DeepEqual(log.ops, []string{"heal broker", "heal inventory"}) {
		t.Fatalf("heal order %v; want broker first, then inventory despite broker's error", log.ops)
	}
	if g.Describe() != "lose node-2: broker; inventory" {
		t.Fatalf("Describe() = %q", g.Describe())
	}
}

type restartingProcs struct {
	mu       sync.Mutex
	failures int // restarts to fail before one succeeds
	restarts chan struct{}
}

func (r *restartingProcs) Kill(string) (int, error) { return 1, nil }
func (r *restartingProcs) Restart(context.Context, string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failures > 0 {
		r.failures--
		return errors.New("port busy")
	}
	close(r.restarts)
	return nil
}

func TestSupervisorRestartsWithoutWaitingForHeal(t *testing.T) {
	ctx := context.Background()
	p := &restartingProcs{failures: 1, restarts: make(chan struct{})}
	wiped := 0
	c := NewServiceCrash(p, "payment", RestartSupervisor, func() error { wiped++; return nil })
	if err := c.Inject(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.restarts:
	case <-time.After(30 * time.Second):
		t.Fatal("the supervisor never restarted the component")
	}
	if err := c.Heal(ctx); err != nil {
		t.Fatalf("heal after the supervisor restarted it: %v", err)
	}
	if wiped != 2 {
		t.Fatalf("disk wiped %d times, want once per restart attempt (2)", wiped)
	}
}

type fakePublisher struct{ got map[string][]Message }

func (f *fakePublisher) Publish(_ context.Context, topic string, msgs []Message) error {
	f.got[topic] = append(f.got[topic], msgs...)
	return nil
}

func TestPoisonPublishesOnce(t *testing.T) {
	ctx := context.Background()
	pub := &fakePublisher{got: map[string][]Message{}}
	p := NewPoison(pub, "orders", 4)
	for range 2 {
		if err := p.Inject(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(pub.got["orders"]) != 4 || p.Sent() != 4 {
		t.Fatalf("published %d, Sent() %d; want 4 once", len(pub.got["orders"]), p.Sent())
	}
	for _, m := range pub.got["orders"] {
		if json.Valid(m.Value) && bytes.Contains(m.Value, []byte(`"id"`)) {
			t.Fatalf("poison message %q looks like a valid event", m.Value)
		}
	}
}
