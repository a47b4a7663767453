package faults

import (
	"context"
	"errors"
	"strings"
	"sync"
)

// Group is several faults that strike at once, as the loss of a machine
// takes every process on it together. They heal one after another in order,
// so a broker comes back before the services that need it.
type Group struct {
	name   string
	faults []Fault
}

// NewGroup returns the faults as one.
func NewGroup(name string, fs ...Fault) *Group { return &Group{name: name, faults: fs} }

// Inject starts every fault concurrently.
func (g *Group) Inject(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(g.faults))
	for i, f := range g.faults {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f.Inject(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Heal ends every fault, in order, even when one fails.
func (g *Group) Heal(ctx context.Context) error {
	var errs []error
	for _, f := range g.faults {
		errs = append(errs, f.Heal(ctx))
	}
	return errors.Join(errs...)
}

// Describe lists the parts.
func (g *Group) Describe() string {
	var parts []string
	for _, f := range g.faults {
		parts = append(parts, f.Describe())
	}
	return g.name + ": " + strings.Join(parts, "; ")
}
