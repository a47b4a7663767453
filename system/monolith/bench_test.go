package monolith

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/edatestbed/testbed/internal/orderbench"
	"github.com/edatestbed/testbed/system/psp"
	"github.com/edatestbed/testbed/system/telemetry"
)

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
	orderbench.PlaceOrders(b, "monolith", http.StatusOK, benchClients, func(tel telemetry.Config) string { return startMonolith(b, tel, p.URL) })
}

// startMonolith runs the monolith until the calling benchmark ends, and
// returns its POST /orders URL once it is healthy.
func startMonolith(b *testing.B, tc telemetry.Config, pspURL string) string {
	b.Helper()
	return orderbench.Serve(b, "monolith", tc, func(ctx context.Context, tel *telemetry.Telemetry, listen string) error {
		return Run(ctx, tel, Config{Listen: listen, DataDir: b.TempDir(), Catalog: orderbench.Catalog(), PSPURL: pspURL, PSPTimeout: 2 * time.Second, Telemetry: tc})
	})
}

// benchClients is how many orders are in flight at once: b.SetParallelism
// times GOMAXPROCS. 64 × 2 here: at 5,000 orders/s and 10 ms each an open
// load keeps about 50 in flight, so the clients do not cap the rate.
const benchClients = 64
