// Package orderbench drives a component's POST /orders from Go benchmarks:
// parallel clients on kept-alive connections, the throughput, the CPU each
// order cost and the clients' p99. The EDA's and the monolith's accept-path
// benchmarks share it, so their figures mean the same.
package orderbench

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

	"github.com/edatestbed/testbed/system/domain"
	"github.com/edatestbed/testbed/system/telemetry"
)

// Catalog is the bench scenario's catalogue (internal/run): many SKUs and
// stock that never runs out, so no order is cheaply refused and every one
// takes the whole path.
func Catalog() domain.CatalogConfig {
	return domain.CatalogConfig{Seed: 1, SKUs: 1000, StockMin: 1_000_000_000, StockMax: 1_000_000_000, ItemsMax: 3, QuantityMax: 3}
}

// PlaceOrders runs one sub-benchmark per telemetry setting of arch:
// telemetry=on as a run has it (every span sampled, info logs as JSON),
// telemetry=off the bare baseline (no spans, warnings only). Each starts
// its component with start, which returns the POST /orders URL once it is
// healthy and serves every round b.Run makes, and drives it (Drive) with
// the catalogue's orders, ids going on across rounds.
func PlaceOrders(b *testing.B, arch string, want, clients int, start func(telemetry.Config) string) {
	for _, tc := range []struct {
		name string
		tel  telemetry.Config
	}{
		{"telemetry=on", telemetry.Config{Arch: arch}},
		{"telemetry=off", telemetry.Config{Arch: arch, Off: true}},
	} {
		url := start(tc.tel)
		var seq atomic.Uint64
		b.Run(tc.name, func(b *testing.B) {
			cat, err := domain.NewCatalog(Catalog())
			if err != nil {
				b.Fatal(err)
			}
			Drive(b, url, want, clients, func() []byte {
				body, _ := json.Marshal(cat.Order("o-", seq.Add(1))) // strings and ints always encode
				return body
			})
		})
	}
}

// Serve runs a component until the benchmark ends: run gets a free
// loopback address to listen on and the component's telemetry (output
// discarded). It returns the POST /orders URL once the component is
// healthy, and fails b when the component exits with an error.
func Serve(b *testing.B, component string, tc telemetry.Config, run func(ctx context.Context, tel *telemetry.Telemetry, listen string) error) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	tel, err := telemetry.New(ctx, tc, component, io.Discard)
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- run(ctx, tel, addr) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("%s: %v", component, err)
		}
		_ = tel.Shutdown(context.Background())
	})
	AwaitHealthy(b, "http://"+addr, done)
	return "http://" + addr + "/orders"
}

// AwaitHealthy polls base/healthz until it answers 204, or fails b when the
// component exits first (done).
func AwaitHealthy(b testing.TB, base string, done <-chan error) {
	b.Helper()
	for {
		select {
		case err := <-done:
			b.Fatalf("%s exited before it was healthy: %v", base, err)
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

// Drive posts next()'s bodies to url from clients parallel clients
// (b.SetParallelism: clients times GOMAXPROCS) for b.N requests, fails on
// any answer but want, and reports orders/s, cpu-µs/order and p99-ms.
func Drive(b *testing.B, url string, want, clients int, next func() []byte) {
	b.Helper()
	client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1024, DisableCompression: true}}
	defer client.CloseIdleConnections()
	var mu sync.Mutex
	var all []time.Duration
	b.ReportAllocs()
	b.SetParallelism(clients)
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
func cpuTime(b testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
