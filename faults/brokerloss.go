package faults

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/edatestbed/testbed/internal/broker"
)

// BrokerNodes is what a broker loss needs of the broker.
type BrokerNodes interface {
	Nodes(ctx context.Context) ([]broker.Node, error)
	Remove(ctx context.Context, id int32) error
	Restore(ctx context.Context, id int32) error
}

// BrokerLoss takes broker nodes out of the cluster as a dead machine would:
// the cluster moves their partitions' leadership, and the links of every
// client to them go silent (blackhole), so clients learn of the loss by
// timeout, not by a polite reset.
type BrokerLoss struct {
	nodes BrokerNodes
	links Links
	// linksTo names the links that reach a broker node.
	linksTo func(id int32) []string
	count   int
	fixed   []int32 // when set, these nodes instead of the busiest count

	mu      sync.Mutex
	removed []int32
}

// NewBrokerLoss removes the count nodes that lead the most partitions.
func NewBrokerLoss(n BrokerNodes, l Links, linksTo func(int32) []string, count int) *BrokerLoss {
	return &BrokerLoss{nodes: n, links: l, linksTo: linksTo, count: count}
}

// NewBrokerNodeLoss removes the given nodes.
func NewBrokerNodeLoss(n BrokerNodes, l Links, linksTo func(int32) []string, ids ...int32) *BrokerLoss {
	return &BrokerLoss{nodes: n, links: l, linksTo: linksTo, fixed: ids}
}

// Inject picks the nodes and removes them.
func (b *BrokerLoss) Inject(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	ids := b.fixed
	if ids == nil {
		nodes, err := b.nodes.Nodes(ctx)
		if err != nil {
			return fmt.Errorf("broker loss: %w", err)
		}
		ids = busiest(nodes, b.count)
	}
	var errs []error
	for _, id := range ids {
		for _, l := range b.linksTo(id) {
			errs = append(errs, b.links.Cut(l, "blackhole", Both))
		}
		if err := b.nodes.Remove(ctx, id); err != nil {
			errs = append(errs, err)
			continue
		}
		b.removed = append(b.removed, id)
	}
	return errors.Join(errs...)
}

// busiest returns the ids of the count live nodes leading the most
// partitions, lowest id first among equals.
func busiest(nodes []broker.Node, count int) []int32 {
	live := slices.DeleteFunc(slices.Clone(nodes), func(n broker.Node) bool { return n.Removed })
	slices.SortStableFunc(live, func(a, b broker.Node) int { return b.Leaders - a.Leaders })
	var ids []int32
	for _, n := range live[:min(count, len(live))] {
		ids = append(ids, n.ID)
	}
	return ids
}

// Heal restores the nodes and their links.
func (b *BrokerLoss) Heal(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var errs []error
	for _, id := range b.removed {
		errs = append(errs, b.nodes.Restore(ctx, id))
	}
	// Links are healed even for a node that failed to be removed, since
	// Inject cut them first.
	ids := b.fixed
	if ids == nil {
		ids = b.removed
	}
	for _, id := range ids {
		for _, l := range b.linksTo(id) {
			errs = append(errs, b.links.Heal(ctx, l))
		}
	}
	b.removed = nil
	return errors.Join(errs...)
}

// Removed lists the nodes the fault took out.
func (b *BrokerLoss) Removed() []int32 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.removed)
}

// Describe says which nodes.
func (b *BrokerLoss) Describe() string {
	if b.fixed != nil {
		return fmt.Sprintf("remove broker nodes %v from the cluster, blackhole their links", b.fixed)
	}
	return fmt.Sprintf("remove the %d broker node(s) leading the most partitions, blackhole their links", b.count)
}
