package suite

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/edatestbed/testbed/scenarios"
)

// Variant returns the scenario one run of a suite runs: sc with its seed
// set to seed and, when duration > 0, its measured period set to duration,
// the warm-up, the drain and every fault's start and length scaled by the
// same factor, the drain no shorter than the completion deadline. The
// request timeout and the SLO stay as they are: they define what counts as
// served, not how long a run lasts.
//
// The copy's Raw is sc's file with those values replaced in place (its
// comments kept) under a comment that says what changed, parsed again, so
// that the scenario.yaml and the sha256 of the run's bundle describe what
// ran. With nothing to change it returns sc itself.
func Variant(sc *scenarios.Scenario, seed int64, duration time.Duration) (*scenarios.Scenario, error) {
	if seed == sc.Seed && (duration == 0 || duration == sc.Load.Duration.D()) {
		return sc, nil
	}
	if err := checkDuration(sc, duration); err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(sc.Raw, &doc); err != nil || len(doc.Content) == 0 {
		return nil, fmt.Errorf("vary %s: parse: %v", sc.Path, err)
	}
	root := deref(doc.Content[0])
	var changes []string
	if seed != sc.Seed {
		set(root, "seed", strconv.FormatInt(seed, 10), "!!int")
		changes = append(changes, fmt.Sprintf("seed %d (file: %d)", seed, sc.Seed))
	}
	if duration > 0 && duration != sc.Load.Duration.D() {
		factor := float64(duration) / float64(sc.Load.Duration.D())
		scale := func(d scenarios.Duration) time.Duration { return scaled(d, factor) }
		load := child(root, "load")
		if load == nil {
			return nil, fmt.Errorf("vary %s: no load section", sc.Path)
		}
		drain := max(scale(sc.Load.Drain), sc.SLO.CompletionDeadline.D())
		set(load, "duration", duration.String(), "!!str")
		set(load, "warmup", scale(sc.Load.Warmup).String(), "!!str")
		set(load, "drain", drain.String(), "!!str")
		faults := child(root, "faults")
		for i, f := range sc.Faults {
			if faults == nil || faults.Kind != yaml.SequenceNode || i >= len(faults.Content) {
				return nil, fmt.Errorf("vary %s: faults[%d] not found", sc.Path, i)
			}
			at := scale(f.At)
			length := min(scale(f.Duration), duration-at)
			node := deref(faults.Content[i])
			set(node, "at", at.String(), "!!str")
			set(node, "duration", length.String(), "!!str")
		}
		changes = append(changes, fmt.Sprintf("durations scaled ×%s to a measured period of %s (file: %s): warm-up, drain (at least the completion deadline) and each fault's at and duration, to whole seconds",
			strconv.FormatFloat(factor, 'f', 3, 64), duration, sc.Load.Duration))
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Scenario as run by a testbed suite, derived from %s (sha256 %s):\n", sc.Path, shaOf(sc.Raw))
	for _, c := range changes {
		fmt.Fprintf(&b, "#   %s\n", c)
	}
	fmt.Fprintf(&b, "# Comments below are the file's own and may name its original values.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := errors.Join(enc.Encode(&doc), enc.Close()); err != nil {
		return nil, fmt.Errorf("vary %s: encode: %w", sc.Path, err)
	}
	out, err := scenarios.Parse(sc.Path, b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("vary %s: the changed scenario is not valid: %w", sc.Path, err)
	}
	return out, nil
}

// checkDuration refuses a measured period that cannot stand for the
// scenario: not whole seconds (windows are 1 s), or so short that a fault
// would last less than one window.
func checkDuration(sc *scenarios.Scenario, d time.Duration) error {
	switch {
	case d == 0:
		return nil
	case d < 0 || d%time.Second != 0:
		return fmt.Errorf("duration %s: want a whole number of seconds > 0, such as 40s", d)
	}
	factor := float64(d) / float64(sc.Load.Duration.D())
	for i, f := range sc.Faults {
		// Unrounded: rounding 0.5 s up to a window would double the
		// fault's share of the run.
		if scaled := time.Duration(float64(f.Duration) * factor); scaled < time.Second {
			need := time.Duration(math.Ceil(float64(sc.Load.Duration)/float64(f.Duration))) * time.Second
			return fmt.Errorf("duration %s would make faults[%d] of %s (%s on %s, %s of %s) last %s, less than one 1 s window; use at least %s",
				d, i, sc.Name, f.Type, f.Target, f.Duration, sc.Load.Duration, scaled.Round(time.Millisecond), max(need, time.Second))
		}
	}
	return nil
}

// scaled is d·factor to the nearest second, so that scaled faults start
// and end on the boundaries of 1 s windows as the files' do.
func scaled(d scenarios.Duration, factor float64) time.Duration {
	return time.Duration(float64(d) * factor).Round(time.Second)
}

// deref follows an alias to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// child returns the value of key in mapping m, nil when there is none.
func child(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return deref(m.Content[i+1])
		}
	}
	return nil
}

// set gives key in mapping m a scalar value, in place when the key exists
// so that its comment stays, appended when it does not.
func set(m *yaml.Node, key, value, tag string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != key {
			continue
		}
		v := m.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			// An alias or a block: replace it rather than change what
			// else refers to it.
			m.Content[i+1] = &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value, LineComment: v.LineComment}
			return
		}
		v.Value, v.Tag, v.Style = value, tag, 0
		return
	}
	m.Content = append(m.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key},
		&yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value})
}
