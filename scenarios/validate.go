package scenarios

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxRate is the highest load.rate accepted, in orders per second per architecture.
const MaxRate = 100000

// namePattern keeps names usable as run-id parts, file names and container names.
var namePattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Validate checks every value of s and returns one *Problem per problem, joined with
// errors.Join, or nil. Parse calls it; call it again after changing a scenario in code. An empty
// faults[].restart means after-duration.
func (s *Scenario) Validate() error {
	if problems := s.validate(func(string) bool { return true }); len(problems) > 0 {
		return join(problems)
	}
	return nil
}

// validate checks the fields for which usable returns true; Parse passes false for fields
// already reported as missing or malformed, so a wrong type is not reported a second time as
// an out-of-range zero.
func (s *Scenario) validate(usable func(path string) bool) []*Problem {
	c := &checker{s: s, usable: usable}
	if c.ok("name") && !namePattern.MatchString(s.Name) {
		c.add("name", "must be lowercase letters and digits separated by single dashes, such as \"service-crash\"; got %q", s.Name)
	}
	if c.ok("compares_to") && s.ComparesTo != "" {
		c.oneOf("compares_to", "comparison", s.ComparesTo, Comparisons())
	}
	c.architectures()
	c.load()
	c.catalog()
	c.psp()
	c.slo()
	c.faults()
	return c.problems
}

type checker struct {
	s        *Scenario
	usable   func(path string) bool
	problems []*Problem
}

func (c *checker) add(field, format string, args ...any) {
	c.problems = append(c.problems, &Problem{
		File: c.s.Path, Line: c.s.lines[field], Field: field, Msg: fmt.Sprintf(format, args...),
	})
}

// ok reports whether every one of paths is worth checking.
func (c *checker) ok(paths ...string) bool {
	for _, p := range paths {
		if !c.usable(p) {
			return false
		}
	}
	return true
}

func (c *checker) oneOf(field, what, value string, allowed []string) {
	switch {
	case value == "":
		c.add(field, "must be set; allowed: %s", strings.Join(allowed, ", "))
	case !slices.Contains(allowed, value):
		c.add(field, "unknown %s %q; allowed: %s", what, value, strings.Join(allowed, ", "))
	}
}

func (c *checker) positive(field string, d Duration) {
	if c.ok(field) && d <= 0 {
		c.add(field, "must be greater than 0, got %s", d)
	}
}

func (c *checker) nonNegative(field string, d Duration) {
	if c.ok(field) && d < 0 {
		c.add(field, "must not be negative, got %s", d)
	}
}

func (c *checker) atLeast(field string, n, min int) {
	if c.ok(field) && n < min {
		c.add(field, "must be at least %d, got %d", min, n)
	}
}

func (c *checker) architectures() {
	if !c.ok("architectures") {
		return
	}
	if len(c.s.Architectures) == 0 {
		c.add("architectures", "must name at least one architecture; allowed: %s", strings.Join(ArchitectureNames(), ", "))
		return
	}
	first := map[string]int{}
	for i, a := range c.s.Architectures {
		p := fmt.Sprintf("architectures[%d]", i)
		if !c.ok(p) {
			continue
		}
		if j, dup := first[a]; dup {
			c.add(p, "%q is already listed as architectures[%d]; list each architecture once", a, j)
			continue
		}
		first[a] = i
		c.oneOf(p, "architecture", a, ArchitectureNames())
	}
}

func (c *checker) load() {
	l := c.s.Load
	// Negated comparisons so that NaN fails them.
	if c.ok("load.rate") {
		switch {
		case !(l.Rate > 0):
			c.add("load.rate", "must be greater than 0, got %s", formatFloat(l.Rate))
		case l.Rate > MaxRate:
			c.add("load.rate", "must be at most %d orders per second, got %s", MaxRate, formatFloat(l.Rate))
		}
	}
	c.nonNegative("load.warmup", l.Warmup)
	c.positive("load.duration", l.Duration)
	c.nonNegative("load.drain", l.Drain)
	c.positive("load.timeout", l.Timeout)
	c.atLeast("load.max_in_flight", l.MaxInFlight, 1)
}

func (c *checker) catalog() {
	k := c.s.Catalog
	c.atLeast("catalog.skus", k.SKUs, 1)
	c.atLeast("catalog.stock_min", k.StockMin, 0)
	if c.ok("catalog.stock_min", "catalog.stock_max") && k.StockMin >= 0 && k.StockMax < k.StockMin {
		c.add("catalog.stock_max", "must be at least stock_min (%d), got %d", k.StockMin, k.StockMax)
	}
	c.atLeast("catalog.items_max", k.ItemsMax, 1)
	c.atLeast("catalog.quantity_max", k.QuantityMax, 1)
}

func (c *checker) psp() {
	p := c.s.PSP
	c.nonNegative("psp.latency", p.Latency)
	c.nonNegative("psp.jitter", p.Jitter)
	if c.ok("psp.decline_rate") && !(p.DeclineRate >= 0 && p.DeclineRate <= 1) {
		c.add("psp.decline_rate", "must be between 0 and 1, got %s", formatFloat(p.DeclineRate))
	}
}

func (c *checker) slo() {
	s := c.s.SLO
	if c.ok("slo.success_ratio") && !(s.SuccessRatio > 0 && s.SuccessRatio <= 1) {
		c.add("slo.success_ratio", "must be greater than 0 and at most 1, got %s", formatFloat(s.SuccessRatio))
	}
	c.positive("slo.completion_deadline", s.CompletionDeadline)
}

func (c *checker) faults() {
	// windowed holds the faults whose timing is sound, for the overlap check.
	var windowed []int
	for i, f := range c.s.Faults {
		p := fmt.Sprintf("faults[%d]", i)
		if !c.ok(p) {
			continue
		}
		if c.ok(p + ".type") {
			c.oneOf(p+".type", "fault type", f.Type, FaultTypes())
		}
		if c.ok(p + ".target") {
			c.oneOf(p+".target", "target", f.Target, Targets())
		}
		c.faultFields(p, f)
		c.nonNegative(p+".at", f.At)
		c.positive(p+".duration", f.Duration)
		if !c.ok(p+".at", p+".duration", p+".target", p+".restart", p+".type") || f.At < 0 || f.Duration <= 0 {
			continue
		}
		windowed = append(windowed, i)

		measured := c.s.Load.Duration
		if !c.ok("load.duration") || measured <= 0 {
			continue
		}
		switch end := f.At + f.Duration; {
		case f.At >= measured:
			c.add(p, "starts at %s, when the measured period (load.duration %s) is already over; at + duration must be at most load.duration", f.At, measured)
		case end > measured:
			c.add(p, "ends at %s (at %s + duration %s), after the measured period (load.duration %s) is over; at + duration must be at most load.duration", end, f.At, f.Duration, measured)
		}
	}
	for n, i := range windowed {
		for _, j := range windowed[:n] {
			a, b := c.s.Faults[j], c.s.Faults[i]
			if a.Target != b.Target || !overlap(a, b) {
				continue
			}
			c.add(fmt.Sprintf("faults[%d]", i), "overlaps faults[%d] on target %q: %s against %s; faults on one target must not overlap",
				j, b.Target, window(b), window(a))
		}
	}
}

// faultFields checks the type-specific fields of f: each set only on a type
// it applies to, each within its allowed values. Empty means the default,
// for scenarios built in code.
func (c *checker) faultFields(p string, f Fault) {
	fields, known := faultFields[f.Type]
	if !known || !c.ok(p+".type") {
		return
	}
	for _, name := range optionalFaultFields {
		fp := p + "." + name
		if _, applies := fields[name]; !applies && !f.isZero(name) && c.ok(fp) {
			c.add(fp, "does not apply to fault type %s; it applies to %s", f.Type, strings.Join(typesWith(name), ", "))
		}
	}
	if _, ok := fields["restart"]; ok && c.ok(p+".restart") && f.Restart != "" {
		c.oneOf(p+".restart", "restart policy", f.Restart, RestartPolicies())
	}
	if _, ok := fields["mode"]; ok && c.ok(p+".mode") && f.Mode != "" {
		c.oneOf(p+".mode", "mode", f.Mode, Modes())
	}
	if _, ok := fields["direction"]; ok && c.ok(p+".direction") && f.Direction != "" {
		c.oneOf(p+".direction", "direction", f.Direction, Directions())
	}
	if _, ok := fields["disk"]; ok && c.ok(p+".disk") && f.Disk != "" {
		c.oneOf(p+".disk", "disk", f.Disk, Disks())
	}
	if _, ok := fields["peers"]; ok && c.ok(p+".peers") {
		for i, peer := range f.Peers {
			c.oneOf(fmt.Sprintf("%s.peers[%d]", p, i), "peer", peer, Peers())
		}
	}
	if f.Type == FaultLatency {
		switch {
		case !c.ok(p + ".delay"):
		case f.Delay == 0:
			c.problems = append(c.problems, &Problem{File: c.s.Path, Line: c.s.lines[p], Field: p + ".delay",
				Msg: "required for fault type latency: the delay to add to each direction, such as 100ms"})
		default:
			c.positive(p+".delay", f.Delay)
		}
		c.nonNegative(p+".jitter", f.Jitter)
		if c.ok(p+".bandwidth") && f.Bandwidth < 0 {
			c.add(p+".bandwidth", "must be 0 (no cap) or a positive KiB/s, got %d", f.Bandwidth)
		}
		if c.ok(p+".loss") && !(f.Loss >= 0 && f.Loss < 1) {
			c.add(p+".loss", "must be a share of connections in [0, 1), got %s", formatFloat(f.Loss))
		}
	}
	if f.Type == FaultPoisonMessage && c.ok(p+".messages") && (f.Messages < 1 || f.Messages > 10000) {
		c.add(p+".messages", "must be between 1 and 10000, got %d", f.Messages)
	}
	if f.Type == FaultLoadSpike {
		if c.ok(p+".factor") && !(f.Factor > 0 && f.Factor <= 100) {
			c.add(p+".factor", "must be greater than 0 and at most 100 (below 1 is a lull), got %s", formatFloat(f.Factor))
		}
		if c.ok(p+".target") && f.Target != "order" {
			c.add(p+".target", "a load spike hits the order intake; its target must be \"order\", got %q", f.Target)
		}
		if c.ok("load.rate") && f.Factor > 0 && c.s.Load.Rate*f.Factor > MaxRate {
			c.add(p+".factor", "load.rate × factor = %s orders/s, above the maximum %d", formatFloat(c.s.Load.Rate*f.Factor), MaxRate)
		}
	}
	if f.Type == FaultBrokerLoss {
		if c.ok(p+".target") && f.Target != TargetBroker {
			c.add(p+".target", "broker-loss removes broker nodes; its target must be %q, got %q", TargetBroker, f.Target)
		}
		if c.ok(p+".brokers") && (f.Brokers < 1 || f.Brokers > 2) {
			c.add(p+".brokers", "must be 1 or 2: the cluster has 3 nodes and one must stay, got %d", f.Brokers)
		}
	}
}

// typesWith lists the fault types a type-specific field applies to.
func typesWith(field string) []string {
	var out []string
	for _, t := range FaultTypes() {
		if _, ok := faultFields[t][field]; ok {
			out = append(out, t)
		}
	}
	return out
}

// until returns when f's target comes back, or false when it stays down for the rest of the run.
func until(f Fault) (time.Duration, bool) {
	if f.Restart == RestartNever {
		return 0, false
	}
	return (f.At + f.Duration).D(), true
}

func overlap(a, b Fault) bool {
	aEnd, aBack := until(a)
	bEnd, bBack := until(b)
	return (!aBack || b.At.D() < aEnd) && (!bBack || a.At.D() < bEnd)
}

func window(f Fault) string {
	end, back := until(f)
	if !back {
		return fmt.Sprintf("down from %s on (restart never)", f.At)
	}
	return fmt.Sprintf("down %s to %s", f.At, end)
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
