package logship

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

var runFields = map[string]string{"run_id": "20250314-090000-service-crash", "arch": "both", "scenario": "service-crash"}

func TestShip(t *testing.T) {
	es := newFakeES(t, func(f *fakeES) { f.auth = "elastic:changeme" })
	cfg := Config{URL: es.srv.URL, Index: IndexName(runFields["run_id"]), Username: "elastic", Password: "changeme", FlushBytes: 1024, Workers: 2}
	files := map[string]string{
		"order-api": filepath.Join("testdata", "order-api.log"),
		"payment":   filepath.Join("testdata", "payment.log"),
	}

	stats, err := Ship(context.Background(), cfg, files, runFields)
	if err != nil {
		t.Fatalf("Ship: %v", err)
	}
	// order-api.log: 3 records; payment.log: 2 records, a 5-line panic
	// trace after a blank line, and a record cut short by the crash.
	want := Stats{Files: 2, Lines: 11, Indexed: 11, Failed: 0, NonJSON: 6}
	if stats != want {
		t.Errorf("stats = %+v, want %+v", stats, want)
	}

	es.mu.Lock()
	if len(es.docs) != want.Lines {
		t.Errorf("server holds %d docs, want %d", len(es.docs), want.Lines)
	}
	for i, h := range es.bulkHeaders {
		if ct := h.Get("Content-Type"); ct != "application/x-ndjson" {
			t.Errorf("bulk request %d: Content-Type %q, want application/x-ndjson", i, ct)
		}
		if meta := h.Get("X-Elastic-Client-Meta"); !strings.Contains(meta, "h=bp") {
			t.Errorf("bulk request %d: X-Elastic-Client-Meta %q, want the bulk helper's h=bp", i, meta)
		}
		if es.bulkIndices[i] != cfg.Index {
			t.Errorf("bulk request %d went to index %q, want %q", i, es.bulkIndices[i], cfg.Index)
		}
	}
	if len(es.bulkHeaders) < 2 {
		t.Errorf("%d bulk requests, want several with FlushBytes %d", len(es.bulkHeaders), cfg.FlushBytes)
	}
	if len(es.refreshed) != 1 || es.refreshed[0] != cfg.Index {
		t.Errorf("refreshed %q, want [%s]", es.refreshed, cfg.Index)
	}
	es.mu.Unlock()

	warn := es.doc(cfg.Index, "order-api:3")
	for k, v := range map[string]any{
		"@timestamp": "2025-03-14T09:00:00.127956789Z",
		"level":      "WARN",
		"msg":        "broker unavailable, retrying",
		"component":  "order-api",
		"arch":       "eda", // the line's own value, not the run's "both"
		"order":      "o-2",
		"trace_id":   "0af7651916cd43dd8448eb211c80319c",
		"span_id":    "53995c3f42cd8ad8",
		"attempt":    float64(1),
		"err":        "kafka: client has run out of available brokers",
		"run_id":     runFields["run_id"],
		"scenario":   "service-crash",
		"log_line":   float64(3),
	} {
		if warn[k] != v {
			t.Errorf("doc order-api:3 %s = %#v, want %#v", k, warn[k], v)
		}
	}

	panicLine := es.doc(cfg.Index, "payment:3")
	for k, v := range map[string]any{
		"msg":        "panic: runtime error: invalid memory address or nil pointer dereference",
		"level":      "ERROR",
		"raw":        true,
		"component":  "payment",
		"@timestamp": "2025-03-14T09:00:01.126456789Z", // the record before it
		"run_id":     runFields["run_id"],
		"arch":       "both",
	} {
		if panicLine[k] != v {
			t.Errorf("doc payment:3 %s = %#v, want %#v", k, panicLine[k], v)
		}
	}
	if d := es.doc(cfg.Index, "payment:5"); d != nil {
		t.Errorf("blank line 5 was shipped: %v", d)
	}
	if d := es.doc(cfg.Index, "payment:9"); d["raw"] != true || !strings.HasPrefix(d["msg"].(string), `{"time"`) {
		t.Errorf("cut-off record payment:9 = %v, want it raw", d)
	}
}

func TestShipCountsFailedItems(t *testing.T) {
	es := newFakeES(t, nil)
	cfg := Config{URL: es.srv.URL, Index: "testbed-logs-run"}
	files := map[string]string{"inventory": filepath.Join("testdata", "inventory.log")}

	stats, err := Ship(context.Background(), cfg, files, runFields)
	if want := (Stats{Files: 1, Lines: 3, Indexed: 2, Failed: 1}); stats != want {
		t.Errorf("stats = %+v, want %+v", stats, want)
	}
	if err == nil {
		t.Fatal("Ship: no error for a rejected document")
	}
	for _, s := range []string{"1 documents failed", "inventory:2", "status 400 mapper_parsing_exception", "failed to parse field [order]", "illegal_state_exception"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %q", err, s)
		}
	}
}

func TestShipReportsMissingFileAndShipsTheRest(t *testing.T) {
	es := newFakeES(t, nil)
	cfg := Config{URL: es.srv.URL, Index: "testbed-logs-run"}
	files := map[string]string{
		"order-api": filepath.Join("testdata", "order-api.log"),
		"shipping":  filepath.Join(t.TempDir(), "shipping.log"),
	}

	stats, err := Ship(context.Background(), cfg, files, runFields)
	if err == nil || !strings.Contains(err.Error(), "open log shipping") {
		t.Errorf("Ship error = %v, want it to name the missing shipping log", err)
	}
	if want := (Stats{Files: 1, Lines: 3, Indexed: 3}); stats != want {
		t.Errorf("stats = %+v, want %+v", stats, want)
	}
}

func TestShipFailsProductCheck(t *testing.T) {
	es := newFakeES(t, func(f *fakeES) { f.noProduct = true })
	cfg := Config{URL: es.srv.URL, Index: "testbed-logs-run"}
	files := map[string]string{"order-api": filepath.Join("testdata", "order-api.log")}

	stats, err := Ship(context.Background(), cfg, files, runFields)
	if err == nil || !strings.Contains(err.Error(), "not Elasticsearch") {
		t.Errorf("Ship error = %v, want the client's product check to refuse the server", err)
	}
	if stats.Indexed != 0 || stats.Failed != 3 {
		t.Errorf("stats = %+v, want 0 indexed and 3 failed", stats)
	}
}

func TestShipStopsOnCancel(t *testing.T) {
	es := newFakeES(t, func(f *fakeES) { f.blockBulk = true })
	// A FlushBytes below one document makes every Add flush at once, so
	// the first request is in flight while lines remain.
	cfg := Config{URL: es.srv.URL, Index: "testbed-logs-run", FlushBytes: 1, Workers: 1}
	files := map[string]string{"payment": filepath.Join("testdata", "payment.log")}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-es.bulkStarted
		cancel()
	}()
	stats, err := Ship(ctx, cfg, files, runFields)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Ship error = %v, want context.Canceled", err)
	}
	if stats.Indexed != 0 || stats.Lines >= 8 {
		t.Errorf("stats = %+v, want nothing indexed and not every line queued", stats)
	}
	es.mu.Lock()
	defer es.mu.Unlock()
	if len(es.refreshed) != 0 {
		t.Errorf("refreshed %q after cancellation", es.refreshed)
	}
}

func TestShipRejectsConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no URL", Config{Index: "testbed-logs-a"}, "URL is empty"},
		{"no scheme", Config{URL: "127.0.0.1:9200", Index: "testbed-logs-a"}, "want http(s)://host:port"},
		{"no index", Config{URL: "http://127.0.0.1:9200"}, "Index is empty"},
		{"uppercase", Config{URL: "http://127.0.0.1:9200", Index: "testbed-logs-Run"}, "lowercase"},
		{"separator", Config{URL: "http://127.0.0.1:9200", Index: "testbed logs"}, "must not contain"},
		{"leading dash", Config{URL: "http://127.0.0.1:9200", Index: "-testbed"}, "must not start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Ship(context.Background(), tt.cfg, nil, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Ship error = %v, want it to say %q", err, tt.want)
			}
		})
	}
}

func TestIndexName(t *testing.T) {
	tests := map[string]string{
		"20250314-090000-service-crash": "testbed-logs-20250314-090000-service-crash",
		"20250314-090000-Pause Broker":  "testbed-logs-20250314-090000-pause-broker",
		"a/b:c":                         "testbed-logs-a-b-c",
	}
	for runID, want := range tests {
		got := IndexName(runID)
		if got != want {
			t.Errorf("IndexName(%q) = %q, want %q", runID, got, want)
		}
		if err := validIndexName(got); err != nil {
			t.Errorf("IndexName(%q) = %q is not a valid index: %v", runID, got, err)
		}
	}
}
