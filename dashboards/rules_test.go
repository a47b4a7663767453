package dashboards

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// rule is one recording or alerting rule of a rule file.
type rule struct {
	where       string
	Record      string            `yaml:"record"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// ruleFiles are what a run loads (internal/run loads the same glob).
func ruleFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("prometheus", "*.rules.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no prometheus/*.rules.yml (%v)", err)
	}
	return files
}

func loadRules(t *testing.T) []rule {
	t.Helper()
	var rules []rule
	for _, f := range ruleFiles(t) {
		var file struct {
			Groups []struct {
				Name  string `yaml:"name"`
				Rules []rule `yaml:"rules"`
			} `yaml:"groups"`
		}
		readYAML(t, f, &file)
		for _, g := range file.Groups {
			for _, r := range g.Rules {
				r.where = fmt.Sprintf("%s group %s rule %s%s", f, g.Name, r.Record, r.Alert)
				rules = append(rules, r)
			}
		}
	}
	return rules
}

// level:metric:operations, as the Prometheus naming guide has it.
var recordName = regexp.MustCompile(`^[a-z][a-z_]*:[a-z][a-z0-9_]*:[a-z0-9_]+$`)

var severities = map[string]bool{"critical": true, "warning": true, "info": true}

func TestRuleConventions(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range loadRules(t) {
		name := r.Record + r.Alert
		if seen[name] {
			t.Errorf("%s: defined twice", r.where)
		}
		seen[name] = true
		if r.Record != "" && !recordName.MatchString(r.Record) {
			t.Errorf("%s: recorded name does not read level:metric:operations", r.where)
		}
		if r.Alert != "" && (!severities[r.Labels["severity"]] || r.Annotations["summary"] == "") {
			t.Errorf("%s: severity %q, summary %q; want severity critical, warning or info and a summary", r.where, r.Labels["severity"], r.Annotations["summary"])
		}
	}
}

// Every alert needs a promtool case where it fires and one where it does
// not, or a wrong threshold passes unnoticed.
func TestRuleTestsCoverEveryAlert(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("prometheus", "*.rules.test.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no prometheus/*.rules.test.yml (%v)", err)
	}
	firing, quiet := map[string]bool{}, map[string]bool{}
	for _, f := range files {
		var file struct {
			Tests []struct {
				AlertRuleTest []struct {
					Alertname string `yaml:"alertname"`
					ExpAlerts []any  `yaml:"exp_alerts"`
				} `yaml:"alert_rule_test"`
			} `yaml:"tests"`
		}
		readYAML(t, f, &file)
		for _, tc := range file.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) > 0 {
					firing[a.Alertname] = true
				} else {
					quiet[a.Alertname] = true
				}
			}
		}
	}
	for _, r := range loadRules(t) {
		if r.Alert != "" && (!firing[r.Alert] || !quiet[r.Alert]) {
			t.Errorf("%s: tested firing %v, tested quiet %v; want both", r.where, firing[r.Alert], quiet[r.Alert])
		}
	}
}

// TestPromtool runs the real checker and the rules' unit tests. CI installs
// Prometheus (and so promtool) from Debian.
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skipf("promtool not on PATH (Debian package prometheus): %v", err)
	}
	tests, err := filepath.Glob(filepath.Join("prometheus", "*.rules.test.yml"))
	if err != nil || len(tests) == 0 {
		t.Fatalf("no prometheus/*.rules.test.yml (%v)", err)
	}
	for _, args := range [][]string{
		append([]string{"check", "rules"}, ruleFiles(t)...),
		append([]string{"test", "rules"}, tests...),
	} {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			out, err := exec.CommandContext(t.Context(), promtool, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		})
	}
}
