package eda

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/edatestbed/testbed/system/domain"
	"github.com/edatestbed/testbed/system/telemetry"
)

// benchCatalog is the bench scenario's catalogue (internal/run): many SKUs
// and stock that never runs out, so no order is cheaply refused.
var benchCatalog = domain.CatalogConfig{Seed: 1, SKUs: 1000, StockMin: 1_000_000_000, StockMax: 1_000_000_000, ItemsMax: 3, QuantityMax: 3}

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
	for _, tc := range []struct {
		name string
		tel  telemetry.Config
	}{
		{"telemetry=on", telemetry.Config{Arch: "eda"}},
		{"telemetry=off", telemetry.Config{Arch: "eda", Off: true}},
	} {
		// Started here, it serves every round b.Run makes of the
		// sub-benchmark; the ids go on across rounds.
		url := startOrderAPI(b, tc.tel)
		var seq atomic.Uint64
		b.Run(tc.name, func(b *testing.B) {
			cat, err := domain.NewCatalog(benchCatalog)
			if err != nil {
				b.Fatal(err)
			}
			driveOrders(b, url, http.StatusAccepted, func() []byte {
				body, _ := json.Marshal(cat.Order("o-", seq.Add(1))) // strings and ints always encode
				return body
			})
		})
	}
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	tel, err := telemetry.New(ctx, tc, OrderAPI, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, tel, Config{Component: OrderAPI, Listen: addr, DataDir: b.TempDir(), Brokers: c.ListenAddrs(), Catalog: benchCatalog, Telemetry: tc})
	}()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("order-api: %v", err)
		}
		_ = tel.Shutdown(context.Background())
	})
	awaitHealthy(b, "http://"+addr, done)
	return "http://" + addr + "/orders"
}

// awaitHealthy polls base/healthz until it answers 204, or fails when the
// component exits first.
func awaitHealthy(b *testing.B, base string, done <-chan error) {
	b.Helper()
	for {
		select {
		case err := <-done:
			b.Fatalf("exited before it was healthy: %v", err)
		default:
		}
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return
			}
		}
		time.Sleep(20 * time.Millisecond) // polling interval of a readiness check
	}
}

// benchClients is how many requests are in flight at once: b.SetParallelism
// times GOMAXPROCS. 32 × 2 here, about what an open-model load of 20,000
// orders/s keeps in flight at 3 ms each.
const benchClients = 32

// driveOrders posts next()'s bodies to url from parallel clients for b.N
// requests, fails on any answer but want, and reports orders/s and the
// clients' p99 latency.
func driveOrders(b *testing.B, url string, want int, next func() []byte) {
	b.Helper()
	client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1024, DisableCompression: true}}
	defer client.CloseIdleConnections()
	var mu sync.Mutex
	var all []time.Duration
	b.ReportAllocs()
	b.SetParallelism(benchClients)
	cpu0 := cpuTime(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		defer func() {
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
		for pb.Next() {
			start := time.Now()
			resp, err := client.Post(url, "application/json", bytes.NewReader(next()))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mine = append(mine, time.Since(start))
			if resp.StatusCode != want {
				b.Errorf("POST /orders = %s, want %d", resp.Status, want)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
	// CPU per order is what a shared machine does not blur: throughput
	// there depends on what else runs, the work per order does not.
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/order")
	if len(all) > 0 {
		slices.Sort(all)
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// cpuTime is the user and system CPU this process has used so far, clients
// and server alike.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
