package links

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// serve runs handle for every connection to a loopback listener until the
// test ends, and returns its address.
func serve(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// echo serves echo on loopback until the test ends.
func echo(t testing.TB) string {
	return serve(t, func(c net.Conn) { _, _ = io.Copy(c, c) })
}

// roundTrip sends a line and waits up to d for it to come back.
func roundTrip(c net.Conn, d time.Duration) error {
	if err := c.SetDeadline(time.Now().Add(d)); err != nil {
		return err
	}
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err == nil && line != "ping\n" {
		return errors.New("garbled echo " + line)
	}
	return err
}

func newLink(t *testing.T) (*Set, *Link) {
	t.Helper()
	s := NewSet()
	t.Cleanup(s.Close)
	l, err := s.Add("payment", "broker-1", "127.0.0.1", echo(t))
	if err != nil {
		t.Fatal(err)
	}
	return s, l
}

func dial(t *testing.T, l *Link) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", l.Listen)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestReject(t *testing.T) {
	ctx := context.Background()
	s, l := newLink(t)
	old := dial(t, l)
	if err := roundTrip(old, 5*time.Second); err != nil {
		t.Fatalf("healthy link: %v", err)
	}
	if err := s.Cut(l.Name, Reject, Both); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp", l.Listen); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial through a rejecting link = %v, want connection refused", err)
	}
	if err := roundTrip(old, 5*time.Second); err == nil {
		t.Fatal("an open connection survived a reject cut")
	}
	if err := s.Cut(l.Name, Blackhole, Both); err == nil {
		t.Fatal("a second fault on a cut link was accepted")
	}
	if err := s.Heal(ctx, l.Name); err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(dial(t, l), 5*time.Second); err != nil {
		t.Fatalf("after heal, same address: %v", err)
	}
}

func TestBlackhole(t *testing.T) {
	ctx := context.Background()
	for _, dir := range []string{Both, Upstream, Downstream} {
		s, l := newLink(t)
		old := dial(t, l)
		if err := roundTrip(old, 5*time.Second); err != nil {
			t.Fatalf("healthy link: %v", err)
		}
		if err := s.Cut(l.Name, Blackhole, dir); err != nil {
			t.Fatal(err)
		}
		// New connections are accepted, then nothing comes back: peers
		// wait for their timeouts, as across a real partition.
		fresh := dial(t, l)
		for _, c := range []net.Conn{old, fresh} {
			if err := roundTrip(c, 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("%s: round trip through a blackhole = %v, want a timeout", dir, err)
			}
		}
		if err := s.Heal(ctx, l.Name); err != nil {
			t.Fatal(err)
		}
		if err := roundTrip(dial(t, l), 5*time.Second); err != nil {
			t.Fatalf("%s: after heal: %v", dir, err)
		}
	}
}

func TestSlow(t *testing.T) {
	s, l := newLink(t)
	if err := s.Slow(l.Name, Degrade{LatencyMs: 100}); err != nil {
		t.Fatal(err)
	}
	c := dial(t, l)
	start := time.Now()
	if err := roundTrip(c, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// 100 ms each way: a lower bound only, which no slow machine breaks.
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("round trip took %v through a link with 100 ms each way", d)
	}
	if err := s.HealAll(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestSelect(t *testing.T) {
	s := NewSet()
	defer s.Close()
	target := echo(t)
	for _, p := range [][2]string{{"payment", "broker-1"}, {"payment", "psp"}, {"inventory", "broker-1"}} {
		if _, err := s.Add(p[0], p[1], "127.0.0.1", target); err != nil {
			t.Fatal(err)
		}
	}
	names := func(ls []*Link) (out []string) {
		for _, l := range ls {
			out = append(out, l.Name)
		}
		return out
	}
	got := names(s.Select([]string{"payment"}, nil))
	if len(got) != 2 || got[0] != "payment->broker-1" || got[1] != "payment->psp" {
		t.Fatalf("links of payment = %v", got)
	}
	got = names(s.Select([]string{"broker-1"}, func(c string) bool { return c == "inventory" }))
	if len(got) != 1 || got[0] != "inventory->broker-1" {
		t.Fatalf("broker-1's links to inventory = %v", got)
	}
}

func TestDirectSetHandsOutTheTarget(t *testing.T) {
	s := NewDirectSet()
	defer s.Close()
	target := echo(t)
	l, err := s.Add("payment", "psp", "127.0.0.1", target)
	if err != nil {
		t.Fatal(err)
	}
	if l.Listen != target {
		t.Fatalf("direct link listens on %s, want the target %s", l.Listen, target)
	}
	if err := roundTrip(dial(t, l), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := s.Cut(l.Name, Reject, Both); err == nil {
		t.Fatal("a direct link accepted a fault")
	}
	if err := s.Heal(context.Background(), l.Name); err != nil {
		t.Fatalf("healing a direct link: %v", err)
	}
}

func TestLossSilencesAShareOfConnections(t *testing.T) {
	s, l := newLink(t)
	if err := s.Slow(l.Name, Degrade{Loss: 0.5}); err != nil {
		t.Fatal(err)
	}
	silent := 0
	const n = 40
	for range n {
		if err := roundTrip(dial(t, l), 200*time.Millisecond); errors.Is(err, os.ErrDeadlineExceeded) {
			silent++
		}
	}
	// Half of 40 on average; 0 or 40 would mean the share is ignored.
	if silent == 0 || silent == n {
		t.Fatalf("%d of %d connections silent at loss 0.5", silent, n)
	}
	if err := s.Heal(context.Background(), l.Name); err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(dial(t, l), 5*time.Second); err != nil {
		t.Fatalf("after heal: %v", err)
	}
}

// sink serves on loopback and sends every connection's bytes to got, for
// telling which way a one-way blackhole lets bytes through.
func sink(t *testing.T) (string, <-chan string) {
	got := make(chan string, 16)
	return serve(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			got <- line
			if _, err := c.Write([]byte(line)); err != nil {
				return
			}
		}
	}), got
}

func TestBlackholeOneWay(t *testing.T) {
	for _, tc := range []struct {
		dir     string
		arrives bool // the server gets what the client sent
	}{{Upstream, false}, {Downstream, true}} {
		t.Run(tc.dir, func(t *testing.T) {
			target, got := sink(t)
			s := NewSet()
			t.Cleanup(s.Close)
			l, err := s.Add("payment", "psp", "127.0.0.1", target)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Cut(l.Name, Blackhole, tc.dir); err != nil {
				t.Fatal(err)
			}
			if err := roundTrip(dial(t, l), 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("round trip = %v, want a timeout", err)
			}
			select {
			case line := <-got:
				if !tc.arrives {
					t.Fatalf("the server got %q through an upstream blackhole", line)
				}
			default:
				if tc.arrives {
					t.Fatal("the server got nothing through a downstream blackhole: the request should pass, the answer vanish")
				}
			}
		})
	}
}

func TestHealingABlackholeResetsItsConnections(t *testing.T) {
	s, l := newLink(t)
	idle, holed := dial(t, l), dial(t, l)
	for _, c := range []net.Conn{idle, holed} {
		if err := roundTrip(c, 5*time.Second); err != nil {
			t.Fatalf("healthy link: %v", err)
		}
	}
	if err := s.Cut(l.Name, Blackhole, Both); err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(holed, 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("round trip through a blackhole = %v, want a timeout", err)
	}
	if err := s.Heal(context.Background(), l.Name); err != nil {
		t.Fatal(err)
	}
	// Either may be waiting on what the partition swallowed (bytes, or a
	// close): both start over, as clients across a healed partition do.
	for name, c := range map[string]net.Conn{"idle": idle, "holed": holed} {
		if err := roundTrip(c, 5*time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%s connection after the heal: %v, want it reset", name, err)
		}
	}
	if err := roundTrip(dial(t, l), 5*time.Second); err != nil {
		t.Fatalf("new connection after the heal: %v", err)
	}
}

func TestBlackholeSwallowsTheClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
	}()
	s := NewSet()
	defer s.Close()
	l, err := s.Add("payment", "psp", "127.0.0.1", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, l)
	server := <-accepted
	if err := s.Cut(l.Name, Blackhole, Both); err != nil {
		t.Fatal(err)
	}
	server.Close()
	if err := c.SetReadDeadline(time.Now().Add(300 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after the server closed behind a blackhole = %v, want a timeout: the close crossed the partition", err)
	}
}

func TestHealingLossResetsOnlyTheSilencedConnections(t *testing.T) {
	s, l := newLink(t)
	if err := s.Slow(l.Name, Degrade{Loss: 0.5}); err != nil {
		t.Fatal(err)
	}
	var silent, heard []net.Conn
	for len(silent) == 0 || len(heard) == 0 {
		if len(silent)+len(heard) == 40 {
			t.Fatalf("%d silent and %d answered of 40 connections at loss 0.5", len(silent), len(heard))
		}
		c := dial(t, l)
		if err := roundTrip(c, 200*time.Millisecond); errors.Is(err, os.ErrDeadlineExceeded) {
			silent = append(silent, c)
		} else if err == nil {
			heard = append(heard, c)
		} else {
			t.Fatal(err)
		}
	}
	if err := s.Heal(context.Background(), l.Name); err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(silent[0], 5*time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a silenced connection after the heal: %v, want it reset", err)
	}
	if err := roundTrip(heard[0], 5*time.Second); err != nil {
		t.Fatalf("a connection the loss spared, after the heal: %v", err)
	}
}

func TestSlowKeepsTheStreamInOrder(t *testing.T) {
	s, l := newLink(t)
	c := dial(t, l)
	if err := roundTrip(c, 5*time.Second); err != nil { // opened before the fault
		t.Fatal(err)
	}
	// Jitter far above the latency: chunks drawn later would overtake
	// earlier ones if each were delayed on its own.
	if err := s.Slow(l.Name, Degrade{LatencyMs: 1, JitterMs: 20}); err != nil {
		t.Fatal(err)
	}
	const n = 50
	go func() {
		for i := range n {
			if _, err := fmt.Fprintf(c, "%d\n", i); err != nil {
				return
			}
			time.Sleep(time.Millisecond) // separate chunks, not one write
		}
	}()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	for i := range n {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if want := fmt.Sprintf("%d\n", i); line != want {
			t.Fatalf("line %d is %q: the delayed stream lost its order", i, line)
		}
	}
	// Healed, the connection goes on through its delay line, still in order.
	if err := s.Heal(context.Background(), l.Name); err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(c, 5*time.Second); err != nil {
		t.Fatalf("after heal: %v", err)
	}
}

func TestBandwidthCap(t *testing.T) {
	s, l := newLink(t)
	if err := s.Slow(l.Name, Degrade{KiBps: 64}); err != nil {
		t.Fatal(err)
	}
	c := dial(t, l)
	if err := c.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 32<<10)
	start := time.Now()
	go func() { _, _ = c.Write(payload) }()
	if _, err := io.ReadFull(c, make([]byte, len(payload))); err != nil {
		t.Fatal(err)
	}
	// 32 KiB at 64 KiB/s each way: half a second out, half back. A lower
	// bound only.
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Fatalf("32 KiB echoed in %v through a link capped at 64 KiB/s", d)
	}
}

func TestCloseEndsEveryConnection(t *testing.T) {
	s := NewSet()
	l, err := s.Add("payment", "psp", "127.0.0.1", echo(t))
	if err != nil {
		t.Fatal(err)
	}
	plain, slowed := dial(t, l), dial(t, l)
	for _, c := range []net.Conn{plain, slowed} {
		if err := roundTrip(c, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Slow(l.Name, Degrade{LatencyMs: 10_000}); err != nil {
		t.Fatal(err)
	}
	if _, err := slowed.Write([]byte("held\n")); err != nil { // queued on its delay line
		t.Fatal(err)
	}
	s.Close() // returns once every copier and delay line has ended
	for _, c := range []net.Conn{plain, slowed} {
		if err := roundTrip(c, 5*time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("a connection after Close: %v, want it closed", err)
		}
	}
	if _, err := net.Dial("tcp", l.Listen); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial after Close = %v, want connection refused", err)
	}
}
