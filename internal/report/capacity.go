package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// CapacitySchemaVersion is bumped whenever a field of CapacitySearch
// changes meaning or is removed.
const CapacitySchemaVersion = 1

// CapacityFile is the file `testbed capacity` writes its search into.
const CapacityFile = "capacity.json"

// CapacitySearch is a search for the highest rate each architecture
// sustains with the SLO met: the throughput the paper's Table 1 means.
type CapacitySearch struct {
	SchemaVersion int       `json:"schema_version"`
	ID            string    `json:"id"`
	Scenario      string    `json:"scenario"`
	ScenarioFile  string    `json:"scenario_file"`
	ScenarioSHA   string    `json:"scenario_sha256"`
	Started       time.Time `json:"started"`
	Ended         time.Time `json:"ended"`
	// Step is how long each rate was held and measured, after a warm-up
	// of a fifth of it.
	Step time.Duration `json:"step_ns"`
	SLO  SLO           `json:"slo"`
	// AcceptP99 bounds the accept latency p99 of a passing step; 0 for
	// no bound.
	AcceptP99  time.Duration `json:"accept_p99_bound_ns"`
	Provenance Provenance    `json:"provenance"`
	// Notes say how the search departs from the scenario it was given.
	Notes         []string       `json:"notes,omitempty"`
	Architectures []CapacityArch `json:"architectures"`
}

// CapacityArch is the search on one architecture.
type CapacityArch struct {
	Name string `json:"name"`
	// PerSec is the highest rate of a passing step, in orders per second;
	// 0 when no step passed.
	PerSec float64 `json:"capacity_per_sec"`
	// Error says why the search stopped early, when it did.
	Error string         `json:"error,omitempty"`
	Steps []CapacityStep `json:"steps"`
}

// CapacityStep is one rate held for one step.
type CapacityStep struct {
	Rate float64 `json:"rate"`
	// Counts of the measured part of the step, by intended send time.
	Offered             int64 `json:"offered"`
	Accepted            int64 `json:"accepted"`
	CompletedInDeadline int64 `json:"completed_in_deadline"`
	// AcceptedPct and CompletedPct are shares of Offered.
	AcceptedPct  float64 `json:"accepted_pct"`
	CompletedPct float64 `json:"completed_in_deadline_pct"`
	AcceptP99    float64 `json:"accept_p99_ms"`
	Passed       bool    `json:"passed"`
	// Why names what a failed step missed.
	Why string `json:"why,omitempty"`
}

// For returns the capacity found for arch, false when there is none.
func (c *CapacitySearch) For(arch string) (float64, bool) {
	for _, a := range c.Architectures {
		if a.Name == arch && a.PerSec > 0 {
			return a.PerSec, true
		}
	}
	return 0, false
}

// WriteCapacity writes c to dir/capacity.json, creating dir if needed.
func WriteCapacity(dir string, c *CapacitySearch) error {
	if c.SchemaVersion != CapacitySchemaVersion {
		return fmt.Errorf("write capacity: schema_version %d, want %d", c.SchemaVersion, CapacitySchemaVersion)
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encode capacity: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write capacity: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, CapacityFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write capacity: %w", err)
	}
	return nil
}

// ReadCapacity reads a capacity.json, refusing a schema_version other than
// CapacitySchemaVersion.
func ReadCapacity(path string) (*CapacitySearch, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read capacity: %w", err)
	}
	var v struct {
		SchemaVersion *int `json:"schema_version"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("read capacity %s: %w", path, err)
	}
	if v.SchemaVersion == nil || *v.SchemaVersion != CapacitySchemaVersion {
		return nil, fmt.Errorf("read capacity %s: schema_version is not %d", path, CapacitySchemaVersion)
	}
	var c CapacitySearch
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("read capacity %s: %w", path, err)
	}
	return &c, nil
}
