package report

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// promSeries is one key series of a run, as a Prometheus expression and
// what the report calls it.
type promSeries struct {
	label string
	expr  string
}

// keySeries are the series a reader of a report opens first in the run's
// Prometheus: what each architecture was offered, accepted and finished,
// when faults were on, and how fast the components answered. The rate
// windows are the rule file's (dashboards/prometheus/testbed.rules.yml):
// a run scrapes every second and lasts about a minute. The expressions are
// spelled out rather than read from the recorded series, so that the links
// work on a Prometheus that did not load the rules.
func keySeries() []promSeries {
	return []promSeries{
		{"Offered orders/s per architecture", `sum by (arch) (rate(testbed_offered_total[5s]))`},
		{"Accepted orders/s per architecture", `sum by (arch) (rate(testbed_accepted_total[5s]))`},
		{"Completed orders/s per architecture", `sum by (arch) (rate(testbed_completed_total[5s]))`},
		{"Faults active (1 while injected)", `testbed_fault_active`},
		{"HTTP request latency p99 (s) per component and route", `histogram_quantile(0.99, sum by (arch, component, route, le) (rate(http_request_duration_seconds_bucket[10s])))`},
	}
}

// grafanaDashboard is one dashboard of dashboards/grafana/, by the uid
// Grafana serves it under.
type grafanaDashboard struct {
	uid   string
	title string
}

// grafanaDashboards lists dashboards/grafana/*.json, the overview first; a
// test keeps it in step with the files.
func grafanaDashboards() []grafanaDashboard {
	return []grafanaDashboard{
		{"testbed-overview", "Testbed / Overview"},
		{"testbed-eda", "Testbed / EDA services"},
		{"testbed-monolith", "Testbed / Monolith"},
		{"testbed-kafka", "Testbed / Kafka (client view)"},
		{"testbed-baselines", "Testbed: baselines (monolith-ha, sync-services)"},
	}
}

// runWindow is the time range of the run, warm-up and drain included, in
// whole seconds that cover it: Prometheus' graph takes its end time to the
// second. Started and Ended stand for it; a summary without them falls
// back on the measured start and the configured warm-up, duration and
// drain. ok is false when neither says when the run was.
func runWindow(s *Summary) (from, to time.Time, ok bool) {
	from, to = s.Started, s.Ended
	if from.IsZero() && !s.MeasuredStart.IsZero() {
		from = s.MeasuredStart.Add(-s.Load.Warmup)
	}
	if to.IsZero() && !s.MeasuredStart.IsZero() {
		to = s.MeasuredStart.Add(s.Load.Duration + s.Load.Drain)
	}
	if from.IsZero() || to.IsZero() {
		return time.Time{}, time.Time{}, false
	}
	from = from.UTC().Truncate(time.Second)
	if t := to.UTC().Truncate(time.Second); t.Equal(to) {
		to = t
	} else {
		to = t.Add(time.Second)
	}
	if !to.After(from) {
		return time.Time{}, time.Time{}, false
	}
	return from, to, true
}

// promGraphURL links the graph of expr over [from, to] in the Prometheus
// at base. The parameters are those both of its UIs read: the React UI of
// 2.x (which only reads the settings that follow g0.expr, hence the fixed
// order) and the UI of 3.x, whose /query the old /graph redirects to.
// end_input is UTC to the second, as the UIs write it; the expression is
// query-escaped, so +, & and = in PromQL survive.
func promGraphURL(base, expr string, from, to time.Time) string {
	q := []string{
		"g0.expr=" + url.QueryEscape(expr),
		"g0.tab=0",
		"g0.range_input=" + promDuration(to.Sub(from)),
		"g0.end_input=" + url.QueryEscape(to.UTC().Format(time.DateTime)),
	}
	return strings.TrimRight(base, "/") + "/graph?" + strings.Join(q, "&")
}

// promDuration writes d, rounded up to a whole second, the way Prometheus'
// UI reads a range: 45s, 1m30s, 2h0m5s.
func promDuration(d time.Duration) string {
	secs := int64((d + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	h, m, sec := secs/3600, secs/60%60, secs%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%dm%ds", h, m, sec)
	case m > 0:
		return fmt.Sprintf("%dm%ds", m, sec)
	}
	return fmt.Sprintf("%ds", sec)
}

// grafanaURL links the dashboard uid over [from, to] in the Grafana at
// base; Grafana takes from and to in epoch milliseconds.
func grafanaURL(base, uid string, from, to time.Time) string {
	return strings.TrimRight(base, "/") + "/d/" + url.PathEscape(uid) +
		"?from=" + strconv.FormatInt(from.UnixMilli(), 10) +
		"&to=" + strconv.FormatInt(to.UnixMilli(), 10)
}

// metrics links the run's Prometheus graphs of the key series and its
// Grafana dashboards, each over the run's time range; nothing when the run
// recorded neither.
func (r *builder) metrics() {
	obs := r.s.Observability
	if obs == nil || (obs.Prometheus == "" && obs.Grafana == "") {
		return
	}
	from, to, ok := runWindow(r.s)
	if !ok {
		return
	}
	r.heading(2, "Metrics and dashboards")
	r.para("Over the whole run, warm-up and drain included: %s to %s UTC (%s). The links work as long as the servers they point at hold the run's data; the run's own Prometheus lives as long as the run (start it with `--hold` to keep it).",
		from.Format(time.DateTime), to.Format(time.TimeOnly), secs(to.Sub(from)))
	if obs.Prometheus != "" {
		r.para("Prometheus, key series:")
		var links []link
		for _, k := range keySeries() {
			links = append(links, link{href: promGraphURL(obs.Prometheus, k.expr, from, to), text: k.label})
		}
		r.add(block{kind: linksBlock, links: links})
	}
	if obs.Grafana != "" {
		r.para("Grafana dashboards:")
		var links []link
		for _, d := range grafanaDashboards() {
			links = append(links, link{href: grafanaURL(obs.Grafana, d.uid, from, to), text: d.title})
		}
		r.add(block{kind: linksBlock, links: links})
	}
}
