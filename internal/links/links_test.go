package links

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// echo serves line echo on loopback until the test ends.
func echo(t *testing.T) string {
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
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
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
