package faults

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/edatestbed/testbed/internal/links"
)

// Direction of a cut on one link.
const (
	Both     = "both"
	Upstream = "upstream" // what the link's client sends
	Down     = "downstream"
)

// Links is what partition and latency faults need of the runtime's links.
type Links interface {
	Cut(name, mode, direction string) error
	Slow(name string, d links.Degrade) error
	Heal(ctx context.Context, name string) error
}

// LinkCut is one link of a partition and the direction to drop on it.
type LinkCut struct {
	Name      string
	Direction string
}

// Partition cuts a set of links: the target on one side, its peers on the
// other. Mode is blackhole (bytes vanish, peers time out) or reject
// (connections refused and reset).
type Partition struct {
	links Links
	cuts  []LinkCut
	mode  string
}

// NewPartition returns a partition over cuts.
func NewPartition(l Links, mode string, cuts []LinkCut) *Partition {
	return &Partition{links: l, cuts: cuts, mode: mode}
}

// Inject cuts every link. A link that fails to cut is reported; the others
// stay cut, and Heal restores them all.
func (p *Partition) Inject(context.Context) error {
	var errs []error
	for _, c := range p.cuts {
		if err := p.links.Cut(c.Name, p.mode, c.Direction); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Heal restores every link.
func (p *Partition) Heal(ctx context.Context) error { return healLinks(ctx, p.links, p.cuts) }

// Describe lists the links cut.
func (p *Partition) Describe() string {
	var names []string
	for _, c := range p.cuts {
		d := ""
		if c.Direction != Both {
			d = " (" + c.Direction + " only)"
		}
		names = append(names, c.Name+d)
	}
	return fmt.Sprintf("%s %s", p.mode, strings.Join(names, ", "))
}

// Latency slows a set of links down.
type Latency struct {
	links Links
	names []string
	d     links.Degrade
}

// NewLatency returns a latency fault on the named links.
func NewLatency(l Links, names []string, d links.Degrade) *Latency {
	return &Latency{links: l, names: names, d: d}
}

// Inject degrades every link.
func (f *Latency) Inject(context.Context) error {
	var errs []error
	for _, n := range f.names {
		errs = append(errs, f.links.Slow(n, f.d))
	}
	return errors.Join(errs...)
}

// Heal restores them.
func (f *Latency) Heal(ctx context.Context) error {
	var cuts []LinkCut
	for _, n := range f.names {
		cuts = append(cuts, LinkCut{Name: n})
	}
	return healLinks(ctx, f.links, cuts)
}

// Describe says how much and where.
func (f *Latency) Describe() string {
	d := fmt.Sprintf("+%d ms (jitter %d ms)", f.d.LatencyMs, f.d.JitterMs)
	if f.d.KiBps > 0 {
		d += fmt.Sprintf(", %d KiB/s", f.d.KiBps)
	}
	if f.d.Loss > 0 {
		d += fmt.Sprintf(", %g %% of connections silent", 100*f.d.Loss)
	}
	return d + " on " + strings.Join(f.names, ", ")
}

func healLinks(ctx context.Context, l Links, cuts []LinkCut) error {
	var errs []error
	for _, c := range cuts {
		errs = append(errs, l.Heal(ctx, c.Name))
	}
	return errors.Join(errs...)
}
