package scenarios

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite the golden .err files in testdata/bad")

func TestBadGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no files in testdata/bad")
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			s, err := Load(path)
			if err == nil {
				t.Fatalf("Load(%s) = %+v, want an error", path, s)
			}
			if s != nil {
				t.Errorf("Load(%s) returned a scenario along with the error", path)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, path+":") {
					t.Errorf("problem does not name the file: %q", line)
				}
			}
			if n := len(Problems(err)); n != strings.Count(err.Error(), "\n")+1 {
				t.Errorf("Problems found %d problems in %d lines of error", n, strings.Count(err.Error(), "\n")+1)
			}
			golden := strings.TrimSuffix(path, ".yaml") + ".err"
			got := err.Error() + "\n"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("Load(%s) error:\n%s\nwant (%s):\n%s", path, got, golden, want)
			}
		})
	}
}

// TestBadGoldenOrphans keeps testdata/bad free of .err files whose scenario was removed.
func TestBadGoldenOrphans(t *testing.T) {
	goldens, err := filepath.Glob("testdata/bad/*.err")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range goldens {
		if _, err := os.Stat(strings.TrimSuffix(g, ".err") + ".yaml"); err != nil {
			t.Errorf("%s has no scenario next to it", g)
		}
	}
}

func TestGoodFilesLoad(t *testing.T) {
	var files []string
	for _, pattern := range []string{"*.yaml", "testdata/good/*.yaml"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 4 {
		t.Fatalf("found only %v", files)
	}
	for _, path := range files {
		t.Run(path, func(t *testing.T) {
			s, err := Load(path)
			if err != nil {
				t.Fatalf("Load:\n%v", err)
			}
			if want := strings.TrimSuffix(filepath.Base(path), ".yaml"); s.Name != want {
				t.Errorf("name = %q, want the file name %q", s.Name, want)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if s.Path != path || !bytes.Equal(s.Raw, raw) {
				t.Errorf("Path = %q, Raw of %d bytes; want %q and the file's %d bytes", s.Path, len(s.Raw), path, len(raw))
			}
			if err := s.Validate(); err != nil {
				t.Errorf("Validate after Load:\n%v", err)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	s, err := Load("testdata/good/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := Scenario{
		Name:          "minimal",
		Seed:          1,
		Architectures: []string{"eda", "monolith"},
		Load: LoadProfile{
			Rate: 10, Warmup: Duration(5 * time.Second), Duration: Duration(30 * time.Second),
			Drain: Duration(15 * time.Second), Timeout: Duration(time.Second), MaxInFlight: 1000,
		},
		Catalog: Catalog{SKUs: 5, StockMin: 500, StockMax: 2000, ItemsMax: 3, QuantityMax: 3},
		PSP:     PSP{Latency: Duration(5 * time.Millisecond), Jitter: Duration(5 * time.Millisecond), DeclineRate: 0.02},
		SLO:     SLO{SuccessRatio: 0.9, CompletionDeadline: Duration(3 * time.Second)},
	}
	assertValues(t, s, want)
}

// TestExplicitZeroIsKept checks that a field written as zero does not get its default.
func TestExplicitZeroIsKept(t *testing.T) {
	s, err := Load("testdata/good/restart-never.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Load.Warmup != 0 || s.Load.Drain != 0 || s.Catalog.StockMin != 0 || s.Catalog.StockMax != 0 {
		t.Errorf("warmup %s drain %s stock %d..%d, want all zero as written", s.Load.Warmup, s.Load.Drain, s.Catalog.StockMin, s.Catalog.StockMax)
	}
	if s.Faults[0].Restart != RestartNever || s.Faults[0].At != 0 {
		t.Errorf("faults[0] = %+v, want restart never at 0s", s.Faults[0])
	}

	s, err = Load("testdata/good/single-architecture.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Seed != 0 || s.PSP.Latency != 0 || s.PSP.Jitter != 0 {
		t.Errorf("seed %d, psp %s/%s, want 0 as written", s.Seed, s.PSP.Latency, s.PSP.Jitter)
	}
}

func TestServiceCrash(t *testing.T) {
	s, err := Load("service-crash.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := Scenario{
		Name:          "service-crash",
		Description:   "Inventory crashes for 15 s in the middle of the run, then restarts.",
		Seed:          1,
		ComparesTo:    "single-service-failure",
		Architectures: []string{"eda", "monolith"},
		Load: LoadProfile{
			Rate: 100, Warmup: Duration(5 * time.Second), Duration: Duration(time.Minute),
			Drain: Duration(15 * time.Second), Timeout: Duration(2 * time.Second), MaxInFlight: 1000,
		},
		Catalog: Catalog{SKUs: 50, StockMin: 500, StockMax: 2000, ItemsMax: 3, QuantityMax: 3},
		PSP:     PSP{Latency: Duration(5 * time.Millisecond), Jitter: Duration(5 * time.Millisecond), DeclineRate: 0.02},
		SLO:     SLO{SuccessRatio: 0.95, CompletionDeadline: Duration(5 * time.Second)},
		Faults: []Fault{{
			Type: "service-crash", Target: "inventory", At: Duration(20 * time.Second),
			Duration: Duration(15 * time.Second), Restart: "after-duration",
		}},
	}
	assertValues(t, s, want)
	if got := s.Total(); got != 80*time.Second {
		t.Errorf("Total() = %s, want 1m20s", got)
	}
}

// TestParseProblems covers shapes of input that are awkward to keep as files.
func TestParseProblems(t *testing.T) {
	const rest = "catalog: {skus: 1}\nslo: {success_ratio: 1, completion_deadline: 1s}\n"
	tests := []struct {
		name, in, want string
	}{
		{
			name: "section of the wrong type",
			in:   "name: x\nload: fast\n" + rest,
			want: `t.yaml:2: load: expected a mapping with the fields rate, warmup, duration, drain, timeout, max_in_flight, got the string "fast"`,
		},
		{
			name: "faults not a list",
			in:   "name: x\nload: {rate: 1, duration: 1m, timeout: 1s}\n" + rest + "faults: {type: service-crash}\n",
			want: "t.yaml:5: faults: expected a list of mappings with the fields type, target, at, duration, restart, mode, direction, peers, disk, delay, jitter, bandwidth, loss, brokers, messages, factor, got a mapping",
		},
		{
			name: "empty and scalar list items",
			in:   "name: x\nload: {rate: 1, duration: 1m, timeout: 1s}\n" + rest + "faults:\n  -\n  - 3\narchitectures: [eda, ~]\n",
			want: "t.yaml:6: faults[0]: expected a mapping with the fields type, target, at, duration, restart, mode, direction, peers, disk, delay, jitter, bandwidth, loss, brokers, messages, factor, got an empty value\n" +
				"t.yaml:7: faults[1]: expected a mapping with the fields type, target, at, duration, restart, mode, direction, peers, disk, delay, jitter, bandwidth, loss, brokers, messages, factor, got 3\n" +
				"t.yaml:8: architectures[1]: expected a string, got an empty value",
		},
		{
			name: "quoted number, overflow, NaN and infinity",
			in:   "name: x\nload: {rate: \"5\", duration: 1m, timeout: 1s, max_in_flight: 99999999999999999999}\ncatalog: {skus: 1}\nslo: {success_ratio: .nan, completion_deadline: 1s}\npsp: {decline_rate: .inf}\n",
			want: `t.yaml:2: load.rate: expected a number, got the string "5"` + "\n" +
				"t.yaml:2: load.max_in_flight: expected a whole number, got 99999999999999999999\n" +
				"t.yaml:4: slo.success_ratio: must be greater than 0 and at most 1, got NaN\n" +
				"t.yaml:5: psp.decline_rate: must be between 0 and 1, got +Inf",
		},
		{
			name: "key that is not a name",
			in:   "name: x\n? [a]\n: 1\nload: {rate: 1, duration: 1m, timeout: 1s}\n" + rest,
			want: "t.yaml:2: keys must be field names, got a list at the top level; allowed: name, description, seed, compares_to, architectures, load, catalog, psp, slo, faults",
		},
		{
			name: "explicit empty architectures",
			in:   "name: x\narchitectures: []\nload: {rate: 1, duration: 1m, timeout: 1s}\n" + rest,
			want: "t.yaml:2: architectures: must name at least one architecture; allowed: eda, monolith, monolith-ha, sync-services",
		},
		{
			name: "unclosed flow mapping",
			in:   "name: x\nload: {rate: 5,\n  duration: 1m\n  timeout: 1s}\n" + rest,
			want: "t.yaml:3: invalid YAML: did not find expected ',' or '}'",
		},
		{
			name: "document marker only",
			in:   "---\n",
			want: "t.yaml: " + emptyFile,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tt.in))
			if err == nil || err.Error() != tt.want {
				t.Errorf("Parse(%q) error:\n%v\nwant:\n%s", tt.in, err, tt.want)
			}
		})
	}
}

func TestDefaultRestartWhenEmpty(t *testing.T) {
	data := []byte(`name: x
load: {rate: 1, duration: 10s, timeout: 1s}
catalog: {skus: 1}
slo: {success_ratio: 1, completion_deadline: 1s}
faults:
  - {type: service-crash, target: payment, at: 1s, duration: 1s, restart: ""}
  - {type: service-crash, target: order, at: 1s, duration: 1s}
`)
	s, err := Parse("x.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range s.Faults {
		if f.Restart != RestartAfterDuration {
			t.Errorf("faults[%d].restart = %q, want %q", i, f.Restart, RestartAfterDuration)
		}
	}
}

func TestAliases(t *testing.T) {
	data := []byte(`name: aliases
load: {rate: 1, duration: 1m, timeout: &t 2s}
catalog: {skus: 1}
slo: {success_ratio: 1, completion_deadline: *t}
faults:
  - &crash {type: service-crash, target: payment, at: 1s, duration: 1s}
  - *crash
`)
	_, err := Parse("aliases.yaml", data)
	want := `aliases.yaml:6: faults[1]: overlaps faults[0] on target "payment": down 1s to 2s against down 1s to 2s; faults on one target must not overlap`
	if err == nil || err.Error() != want {
		t.Errorf("Parse error:\n%v\nwant:\n%s", err, want)
	}
}

func TestValidateInCode(t *testing.T) {
	s := &Scenario{
		Name:          "in-code",
		Architectures: []string{"monolith"},
		Load:          LoadProfile{Rate: 1, Duration: Duration(time.Minute), Timeout: Duration(time.Second), MaxInFlight: 1},
		Catalog:       Catalog{SKUs: 1, ItemsMax: 1, QuantityMax: 1},
		SLO:           SLO{SuccessRatio: 1, CompletionDeadline: Duration(time.Second)},
		Faults:        []Fault{{Type: FaultServiceCrash, Target: "order", At: 0, Duration: Duration(time.Second)}},
	}
	if err := s.Validate(); err != nil {
		t.Fatalf("Validate:\n%v", err)
	}

	s.Architectures = nil
	s.Faults[0].Type = ""
	s.Load.Rate = 2 * MaxRate
	want := []Problem{
		{Field: "architectures", Msg: "must name at least one architecture; allowed: eda, monolith, monolith-ha, sync-services"},
		{Field: "load.rate", Msg: "must be at most 100000 orders per second, got 200000"},
		{Field: "faults[0].type", Msg: "must be set; allowed: service-crash, pause, network-partition, node-loss, latency, broker-loss, poison-message, load-spike"},
	}
	got := Problems(s.Validate())
	if len(got) != len(want) {
		t.Fatalf("Validate found %d problems, want %d:\n%v", len(got), len(want), s.Validate())
	}
	for i := range want {
		if *got[i] != want[i] {
			t.Errorf("problem %d = %+v, want %+v", i, *got[i], want[i])
		}
	}
}

// TestValidateAfterLoadKnowsLines checks that problems found by Validate after a scenario was
// changed in code still point at the line the value came from.
func TestValidateAfterLoadKnowsLines(t *testing.T) {
	s, err := Load("baseline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s.SLO.SuccessRatio = 2
	raw := string(s.Raw)
	line := strings.Count(raw[:strings.Index(raw, "success_ratio:")], "\n") + 1
	want := &Problem{File: "baseline.yaml", Line: line, Field: "slo.success_ratio", Msg: "must be greater than 0 and at most 1, got 2"}
	got := Problems(s.Validate())
	if len(got) != 1 || *got[0] != *want {
		t.Errorf("Validate = %v, want %v", got, want)
	}
}

func TestProblemError(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "a.yaml", Line: 3, Field: "load.rate", Msg: "m"}, "a.yaml:3: load.rate: m"},
		{Problem{File: "a.yaml", Field: "slo", Msg: "m"}, "a.yaml: slo: m"},
		{Problem{File: "a.yaml", Line: 7, Msg: "m"}, "a.yaml:7: m"},
		{Problem{Field: "name", Msg: "m"}, "name: m"},
		{Problem{Line: 2, Field: "name", Msg: "m"}, "name: m"},
	}
	for _, tt := range tests {
		if got := tt.p.Error(); got != tt.want {
			t.Errorf("%+v.Error() = %q, want %q", tt.p, got, tt.want)
		}
	}
}

func TestProblems(t *testing.T) {
	if got := Problems(nil); got != nil {
		t.Errorf("Problems(nil) = %v", got)
	}
	a, b := &Problem{Msg: "a"}, &Problem{Msg: "b"}
	got := Problems(errors.Join(a, errors.Join(b), errors.New("other")))
	if len(got) != 2 || got[0] != a || got[1] != b {
		t.Errorf("Problems = %v, want [a b]", got)
	}
}

func TestList(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, "service-crash.yaml", filepath.Join(dir, "b.yaml"))
	copyFile(t, "baseline.yaml", filepath.Join(dir, "c.yaml"))
	copyFile(t, "baseline.yaml", filepath.Join(dir, "d.yaml")) // same name as c.yaml
	copyFile(t, "testdata/bad/rate-zero.yaml", filepath.Join(dir, "a.yaml"))
	copyFile(t, "baseline.yaml", filepath.Join(dir, "e.yml"))              // not *.yaml
	copyFile(t, "baseline.yaml", filepath.Join(dir, "sub.yaml", "x.yaml")) // a directory

	list, err := List(dir)
	var names []string
	for _, s := range list {
		names = append(names, s.Name)
	}
	if want := []string{"baseline", "service-crash"}; !reflect.DeepEqual(names, want) {
		t.Errorf("List names = %v, want %v", names, want)
	}
	if list[0].Path != filepath.Join(dir, "c.yaml") {
		t.Errorf("baseline loaded from %s, want c.yaml", list[0].Path)
	}
	want := []string{
		filepath.Join(dir, "a.yaml") + ":4: load.rate: must be greater than 0, got 0",
		filepath.Join(dir, "d.yaml") + `:4: name: "baseline" is already the name of ` + filepath.Join(dir, "c.yaml") + "; names must be unique",
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("List error:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}

	if _, err := List(filepath.Join(dir, "missing")); err == nil {
		t.Error("List of a missing directory succeeded")
	}
}

func TestDurationYAML(t *testing.T) {
	type doc struct {
		D Duration `yaml:"d"`
	}
	out, err := yaml.Marshal(doc{D: Duration(90 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "d: 1m30s\n" {
		t.Errorf("Marshal = %q, want %q", out, "d: 1m30s\n")
	}
	var back doc
	if err := yaml.Unmarshal(out, &back); err != nil || back.D.D() != 90*time.Second {
		t.Errorf("Unmarshal(%q) = %v, %v; want 1m30s", out, back.D, err)
	}

	tests := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{in: "d: 250ms", want: 250 * time.Millisecond},
		{in: "d: 0", want: 0},
		{in: "d: -5s", want: -5 * time.Second},
		{in: "d: 20", err: `invalid duration "20"; use a Go duration such as 20s, 1m30s or 250ms`},
		{in: "d: [1s]", err: "expected a Go duration such as 20s, 1m30s or 250ms, got a list"},
	}
	for _, tt := range tests {
		var got doc
		err := yaml.Unmarshal([]byte(tt.in), &got)
		switch {
		case tt.err != "" && (err == nil || err.Error() != tt.err):
			t.Errorf("Unmarshal(%q) error = %v, want %q", tt.in, err, tt.err)
		case tt.err == "" && (err != nil || got.D.D() != tt.want):
			t.Errorf("Unmarshal(%q) = %s, %v; want %s", tt.in, got.D, err, tt.want)
		}
	}
}

// TestAllowedValuesAreCopies checks that a caller cannot change what the validator accepts.
func TestAllowedValuesAreCopies(t *testing.T) {
	for _, list := range []func() []string{FaultTypes, Targets, ArchitectureNames, DefaultArchitectures, RestartPolicies, Comparisons} {
		list()[0] = "changed"
		if list()[0] == "changed" {
			t.Errorf("allowed values %v are shared", list())
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"*.yaml", "testdata/good/*.yaml", "testdata/bad/*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, path := range files {
			data, err := os.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("f.yaml", data)
		if err != nil {
			if s != nil || len(Problems(err)) == 0 {
				t.Fatalf("Parse returned %v with an error that holds no Problem: %v", s, err)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("Parse accepted a scenario Validate rejects: %v", err)
		}
	})
}

// assertValues compares the YAML-visible fields of got with want.
func assertValues(t *testing.T, got *Scenario, want Scenario) {
	t.Helper()
	g := *got
	g.Path, g.Raw, g.lines = "", nil, nil
	if !reflect.DeepEqual(g, want) {
		t.Errorf("scenario =\n%+v\nwant\n%+v", g, want)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
