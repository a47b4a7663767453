package run

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edatestbed/testbed/internal/pgserver"
	"github.com/edatestbed/testbed/internal/report"
	"github.com/edatestbed/testbed/scenarios"
)

// TestBaselinesEndToEnd runs one short crash of inventory through all four
// architectures side by side: the replicated monolith rides out the crash
// of one replica, the plain monolith and the synchronous chain do not, and
// every architecture's end state is checked.
func TestBaselinesEndToEnd(t *testing.T) {
	endToEnd(t)
	file := "testdata/baselines-crash-short.yaml"
	_, pgErr := pgserver.Find()
	if pgErr != nil {
		file = withoutArchitecture(t, file, scenarios.ArchitectureMonolithHA)
	}
	sc, err := scenarios.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	s, dir := runScenario(t, file)
	archs := map[string]report.Arch{}
	for _, a := range s.Architectures {
		archs[a.Name] = a
	}
	for _, name := range sc.Architectures {
		if archs[name].Offered == 0 || archs[name].Offered != archs[scenarios.ArchitectureEDA].Offered {
			t.Errorf("%s was offered %d orders, the eda %d: want the same non-zero load", name, archs[name].Offered, archs[scenarios.ArchitectureEDA].Offered)
		}
	}
	if len(s.Faults) != 1 {
		t.Fatalf("faults in summary = %d, want 1", len(s.Faults))
	}
	hits := map[string]report.Hit{}
	for _, h := range s.Faults[0].Mapping {
		hits[h.Arch] = h
		if h.Injected.IsZero() || !h.Healed.After(h.Injected) {
			t.Errorf("%s: fault not injected and healed: %+v", h.Arch, h)
		}
	}
	slo := sc.SLO.SuccessRatio

	t.Run("monolith", func(t *testing.T) {
		if r := acceptedUnderFault(t, archs[scenarios.ArchitectureMonolith]); r >= slo {
			t.Errorf("the monolith accepted %.0f%% of orders while it was down; want below the SLO's %.0f%%", 100*r, 100*slo)
		}
	})
	t.Run("monolith-ha", func(t *testing.T) {
		if pgErr != nil {
			t.Skip("monolith-ha needs PostgreSQL:", pgErr)
		}
		if h := hits[scenarios.ArchitectureMonolithHA]; h.Component != "replica-1" || !strings.Contains(h.Note, "replica-1 only") {
			t.Errorf("fault mapping = %+v; want replica-1 hit and the note saying the others carry on", h)
		}
		if r := acceptedUnderFault(t, archs[scenarios.ArchitectureMonolithHA]); r < slo {
			t.Errorf("monolith-ha accepted %.0f%% of orders while one replica was down; want at least the SLO's %.0f%%\n%s", 100*r, 100*slo, perSecond(archs[scenarios.ArchitectureMonolithHA]))
		}
		// The run started and removed its PostgreSQL server: its process is
		// checked by runScenario, its port here.
		var cfg pgserver.Config
		b, err := os.ReadFile(filepath.Join(dir, scenarios.ArchitectureMonolithHA, "config", "postgres.json"))
		if err == nil {
			err = json.Unmarshal(b, &cfg)
		}
		if err != nil {
			t.Fatal(err)
		}
		if conn, err := net.DialTimeout("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)), time.Second); err == nil {
			conn.Close()
			t.Errorf("PostgreSQL still listening on %s:%d after the run", cfg.Host, cfg.Port)
		}
	})
	t.Run("sync-services", func(t *testing.T) {
		if h := hits[scenarios.ArchitectureSyncServices]; h.Component != "inventory" {
			t.Errorf("fault mapping = %+v; want inventory hit", h)
		}
		// Splitting into services is not what buys availability: no order
		// gets through while a service on its synchronous path is down.
		if r := acceptedUnderFault(t, archs[scenarios.ArchitectureSyncServices]); r >= slo {
			t.Errorf("sync-services accepted %.0f%% of orders while inventory was down; want below the SLO's %.0f%%", 100*r, 100*slo)
		}
	})
	t.Run("checkers", func(t *testing.T) {
		ran := map[string]map[string]report.Check{}
		for _, c := range s.Checks {
			if ran[c.Arch] == nil {
				ran[c.Arch] = map[string]report.Check{}
			}
			ran[c.Arch][c.Name] = c
		}
		for _, arch := range sc.Architectures {
			for _, name := range []string{"lost", "terminal", "duplicated", "stock", "money"} {
				c, ok := ran[arch][name]
				switch {
				case !ok:
					t.Errorf("no %s checker ran on %s", name, arch)
				case c.Checked == 0:
					t.Errorf("%s/%s looked at nothing: %s", arch, name, c.Detail)
				case !c.Passed && arch != scenarios.ArchitectureEDA && arch != scenarios.ArchitectureMonolith:
					// The baselines are new here; the others have tests of
					// their own.
					t.Errorf("%s/%s failed: %s", arch, name, c.Detail)
				}
			}
		}
	})
}

// withoutArchitecture writes a copy of a scenario file without arch.
func withoutArchitecture(t *testing.T, file, arch string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := strings.Replace(string(b), ", "+arch, "", 1)
	if out == string(b) {
		t.Fatalf("%s does not list %s", file, arch)
	}
	path := filepath.Join(t.TempDir(), filepath.Base(file))
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// perSecond lays out an architecture's seconds for a failure message: a
// fault window that fails alone points at the fault, failures before the
// fault too at a machine that could not carry the load.
func perSecond(a report.Arch) string {
	var b strings.Builder
	b.WriteString("  t  offered accepted fault accept p50 (ms)\n")
	for _, s := range a.Seconds {
		fmt.Fprintf(&b, "%3d %8d %8d %5t %10.1f\n", s.T, s.Offered, s.Accepted, s.FaultActive, s.AcceptP50)
	}
	return b.String()
}
