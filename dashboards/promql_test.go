package dashboards

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/edatestbed/testbed/internal/run"
	"github.com/edatestbed/testbed/scenarios"
	"github.com/edatestbed/testbed/system/balancer"
	"github.com/edatestbed/testbed/system/chain"
	"github.com/edatestbed/testbed/system/component"
	"github.com/edatestbed/testbed/system/eda"
	"github.com/edatestbed/testbed/system/monolith"
)

// query is one PromQL expression found in a dashboard or a rule file.
type query struct {
	where  string   // file and panel or rule, for failure messages
	expr   string   // as written, Grafana variables included
	labels []string // label names the display refers to (legends, label_values)
}

var (
	legendLabel = regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`)
	labelValues = regexp.MustCompile(`^label_values\((.+),\s*(\w+)\)$`)
	grafanaVar  = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)`)
)

// builtinDurations stand in for Grafana's interval variables.
var builtinDurations = map[string]string{"__rate_interval": "1m", "__interval": "15s", "__range": "1h"}

// substitute replaces Grafana variables with values PromQL accepts: the
// interval variables with durations, every other variable with a label
// value, the only place the dashboards use them. A variable anywhere else
// then fails to parse, as it would in Grafana.
func substitute(expr string) string {
	return grafanaVar.ReplaceAllStringFunc(expr, func(v string) string {
		m := grafanaVar.FindStringSubmatch(v)
		if d, ok := builtinDurations[m[1]+m[2]]; ok {
			return d
		}
		return "x"
	})
}

func legendLabels(format string) []string {
	var out []string
	for _, m := range legendLabel.FindAllStringSubmatch(format, -1) {
		out = append(out, m[1])
	}
	return out
}

func collectQueries(t *testing.T) []query {
	t.Helper()
	var qs []query
	for file, d := range loadDashboards(t) {
		for _, p := range allPanels(d.Panels) {
			for _, tg := range p.Targets {
				qs = append(qs, query{where: fmt.Sprintf("grafana/%s panel %q query %s", file, p.Title, tg.RefID), expr: tg.Expr, labels: legendLabels(tg.LegendFormat)})
			}
		}
		for _, a := range d.Annotations.List {
			qs = append(qs, query{where: fmt.Sprintf("grafana/%s annotation %q", file, a.Name), expr: a.Expr})
		}
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			where := fmt.Sprintf("grafana/%s variable %q", file, v.Name)
			q, err := variableQuery(v.Query)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			qs = append(qs, query{where: where, expr: q.expr, labels: q.labels})
		}
	}
	for _, r := range loadRules(t) {
		qs = append(qs, query{where: r.where, expr: r.Expr})
	}
	sort.Slice(qs, func(i, j int) bool { return qs[i].where < qs[j].where })
	return qs
}

// variableQuery reads a Prometheus query variable, written either as a
// string or as Grafana 10's object, and keeps its selector and label.
func variableQuery(raw json.RawMessage) (query, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		var obj struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(raw, &obj); err != nil {
			return query{}, fmt.Errorf("query %s: neither a string nor an object with a query", raw)
		}
		s = obj.Query
	}
	m := labelValues.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return query{}, fmt.Errorf("query %q: want label_values(selector, label), the only form checked", s)
	}
	return query{expr: m[1], labels: []string{m[2]}}, nil
}

func parse(q query) (parser.Expr, error) {
	expr := substitute(q.expr)
	if strings.Contains(expr, "$") {
		return nil, fmt.Errorf("unreplaced variable in %q", expr)
	}
	return parser.NewParser(parser.Options{}).ParseExpr(expr)
}

func TestQueriesParse(t *testing.T) {
	qs := collectQueries(t)
	if len(qs) == 0 {
		t.Fatal("no queries found")
	}
	for _, q := range qs {
		if _, err := parse(q); err != nil {
			t.Errorf("%s: %q: %v", q.where, q.expr, err)
		}
	}
}

func TestSubstitute(t *testing.T) {
	tests := []struct{ in, want string }{
		{`rate(x[$__rate_interval])`, `rate(x[1m])`},
		{`increase(x[${__range}])`, `increase(x[1h])`},
		{`x{component=~"$component"}`, `x{component=~"x"}`},
		{`x{component=~"${component:regex}"}`, `x{component=~"x"}`},
		{`rate(x[$window])`, `rate(x[x])`}, // fails to parse, as it must
	}
	for _, tc := range tests {
		if got := substitute(tc.in); got != tc.want {
			t.Errorf("substitute(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// scrapeSeries are the series Prometheus writes itself for every target.
var scrapeSeries = []string{"up"}

// targetLabels are what the run's scrape config and Prometheus add to every
// series (internal/stack), and histogram bucket labels.
var targetLabels = []string{"arch", "component", "instance", "job", "le", "quantile", model.MetricNameLabel}

// components are the values of the component label: the EDA services, and
// the scrape targets internal/run adds besides them.
func components() []string {
	cs := append(eda.Components(), "monolith", "broker", "testbed", "lb", "replica-1", "replica-2", "postgres")
	return append(cs, chain.Components()...)
}

func exportedCollectors() []prometheus.Collector {
	cs := append(component.Metrics(), eda.Metrics()...)
	cs = append(cs, monolith.Metrics()...)
	cs = append(cs, balancer.Metrics()...)
	cs = append(cs, chain.Metrics()...)
	return append(cs, run.Metrics())
}

var (
	variableLabels = regexp.MustCompile(`variableLabels: \{([^}]*)\}`)
	constLabels    = regexp.MustCompile(`constLabels: \{([^}]*)\}`)
	constLabel     = regexp.MustCompile(`(\w+)="`)
)

// exportedLabels lists the label names the collectors declare, constant
// ones included. A Desc has
// no accessor for them; its String form does.
func exportedLabels(cs []prometheus.Collector) []string {
	ch := make(chan *prometheus.Desc)
	go func() {
		for _, c := range cs {
			c.Describe(ch)
		}
		close(ch)
	}()
	var out []string
	for d := range ch {
		if m := constLabels.FindStringSubmatch(d.String()); m != nil {
			for _, l := range constLabel.FindAllStringSubmatch(m[1], -1) {
				out = append(out, l[1])
			}
		}
		m := variableLabels.FindStringSubmatch(d.String())
		if m == nil || m[1] == "" {
			continue
		}
		for _, l := range strings.Split(m[1], ",") {
			out = append(out, strings.TrimSuffix(strings.TrimPrefix(l, "c("), ")"))
		}
	}
	return out
}

// vocabulary is what a query may name: exported metrics, recorded series,
// and their labels.
type vocabulary struct {
	metrics, labels map[string]bool
}

func newVocabulary(t *testing.T) vocabulary {
	t.Helper()
	cs := exportedCollectors()
	v := vocabulary{metrics: map[string]bool{}, labels: map[string]bool{}}
	for _, n := range append(component.MetricNames(cs...), scrapeSeries...) {
		v.metrics[n] = true
	}
	for _, r := range loadRules(t) {
		if r.Record != "" {
			v.metrics[r.Record] = true
		}
	}
	for _, l := range append(exportedLabels(cs), targetLabels...) {
		v.labels[l] = true
	}
	// Guards against a Desc format change leaving the checks vacuous.
	for _, want := range []string{"http_request_duration_seconds", "events_consumed_total", "orders_terminal_total", "testbed_fault_active", "process_start_time_seconds"} {
		if !v.metrics[want] {
			t.Fatalf("exported metrics lack %s: %v", want, v.metrics)
		}
	}
	if !v.labels["route"] || !v.labels["topic"] {
		t.Fatalf("exported labels lack route or topic: %v", v.labels)
	}
	return v
}

// histogramSuffixes name the series a histogram or summary exports.
var histogramSuffixes = []string{"_bucket", "_sum", "_count"}

func (v vocabulary) hasMetric(name string) bool {
	if v.metrics[name] {
		return true
	}
	for _, s := range histogramSuffixes {
		if base, ok := strings.CutSuffix(name, s); ok && v.metrics[base] {
			return true
		}
	}
	return false
}

// check lists what expr names that no component exports.
func (v vocabulary) check(expr parser.Expr) []string {
	var problems []string
	label := func(l string) {
		if !v.labels[l] {
			problems = append(problems, fmt.Sprintf("label %q is not exported", l))
		}
	}
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		switch n := node.(type) {
		case *parser.VectorSelector:
			name := n.Name
			for _, m := range n.LabelMatchers {
				label(m.Name)
				if m.Type != labels.MatchEqual {
					continue
				}
				if m.Name == model.MetricNameLabel {
					name = m.Value
				}
				switch m.Name {
				case "arch":
					if !slices.Contains(scenarios.ArchitectureNames(), m.Value) {
						problems = append(problems, fmt.Sprintf("arch %q is none of %v", m.Value, scenarios.ArchitectureNames()))
					}
				case "component":
					if !slices.Contains(components(), m.Value) {
						problems = append(problems, fmt.Sprintf("component %q is none of %v", m.Value, components()))
					}
				}
			}
			switch {
			case name == "":
				problems = append(problems, fmt.Sprintf("selector %s names no metric", n))
			case !v.hasMetric(name):
				problems = append(problems, fmt.Sprintf("metric %q is neither exported by a component nor recorded by a rule", name))
			}
		case *parser.AggregateExpr:
			for _, l := range n.Grouping {
				label(l)
			}
		case *parser.BinaryExpr:
			if n.VectorMatching != nil {
				for _, l := range append(n.VectorMatching.MatchingLabels, n.VectorMatching.Include...) {
					label(l)
				}
			}
		}
		return nil
	})
	return problems
}

func TestQueriesUseExportedSeries(t *testing.T) {
	v := newVocabulary(t)
	for _, q := range collectQueries(t) {
		expr, err := parse(q)
		if err != nil {
			continue // TestQueriesParse reports it
		}
		problems := v.check(expr)
		for _, l := range q.labels {
			if !v.labels[l] {
				problems = append(problems, fmt.Sprintf("displayed label %q is not exported", l))
			}
		}
		for _, p := range problems {
			t.Errorf("%s: %s", q.where, p)
		}
	}
}

// The check must catch what it is for.
func TestVocabularyRejects(t *testing.T) {
	v := newVocabulary(t)
	tests := []struct{ expr, want string }{
		{`events_consumed`, `metric "events_consumed"`},
		{`outbox_backlog_max`, `metric "outbox_backlog_max"`},
		{`sum by (rout) (rate(http_request_duration_seconds_count[1m]))`, `label "rout"`},
		{`testbed_offered_total{arch="kafka"}`, `arch "kafka"`},
		{`up{component="order_api"}`, `component "order_api"`},
		{`{job="testbed"}`, `names no metric`},
	}
	for _, tc := range tests {
		expr, err := parser.NewParser(parser.Options{}).ParseExpr(tc.expr)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		if got := v.check(expr); !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, tc.want) }) {
			t.Errorf("%s: problems %q, want one mentioning %s", tc.expr, got, tc.want)
		}
	}
	ok, _ := parser.NewParser(parser.Options{}).ParseExpr(`histogram_quantile(0.99, sum by (arch, le) (rate(http_request_duration_seconds_bucket{component="order-api"}[1m])))`)
	if got := v.check(ok); len(got) > 0 {
		t.Errorf("a valid query: %q", got)
	}
}
