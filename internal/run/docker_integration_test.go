//go:build integration

package run

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edatestbed/testbed/internal/report"
	"github.com/edatestbed/testbed/internal/runtime/docker"
)

// TestDockerRuntime runs the short crash and partition scenarios with
// every component in a container and holds them to what the local runtime
// is held to; afterwards nothing labelled by the run may be left. Run by
// .ci/run with -tags integration; without a Docker engine it skips.
func TestDockerRuntime(t *testing.T) {
	endToEnd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := docker.Available(ctx); err != nil {
		t.Skipf("no Docker engine answers, so the docker runtime cannot run (the local runtime needs none): %v", err)
	}
	tests := []struct {
		file string
		hit  map[string]string
	}{
		{"testdata/crash-short.yaml", map[string]string{"eda": "inventory", "monolith": "monolith"}},
		{"testdata/partition-short.yaml", map[string]string{"eda": "payment | broker-1, broker-2, broker-3, psp", "monolith": "monolith | psp"}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			s, dir := runScenarioOn(t, tt.file, RuntimeDocker)
			if s.Provenance.Runtime != docker.Name {
				t.Errorf("provenance runtime %q, want %q", s.Provenance.Runtime, docker.Name)
			}
			left, err := docker.Resources(context.Background(), filepath.Base(dir))
			if err != nil {
				t.Fatal(err)
			}
			if len(left) > 0 {
				t.Fatalf("left after the run:\n%s", strings.Join(left, "\n"))
			}
			checkFaultRun(t, tt.file, tt.hit, s, dir)
			for _, c := range s.Checks {
				if !c.Passed {
					t.Errorf("check %s on %s failed: %s", c.Name, c.Arch, c.Detail)
				}
			}
			names := map[string]bool{}
			for _, a := range s.Architectures {
				names[a.Name] = true
			}
			if !names["eda"] || !names["monolith"] {
				t.Errorf("report covers %v, want eda and monolith", names)
			}
			if _, err := report.ReadSummary(filepath.Join(dir, report.SummaryFile)); err != nil {
				t.Error(err)
			}
		})
	}
}
