// Package orderbench drives a component's POST /orders from Go benchmarks:
// parallel clients on kept-alive connections, the throughput, the CPU each
// order cost and the clients' p99. The EDA's and the monolith's accept-path
// benchmarks share it, so their figures mean the same.
package orderbench

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

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
