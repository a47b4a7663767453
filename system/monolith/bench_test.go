package monolith

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edatestbed/testbed/internal/orderbench"
	"github.com/edatestbed/testbed/system/domain"
	"github.com/edatestbed/testbed/system/psp"
	"github.com/edatestbed/testbed/system/telemetry"
)

// benchCatalog is the bench scenario's catalogue (internal/run): many SKUs
// and stock that never runs out, so every order takes the whole path.
var benchCatalog = domain.CatalogConfig{Seed: 1, SKUs: 1000, StockMin: 1_000_000_000, StockMax: 1_000_000_000, ItemsMax: 3, QuantityMax: 3}

// BenchmarkPlaceOrder is the monolith's POST /orders as `testbed bench
// systems` drives it, minus the process boundaries and the link proxies:
// 128 parallel clients on kept-alive loopback connections, each order
// recorded, reserved, charged at a PSP simulator with the scenarios'
// default latency (5 ms + up to 5 ms jitter, 2 % declined; in this process,
// so its CPU counts here) and shipped or cancelled before the 200.
// telemetry=on is a run's telemetry (every span sampled, info logs as
// JSON, here to io.Discard); off is the bare baseline. orders/s is the
// completed throughput, p99-ms the 99th percentile of the clients'
// latencies, cpu-µs/order the process's CPU (clients and PSP included).
func BenchmarkPlaceOrder(b *testing.B) {
	p := httptest.NewServer(psp.NewServer(psp.Config{Seed: 1, Latency: 5 * time.Millisecond, Jitter: 5 * time.Millisecond, DeclineRate: 0.02}).Handler())
	b.Cleanup(p.Close)
	for _, tc := range []struct {
		name string
		tel  telemetry.Config
	}{
		{"telemetry=on", telemetry.Config{Arch: "monolith"}},
		{"telemetry=off", telemetry.Config{Arch: "monolith", Off: true}},
	} {
		// Started here, it serves every round b.Run makes of the
		// sub-benchmark; the ids go on across rounds.
		url := startMonolith(b, tc.tel, p.URL)
		var seq atomic.Uint64
		b.Run(tc.name, func(b *testing.B) {
			cat, err := domain.NewCatalog(benchCatalog)
			if err != nil {
				b.Fatal(err)
			}
			orderbench.Drive(b, url, http.StatusOK, benchClients, func() []byte {
				body, _ := json.Marshal(cat.Order("o-", seq.Add(1))) // strings and ints always encode
				return body
			})
		})
	}
}

// startMonolith runs the monolith until the calling benchmark ends, and
// returns its POST /orders URL once it is healthy.
func startMonolith(b *testing.B, tc telemetry.Config, pspURL string) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	tel, err := telemetry.New(ctx, tc, "monolith", io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, tel, Config{Listen: addr, DataDir: b.TempDir(), Catalog: benchCatalog, PSPURL: pspURL, PSPTimeout: 2 * time.Second, Telemetry: tc})
	}()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("monolith: %v", err)
		}
		_ = tel.Shutdown(context.Background())
	})
	orderbench.AwaitHealthy(b, "http://"+addr, done)
	return "http://" + addr + "/orders"
}

// benchClients is how many orders are in flight at once: b.SetParallelism
// times GOMAXPROCS. 64 × 2 here: at 5,000 orders/s and 10 ms each an open
// load keeps about 50 in flight, so the clients do not cap the rate.
const benchClients = 64
