package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/edatestbed/testbed/faults"
	"github.com/edatestbed/testbed/internal/links"
	"github.com/edatestbed/testbed/scenarios"
	"github.com/edatestbed/testbed/system/eda"
)

// archProcs lets a fault address components by their name within one
// architecture.
type archProcs struct {
	rt   procs
	arch string
}

func (p archProcs) Kill(name string) (int, error) { return p.rt.Kill(p.arch + "/" + name) }
func (p archProcs) Restart(ctx context.Context, name string) error {
	return p.rt.Restart(ctx, p.arch+"/"+name)
}
func (p archProcs) Signal(name string, sig syscall.Signal) (int, error) {
	return p.rt.Signal(p.arch+"/"+name, sig)
}

// resolution is what one scenario fault becomes in one architecture.
type resolution struct {
	fault faults.Fault
	what  string     // what is hit, for the fault mapping
	pid   func() int // the process hit, when there is one
	note  string     // why nothing is hit, or a caveat
}

// resolve maps a scenario fault onto an architecture's deployment, with the
// architecture's caveat on whatever it hits.
func resolve(f scenarios.Fault, pl plan, rt procs) resolution {
	r := resolveFault(f, pl, rt)
	if r.fault != nil && pl.note != "" {
		r.note = strings.TrimPrefix(r.note+"; "+pl.note, "; ")
	}
	return r
}

func resolveFault(f scenarios.Fault, pl plan, rt procs) resolution {
	procs := archProcs{rt, pl.arch}
	if f.Type == scenarios.FaultLoadSpike {
		return resolution{fault: faults.NewLoadSpike(f.Factor), what: "POST /orders"}
	}
	comp := pl.capabilities[f.Target]
	if comp == "" {
		return resolution{note: fmt.Sprintf("no component holds %q in %s; nothing injected", f.Target, pl.arch)}
	}
	switch f.Type {
	case scenarios.FaultServiceCrash:
		c := faults.NewServiceCrash(procs, comp, f.Restart, nil)
		return resolution{fault: c, what: comp, pid: c.PID}

	case scenarios.FaultPause:
		p := faults.NewPause(procs, comp)
		return resolution{fault: p, what: comp, pid: p.PID}

	case scenarios.FaultNetworkPartition:
		ends := pl.linkEnds(comp)
		var cuts []faults.LinkCut
		var peers []string
		for _, l := range pl.links.Select(ends, peerFilter(f.Peers, pl.brokerLike)) {
			peer := l.To
			if !slices.Contains(ends, l.From) {
				peer = l.From
			}
			if !slices.Contains(peers, peer) {
				peers = append(peers, peer)
			}
			dir := faults.Both
			if f.Direction == scenarios.DirectionOneWay {
				// One way means what the target sends is lost.
				dir = faults.Down
				if slices.Contains(ends, l.From) {
					dir = faults.Upstream
				}
			}
			cuts = append(cuts, faults.LinkCut{Name: l.Name, Direction: dir})
		}
		if len(cuts) == 0 {
			return resolution{note: fmt.Sprintf("%s has no links to %s in %s; nothing injected", comp, strings.Join(f.Peers, ", "), pl.arch)}
		}
		return resolution{fault: faults.NewPartition(pl.links, f.Mode, cuts), what: comp + " | " + strings.Join(peers, ", ")}

	case scenarios.FaultLatency:
		var names []string
		for _, l := range pl.links.Select(pl.linkEnds(comp), peerFilter(f.Peers, pl.brokerLike)) {
			names = append(names, l.Name)
		}
		if len(names) == 0 {
			return resolution{note: fmt.Sprintf("%s has no links to %s in %s; nothing injected", comp, strings.Join(f.Peers, ", "), pl.arch)}
		}
		return resolution{
			fault: faults.NewLatency(pl.links, names, links.Degrade{
				LatencyMs: f.Delay.D().Milliseconds(), JitterMs: f.Jitter.D().Milliseconds(), KiBps: int64(f.Bandwidth), Loss: f.Loss,
			}),
			what: comp + " to " + strings.Join(f.Peers, ", "),
		}

	case scenarios.FaultNodeLoss:
		return pl.nodeLoss(f, comp, procs)

	case scenarios.FaultPoisonMessage:
		topic := eda.InputTopic(comp)
		if pl.synchronous || topic == "" {
			return resolution{note: fmt.Sprintf("%s consumes no topic in %s; nothing injected", comp, pl.arch)}
		}
		p := faults.NewPoison(publisher{brokers: pl.brokers, routes: pl.brokerRoutes}, topic, f.Messages)
		return resolution{fault: p, what: comp + " (topic " + topic + ")"}

	case scenarios.FaultBrokerLoss:
		if pl.brokerAdmin == nil {
			return resolution{note: pl.arch + " has no broker; nothing injected"}
		}
		return resolution{fault: faults.NewBrokerLoss(pl.brokerAdmin, pl.links, pl.linksToBroker, f.Brokers), what: fmt.Sprintf("%d broker node(s)", f.Brokers)}
	}
	return resolution{note: fmt.Sprintf("fault type %s is not implemented; nothing injected", f.Type)}
}

// nodeLoss kills every process on the node holding comp at once, and takes
// its broker node out of the cluster.
func (pl plan) nodeLoss(f scenarios.Fault, comp string, procs archProcs) resolution {
	node := pl.nodeOf(comp)
	if node == "" {
		return resolution{note: fmt.Sprintf("%s is on no node of %s; nothing injected", comp, pl.arch)}
	}
	var parts []faults.Fault
	var pids []func() int
	var note []string
	for _, member := range pl.nodes[node] {
		if id, ok := pl.brokerNodes[member]; ok {
			parts = append([]faults.Fault{faults.NewBrokerNodeLoss(pl.brokerAdmin, pl.links, pl.linksToBroker, id)}, parts...)
			if f.Disk == scenarios.DiskLost {
				note = append(note, member+" keeps its data: the embedded broker holds one copy of every partition")
			}
			continue
		}
		var wipe func() error
		if f.Disk == scenarios.DiskLost {
			wipe = pl.wipe(member)
		}
		c := faults.NewServiceCrash(procs, member, f.Restart, wipe)
		parts = append(parts, c)
		pids = append(pids, c.PID)
	}
	return resolution{
		fault: faults.NewGroup("lose "+node, parts...),
		what:  fmt.Sprintf("%s (%s)", node, strings.Join(pl.nodes[node], ", ")),
		pid: func() int {
			if len(pids) == 0 {
				return 0
			}
			return pids[0]()
		},
		note: strings.Join(note, "; "),
	}
}

// linkEnds names the link ends of a component: the broker process is its
// three broker nodes.
func (pl plan) linkEnds(comp string) []string {
	if comp != "broker" {
		return []string{comp}
	}
	var ends []string
	for end := range pl.brokerNodes {
		ends = append(ends, end)
	}
	slices.Sort(ends)
	return ends
}

// linksToBroker names every link that reaches broker node id.
func (pl plan) linksToBroker(id int32) []string {
	var names []string
	for end, n := range pl.brokerNodes {
		if n != id {
			continue
		}
		for _, l := range pl.links.Select([]string{end}, nil) {
			names = append(names, l.Name)
		}
	}
	return names
}

func (pl plan) nodeOf(comp string) string {
	for node, members := range pl.nodes {
		if slices.Contains(members, comp) {
			return node
		}
	}
	return ""
}

// wipe returns a func that deletes a component's data, as a lost disk does.
func (pl plan) wipe(comp string) func() error {
	return func() error {
		var errs []error
		for _, f := range pl.disks[comp] {
			if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
}

// peerFilter accepts link ends that belong to one of the peer kinds; the
// broker kind includes brokerLike.
func peerFilter(peers, brokerLike []string) func(string) bool {
	return func(end string) bool {
		for _, p := range peers {
			switch {
			case p == scenarios.PeerBroker && (strings.HasPrefix(end, "broker-") || slices.Contains(brokerLike, end)):
				return true
			case p == scenarios.PeerPSP && end == pspComponent:
				return true
			case p == end: // one broker node, e.g. broker-2
				return true
			}
		}
		return false
	}
}

var _ faults.Links = (*links.Set)(nil)

// publisher puts the poison messages on an EDA's topics.
type publisher struct {
	brokers []string
	routes  map[string]string
}

func (p publisher) Publish(ctx context.Context, topic string, msgs []faults.Message) error {
	keys := make([]string, len(msgs))
	values := make([][]byte, len(msgs))
	for i, m := range msgs {
		keys[i], values[i] = m.Key, m.Value
	}
	return eda.Publish(ctx, p.brokers, p.routes, topic, keys, values)
}
