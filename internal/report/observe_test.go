package report

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

func TestRunWindow(t *testing.T) {
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name     string
		s        Summary
		from, to string // RFC 3339; "" when there is no window
	}{
		{"started and ended, outwards to whole seconds",
			Summary{Started: at("2026-11-23T13:36:25.450946325Z"), Ended: at("2026-11-23T13:36:36.799759555Z")},
			"2026-11-23T13:36:25Z", "2026-11-23T13:36:37Z"},
		{"already whole seconds",
			Summary{Started: at("2026-11-23T13:36:25Z"), Ended: at("2026-11-23T13:37:00Z")},
			"2026-11-23T13:36:25Z", "2026-11-23T13:37:00Z"},
		{"another zone comes out in UTC",
			Summary{Started: at("2026-11-23T14:36:25.5+01:00"), Ended: at("2026-11-23T14:36:30.1+01:00")},
			"2026-11-23T13:36:25Z", "2026-11-23T13:36:31Z"},
		{"no start or end: measured start, warm-up, duration and drain",
			Summary{MeasuredStart: at("2026-11-23T13:36:26.7Z"), Load: Load{Warmup: time.Second, Duration: 10 * time.Second, Drain: 20 * time.Second}},
			"2026-11-23T13:36:25Z", "2026-11-23T13:36:57Z"},
		{"no end only",
			Summary{Started: at("2026-11-23T13:36:25.4Z"), MeasuredStart: at("2026-11-23T13:36:26.7Z"), Load: Load{Duration: 10 * time.Second, Drain: 2 * time.Second}},
			"2026-11-23T13:36:25Z", "2026-11-23T13:36:39Z"},
		{"nothing says when", Summary{Load: Load{Duration: 10 * time.Second}}, "", ""},
		{"ended before it started",
			Summary{Started: at("2026-11-23T13:36:25Z"), Ended: at("2026-11-23T13:36:20Z")}, "", ""},
		{"ended as it started",
			Summary{Started: at("2026-11-23T13:36:25Z"), Ended: at("2026-11-23T13:36:25Z")}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from, to, ok := runWindow(&tt.s)
			if tt.from == "" {
				if ok {
					t.Fatalf("runWindow = %v, %v, want no window", from, to)
				}
				return
			}
			if !ok {
				t.Fatal("runWindow found no window")
			}
			if got := from.Format(time.RFC3339Nano); got != tt.from {
				t.Errorf("from = %s, want %s", got, tt.from)
			}
			if got := to.Format(time.RFC3339Nano); got != tt.to {
				t.Errorf("to = %s, want %s", got, tt.to)
			}
		})
	}
}

func TestPromDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "1s"},
		{300 * time.Millisecond, "1s"},
		{12 * time.Second, "12s"},
		{12*time.Second + time.Millisecond, "13s"},
		{60 * time.Second, "1m0s"},
		{90 * time.Second, "1m30s"},
		{time.Hour + 5*time.Second, "1h0m5s"},
		{26*time.Hour + 3*time.Minute, "26h3m0s"},
	}
	for _, tt := range tests {
		if got := promDuration(tt.d); got != tt.want {
			t.Errorf("promDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestPromGraphURL(t *testing.T) {
	from := time.Date(2026, 11, 23, 13, 36, 25, 0, time.UTC)
	to := time.Date(2026, 11, 23, 13, 36, 37, 0, time.UTC)
	tests := []struct {
		name     string
		base     string
		expr     string
		from, to time.Time
		want     string
	}{
		{"key series", "http://127.0.0.1:9090", `sum by (arch) (rate(testbed_offered_total[5s]))`, from, to,
			"http://127.0.0.1:9090/graph?g0.expr=sum+by+%28arch%29+%28rate%28testbed_offered_total%5B5s%5D%29%29&g0.tab=0&g0.range_input=12s&g0.end_input=2026-11-23+13%3A36%3A37"},
		// + would read as a space, & and = would end the parameter, and "
		// and | would not stand in a URL unescaped.
		{"operators and matchers", "http://127.0.0.1:9090", `up{job=~"a|b"} + on(job) rate(x_total[1m]) > 0.5`, from, to,
			"http://127.0.0.1:9090/graph?g0.expr=up%7Bjob%3D~%22a%7Cb%22%7D+%2B+on%28job%29+rate%28x_total%5B1m%5D%29+%3E+0.5&g0.tab=0&g0.range_input=12s&g0.end_input=2026-11-23+13%3A36%3A37"},
		{"ampersand in a label value", "http://127.0.0.1:9090", `x{route="a&b=c"}`, from, to,
			"http://127.0.0.1:9090/graph?g0.expr=x%7Broute%3D%22a%26b%3Dc%22%7D&g0.tab=0&g0.range_input=12s&g0.end_input=2026-11-23+13%3A36%3A37"},
		{"base with a path and a trailing slash", "http://host:9090/prometheus/", `up`, from, to.Add(time.Hour),
			"http://host:9090/prometheus/graph?g0.expr=up&g0.tab=0&g0.range_input=1h0m12s&g0.end_input=2026-11-23+14%3A36%3A37"},
		{"end in another zone is written in UTC", "http://127.0.0.1:9090", `up`, from, to.In(time.FixedZone("CET", 3600)),
			"http://127.0.0.1:9090/graph?g0.expr=up&g0.tab=0&g0.range_input=12s&g0.end_input=2026-11-23+13%3A36%3A37"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := promGraphURL(tt.base, tt.expr, tt.from, tt.to)
			if got != tt.want {
				t.Errorf("promGraphURL =\n%s\nwant\n%s", got, tt.want)
			}
			// The UIs decode the parameters as a form: what they read back
			// must be the expression itself, and g0.expr must come first,
			// since the 2.x UI ignores a panel's settings before it.
			u, err := url.Parse(got)
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			if q.Get("g0.expr") != tt.expr {
				t.Errorf("g0.expr decodes to %q, want %q", q.Get("g0.expr"), tt.expr)
			}
			if !strings.HasPrefix(u.RawQuery, "g0.expr=") {
				t.Errorf("query %q does not start with g0.expr", u.RawQuery)
			}
			end, err := time.Parse(time.DateTime, q.Get("g0.end_input"))
			if err != nil || !end.Equal(tt.to) {
				t.Errorf("g0.end_input %q = %v (%v), want %v", q.Get("g0.end_input"), end, err, tt.to)
			}
		})
	}
}

func TestGrafanaURL(t *testing.T) {
	from := time.Date(2026, 11, 23, 13, 36, 25, 0, time.UTC)
	to := time.Date(2026, 11, 23, 13, 36, 37, 0, time.UTC)
	tests := []struct {
		name, base, uid, want string
	}{
		{"plain", "http://127.0.0.1:3000", "testbed-overview",
			"http://127.0.0.1:3000/d/testbed-overview?from=1795440985000&to=1795440997000"},
		{"base with a path and a trailing slash", "https://grafana.example/sub/", "testbed-eda",
			"https://grafana.example/sub/d/testbed-eda?from=1795440985000&to=1795440997000"},
		{"uid that needs escaping", "http://127.0.0.1:3000", "a b/c",
			"http://127.0.0.1:3000/d/a%20b%2Fc?from=1795440985000&to=1795440997000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := grafanaURL(tt.base, tt.uid, from, to); got != tt.want {
				t.Errorf("grafanaURL =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestKeySeriesExist: every key series parses as PromQL and names only
// series the rule file reads, which the dashboards package checks against
// what the components and the testbed export.
func TestKeySeriesExist(t *testing.T) {
	rules, err := os.ReadFile(filepath.Join("..", "..", "dashboards", "prometheus", "testbed.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keySeries() {
		expr, err := parser.NewParser(parser.Options{}).ParseExpr(k.expr)
		if err != nil {
			t.Errorf("%s: %v", k.label, err)
			continue
		}
		var names []string
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok {
				names = append(names, vs.Name)
			}
			return nil
		})
		if len(names) == 0 {
			t.Errorf("%s: %s names no series", k.label, k.expr)
		}
		for _, name := range names {
			if !bytes.Contains(rules, []byte(name)) {
				t.Errorf("%s: %s is not a series the rules read", k.label, name)
			}
		}
	}
}

// TestGrafanaDashboardsMatchFiles keeps the report's list of dashboards in
// step with dashboards/grafana/.
func TestGrafanaDashboardsMatchFiles(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "..", "dashboards", "grafana", "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no dashboards/grafana/*.json (%v)", err)
	}
	var files []grafanaDashboard
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var d struct{ UID, Title string }
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		files = append(files, grafanaDashboard{d.UID, d.Title})
	}
	listed := grafanaDashboards()
	for _, f := range files {
		if !slices.Contains(listed, f) {
			t.Errorf("dashboard %q (%s) is not linked from the report", f.uid, f.title)
		}
	}
	for _, d := range listed {
		if !slices.Contains(files, d) {
			t.Errorf("the report links dashboard %q (%s), which dashboards/grafana/ lacks", d.uid, d.title)
		}
	}
}

func TestMetricsSection(t *testing.T) {
	const (
		offered  = "http://127.0.0.1:9090/graph?g0.expr=sum+by+%28arch%29+%28rate%28testbed_offered_total%5B5s%5D%29%29&g0.tab=0&g0.range_input=12s&g0.end_input=2026-11-23+13%3A36%3A37"
		p99      = "http://127.0.0.1:9090/graph?g0.expr=histogram_quantile%280.99%2C+sum+by+%28arch%2C+component%2C+route%2C+le%29+%28rate%28http_request_duration_seconds_bucket%5B10s%5D%29%29%29&g0.tab=0&g0.range_input=12s&g0.end_input=2026-11-23+13%3A36%3A37"
		overview = "http://127.0.0.1:3000/d/testbed-overview?from=1795440985000&to=1795440997000"
	)
	tests := []struct {
		name         string
		obs          *Observability
		want, absent []string
	}{
		{"none", nil, nil, []string{"## Metrics and dashboards"}},
		{"jaeger only", &Observability{JaegerUI: "http://127.0.0.1:16686"}, nil, []string{"## Metrics and dashboards"}},
		{"prometheus", &Observability{Prometheus: "http://127.0.0.1:9090"},
			[]string{"## Metrics and dashboards", "2026-11-23 13:36:25 to 13:36:37 UTC (12 s)", "- [Offered orders/s per architecture](" + offered + ")\n", "- [HTTP request latency p99 (s) per component and route](" + p99 + ")\n"},
			[]string{"Grafana", "/d/"}},
		{"grafana", &Observability{Grafana: "http://127.0.0.1:3000/"},
			[]string{"## Metrics and dashboards", "- [Testbed / Overview](" + overview + ")\n"},
			[]string{"Prometheus, key series", "/graph?"}},
		{"both", &Observability{Prometheus: "http://127.0.0.1:9090", Grafana: "http://127.0.0.1:3000"},
			[]string{"](" + offered + ")", "](" + overview + ")", "/d/testbed-baselines?"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fixture(t)
			s.Observability = tt.obs
			var b bytes.Buffer
			if err := Markdown(&b, s); err != nil {
				t.Fatal(err)
			}
			md := b.String()
			for _, w := range tt.want {
				if !strings.Contains(md, w) {
					t.Errorf("report lacks %q", w)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(md, a) {
					t.Errorf("report has %q", a)
				}
			}
		})
	}

	t.Run("no time range", func(t *testing.T) {
		s := fixture(t)
		s.Started, s.Ended, s.MeasuredStart = time.Time{}, time.Time{}, time.Time{}
		var b bytes.Buffer
		if err := Markdown(&b, s); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(b.String(), "Metrics and dashboards") {
			t.Error("links without a time range were rendered")
		}
	})

	t.Run("html links are the same URLs", func(t *testing.T) {
		s := fixture(t)
		s.Observability = &Observability{Prometheus: "http://127.0.0.1:9090", Grafana: "http://127.0.0.1:3000"}
		doc, err := html.Parse(bytes.NewReader(renderHTML(t, s)))
		if err != nil {
			t.Fatal(err)
		}
		var hrefs []string
		for _, a := range find(doc, element(atom.A)) {
			hrefs = append(hrefs, attr(a, "href"))
		}
		for _, w := range []string{offered, p99, overview} {
			if !slices.Contains(hrefs, w) {
				t.Errorf("index.html has no link to %s", w)
			}
		}
	})
}
