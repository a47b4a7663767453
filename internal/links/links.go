// Package links owns the network links between the components of the local
// runtime. Every link is a fault-aware TCP proxy in the testbed's process,
// one per client and server pair, so a fault can cut, blackhole or slow one
// link (payment to broker node 2, say) without touching any other.
//
// These are connection-level faults on loopback, not packet filters: a cut
// refuses or resets connections, a blackhole swallows bytes on open
// connections, latency delays chunks of a stream.
package links

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"sync"
	"time"
)

// Link is one client-to-server connection path.
type Link struct {
	Name   string // "payment->broker-2"
	From   string // client component
	To     string // server component
	Listen string // where the client connects
	Target string // where the server listens

	proxy *proxy
}

// Set is the links of one architecture.
type Set struct {
	// direct sets hand out the target itself: no proxy, no faults, for
	// measuring what the proxies cost.
	direct bool

	mu    sync.Mutex
	links map[string]*Link
	state map[string]string // link name -> fault applied, for healing
}

// NewSet returns an empty set.
func NewSet() *Set {
	return &Set{
		links: map[string]*Link{},
		state: map[string]string{},
	}
}

// NewDirectSet returns a set whose links are direct connections: Add gives
// the target's own address and every fault on a link fails. It measures
// what the proxies cost.
func NewDirectSet() *Set {
	s := NewSet()
	s.direct = true
	return s
}

// Add starts a proxy on host (port picked free) forwarding to target and
// returns the link; from and to name the components at its ends.
func (s *Set) Add(from, to, host, target string) (*Link, error) {
	name := from + "->" + to
	if s.direct {
		l := &Link{Name: name, From: from, To: to, Listen: target, Target: target}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.links[name] = l
		return l, nil
	}
	p := newProxy(net.JoinHostPort(host, "0"), target)
	if err := p.start(); err != nil {
		return nil, fmt.Errorf("start link %s: %w", name, err)
	}
	l := &Link{Name: name, From: from, To: to, Listen: p.addr(), Target: target, proxy: p}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.links[name]; dup {
		p.close()
		return nil, fmt.Errorf("start link %s: already exists", name)
	}
	s.links[name] = l
	return l, nil
}

// Len is the number of links.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.links)
}

// Select returns the links whose client or server is one of comps and whose
// other end is accepted by peer (nil accepts any), sorted by name.
func (s *Set) Select(comps []string, peer func(component string) bool) []*Link {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := map[string]bool{}
	for _, c := range comps {
		in[c] = true
	}
	var out []*Link
	for _, l := range s.links {
		switch {
		case in[l.From] && (peer == nil || peer(l.To)):
		case in[l.To] && (peer == nil || peer(l.From)):
		default:
			continue
		}
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Cut modes.
const (
	// Reject closes the listener and every connection: peers see
	// connection refused and resets.
	Reject = "reject"
	// Blackhole keeps connections open and drops every byte, both ways or
	// (OneWay) only what the client sends.
	Blackhole = "blackhole"
)

// Directions of a blackhole.
const (
	Both       = "both"
	Upstream   = "upstream"   // what the client sends
	Downstream = "downstream" // what the server sends back
)

// Cut partitions a link. direction limits a blackhole to one way (a refused
// connection has no direction, so reject ignores it).
func (s *Set) Cut(name, mode, direction string) error {
	var f fault
	switch mode {
	case Reject:
	case Blackhole:
		switch direction {
		case Upstream:
			f.hole[up] = true
		case Downstream:
			f.hole[down] = true
		case Both, "":
			f.hole = [2]bool{true, true}
		default:
			return fmt.Errorf("cut %s: unknown direction %q; allowed: %s, %s, %s", name, direction, Both, Upstream, Downstream)
		}
	default:
		return fmt.Errorf("cut %s: unknown mode %q; allowed: %s, %s", name, mode, Reject, Blackhole)
	}
	l, err := s.take(name, "cut:"+mode)
	if err != nil {
		return err
	}
	if mode == Reject {
		l.proxy.stop()
		return nil
	}
	l.proxy.setFault(&f)
	return nil
}

// Degrade is how a latency fault worsens a link, each direction alike.
type Degrade struct {
	LatencyMs, JitterMs int64
	// KiBps caps the bandwidth; 0 means no cap.
	KiBps int64
	// Loss is the share of connections, in [0, 1), that go silent for the
	// fault's duration: the links forward streams, not packets, so loss
	// is a share of connections, not of packets.
	Loss float64
}

// Slow degrades both directions of a link: every chunk waits LatencyMs and
// up to JitterMs more, drawn per chunk, and flows at most at KiBps.
func (s *Set) Slow(name string, d Degrade) error {
	if d.LatencyMs < 0 || d.JitterMs < 0 || d.KiBps < 0 || d.Loss < 0 || d.Loss >= 1 {
		return fmt.Errorf("slow %s: %+v: latency, jitter and bandwidth must not be negative, loss must be in [0, 1)", name, d)
	}
	l, err := s.take(name, "slow")
	if err != nil {
		return err
	}
	l.proxy.setFault(&fault{
		latency: time.Duration(d.LatencyMs) * time.Millisecond,
		jitter:  time.Duration(d.JitterMs) * time.Millisecond,
		kiBps:   d.KiBps,
		// One draw per connection: what the client sends vanishes, so the
		// whole exchange does, for exactly that share of connections.
		loss: d.Loss,
	})
	return nil
}

// Heal restores a link to a clean pass-through; healing a healthy link does
// nothing.
func (s *Set) Heal(_ context.Context, name string) error {
	s.mu.Lock()
	l, ok := s.links[name]
	fault := s.state[name]
	delete(s.state, name)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("heal link %s: no such link", name)
	}
	if fault == "" {
		return nil
	}
	l.proxy.heal()
	if fault == "cut:"+Reject {
		if err := l.proxy.start(); err != nil {
			return fmt.Errorf("heal link %s: listen again on %s: %w", name, l.Listen, err)
		}
	}
	return nil
}

// take marks a link as faulted, refusing a second fault on it.
func (s *Set) take(name, fault string) (*Link, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.links[name]
	if !ok {
		return nil, fmt.Errorf("fault on link %s: no such link", name)
	}
	if l.proxy == nil {
		return nil, fmt.Errorf("fault on link %s: the link is direct (no proxy), so it cannot be faulted", name)
	}
	if cur := s.state[name]; cur != "" {
		return nil, fmt.Errorf("fault on link %s: already %s", name, cur)
	}
	s.state[name] = fault
	return l, nil
}

// HealAll heals every faulted link, for teardown.
func (s *Set) HealAll(ctx context.Context) error {
	s.mu.Lock()
	var names []string
	for n := range s.state {
		names = append(names, n)
	}
	s.mu.Unlock()
	var errs []error
	for _, n := range names {
		errs = append(errs, s.Heal(ctx, n))
	}
	return errors.Join(errs...)
}

// Close stops every proxy, frees its port and waits until its connections
// are closed.
func (s *Set) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.links {
		if l.proxy != nil {
			l.proxy.close()
		}
	}
}
