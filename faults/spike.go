package faults

import (
	"context"
	"fmt"
)

// LoadSpike marks a window in which the load generator multiplies its
// rate. The schedule itself carries the spike, fixed before the run starts
// so that every architecture gets the same requests at the same intended
// times; injecting and healing only record when the window began and ended.
type LoadSpike struct{ factor float64 }

// NewLoadSpike returns the marker of a spike by factor.
func NewLoadSpike(factor float64) *LoadSpike { return &LoadSpike{factor: factor} }

// Inject does nothing: the pacer is already on the spike's schedule.
func (l *LoadSpike) Inject(context.Context) error { return nil }

// Heal does nothing either.
func (l *LoadSpike) Heal(context.Context) error { return nil }

// Describe says by how much.
func (l *LoadSpike) Describe() string {
	return fmt.Sprintf("offered rate ×%g (built into the load generator's schedule)", l.factor)
}
