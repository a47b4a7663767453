package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = Main(args, Build{Version: "v-test", Commit: "abc"}, &o, &e)
	return code, o.String(), e.String()
}

func TestEveryCommandTeaches(t *testing.T) {
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, c.name, "--help")
			if code != 0 {
				t.Fatalf("%s --help exited %d", c.name, code)
			}
			if !strings.Contains(stderr, "Usage: testbed "+c.name) {
				t.Fatalf("%s --help does not start with its usage:\n%s", c.name, stderr)
			}
		})
	}
	code, stdout, _ := runCLI(t, "--help")
	if code != 0 || !strings.Contains(stdout, "testbed run service-crash") {
		t.Fatalf("top-level help (exit %d) lacks a start-here example:\n%s", code, stdout)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "Usage:"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"run"}, "name exactly one scenario"},
		{[]string{"run", "--runtime", "k8s", "x"}, `unknown runtime "k8s"; allowed: local`},
		{[]string{"run", "--archs", "eda,mainframe", "../../scenarios/service-crash.yaml"}, `unknown architecture "mainframe"`},
		{[]string{"serve", "nope", "--config", "x"}, `unknown component "nope"; allowed:`},
		{[]string{"serve", "inventory"}, "--config is required"},
		{[]string{"bench", "everything"}, `unknown target "everything"`},
		{[]string{"bench", "--hold", "-5", "systems"}, "--hold -5: want orders/s in (0, 100000]"},
		{[]string{"bench", "--hold", "9000", "loadgen"}, "--hold applies to systems only"},
		{[]string{"report"}, "name at least one run directory"},
		{[]string{"replay"}, "name one run directory"},
		{[]string{"dlq"}, "name one run directory"},
	}
	for _, tt := range tests {
		code, _, stderr := runCLI(t, tt.args...)
		if code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("testbed %q: exit %d, stderr %q; want exit 2 mentioning %q", tt.args, code, stderr, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	bad, err := filepath.Glob("../../scenarios/testdata/bad/*.yaml")
	if err != nil || len(bad) == 0 {
		t.Fatalf("no bad fixtures: %v", err)
	}
	code, _, stderr := runCLI(t, append([]string{"validate"}, bad...)...)
	if code != 1 {
		t.Fatalf("validate of bad files exited %d, want 1", code)
	}
	// One line per problem, each naming its file, plus the closing count.
	for _, f := range bad {
		want, err := os.ReadFile(strings.TrimSuffix(f, ".yaml") + ".err")
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(want)), "\n") {
			// The fixtures' goldens name files relative to the scenarios package.
			line = strings.Replace(line, "testdata/bad/", "../../scenarios/testdata/bad/", 1)
			if !strings.Contains(stderr, line) {
				t.Errorf("validate output lacks %q", line)
			}
		}
	}

	good, _ := filepath.Glob("../../scenarios/*.yaml")
	code, stdout, stderr := runCLI(t, append([]string{"validate"}, good...)...)
	if code != 0 || strings.Count(stdout, "ok ") != len(good) {
		t.Fatalf("validate of good files: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
}

func TestServeRejectsMismatchedConfig(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(cfg, []byte(`{"component":"payment","bogus":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "serve", "inventory", "--config", cfg)
	if code != 1 || !strings.Contains(stderr, "unknown field") || !strings.Contains(stderr, "bogus") {
		t.Fatalf("serve with a bad config: exit %d, stderr %s", code, stderr)
	}
}

func TestScenarioPath(t *testing.T) {
	for in, want := range map[string]string{
		"service-crash":          filepath.Join("scenarios", "service-crash.yaml"),
		"my.yaml":                "my.yaml",
		"testdata/x":             "testdata/x",
		"scenarios/baseline.yml": "scenarios/baseline.yml",
	} {
		if got := scenarioPath(in); got != want {
			t.Errorf("scenarioPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReportRegenerates(t *testing.T) {
	code, _, stderr := runCLI(t, "report", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "summary.json") {
		t.Fatalf("report of a directory without a summary: exit %d, %s", code, stderr)
	}
	dir := t.TempDir()
	src, err := os.ReadFile("../report/testdata/summary.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "summary.json"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "report", dir)
	if code != 0 || !strings.Contains(stdout, "report.md") {
		t.Fatalf("report: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, f := range []string{"report.md", "index.html", "charts/success-ratio.svg"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("report did not write %s: %v", f, err)
		}
	}
}

func TestDLQAndReplayOnARunWithoutEDA(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := runCLI(t, "dlq", dir); code != 1 || !strings.Contains(stderr, "dlq.jsonl") {
		t.Fatalf("dlq without dead letters file: exit %d, %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "replay", dir); code != 1 || !strings.Contains(stderr, "broker data") {
		t.Fatalf("replay without broker data: exit %d, %s", code, stderr)
	}
}
