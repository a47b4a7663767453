// Package links owns the network links between the components of the local
// runtime. Every link is a toxiproxy proxy in the testbed's process, one per
// client and server pair, so a fault can cut, blackhole or slow one link
// (payment to broker node 2, say) without touching any other.
//
// These are connection-level faults on loopback, not packet filters: a cut
// refuses or resets connections, a blackhole swallows bytes on open
// connections, latency delays chunks of a stream.
package links

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Link is one client-to-server connection path.
type Link struct {
	Name   string // "payment->broker-2"
	From   string // client component
	To     string // server component
	Listen string // where the client connects
	Target string // where the server listens

	proxy *toxiproxy.Proxy
}

// Set is the links of one architecture.
type Set struct {
	srv *toxiproxy.ApiServer
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
		srv:   toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop()),
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
	p := toxiproxy.NewProxy(s.srv, name, host+":0", target)
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("start link %s: %w", name, err)
	}
	l := &Link{Name: name, From: from, To: to, Listen: p.Listen, Target: target, proxy: p}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.links[name]; dup {
		p.Stop()
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
	l, err := s.take(name, "cut:"+mode)
	if err != nil {
		return err
	}
	switch mode {
	case Reject:
		l.proxy.Stop()
		return nil
	case Blackhole:
		streams := []string{Upstream, Downstream}
		switch direction {
		case Upstream, Downstream:
			streams = []string{direction}
		case Both, "":
		default:
			return fmt.Errorf("cut %s: unknown direction %q; allowed: %s, %s, %s", name, direction, Both, Upstream, Downstream)
		}
		for _, st := range streams {
			if err := addToxic(l, "blackhole-"+st, "timeout", st, 1, `{"timeout":0}`); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("cut %s: unknown mode %q; allowed: %s, %s", name, mode, Reject, Blackhole)
}

// Degrade is how a latency fault worsens a link, each direction alike.
type Degrade struct {
	LatencyMs, JitterMs int64
	// KiBps caps the bandwidth; 0 means no cap.
	KiBps int64
	// Loss is the share of connections, in [0, 1), that go silent for the
	// fault's duration: toxiproxy works on streams, not packets, so loss
	// is a share of connections, not of packets.
	Loss float64
}

// Slow degrades both directions of a link.
func (s *Set) Slow(name string, d Degrade) error {
	l, err := s.take(name, "slow")
	if err != nil {
		return err
	}
	for _, st := range []string{Upstream, Downstream} {
		if err := addToxic(l, "latency-"+st, "latency", st, 1, fmt.Sprintf(`{"latency":%d,"jitter":%d}`, d.LatencyMs, d.JitterMs)); err != nil {
			return err
		}
		if d.KiBps > 0 {
			if err := addToxic(l, "bandwidth-"+st, "bandwidth", st, 1, fmt.Sprintf(`{"rate":%d}`, d.KiBps)); err != nil {
				return err
			}
		}
	}
	if d.Loss > 0 {
		// One draw per connection: what the client sends vanishes, so the
		// whole exchange does, for exactly that share of connections.
		if err := addToxic(l, "loss", "timeout", Upstream, d.Loss, `{"timeout":0}`); err != nil {
			return err
		}
	}
	return nil
}

// Heal restores a link to a clean pass-through; healing a healthy link does
// nothing.
func (s *Set) Heal(ctx context.Context, name string) error {
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
	// Removing a blackhole closes the connections it swallowed bytes of: a
	// stream with a hole in it cannot be resumed.
	l.proxy.Toxics.ResetToxics(ctx)
	if fault == "cut:"+Reject {
		if err := l.proxy.Start(); err != nil {
			return fmt.Errorf("heal link %s: restart proxy on %s: %w", name, l.Listen, err)
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

func addToxic(l *Link, name, typ, stream string, toxicity float64, attrs string) error {
	body := fmt.Sprintf(`{"name":%q,"type":%q,"stream":%q,"toxicity":%g,"attributes":%s}`, name, typ, stream, toxicity, attrs)
	if _, err := l.proxy.Toxics.AddToxicJson(strings.NewReader(body)); err != nil {
		return fmt.Errorf("add %s toxic to %s: %w", typ, l.Name, err)
	}
	return nil
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

// Close stops every proxy and frees its port.
func (s *Set) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.links {
		if l.proxy != nil {
			l.proxy.Stop()
		}
	}
}
