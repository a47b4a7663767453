package component

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edatestbed/testbed/system/domain"
)

func TestHealth(t *testing.T) {
	var failing error
	mux := Mux(prometheus.NewRegistry(), map[string]Check{"db": func(context.Context) error { return failing }})
	get := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		return rec
	}
	if rec := get(); rec.Code != http.StatusNoContent {
		t.Fatalf("healthy: %d", rec.Code)
	}
	failing = errors.New("disk gone")
	if rec := get(); rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "disk gone") {
		t.Fatalf("unhealthy: %d %s", rec.Code, rec.Body)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "go_goroutines") {
		t.Fatalf("metrics: %d", rec.Code)
	}
}

func TestPlaceOrder(t *testing.T) {
	cat, err := domain.NewCatalog(domain.CatalogConfig{Seed: 1, SKUs: 2, StockMax: 1, ItemsMax: 1, QuantityMax: 1})
	if err != nil {
		t.Fatal(err)
	}
	sku := cat.Products()[0].SKU
	var placeErr error
	h := PlaceOrder(slog.New(slog.DiscardHandler), cat, http.StatusAccepted, func(_ context.Context, o domain.PlaceOrder) (any, error) {
		return map[string]string{"id": o.ID}, placeErr
	})
	tests := []struct {
		name, body string
		err        error
		code       int
	}{
		{"accepted", `{"id":"a","customer":"c","items":[{"sku":"` + sku + `","quantity":1}]}`, nil, http.StatusAccepted},
		{"not json", `{`, nil, http.StatusBadRequest},
		{"invalid", `{"id":"a","customer":"c","items":[]}`, nil, http.StatusBadRequest},
		{"store down", `{"id":"a","customer":"c","items":[{"sku":"` + sku + `","quantity":1}]}`, errors.New("locked"), http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			placeErr = tt.err
			rec := httptest.NewRecorder()
			h(rec, httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader(tt.body)))
			if rec.Code != tt.code {
				t.Fatalf("code %d, want %d (%s)", rec.Code, tt.code, rec.Body)
			}
		})
	}
}

func TestMetricNames(t *testing.T) {
	names := MetricNames(Metrics()...)
	want := map[string]bool{"http_request_duration_seconds": false, "go_goroutines": false, "process_resident_memory_bytes": false}
	for _, n := range names {
		if _, ok := want[n]; ok {
			want[n] = true
		}
	}
	for n, seen := range want {
		if !seen {
			t.Errorf("MetricNames lacks %s (got %d names)", n, len(names))
		}
	}
}
