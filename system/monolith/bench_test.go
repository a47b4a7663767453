package monolith

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

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
			driveOrders(b, url, http.StatusOK, func() []byte {
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
	for {
		select {
		case err := <-done:
			b.Fatalf("monolith exited before it was healthy: %v", err)
		default:
		}
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return "http://" + addr + "/orders"
			}
		}
		time.Sleep(20 * time.Millisecond) // polling interval of a readiness check
	}
}

// benchClients is how many orders are in flight at once: b.SetParallelism
// times GOMAXPROCS. 64 × 2 here: at 5,000 orders/s and 10 ms each an open
// load keeps about 50 in flight, so the clients do not cap the rate.
const benchClients = 64

// driveOrders posts next()'s bodies to url from parallel clients for b.N
// requests, fails on any answer but want or an order not in a terminal
// state, and reports orders/s, the clients' p99 latency and the CPU per
// order.
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
			var o Order
			err = json.NewDecoder(resp.Body).Decode(&o)
			resp.Body.Close()
			mine = append(mine, time.Since(start))
			if resp.StatusCode != want || err != nil || !o.State.Terminal() {
				b.Errorf("POST /orders = %s, %+v, %v; want %d and a terminal state", resp.Status, o, err, want)
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

// cpuTime is the user and system CPU this process has used so far.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
