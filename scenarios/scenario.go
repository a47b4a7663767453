// Package scenarios loads and validates the YAML files that describe a testbed run: the load
// offered to both architectures, the catalog and payment provider they work against, the SLO
// that decides when a second counts as "up", and the faults injected during the measured period.
//
// Loading is strict: unknown fields, wrong types, missing required fields and out-of-range
// values are all errors, and every problem in a file is reported at once as a *Problem naming
// the file, the line, the field and what is allowed.
package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/edatestbed/testbed/system/domain"
)

// Allowed values of the enumerated fields.
const (
	// FaultServiceCrash kills one component and, by default, restarts it after the fault's duration.
	FaultServiceCrash = "service-crash"
	// FaultPause freezes a component (SIGSTOP) and thaws it (SIGCONT) at the end: a gray
	// failure, its connections stay open but nothing answers.
	FaultPause = "pause"
	// FaultNetworkPartition cuts the target off from its peers for the fault's duration.
	FaultNetworkPartition = "network-partition"
	// FaultNodeLoss kills every process of the node that holds the target, broker node included.
	FaultNodeLoss = "node-loss"
	// FaultLatency slows the target's links down.
	FaultLatency = "latency"
	// FaultBrokerLoss removes broker nodes from the cluster, busiest leaders first.
	FaultBrokerLoss = "broker-loss"
	// FaultPoisonMessage publishes malformed events into the topic the target consumes.
	FaultPoisonMessage = "poison-message"
	// FaultLoadSpike multiplies the offered rate for the fault's window.
	FaultLoadSpike = "load-spike"

	// RestartAfterDuration brings a crashed component back when the fault's duration is over.
	RestartAfterDuration = "after-duration"
	// RestartNever leaves a crashed component down until the run ends.
	RestartNever = "never"
	// RestartSupervisor restarts a crashed component at once, as a process supervisor would,
	// retrying with exponential backoff; the fault's duration only bounds its window.
	RestartSupervisor = "supervisor"

	// ModeBlackhole drops the traffic of a partitioned link: peers wait for timeouts.
	ModeBlackhole = "blackhole"
	// ModeReject refuses and resets the connections of a partitioned link.
	ModeReject = "reject"

	// DirectionBoth cuts traffic both ways.
	DirectionBoth = "both"
	// DirectionOneWay drops only what the target sends; what it receives still arrives.
	DirectionOneWay = "one-way"

	// DiskKept brings a lost node back with its data.
	DiskKept = "kept"
	// DiskLost brings a lost node back with empty disks.
	DiskLost = "lost"

	// TargetBroker is the message broker, the target of broker-loss.
	TargetBroker = "broker"
	// PeerBroker and PeerPSP name the links a partition or latency fault can be limited to.
	PeerBroker = "broker"
	PeerPSP    = "psp"

	// ArchitectureEDA is the event-driven system (services over Kafka).
	ArchitectureEDA = "eda"
	// ArchitectureMonolith is the synchronous single-process baseline.
	ArchitectureMonolith = "monolith"
	// ArchitectureMonolithHA is the monolith replicated behind a load balancer, every replica
	// on one PostgreSQL server.
	ArchitectureMonolithHA = "monolith-ha"
	// ArchitectureSyncServices is the same four services as the EDA calling each other
	// synchronously over HTTP.
	ArchitectureSyncServices = "sync-services"
)

// FaultTypes returns the allowed values of faults[].type.
func FaultTypes() []string {
	return []string{FaultServiceCrash, FaultPause, FaultNetworkPartition, FaultNodeLoss, FaultLatency, FaultBrokerLoss, FaultPoisonMessage, FaultLoadSpike}
}

// Targets returns the allowed values of faults[].target: the capabilities a fault can hit. Each
// architecture maps a capability to whatever implements it (a service in the EDA, a module of
// the monolith process).
func Targets() []string {
	return []string{"order", "inventory", "payment", "shipping", "order-view", TargetBroker}
}

// Modes returns the allowed values of faults[].mode.
func Modes() []string { return []string{ModeBlackhole, ModeReject} }

// Directions returns the allowed values of faults[].direction.
func Directions() []string { return []string{DirectionBoth, DirectionOneWay} }

// Disks returns the allowed values of faults[].disk.
func Disks() []string { return []string{DiskKept, DiskLost} }

// Peers returns the allowed values of faults[].peers.
// A single broker node is named broker-1, broker-2 or broker-3, to split a
// service from some nodes of the cluster and not others.
func Peers() []string { return []string{PeerBroker, PeerPSP, "broker-1", "broker-2", "broker-3"} }

// ArchitectureNames returns the allowed values of architectures.
func ArchitectureNames() []string {
	return []string{ArchitectureEDA, ArchitectureMonolith, ArchitectureMonolithHA, ArchitectureSyncServices}
}

// DefaultArchitectures returns what a scenario without architectures runs: the two of the seed
// paper.
func DefaultArchitectures() []string { return []string{ArchitectureEDA, ArchitectureMonolith} }

// RestartPolicies returns the allowed values of faults[].restart.
func RestartPolicies() []string {
	return []string{RestartAfterDuration, RestartNever, RestartSupervisor}
}

// Comparisons returns the allowed values of compares_to: the scenarios of the seed paper a
// run's report can be set beside.
func Comparisons() []string {
	return []string{"baseline", "single-service-failure", "network-partition", "hardware-failure"}
}

// Duration is a time.Duration written in YAML as a Go duration string ("20s", "1m30s", "250ms").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d the way it is written in YAML.
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML parses a Go duration string. A bare number other than 0 is rejected: "20" could
// mean seconds or milliseconds, and guessing would silently change a run.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected %s, got %s", durationHint, describe(n))
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("invalid duration %q; use %s", n.Value, durationHint)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes d as a Go duration string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

const durationHint = "a Go duration such as 20s, 1m30s or 250ms"

// Scenario is one run's description, as loaded from a YAML file.
type Scenario struct {
	Name          string   `yaml:"name"`          // required; lowercase letters, digits and dashes
	Description   string   `yaml:"description"`   // optional, shown by `testbed list`
	Seed          int64    `yaml:"seed"`          // default 1; drives every random choice of the run
	ComparesTo    string   `yaml:"compares_to"`   // optional; one of Comparisons()
	Architectures []string `yaml:"architectures"` // default DefaultArchitectures(); from ArchitectureNames(), no duplicates

	Load    LoadProfile `yaml:"load"`    // required section
	Catalog Catalog     `yaml:"catalog"` // required section
	PSP     PSP         `yaml:"psp"`     // optional section
	SLO     SLO         `yaml:"slo"`     // required section
	Faults  []Fault     `yaml:"faults"`  // optional; none means a fault-free baseline

	Path string `yaml:"-"` // file it was loaded from
	Raw  []byte `yaml:"-"` // exact bytes of that file (copied into the run bundle, hashed)

	// lines maps a field path ("load.rate", "faults[0]") to its line in Raw, so that Validate
	// can point at the line of a value that was loaded from a file.
	lines map[string]int
}

// LoadProfile is the open-model load offered to each architecture. (It is not called Load
// because the package's Load function owns that name.)
type LoadProfile struct {
	Rate        float64  `yaml:"rate"`          // required; orders per second per architecture, > 0, <= 100000
	Warmup      Duration `yaml:"warmup"`        // default 5s; >= 0, load sent but not measured
	Duration    Duration `yaml:"duration"`      // required; > 0, the measured period
	Drain       Duration `yaml:"drain"`         // default 15s; >= 0, after the load stops, time for backlogs to finish
	Timeout     Duration `yaml:"timeout"`       // required; > 0, per-request timeout
	MaxInFlight int      `yaml:"max_in_flight"` // default 1000; > 0
}

// Catalog is the product catalog both architectures start with.
type Catalog struct {
	SKUs        int `yaml:"skus"`         // required; > 0
	StockMin    int `yaml:"stock_min"`    // default 500; >= 0
	StockMax    int `yaml:"stock_max"`    // default 2000; >= stock_min
	ItemsMax    int `yaml:"items_max"`    // default 3; >= 1: lines per order drawn in [1, items_max]
	QuantityMax int `yaml:"quantity_max"` // default 3; >= 1
}

// CatalogConfig is the catalogue a run of the scenario starts every
// architecture from, and the one its checkers read the end state against.
func (s *Scenario) CatalogConfig() domain.CatalogConfig {
	c := s.Catalog
	return domain.CatalogConfig{Seed: s.Seed, SKUs: c.SKUs, StockMin: c.StockMin, StockMax: c.StockMax, ItemsMax: c.ItemsMax, QuantityMax: c.QuantityMax}
}

// PSP configures the simulated external payment provider.
type PSP struct {
	Latency     Duration `yaml:"latency"`      // default 5ms; >= 0, base latency of a charge
	Jitter      Duration `yaml:"jitter"`       // default 5ms; >= 0, uniform extra latency in [0, jitter)
	DeclineRate float64  `yaml:"decline_rate"` // default 0.02; in [0, 1]
}

// SLO decides which seconds of a run count as available.
type SLO struct {
	SuccessRatio       float64  `yaml:"success_ratio"`       // required; in (0, 1]: a 1 s window is "up" when at least this share succeeded
	CompletionDeadline Duration `yaml:"completion_deadline"` // required; > 0
}

// Fault is one fault injected during the measured period.
type Fault struct {
	Type     string   `yaml:"type"`     // required; one of FaultTypes()
	Target   string   `yaml:"target"`   // required; a capability, one of Targets()
	At       Duration `yaml:"at"`       // required; >= 0, measured from the start of the measured period (after warm-up)
	Duration Duration `yaml:"duration"` // required; > 0: how long the fault lasts
	// service-crash, node-loss: default after-duration; one of RestartPolicies().
	Restart string `yaml:"restart"`
	// network-partition: default blackhole; one of Modes().
	Mode string `yaml:"mode"`
	// network-partition: default both; one of Directions().
	Direction string `yaml:"direction"`
	// network-partition, latency: which of the target's links; default all; from Peers().
	Peers []string `yaml:"peers"`
	// node-loss: default kept; one of Disks().
	Disk string `yaml:"disk"`
	// latency: added to every chunk of data each way (> 0), and up to jitter more (>= 0).
	Delay  Duration `yaml:"delay"`
	Jitter Duration `yaml:"jitter"`
	// latency: bandwidth cap in KiB/s each way; 0 means none.
	Bandwidth int `yaml:"bandwidth"`
	// latency: share of connections, in [0, 1), that go silent for the
	// fault's duration (connection-level loss: the proxies see streams,
	// not packets); 0 means none.
	Loss float64 `yaml:"loss"`
	// broker-loss: how many broker nodes to remove, default 1; fewer than the cluster has.
	Brokers int `yaml:"brokers"`
	// poison-message: how many malformed events to publish, default 10, at most 10000.
	Messages int `yaml:"messages"`
	// load-spike: the offered rate is multiplied by this during the window, default 3;
	// in (0, 100], below 1 is a lull.
	Factor float64 `yaml:"factor"`
}

// faultFields says which optional fields apply to which fault type, and their defaults.
var faultFields = map[string]map[string]func(*Fault){
	FaultServiceCrash: {"restart": func(f *Fault) { f.Restart = RestartAfterDuration }},
	FaultNodeLoss: {
		"restart": func(f *Fault) { f.Restart = RestartAfterDuration },
		"disk":    func(f *Fault) { f.Disk = DiskKept },
	},
	FaultNetworkPartition: {
		"mode":      func(f *Fault) { f.Mode = ModeBlackhole },
		"direction": func(f *Fault) { f.Direction = DirectionBoth },
		"peers":     func(f *Fault) { f.Peers = []string{PeerBroker, PeerPSP} },
	},
	FaultLatency: {
		"peers":     func(f *Fault) { f.Peers = []string{PeerBroker, PeerPSP} },
		"delay":     nil, // required
		"jitter":    nil,
		"bandwidth": nil,
		"loss":      nil,
	},
	FaultBrokerLoss:    {"brokers": func(f *Fault) { f.Brokers = 1 }},
	FaultPoisonMessage: {"messages": func(f *Fault) { f.Messages = 10 }},
	FaultLoadSpike:     {"factor": func(f *Fault) { f.Factor = 3 }},
	FaultPause:         {},
}

// Total returns how long a run of s lasts: warm-up, measured period and drain.
func (s *Scenario) Total() time.Duration {
	return s.Load.Warmup.D() + s.Load.Duration.D() + s.Load.Drain.D()
}

// Load reads the scenario file at path and parses it with Parse.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes data strictly, applies the defaults and validates the result. path names the
// file in problems and is kept in Scenario.Path. On failure the error joins one *Problem per
// problem found, ordered by line; the returned scenario is nil.
func Parse(path string, data []byte) (*Scenario, error) {
	root, p := document(path, data)
	if p != nil {
		return nil, p
	}
	s := &Scenario{Path: path, Raw: bytes.Clone(data)}
	d := newDecoder(path)
	d.decode(root, reflect.ValueOf(s).Elem(), "")
	d.requireAndDefault(s)
	s.lines = d.lines
	problems := append(d.problems, s.validate(d.usable)...)
	if len(problems) > 0 {
		return nil, join(problems)
	}
	return s, nil
}

const emptyFile = "file is empty; a scenario needs at least name, load, catalog and slo"

// document parses data into the node of its single YAML document.
func document(path string, data []byte) (*yaml.Node, *Problem) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Problem{File: path, Msg: emptyFile}
		}
		return nil, syntaxProblem(path, data, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, syntaxProblem(path, data, err)
	default:
		return nil, &Problem{File: path, Line: next.Line, Msg: "a second YAML document starts here; put one scenario per file"}
	}
	root := resolve(doc.Content[0])
	if isNull(root) {
		return nil, &Problem{File: path, Msg: emptyFile}
	}
	if root.Kind != yaml.MappingNode {
		names, _ := fields(reflect.TypeFor[Scenario]())
		return nil, &Problem{File: path, Line: root.Line, Msg: fmt.Sprintf("expected a mapping of scenario fields (%s), got %s", strings.Join(names, ", "), describe(root))}
	}
	return root, nil
}

// syntaxProblem turns a yaml.v3 parse error ("yaml: line 3: did not find expected key") into a
// Problem at the line where the document stops parsing.
func syntaxProblem(path string, data []byte, err error) *Problem {
	line, msg := splitLine(err)
	if at := breakingLine(data, msg); at > 0 {
		line = at
	}
	return &Problem{File: path, Line: line, Msg: "invalid YAML: " + msg}
}

// splitLine separates the line number from the message of a yaml.v3 error.
func splitLine(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(n); err == nil {
				return line, after
			}
		}
	}
	return 0, msg
}

// breakingLine returns the first line whose addition makes data fail to parse with msg, or 0.
// yaml.v3 reports a parser error at the line before the enclosing block starts, which can be
// far from the mistake; the shortest failing prefix points at the mistake itself. Prefixes
// failing with another message (an unclosed flow mapping that a later line closes) are skipped.
func breakingLine(data []byte, msg string) int {
	end := 0
	for i, l := range bytes.SplitAfter(data, []byte("\n")) {
		end += len(l)
		dec := yaml.NewDecoder(bytes.NewReader(data[:end]))
		for {
			var n yaml.Node
			err := dec.Decode(&n)
			if err == nil {
				continue
			}
			if _, m := splitLine(err); !errors.Is(err, io.EOF) && m == msg {
				return i + 1
			}
			break
		}
	}
	return 0
}

// List loads every *.yaml file directly in dir and returns the scenarios that are valid, sorted
// by name. The error joins the problems of every file that is not, and flags a name used by
// more than one file (the later file, in path order, is left out).
func List(dir string) ([]*Scenario, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list scenarios: %w", err)
	}
	var (
		out  []*Scenario
		errs []error
		seen = map[string]string{}
	)
	for _, e := range entries {
		if e.IsDir() || filepath.Ext(e.Name()) != ".yaml" {
			continue
		}
		s, err := Load(filepath.Join(dir, e.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if first, ok := seen[s.Name]; ok {
			errs = append(errs, &Problem{
				File: s.Path, Line: s.lines["name"], Field: "name",
				Msg: fmt.Sprintf("%q is already the name of %s; names must be unique", s.Name, first),
			})
			continue
		}
		seen[s.Name] = s.Path
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, errors.Join(errs...)
}

// applyDefaults fills the unset optional fields that apply to f's type.
// Fields of other types stay zero, so that Validate can tell a value the
// file gave from a default.
func (f *Fault) applyDefaults() {
	for field, def := range faultFields[f.Type] {
		if def != nil && f.isZero(field) {
			def(f)
		}
	}
}

// isZero reports whether the optional field is unset.
func (f *Fault) isZero(field string) bool {
	switch field {
	case "restart":
		return f.Restart == ""
	case "mode":
		return f.Mode == ""
	case "direction":
		return f.Direction == ""
	case "peers":
		return len(f.Peers) == 0
	case "disk":
		return f.Disk == ""
	case "delay":
		return f.Delay == 0
	case "jitter":
		return f.Jitter == 0
	case "bandwidth":
		return f.Bandwidth == 0
	case "loss":
		return f.Loss == 0
	case "brokers":
		return f.Brokers == 0
	case "messages":
		return f.Messages == 0
	case "factor":
		return f.Factor == 0
	}
	return true
}

// optionalFaultFields lists the type-specific fields in file order.
var optionalFaultFields = []string{"restart", "mode", "direction", "peers", "disk", "delay", "jitter", "bandwidth", "loss", "brokers", "messages", "factor"}
