package run

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/edatestbed/testbed/scenarios"
)

// getJSON decodes the answer of a GET into v.
func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

// TestTracesAndSeriesEndToEnd runs a scenario with real Jaeger and
// Prometheus and finds in them what a user would look for: one trace per
// order through every EDA service, the monolith's steps as spans of its
// request, and the run's series.
func TestTracesAndSeriesEndToEnd(t *testing.T) {
	endToEnd(t)
	jaeger, _ := filepath.Abs(filepath.Join("..", "..", "bin", "jaeger"))
	if _, err := os.Stat(jaeger); err != nil {
		t.Skip("bin/jaeger is not built; run `make tools` (CI does)")
	}
	if _, err := exec.LookPath("prometheus"); err != nil {
		t.Skip("prometheus is not installed; apt-get install prometheus (CI does)")
	}
	t.Setenv("PATH", filepath.Dir(jaeger)+string(os.PathListSeparator)+os.Getenv("PATH"))
	sc, err := scenarios.Load("testdata/crash-short.yaml")
	if err != nil {
		t.Fatal(err)
	}
	checked := false
	_, err = Run(context.Background(), Options{
		Scenario: sc, ReportsDir: t.TempDir(), Binary: binary, Version: "test", ReadyTimeout: 60 * time.Second,
		BeforeTeardown: func(o Observed) {
			checked = true
			if o.Stack.JaegerUI == "" || o.Stack.PrometheusURL == "" {
				t.Fatalf("stack not running: %+v", o.Stack)
			}
			checkTraces(t, o.Stack.JaegerUI)
			checkSeries(t, o.Stack.PrometheusURL)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !checked {
		t.Fatal("the run never reached its teardown hook")
	}
}

type jaegerTraces struct {
	Data []struct {
		TraceID string `json:"traceID"`
		Spans   []struct {
			OperationName string `json:"operationName"`
			ProcessID     string `json:"processID"`
		} `json:"spans"`
		Processes map[string]struct {
			ServiceName string `json:"serviceName"`
		} `json:"processes"`
	} `json:"data"`
}

func checkTraces(t *testing.T, ui string) {
	t.Helper()
	want := []string{"order-api", "inventory", "payment", "psp", "shipping", "order-view"}
	var tr jaegerTraces
	// Spans leave in batches; by the end of the drain the early orders'
	// traces are complete, so a full one must be among the first found.
	getJSON(t, ui+"/api/traces?"+url.Values{"service": {"shipping"}, "limit": {"50"}, "lookback": {"1h"}}.Encode(), &tr)
	full := false
	for _, d := range tr.Data {
		services := map[string]bool{}
		for _, p := range d.Processes {
			services[p.ServiceName] = true
		}
		all := true
		for _, s := range want {
			all = all && services[s]
		}
		full = full || all
	}
	if !full {
		t.Errorf("no EDA trace in Jaeger spans all of %v (%d traces through shipping)", want, len(tr.Data))
	}

	getJSON(t, ui+"/api/traces?"+url.Values{"service": {"monolith"}, "limit": {"20"}, "lookback": {"1h"}}.Encode(), &tr)
	steps := false
	for _, d := range tr.Data {
		ops := map[string]bool{}
		for _, s := range d.Spans {
			ops[s.OperationName] = true
		}
		steps = steps || (ops["reserve stock"] && ops["charge payment"] && ops["finish as shipped"])
	}
	if !steps {
		t.Errorf("no monolith trace in Jaeger has its reserve, charge and ship steps as spans (%d traces)", len(tr.Data))
	}
}

type promResult struct {
	Data struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	} `json:"data"`
}

func checkSeries(t *testing.T, prom string) {
	t.Helper()
	query := func(q string) promResult {
		var r promResult
		getJSON(t, prom+"/api/v1/query?"+url.Values{"query": {q}}.Encode(), &r)
		return r
	}
	for _, q := range []string{
		`testbed_offered_total > 0`,
		`max_over_time(testbed_fault_active[10m]) == 1`,
	} {
		archs := map[string]bool{}
		for _, s := range query(q).Data.Result {
			archs[s.Metric["arch"]] = true
		}
		if !archs["eda"] || !archs["monolith"] {
			t.Errorf("Prometheus query %s: series for %v, want eda and monolith", q, archs)
		}
	}
	if r := query(`sum by (component) (events_consumed_total{arch="eda"})`); len(r.Data.Result) < 5 {
		t.Errorf("events_consumed_total from %d EDA components, want 5", len(r.Data.Result))
	}
}
