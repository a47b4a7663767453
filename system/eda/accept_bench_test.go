package eda

import (
	"context"
	"net/http"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/edatestbed/testbed/internal/orderbench"
	"github.com/edatestbed/testbed/system/telemetry"
)

// BenchmarkPlaceOrder is order-api's accept path as `testbed bench systems`
// drives it, minus the process boundary and the link proxy: POST /orders
// over loopback HTTP from 64 parallel clients on kept-alive connections,
// into a whole order-api (Run: group commit, outbox, relay publishing to an
// embedded three-node broker, consumer group joined), each answered 202
// once the order and its event are committed. telemetry=on is a run's
// telemetry (every span sampled, info logs as JSON, here to io.Discard);
// off is the bare baseline (no spans, warnings only). orders/s is the
// throughput, p99-ms the 99th percentile of the clients' latencies.
func BenchmarkPlaceOrder(b *testing.B) {
	orderbench.PlaceOrders(b, "eda", http.StatusAccepted, benchClients, func(tel telemetry.Config) string { return startOrderAPI(b, tel) })
}

// startOrderAPI runs order-api until the calling benchmark ends, and
// returns its POST /orders URL once it is healthy (consumer group joined).
func startOrderAPI(b *testing.B, tc telemetry.Config) string {
	b.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(4, append(Topics(), DLQTopics()...)...))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return orderbench.Serve(b, OrderAPI, tc, func(ctx context.Context, tel *telemetry.Telemetry, listen string) error {
		return Run(ctx, tel, Config{Component: OrderAPI, Listen: listen, DataDir: b.TempDir(), Brokers: c.ListenAddrs(), Catalog: orderbench.Catalog(), Telemetry: tc})
	})
}

// benchClients is how many requests are in flight at once: b.SetParallelism
// times GOMAXPROCS. 32 × 2 here, about what an open-model load of 20,000
// orders/s keeps in flight at 3 ms each.
const benchClients = 32
