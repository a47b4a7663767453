package scenarios

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decoder fills a Scenario from a yaml.Node tree, field by field.
//
// yaml.v3's own strict mode (Decoder.KnownFields) stops short of what users need here: its
// messages carry a line and a Go type name ("field rat not found in type scenarios.rawLoad")
// but not the field path, an error from a custom unmarshaler aborts the whole decode, and it
// cannot tell a missing field from a zero one. Walking the node tree against the struct tags
// gives the same strictness with a path, a line and the allowed keys for every problem, and
// records which fields were written so that defaults and required checks can tell them apart.
type decoder struct {
	file     string
	problems []*Problem
	lines    map[string]int  // field path -> line of its value, or of its key when the value is empty
	given    map[string]bool // field path -> a non-empty value was written
	empty    map[string]bool // field path -> the key was written without a value
	reported map[string]bool // field path -> a problem was already reported for it
}

func newDecoder(file string) *decoder {
	return &decoder{
		file:     file,
		lines:    map[string]int{},
		given:    map[string]bool{},
		empty:    map[string]bool{},
		reported: map[string]bool{},
	}
}

func (d *decoder) add(line int, field, format string, args ...any) {
	d.problems = append(d.problems, &Problem{File: d.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
	d.reported[field] = true
}

// usable reports whether the value at path, and every section holding it, was decoded without
// a problem, so that validating it says something new.
func (d *decoder) usable(path string) bool {
	for p := path; p != ""; p = parent(p) {
		if d.reported[p] {
			return false
		}
	}
	return true
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// decode stores n into v, which is addressable; path names v in problems.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	n = resolve(n)
	d.lines[path] = n.Line
	switch {
	case isNull(n):
		d.add(n.Line, path, "expected %s, got an empty value", expectation(v.Type()))
	case reflect.PointerTo(v.Type()).Implements(unmarshalerType):
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.add(n.Line, path, "%v", err)
		}
	case v.Kind() == reflect.Struct:
		d.mapping(n, v, path)
	case v.Kind() == reflect.Slice:
		d.sequence(n, v, path)
	default:
		if n.Kind != yaml.ScalarNode || n.Decode(v.Addr().Interface()) != nil {
			d.add(n.Line, path, "expected %s, got %s", expectation(v.Type()), describe(n))
		}
	}
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.add(n.Line, path, "expected %s, got %s", expectation(v.Type()), describe(n))
		return
	}
	names, index := fields(v.Type())
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolve(n.Content[i]), n.Content[i+1]
		idx, ok := index[k.Value]
		switch {
		case k.Kind != yaml.ScalarNode:
			d.add(k.Line, "", "keys must be field names, got %s %s; allowed: %s", describe(k), where(path), strings.Join(names, ", "))
			continue
		case !ok:
			d.add(k.Line, "", "field %q is not allowed %s; allowed: %s", k.Value, where(path), strings.Join(names, ", "))
			continue
		}
		child := joinPath(path, k.Value)
		if line, dup := first[k.Value]; dup {
			d.add(k.Line, child, "given twice; the first is at line %d", line)
			continue
		}
		first[k.Value] = k.Line
		if isNull(resolve(val)) {
			d.empty[child] = true
			d.lines[child] = k.Line
			continue
		}
		d.given[child] = true
		d.decode(val, v.Field(idx), child)
		// A section's own node starts at its first entry; the key is where users look for it.
		d.lines[child] = k.Line
	}
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.add(n.Line, path, "expected %s, got %s", expectation(v.Type()), describe(n))
		return
	}
	items := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.given[p] = true
		d.decode(item, items.Index(i), p)
	}
	v.Set(items)
}

// requireAndDefault reports the required fields that were not written and fills in the
// defaults of the optional ones. A field counts as written when it has a value: "warmup: 0s"
// keeps a zero warm-up, "warmup:" gets the default.
func (d *decoder) requireAndDefault(s *Scenario) {
	d.require("name", "field")
	if d.require("load", "section") && d.usable("load") {
		d.require("load.rate", "field")
		d.require("load.duration", "field")
		d.require("load.timeout", "field")
	}
	if d.require("catalog", "section") && d.usable("catalog") {
		d.require("catalog.skus", "field")
	}
	if d.require("slo", "section") && d.usable("slo") {
		d.require("slo.success_ratio", "field")
		d.require("slo.completion_deadline", "field")
	}
	for i := range s.Faults {
		p := fmt.Sprintf("faults[%d]", i)
		if !d.usable(p) {
			continue
		}
		for _, f := range []string{"type", "target", "at", "duration"} {
			d.require(p+"."+f, "field")
		}
	}

	def := func(path string, apply func()) {
		if !d.given[path] {
			apply()
		}
	}
	def("seed", func() { s.Seed = 1 })
	def("architectures", func() { s.Architectures = DefaultArchitectures() })
	def("load.warmup", func() { s.Load.Warmup = Duration(5 * time.Second) })
	def("load.drain", func() { s.Load.Drain = Duration(15 * time.Second) })
	def("load.max_in_flight", func() { s.Load.MaxInFlight = 1000 })
	def("catalog.stock_min", func() { s.Catalog.StockMin = 500 })
	def("catalog.stock_max", func() { s.Catalog.StockMax = 2000 })
	def("catalog.items_max", func() { s.Catalog.ItemsMax = 3 })
	def("catalog.quantity_max", func() { s.Catalog.QuantityMax = 3 })
	def("psp.latency", func() { s.PSP.Latency = Duration(5 * time.Millisecond) })
	def("psp.jitter", func() { s.PSP.Jitter = Duration(5 * time.Millisecond) })
	def("psp.decline_rate", func() { s.PSP.DeclineRate = 0.02 })
	for i := range s.Faults {
		s.Faults[i].applyDefaults()
	}
}

// require reports whether path was given a value, and records a problem when it was not.
func (d *decoder) require(path, noun string) bool {
	switch {
	case d.given[path]:
		return true
	case d.empty[path]:
		d.add(d.lines[path], path, "required %s has no value", noun)
	default:
		// Point at the section that lacks the field, which tells faults apart; a missing
		// top-level field has no line.
		line := 0
		if p := parent(path); p != "" {
			line = d.lines[p]
		}
		d.add(line, path, "required %s is missing", noun)
	}
	return false
}

// fields lists the YAML names of t's fields in declaration order, and maps each to its index.
func fields(t reflect.Type) ([]string, map[string]int) {
	var names []string
	index := map[string]int{}
	for i := range t.NumField() {
		name := t.Field(i).Tag.Get("yaml")
		if name == "" || name == "-" {
			continue
		}
		names = append(names, name)
		index[name] = i
	}
	return names, index
}

// expectation says in words what a value of type t looks like in YAML.
func expectation(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[Duration]():
		return durationHint
	case t.Kind() == reflect.Struct:
		names, _ := fields(t)
		return "a mapping with the fields " + strings.Join(names, ", ")
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		names, _ := fields(t.Elem())
		return "a list of mappings with the fields " + strings.Join(names, ", ")
	case t.Kind() == reflect.Slice:
		return "a list of " + strings.TrimPrefix(expectation(t.Elem()), "a ") + "s"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Float64:
		return "a number"
	default:
		return "a whole number"
	}
}

// describe says in words what n holds, for "expected X, got Y".
func describe(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case isNull(n):
		return "an empty value"
	case n.ShortTag() == "!!str":
		return fmt.Sprintf("the string %q", n.Value)
	default:
		return n.Value
	}
}

func where(path string) string {
	if path == "" {
		return "at the top level"
	}
	return "in " + path
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// parent returns the path of the section or list holding path: "load" for "load.rate",
// "faults" for "faults[0]", "" for a top-level field.
func parent(path string) string {
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return ""
}

// resolve follows YAML aliases (*name) to the node they stand for.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}
